#!/usr/bin/env bash
# Builds the real toolchain for the acceptance run from the Go module proxy, pinned to the
# SDK versions in package-lock.json, and caches it outside the clone ($CACHE/bin): a second
# run takes seconds. Official binary downloads are unreachable here, so everything is
# compiled from module sources (about ten minutes cold on two cores).
#
# Two parts cannot be had from any registry this machine reaches, and are STAND-INS written
# for this project (e2e/standins/, see docs/acceptance.md, "Real-engine acceptance run"):
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

pulumi_cli() {
    "$BIN/pulumi" version 2>/dev/null | grep -qx "v$PULUMI_VERSION" && return 0
    local tree=$SRC/pulumi-$PULUMI_VERSION
    if [ ! -d "$tree/pkg" ]; then
        # pkg/go.mod replaces the sdk with ../sdk, so both modules go side by side.
        mkdir -p "$tree"
        cp -r "$(module_source github.com/pulumi/pulumi/pkg/v3 "v$PULUMI_VERSION")" "$tree/pkg"
        cp -r "$(module_source github.com/pulumi/pulumi/sdk/v3 "v$PULUMI_VERSION")" "$tree/sdk"
    fi
    build "pulumi v$PULUMI_VERSION" "$tree/pkg" ./cmd/pulumi "$BIN/pulumi" \
        "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION"
}

docker_build_plugin() {
    [ -x "$BIN/pulumi-resource-docker-build" ] && return 0
    local tree; tree=$(module_source github.com/pulumi/pulumi-docker-build "v$DOCKER_BUILD_VERSION")
    python3 "$E2E_DIR/patches/docker-build-schema.py" "$tree/provider/internal/provider.go"
    build "docker-build $DOCKER_BUILD_VERSION" "$tree" ./provider/cmd/pulumi-resource-docker-build "$BIN/pulumi-resource-docker-build" \
        "-X github.com/pulumi/pulumi-docker-build/provider.Version=$DOCKER_BUILD_VERSION"
}

buildx_plugin() {
    [ -x "$BIN/docker-buildx" ] || {
        local tree; tree=$(module_source github.com/docker/buildx "$BUILDX_VERSION")
        build "buildx $BUILDX_VERSION" "$tree" ./cmd/buildx "$BIN/docker-buildx" \
            "-X github.com/docker/buildx/version.Version=$BUILDX_VERSION -X github.com/docker/buildx/version.Package=github.com/docker/buildx"
    }
    mkdir -p ~/.docker/cli-plugins
    ln -sf "$BIN/docker-buildx" ~/.docker/cli-plugins/docker-buildx
}

# Compose reads the acceptance run's Compose file (config/load.ts runs `docker compose config`);
# a docker CLI plugin like buildx. v5.6.0: the newest release whose go.mod accepts this Go.
COMPOSE_VERSION=v5.6.0
compose_plugin() {
    [ -x "$BIN/docker-compose" ] || {
        local tree; tree=$(module_source github.com/docker/compose/v5 "$COMPOSE_VERSION")
        build "compose $COMPOSE_VERSION" "$tree" ./cmd "$BIN/docker-compose" "-X github.com/docker/compose/v5/internal.Version=$COMPOSE_VERSION"
    }
    mkdir -p ~/.docker/cli-plugins
    ln -sf "$BIN/docker-compose" ~/.docker/cli-plugins/docker-compose
}

buildkit() {
    [ -x "$BIN/buildkitd" ] && [ -x "$BIN/buildctl" ] && return 0
    local tree; tree=$(module_source github.com/moby/buildkit "$BUILDKIT_VERSION")
    # A real version string: the provider refuses some exports from BuildKit it thinks older than 0.13.
    local flags="-X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION -X github.com/moby/buildkit/version.Package=github.com/moby/buildkit -extldflags -static"
    build "buildkitd $BUILDKIT_VERSION" "$tree" ./cmd/buildkitd "$BIN/buildkitd" "$flags" "osusergo netgo static_build"
    build "buildctl $BUILDKIT_VERSION" "$tree" ./cmd/buildctl "$BIN/buildctl" "$flags" "osusergo netgo static_build"
}

# Signing (docs/signing.md, "Verifiable releases"): cosign signs and attests, syft writes the SBOM. Both
# from their Go modules like the rest; each is a single static binary the runner finds on PATH.
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

fresh() { [ -x "$1" ] && [ "$1" -nt "$2" ]; }

standins() {
    if ! fresh "$BIN/pulumi-language-nodejs" "$E2E_DIR/standins/language-host/main.go"; then
        build "nodejs language host (STAND-IN)" "$E2E_DIR/standins/language-host" . "$BIN/pulumi-language-nodejs" ""
    fi
    # Kept off PATH: the engine must find it in the plugin cache by exact version.
    if ! fresh "$STANDIN_BIN/pulumi-resource-command" "$E2E_DIR/standins/command/main.go"; then
        build "command provider $COMMAND_VERSION (STAND-IN)" "$E2E_DIR/standins/command" . "$STANDIN_BIN/pulumi-resource-command" "-X main.Version=$COMMAND_VERSION"
    fi
}

plugin_cache() {
    # Captured first: `plugin ls | grep -q` can fail with SIGPIPE under pipefail.
    local plugins; plugins=$("$BIN/pulumi" plugin ls 2>/dev/null || true)
    grep -q "docker-build.*$DOCKER_BUILD_VERSION" <<<"$plugins" ||
        "$BIN/pulumi" plugin install resource docker-build "$DOCKER_BUILD_VERSION" --file "$BIN/pulumi-resource-docker-build" >/dev/null
    "$BIN/pulumi" plugin rm resource command "$COMMAND_VERSION" --yes >/dev/null 2>&1 || true
    "$BIN/pulumi" plugin install resource command "$COMMAND_VERSION" --file "$STANDIN_BIN/pulumi-resource-command" >/dev/null
}

command -v jq >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null; }
pulumi_cli
standins
docker_build_plugin
buildx_plugin
compose_plugin
buildkit
cosign_cli
syft_cli
plugin_cache
log "toolchain ready: pulumi $("$BIN/pulumi" version), docker-build $DOCKER_BUILD_VERSION, command $COMMAND_VERSION (stand-in), buildx $BUILDX_VERSION, compose $COMPOSE_VERSION, buildkit $BUILDKIT_VERSION, cosign $COSIGN_VERSION, syft $SYFT_VERSION"
