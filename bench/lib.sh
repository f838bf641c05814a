# shellcheck shell=bash
# Shared by the benchmarks that build for real in the acceptance run's world (bench/overhead.sh,
# bench/spread.sh): the world and the Go base image, a scratch copy of the project with its
# stack, timed steps with the machine's CPU meanwhile, checks, compile-step counts from build
# logs, and medians. Source it after e2e/env.sh; the sourcing script sets WORK (its scratch
# directory), and its `key`s name logs as $WORK/KEY.log.

declare -A samples=() cpu=()
checks_failed=0
checks_json='[]'

# bench_start: the toolchain and the loopback world (dockerd, the TLS registry, the sshd
# hosts), PULUMI_DEBUG_COMMANDS for --event-log, and the Go base image's name.
bench_start() {
    bash "$E2E_DIR/toolchain.sh" >&2
    # Without the descriptors a caller's `flock LOCK bash bench/...` holds: the daemons this may
    # start (dockerd, the registry) would inherit the lock and hold it after the run ended.
    bash "$E2E_DIR/services.sh" start >&2 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
    export PULUMI_DEBUG_COMMANDS=true
    GO_VERSION=$(go env GOVERSION)
    GO_IMAGE=$REGISTRY/nbf-bench-base/go:${GO_VERSION#go}
}

# bench_runs: BENCH_RUNS (default 3), checked.
bench_runs() {
    local runs=${BENCH_RUNS:-3}
    [[ $runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, not '$runs'"
    printf '%s\n' "$runs"
}

bench_toolchain() {
    printf 'pulumi %s, docker-build %s, buildx %s, buildkit %s, %s; command %s and nodejs language host: stand-ins' \
        "$(pulumi version)" "$DOCKER_BUILD_VERSION" "$BUILDX_VERSION" "$BUILDKIT_VERSION" "$GO_VERSION" "$COMMAND_VERSION"
}

# The build stage's base: this machine's Go toolchain (sources and tools, no tests) and a
# busybox shell, for linux/amd64, in the loopback registry. No other image is reachable.
go_image() {
    skopeo inspect "docker://$GO_IMAGE" >/dev/null 2>&1 && return 0
    log "building $GO_IMAGE from $(go env GOROOT)"
    local root goroot; root=$(mktemp -d); goroot=$(go env GOROOT)
    mkdir -p "$root/bin" "$root/tmp" "$root/root" "$root/usr/local"
    chmod 1777 "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    for tool in sh mkdir cat ls cp rm env; do ln -sf busybox "$root/bin/$tool"; done
    local top; top=$(basename "$goroot")
    tar -C "$(dirname "$goroot")" -c --exclude=testdata --exclude='*_test.go' \
        --anchored --exclude="$top/test" --exclude="$top/doc" --exclude="$top/api" --exclude="$top/misc" \
        "$top" | tar -C "$root/usr/local" -x
    [ -d "$root/usr/local/$top/src/go/doc/comment" ] || die "the Go image would lack go/doc/comment"
    [ "$top" = go ] || mv "$root/usr/local/$top" "$root/usr/local/go"
    tar -C "$root" -c . | docker import -c 'ENV PATH=/usr/local/go/bin:/bin' -c 'ENV HOME=/root' \
        -c 'CMD ["/bin/sh"]' - "$GO_IMAGE" >/dev/null
    rm -rf "$root"
    docker push -q "$GO_IMAGE" >/dev/null
}

# bench_stack STACKFILE: the project in $WORK as a fresh clone has it (with this checkout's
# dependencies), STACKFILE as its stack "bench" on a file backend of its own (chosen per run,
# not with `pulumi login`, which other runs share), and the operator's key and registry
# password set. Host keys are the caller's: its hosts differ.
bench_stack() {
    (cd "$REPO_DIR" && git ls-files -co --exclude-standard | grep -v '^node_modules/' | tar -cf - -T -) | tar -xf - -C "$WORK"
    ln -s "$REPO_DIR/node_modules" "$WORK/node_modules"
    cp "$1" "$WORK/stacks/Pulumi.bench.yaml"
    mkdir -p "$WORK/state"
    export PULUMI_BACKEND_URL="file://$WORK/state"
    pulumi_ stack init bench >/dev/null
    pulumi_ config set --secret sshPrivateKey <"$STATE/operator/id_ed25519"
    pulumi_ config set --secret registryPassword e2e-registry-needs-no-password
}
host_key() { cat "$STATE/hosts/$1/ssh_host_ed25519_key.pub"; }

# pulumi_ ARGS...: pulumi in the scratch project, or in PROJECT when the caller sets it (the
# empty program of bench/overhead.sh's floor).
pulumi_() { (cd "${PROJECT:-$WORK}" && pulumi "$@"); }
# logged NAME PULUMI-ARGS...: pulumi with its output kept as $WORK/NAME.log and its engine
# events as $WORK/NAME.events, each stamped with the millisecond it arrived (`nbfMs`, by
# bench/overhead/stamp-events.js reading --event-log through a FIFO), and the process's own
# start and end (ms) as $WORK/NAME.span, which `timed` takes as the wall time: the stamper's
# start is not the program's cost. The FIFO is held open here until the CLI has exited, so the
# reader ends even when the CLI fails before it opens its log.
logged() {
    local name=$1 fifo=$WORK/$1.fifo reader hold start rc=0; shift
    rm -f "$WORK/$name.events" "$WORK/$name.span" "$fifo"
    mkfifo "$fifo"
    exec {hold}<>"$fifo"
    # Neither child may inherit the holding descriptor: the reader would never see the end.
    node "$REPO_DIR/bench/overhead/stamp-events.js" <"$fifo" >"$WORK/$name.events" {hold}>&- &
    reader=$!
    sleep 0.2 # the reader's own start, before the clock starts
    start=$(date +%s%3N)
    pulumi_ "$@" --event-log "$fifo" >"$WORK/$name.log" 2>&1 {hold}>&- || rc=$?
    printf '%s %s\n' "$start" "$(date +%s%3N)" >"$WORK/$name.span"
    exec {hold}>&-
    wait "$reader" || true
    rm -f "$fifo"
    return "$rc"
}
# up NAME [ARGS]: pulumi up through `logged` (see steps_of for its events).
up() {
    local name=$1; shift
    logged "$name" up --yes --skip-preview "$@"
}
# preview NAME [ARGS]: pulumi preview through `logged`.
preview() {
    local name=$1; shift
    logged "$name" preview "$@"
}
# steps_of NAME: the build logs of an up, as $WORK/NAME.steps, one "resource<TAB>line" a line.
# The provider reports BuildKit's plain progress as status messages; the non-interactive
# display prints only some of them (measured: vertices missing from its output), so they
# are read from the engine's event log (--event-log, offered with PULUMI_DEBUG_COMMANDS).
steps_of() {
    jq -r 'select(.diagnosticEvent) | .diagnosticEvent | (.urn // "-") as $u | .message | split("\n")[] | select(. != "") | "\($u)\t\(.)"' \
        "$WORK/$1.events" >"$WORK/$1.steps"
}

# busy_seconds: CPU time the whole machine has spent busy since boot (all processes, ours,
# BuildKit's and anyone else's), from /proc/stat.
busy_seconds() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat; }

# timed KEY COMMAND...: runs it and adds its wall time to KEY's samples (a pulumi run `logged`
# as KEY: its process's), and the machine's busy CPU seconds meanwhile to KEY's cpu samples;
# a failure ends the run.
timed() {
    local key=$1 start busy rc=0 s; shift
    [ -z "${WORK:-}" ] || rm -f "$WORK/$key.span"
    busy=$(busy_seconds)
    start=$(date +%s.%N)
    "$@" || rc=$?
    s=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
    # A pulumi run through `logged` under the same name counts from its own start to its exit.
    if [ -n "${WORK:-}" ] && [ -s "$WORK/$key.span" ]; then
        s=$(awk '{ printf "%.2f", ($2 - $1) / 1000 }' "$WORK/$key.span")
    fi
    cpu[$key]="${cpu[$key]:-} $(awk -v a="$busy" -v b="$(busy_seconds)" 'BEGIN { printf "%.1f", b - a }')"
    if [ "$rc" -ne 0 ]; then
        printf 'FAILED %s (exit %s) after %ss; the last lines of its log:\n' "$key" "$rc" "$s" >&2
        tail -n 30 "$WORK/$key.log" 2>/dev/null >&2 || true
        exit 1
    fi
    samples[$key]="${samples[$key]:-} $s"
    printf '  %-26s %7.2fs  (machine busy %ss of CPU)\n' "$key" "$s" "${cpu[$key]##* }" >&2
}

# check DESCRIPTION COMMAND...: a correctness check, recorded in the results; failures make
# the run exit non-zero at the end.
check() {
    local what=$1 ok=true; shift
    if "$@"; then printf '  ok   %s\n' "$what" >&2; else ok=false; checks_failed=$((checks_failed + 1)); printf '  FAIL %s\n' "$what" >&2; fi
    checks_json=$(jq -c --arg w "$what" --argjson ok "$ok" '. + [{check: $w, ok: $ok}]' <<<"$checks_json")
}

# compiled STEPS WHAT: how many times the compile step WHAT (std, internal or server) of
# bench/overhead/app/Dockerfile ran, from a "build<TAB>plain progress line" file: the step prints
# "nbf-bench: compiled WHAT for OS/ARCH (run UUID)" only when it runs, never when BuildKit takes
# it from a cache, with a new UUID each run. Builds that BuildKit served from one shared run
# (two resources solving the same steps at once) show the same line, counted once.
compiled() {
    awk -F '\t' -v what="$2" '$2 ~ ("^#[0-9]+ [0-9.]+ nbf-bench: compiled " what " for [^ ]+ \\(run [0-9a-f-]+\\)$") {
            sub(/^#[0-9]+ [0-9.]+ /, "", $2); ran[$2] = 1 }
        END { n = 0; for (r in ran) n++; print n }' "$1"
}
# none_ran STEPS WHAT...: no build ran any of these compile steps.
none_ran() {
    local steps=$1 what; shift
    for what in "$@"; do ran "$steps" "$what" 0 || return 1; done
}
# ran STEPS WHAT COUNT: exactly COUNT builds ran the compile step WHAT.
ran() {
    local got; got=$(compiled "$1" "$2")
    [ "$got" = "$3" ] || { printf '       %s: expected %s build(s) to compile it, got %s\n' "$2" "$3" "$got" >&2; return 1; }
}
equal() { [ "$1" = "$2" ] || { printf '       expected %s, got %s\n' "$2" "$1" >&2; return 1; }; }

# stats_json SAMPLES: {median, min, max, samples} of space-separated numbers.
stats_json() {
    tr ' ' '\n' <<<"$1" | awk 'NF' | jq -sc 'sort as $s | {median: (if ($s | length) % 2 == 1 then $s[(($s | length) - 1) / 2]
        else (($s[($s | length) / 2 - 1] + $s[($s | length) / 2]) / 2 * 100 | round / 100) end), min: min, max: max, samples: .}'
}
# measurements_json: every key's wall-time statistics, each with machineBusyCpuSeconds.
measurements_json() {
    local key measurements='{}'
    for key in "${!samples[@]}"; do
        measurements=$(jq -c --arg k "$key" --argjson v "$(stats_json "${samples[$key]}")" --argjson c "$(stats_json "${cpu[$key]}")" \
            '. + {($k): ($v + {machineBusyCpuSeconds: $c})}' <<<"$measurements")
    done
    printf '%s\n' "$measurements"
}

# table_head WHAT: a results table's heading line and header.
table_head() {
    printf '\n%s, and the CPU seconds the whole machine was busy meanwhile\n\n' "$1"
    printf '| measurement | median | min | max | machine CPU s (median) |\n|---|---|---|---|---|\n'
}
# table_row RESULTS KEY LABEL: KEY's row from a results file, when KEY was measured.
table_row() {
    [ -n "${samples[$2]:-}" ] || return 0
    jq -r --arg k "$2" --arg l "$3" '.seconds[$k] | "| \($l) | \(.median) | \(.min) | \(.max) | \(.machineBusyCpuSeconds.median) |"' "$1"
}
