#!/usr/bin/env bash
# Installs cosign and syft into DIR for the pipelines' `up` jobs, whose sign step runs them when
# the stack sets `signing` (README, "Verifiable releases"). Each is built from the Go module
# proxy at the exact version the acceptance run builds (e2e/toolchain.sh). The module is refused
# unless its h1 hash (the checksum database's, as in a go.sum line) is the one committed here,
# and `go build -mod=readonly` checks every dependency against the module's own go.sum, so no
# byte is used that a checksum did not pin. About three minutes cold for both on a 4-core runner.
# Builds fresh on every run, trusting nothing already on the machine: DIR must not exist or be
# empty (a binary found there, from a restored cache or a persistent project directory, is never
# run or kept: delete DIR first to install again), and go runs with its own module and build
# caches and settings in a private temporary directory, removed on every exit. Nothing reaches
# DIR unless both tools built.
#
# Usage: install-signing-tools.sh DIR
set -euo pipefail

dest=${1:?usage: install-signing-tools.sh DIR}
command -v go >/dev/null 2>&1 || {
    echo "install-signing-tools.sh: the go command is needed to build cosign and syft; install Go 1.21 or later (it fetches the toolchain the tools name)" >&2
    exit 1
}
refuse_dest() {
    if [ -L "$dest" ] || { [ -e "$dest" ] && [ ! -d "$dest" ]; }; then
        echo "install-signing-tools.sh: $dest is not a directory; give a new directory for cosign and syft" >&2
        exit 1
    fi
    if [ -d "$dest" ] && [ -n "$(find "$dest" -mindepth 1 -maxdepth 1 -print -quit)" ]; then
        echo "install-signing-tools.sh: $dest is not empty (it holds $(find "$dest" -mindepth 1 -maxdepth 1 -printf '%f ' | head -c 200)); the tools are built fresh every run and nothing found there is run or kept: remove $dest, or give a new directory" >&2
        exit 1
    fi
}
refuse_dest

work=$(mktemp -d)
# Go's module cache is read-only (0444 files in 0555 directories): make it writable to remove it.
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# Go's own settings, not the runner's (https://go.dev/ref/mod#environment-variables). A shared
# GOMODCACHE is trusted without re-hashing what is extracted there, and a shared GOCACHE supplies
# compiled packages by key: both are private here. The user's GOFLAGS could carry -mod=mod, and
# GOENV's file (`go env -w`) settings apply whenever a variable is unset or empty, so the file is
# off and the variables that skip or weaken checks are unset. GOWORK=off: no go.work above the
# build directory changes which modules are used.
export GOENV=off GOWORK=off GOFLAGS=-mod=readonly
export GOMODCACHE="$work/gomodcache" GOCACHE="$work/gocache" GOPATH="$work/gopath"
unset GONOSUMDB GONOSUMCHECK GONOVERIFY GOINSECURE GOPRIVATE GONOPROXY
# The checksum database is what vouches for the Go toolchain that GOTOOLCHAIN=auto fetches (the
# tools' modules are pinned here and by go.sum either way): keep only sum.golang.org itself,
# optionally through a mirror URL, whose answers go still checks against its built-in key
# (https://go.dev/ref/mod#checksum-database). `off`, or another database and key, is replaced.
if [ -n "${GOSUMDB:-}" ] && ! [[ $GOSUMDB =~ ^sum\.golang\.org(\ https://[^[:space:]]+)?$ ]]; then
    echo "install-signing-tools.sh: GOSUMDB=$GOSUMDB is not sum.golang.org; using sum.golang.org for this build" >&2
    unset GOSUMDB
fi
# The modules need Go 1.26; an older go fetches that toolchain, itself checked against the
# checksum database (https://go.dev/doc/toolchain, "Downloading toolchains"). Alpine's go
# package sets GOTOOLCHAIN=local in its go.env, which would refuse instead.
export GOTOOLCHAIN=auto

# name module version h1-hash-of-the-module package version-variable (set with -X)
TOOLS=(
    "cosign github.com/sigstore/cosign/v3 v3.1.3 h1:001JQRI/PJ/5T+g/kJ1KTvKFbb322+fomc+pHDZ/6sg= ./cmd/cosign sigs.k8s.io/release-utils/version.gitVersion=v3.1.3"
    "syft github.com/anchore/syft v1.57.2 h1:Vm+22QHzQfwy9WBlWeGOWBSByH6dt6SEjxrfOvQZsfM= ./cmd/syft main.version=1.57.2"
)

mkdir "$work/bin"
names=()
for line in "${TOOLS[@]}"; do
    read -r name module version sum package stamp <<<"$line"
    info=$(cd "$work" && go mod download -json "$module@$version")
    got=$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Sum": "\(.*\)",\{0,1\}$/\1/p')
    if [ "$got" != "$sum" ]; then
        echo "install-signing-tools.sh: $module@$version has hash ${got:-none}, not the pinned $sum; nothing was installed" >&2
        exit 1
    fi
    dir=$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
    # The module cache is read-only; the build runs in a writable copy.
    cp -r "$dir" "$work/$name"
    chmod -R u+w "$work/$name"
    echo "building $name $version from $module (checked $sum)" >&2
    (cd "$work/$name" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X $stamp" -o "$work/bin/$name" "$package")
    names+=("$name")
done
refuse_dest
mkdir -p "$dest"
for name in "${names[@]}"; do
    mv "$work/bin/$name" "$dest/$name"
done
