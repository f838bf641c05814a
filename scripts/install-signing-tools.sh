#!/usr/bin/env bash
# Installs cosign and syft into DIR for the pipelines' `up` jobs, whose sign step runs them when
# the stack sets `signing` (README, "Verifiable releases"). Each is built from the Go module
# proxy at the exact version the acceptance run builds (e2e/toolchain.sh). The module is refused
# unless its h1 hash (the checksum database's, as in a go.sum line) is the one committed here,
# and `go build -mod=readonly` checks every dependency against the module's own go.sum, so no
# byte is used that a checksum did not pin. About three minutes cold for both on a 4-core runner.
# Safe to run again: a tool already at its version is kept.
#
# Usage: install-signing-tools.sh DIR
set -euo pipefail

dest=${1:?usage: install-signing-tools.sh DIR}
command -v go >/dev/null 2>&1 || {
    echo "install-signing-tools.sh: the go command is needed to build cosign and syft; install Go 1.21 or later (it fetches the toolchain the tools name)" >&2
    exit 1
}
# The modules need Go 1.26; an older go fetches that toolchain, itself checked against the
# checksum database (https://go.dev/doc/toolchain, "Downloading toolchains"). Alpine's go
# package sets GOTOOLCHAIN=local in its go.env, which would refuse instead.
export GOTOOLCHAIN=auto
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

# name module version h1-hash-of-the-module package version-variable (set with -X)
TOOLS=(
    "cosign github.com/sigstore/cosign/v3 v3.1.3 h1:001JQRI/PJ/5T+g/kJ1KTvKFbb322+fomc+pHDZ/6sg= ./cmd/cosign sigs.k8s.io/release-utils/version.gitVersion=v3.1.3"
    "syft github.com/anchore/syft v1.57.2 h1:Vm+22QHzQfwy9WBlWeGOWBSByH6dt6SEjxrfOvQZsfM= ./cmd/syft main.version=1.57.2"
)

mkdir -p "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for line in "${TOOLS[@]}"; do
    read -r name module version sum package stamp <<<"$line"
    if "$dest/$name" version 2>/dev/null | grep -q "${version#v}"; then
        continue
    fi
    info=$(cd "$work" && go mod download -json "$module@$version")
    got=$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",\{0,1\}$/\1/p')
    if [ "$got" != "$sum" ]; then
        echo "install-signing-tools.sh: $module@$version has hash ${got:-none}, not the pinned $sum; nothing was built" >&2
        exit 1
    fi
    dir=$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
    # The module cache is read-only; the build runs in a writable copy.
    cp -r "$dir" "$work/$name"
    chmod -R u+w "$work/$name"
    echo "building $name $version from $module (checked $sum)" >&2
    (cd "$work/$name" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X $stamp" -o "$dest/$name" "$package")
done
