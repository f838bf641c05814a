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

tools=${NBF_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/native-build-fleet/bin}

# go_tool NAME MODULE VERSION PACKAGE LDFLAGS: builds a tool from the Go module proxy into
# $tools, once. `go install module@version` reads the module's version list, which the proxy
# here refuses; an exact `go mod download` works, so the module is copied and built.
go_tool() {
    local name=$1 module=$2 version=$3 package=$4 ldflags=$5 src dir
    command -v go >/dev/null || { echo "install.sh: Go is needed to build $name" >&2; exit 1; }
    mkdir -p "$tools"
    src=$(mktemp -d)
    dir=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    cp -r "$dir/." "$src"
    chmod -R u+w "$src"
    (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$tools/$name" "$package")
    rm -rf "$src"
}

# actionlint lints the GitHub Actions workflow (npm test).
ACTIONLINT_VERSION=v1.7.12
if ! "$tools/actionlint" -version 2>/dev/null | grep -q "$ACTIONLINT_VERSION"; then
    go_tool actionlint github.com/rhysd/actionlint "$ACTIONLINT_VERSION" ./cmd/actionlint \
        "-X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION"
fi

# The Compose CLI: config/load.ts reads Compose files through `docker compose config`, and
# the unit tests run this build of it (as a standalone docker-compose). About three minutes
# cold on two cores; v5.6.0 is the newest release whose go.mod accepts Go 1.26.8.
COMPOSE_VERSION=v5.6.0
if ! "$tools/docker-compose" version --short 2>/dev/null | grep -qx "${COMPOSE_VERSION#v}"; then
    go_tool docker-compose github.com/docker/compose/v5 "$COMPOSE_VERSION" ./cmd \
        "-s -w -X github.com/docker/compose/v5/internal.Version=$COMPOSE_VERSION"
fi

# Lifecycle scripts stay off: the provider packages' install hooks would try to
# download plugin binaries, which the tests do not need.
npm ci --ignore-scripts --no-audit --no-fund
