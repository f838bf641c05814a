#!/usr/bin/env bash
# npm run bench:qemu: what native saves. The same CPU-heavy build step — gofmt parsing and
# printing the Go standard library's net and go packages, a compiler front end's work — run
# natively (amd64) and as an arm64 binary under QEMU user emulation, on this machine.
# Medians of five runs go to bench/results/qemu.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
command -v qemu-aarch64-static >/dev/null || {
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static >/dev/null
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 GOARCH=amd64 go build -o "$work/gofmt-amd64" cmd/gofmt
CGO_ENABLED=0 GOARCH=arm64 go build -o "$work/gofmt-arm64" cmd/gofmt
src=$(go env GOROOT)/src
mapfile -t sources < <(find "$src/net" "$src/go" -name '*.go' -not -path '*/testdata/*' | sort)
files=${#sources[@]}

seconds() { # seconds COMMAND...: wall time of one run
    local start; start=$(date +%s.%N)
    "$@" -l "${sources[@]}" >/dev/null
    awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.3f\n", e - s }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

native=$(for _ in 1 2 3 4 5; do seconds "$work/gofmt-amd64"; done | median)
emulated=$(for _ in 1 2 3 4 5; do seconds qemu-aarch64-static "$work/gofmt-arm64"; done | median)
ratio=$(awk -v a="$emulated" -v b="$native" 'BEGIN { printf "%.1f", a / b }')

mkdir -p bench/results
printf '{"step": "gofmt -l over %s Go files", "nativeAmd64Seconds": %s, "qemuArm64Seconds": %s, "slowdown": %s}\n' \
    "$files" "$native" "$emulated" "$ratio" > bench/results/qemu.json
printf 'gofmt over %s files: native %.2fs, under QEMU %.2fs: %sx slower -> bench/results/qemu.json\n' "$files" "$native" "$emulated" "$ratio"
