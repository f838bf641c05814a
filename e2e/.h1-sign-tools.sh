#!/usr/bin/env bash
# Builds the real toolchain for the acceptance run from the Go module proxy, pinned to the
# SDK versions in package-lock.json, and caches it outside the clone ($CACHE/bin): a second
# run takes seconds. Official binary downloads are unreachable here, so everything is
# compiled from module sources (about ten minutes cold on two cores).
#
# Two parts cannot be had from any registry this machine reaches, and are STAND-INS written
# for this project (e2e/standins/, see README "Real-engine acceptance run"):
#   - the nodejs language host: its Go module is untagged and the proxy refuses it (403);
#   - the command provider 1.2.1: its provider module has no tag (404) and the proxy
#     refuses its commit's pseudo-version (403).
set -euo pipefail
# shellcheck source=e2e/env.sh
source "$(dirname "$0")/env.sh"
SRC=$CACHE/src
mkdir -p "$SRC"

# `go install module@version` reads the module's version list, which this proxy refuses;
# an exact `go mod download` works, so each module is copied to a writable tree and built there.
module_source() {
    local module=$1 version=$2 dest
    # The whole path names the tree: pulumi's pkg/v3 and sdk/v3 share a basename.
    dest=$SRC/${module//\//_}-$version
    if [ ! -d "$dest" ]; then
        local dir; dir=$(go mod download -json "$module@$version" | jq -r '.Dir // empty')
        [ -n "$dir" ] || die "the Go module proxy did not serve $module@$version"
        cp -r "$dir" "$dest"
        chmod -R u+w "$dest"
    fi
    echo "$dest"
}

build() { # build NAME DIR PACKAGE OUTPUT LDFLAGS [TAGS]
    log "building $1"
    (cd "$2" && nice -n 10 go build -trimpath -tags "${6:-}" -ldflags "-s -w $5" -o "$4" "$3")
}

COSIGN_VERSION=v3.1.3
SYFT_VERSION=v1.57.2
cosign_cli() {
    "$BIN/cosign" version 2>/dev/null | grep -q "${COSIGN_VERSION#v}" && return 0
    local tree; tree=$(module_source github.com/sigstore/cosign/v3 "$COSIGN_VERSION")
    build "cosign $COSIGN_VERSION" "$tree" ./cmd/cosign "$BIN/cosign" \
        "-X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION"
}
syft_cli() {
    "$BIN/syft" version 2>/dev/null | grep -q "${SYFT_VERSION#v}" && return 0
    local tree; tree=$(module_source github.com/anchore/syft "$SYFT_VERSION")
    build "syft $SYFT_VERSION" "$tree" ./cmd/syft "$BIN/syft" "-X main.version=${SYFT_VERSION#v}"
}

command -v jq >/dev/null; s=$(date +%s); cosign_cli; echo "cosign cold $(( $(date +%s)-s ))s"; s=$(date +%s); syft_cli; echo "syft cold $(( $(date +%s)-s ))s"; ls -la $BIN/cosign $BIN/syft
