#!/usr/bin/env bash
# Installs everything the unit tests need on a fresh Debian or Ubuntu machine:
# shellcheck, the OpenSSH client and git from the distribution, then the locked npm
# dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v git >/dev/null 2>&1 || missing+=(git)
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    echo "installing ${missing[*]} with apt-get" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# Lifecycle scripts stay off: the provider packages' install hooks would try to
# download plugin binaries, which the tests do not need.
npm ci --ignore-scripts --no-audit --no-fund
