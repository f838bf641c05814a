#!/usr/bin/env bash
# Installs everything the unit tests need on a fresh Debian or Ubuntu machine:
# ShellCheck, the OpenSSH client and git from the distribution, cloud-init (its schema check
# validates the hosts' user data) and the OpenSSH server (sshd checks their sshd drop-in),
# actionlint and the Compose CLI from the Go module proxy, then the locked npm dependencies.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v ssh >/dev/null 2>&1 || missing+=(openssh-client)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v cloud-init >/dev/null 2>&1 || missing+=(cloud-init)
[ -x /usr/sbin/sshd ] || command -v sshd >/dev/null 2>&1 || missing+=(openssh-server)
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    echo "installing ${missing[*]} with apt-get" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# actionlint lints the GitHub Actions workflow (npm test); it is built from the Go module
# proxy once and kept outside the clone.
ACTIONLINT_VERSION=v1.7.12
tools=${NBF_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/native-build-fleet/bin}
if ! "$tools/actionlint" -version 2>/dev/null | grep -q "$ACTIONLINT_VERSION"; then
    command -v go >/dev/null || { echo "install.sh: Go is needed to build actionlint" >&2; exit 1; }
    mkdir -p "$tools"
    src=$(mktemp -d)
    dir=$(go mod download -json "github.com/rhysd/actionlint@$ACTIONLINT_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    cp -r "$dir/." "$src"
    chmod -R u+w "$src"
    (cd "$src" && CGO_ENABLED=0 go build -trimpath \
        -ldflags "-X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" -o "$tools/actionlint" ./cmd/actionlint)
    rm -rf "$src"
fi

# The Compose CLI: config/load.ts reads Compose files through `docker compose config`, and
# the unit tests run this build of it (as a standalone docker-compose). About three minutes
# cold on two cores; v5.6.0 is the newest release whose go.mod accepts Go 1.26.8.
COMPOSE_VERSION=v5.6.0
if ! "$tools/docker-compose" version --short 2>/dev/null | grep -qx "${COMPOSE_VERSION#v}"; then
    command -v go >/dev/null || { echo "install.sh: Go is needed to build docker compose" >&2; exit 1; }
    mkdir -p "$tools"
    src=$(mktemp -d)
    dir=$(go mod download -json "github.com/docker/compose/v5@$COMPOSE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    cp -r "$dir/." "$src"
    chmod -R u+w "$src"
    (cd "$src" && CGO_ENABLED=0 go build -trimpath \
        -ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=$COMPOSE_VERSION" -o "$tools/docker-compose" ./cmd)
    rm -rf "$src"
fi

# Lifecycle scripts stay off: the provider packages' install hooks would try to
# download plugin binaries, which the tests do not need.
npm ci --ignore-scripts --no-audit --no-fund
