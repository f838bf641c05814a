# shellcheck shell=bash disable=SC2034
# (SC2034: the variables here are used by the scripts that source this file.)
# Shared settings for the real-engine acceptance run (sourced by the other e2e scripts).
# Everything listens on loopback; builds and state are cached outside the clone.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$E2E_DIR/.." && pwd)
CACHE=${NBF_E2E_CACHE:-/var/cache/native-build-fleet}
BIN=$CACHE/bin
STANDIN_BIN=$CACHE/bin-standin
STATE=$CACHE/e2e
LOGS=$STATE/logs
mkdir -p "$BIN" "$STANDIN_BIN" "$STATE" "$LOGS"

# Versions: the SDKs in package-lock.json, and what @pulumi/docker-build 0.0.22 embeds.
PULUMI_VERSION=$(node -p 'require(process.argv[1]).packages["node_modules/@pulumi/pulumi"].version' "$REPO_DIR/package-lock.json")
DOCKER_BUILD_VERSION=$(node -p 'require(process.argv[1]).packages["node_modules/@pulumi/docker-build"].version' "$REPO_DIR/package-lock.json")
COMMAND_VERSION=$(node -p 'require(process.argv[1]).packages["node_modules/@pulumi/command"].version' "$REPO_DIR/package-lock.json")
BUILDX_VERSION=v0.35.0
BUILDKIT_VERSION=v0.31.0

# The registry answers on 127.0.0.1 under a name with TLS: docker-build's registry client
# always speaks HTTPS, while buildx uses plain HTTP for loopback IPs, so only a name works
# for both (measured; see the issue notes).
REGISTRY_HOST=registry.e2e.test
REGISTRY=$REGISTRY_HOST:5000
BUILDKIT_IMAGE=$REGISTRY/buildkit:$BUILDKIT_VERSION

# Two static build hosts, each its own sshd with its own host key, both on this machine's
# Docker Engine. The user joins the docker group, as on a real build host.
HOST_USER=nbf-builder
HOST_NAMES=(amd arm)
# Two more, for the step that spreads builds over two hosts of each platform (e2e/steps/spread.sh).
SPREAD_HOSTS=(amd2 arm2)
declare -A HOST_ADDRESS=([amd]=127.0.0.2 [arm]=127.0.0.3 [amd2]=127.0.0.12 [arm2]=127.0.0.13)
declare -A HOST_PLATFORM=([amd]=linux/amd64 [arm]=linux/arm64 [amd2]=linux/amd64 [arm2]=linux/arm64)

export PATH=/usr/local/go/bin:$BIN:$PATH
export GOPROXY=https://proxy.golang.org GOFLAGS=-buildvcs=false CGO_ENABLED=0
export GOMODCACHE=$CACHE/go/mod GOCACHE=$CACHE/go/build
export PULUMI_HOME=$STATE/pulumi-home
export PULUMI_CONFIG_PASSPHRASE=e2e-only-passphrase
export PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true PULUMI_DISABLE_REGISTRY_RESOLVE=true

log() { printf '\n=== %s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf 'e2e: %s\n' "$*" >&2; exit 1; }
