#!/usr/bin/env bash
# Runs the stand-ins' own tests (go test), one per behaviour they share with the real command
# provider 1.2.1 and the real nodejs language host, before the acceptance run relies on them.
# Offline: the module cache that e2e/toolchain.sh filled is the only source.
set -euo pipefail
# shellcheck source=e2e/env.sh
source "$(dirname "$0")/../env.sh"
export GOPROXY=off GOFLAGS="-mod=mod -buildvcs=false"
for standin in command language-host; do
    log "go test: $standin stand-in"
    (cd "$E2E_DIR/standins/$standin" && nice -n 10 go test -count=1 ./...)
done
