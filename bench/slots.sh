#!/usr/bin/env bash
# npm run bench:slots: many small images on few hosts. BuildKit runs every solve a host is given
# at once, and users of shared daemons report builds wedging on its cache-metadata and exporter
# locks when many run together (cozystack/cozystack#2937). This measures what that costs here.
#
# On the acceptance run's loopback world (e2e/services.sh: dockerd, a TLS registry, sshd hosts),
# a stack of two static hosts of one platform, amd and amd2 (both linux/amd64), builds 24 small
# images, cold (no BuildKit state on either node, nothing of the images in the registry): twelve
# platform builds per host, each with its cache-only build beside it, so 24 solves per host.
# Each run measures, side by side, one `pulumi up` per case in BENCH_CASES (default
# "engine_default all_at_once"):
#   engine_default  pulumi's own bound: --parallel defaults to 8 resource operations on this
#                   2-core machine (`pulumi up --help`), for both hosts together;
#   all_at_once     --parallel 64: every solve at once, as a runner with 16 or more cores gives
#                   by default;
#   slotsN          --parallel 64 with builder.buildSlots: N.
# The first two set builder.buildSlots to 64, which queues nothing here.
# For every up it reads, from each host's BuildKit build history (bench/slots/solves.ts), the
# solves it ran, how many ran at once at the peak, the longest solve, and the longest spell with
# solves running and none finishing. A solve that never finishes, or an up that fails, is a
# stall; the stack's builder.buildTimeoutMinutes (10) bounds how long one can hang.
# Odd runs take the cases in order, even runs in reverse. Medians (with min and max) of
# BENCH_RUNS runs (default 3) and every up's per-host figures go to bench/results/slots.json.
# A benchmark, not a test: it fails when a build fails or stalls, or a check does not hold.
# Needs root (it starts dockerd and sshd through e2e/services.sh).
set -euo pipefail
# shellcheck source=e2e/env.sh
source "$(dirname "$0")/../e2e/env.sh"
# shellcheck source=bench/lib.sh
source "$REPO_DIR/bench/lib.sh"

RUNS=$(bench_runs)
read -r -a CASES <<<"${BENCH_CASES:-engine_default all_at_once}"
for c in "${CASES[@]}"; do
    [[ $c =~ ^(engine_default|all_at_once|slots[1-9][0-9]*)$ ]] || die "BENCH_CASES: '$c' is not engine_default, all_at_once or slotsN (N a positive integer)"
done
IMAGES=24
BUILDER=nbf-slbench
PREFIX=nbf-bench-slots
HOSTS=(amd amd2)
# BENCH_AMD2_SSHD=arm2 reaches amd2 through arm2's sshd when amd2's own cannot be used (every
# sshd of the world leads to this machine's one dockerd; the host stays linux/amd64 here).
declare -A SSHD=([amd]=amd [amd2]=${BENCH_AMD2_SSHD:-amd2})
RESULTS=${NBF_BENCH_RESULTS:-$REPO_DIR/bench/results}

bench_start
WORK=$(mktemp -d /tmp/nbf-bench-slots.XXXXXX)

clean_slate() {
    local b
    for b in "${HOSTS[@]}" ""; do
        b=$BUILDER${b:+-$b}
        docker buildx rm "$b" >/dev/null 2>&1 || docker buildx rm --keep-daemon "$b" >/dev/null 2>&1 || true
        docker buildx rm "${b}_preview" >/dev/null 2>&1 || true
    done
    rm -rf "$(getent passwd "$(id -u)" | cut -d: -f6)/.ssh/native-build-fleet/$BUILDER"
    docker ps -aq --filter "name=buildx_buildkit_$BUILDER" | xargs -r docker rm -f >/dev/null
    docker volume ls -q --filter "name=buildx_buildkit_$BUILDER" | xargs -r docker volume rm >/dev/null
    rm -rf "$STATE/registry/docker/registry/v2/repositories/$PREFIX"
}
wipe() {
    local host
    for host in "${HOSTS[@]}"; do docker buildx prune --builder "$BUILDER-$host" --all --force >/dev/null 2>&1; done
    rm -rf "$STATE/registry/docker/registry/v2/repositories/$PREFIX"
}

# The 24 images on both hosts, rebuilt whenever RUN_ID changes (a build arg the Dockerfile never
# declares: it changes the inputs, not a cache key); SLOTS sets builder.buildSlots, or leaves it unset.
configure() { # configure RUN_ID [SLOTS]
    (cd "$WORK" && node -e '
        const fs = require("fs"), YAML = require("yaml"), file = "stacks/Pulumi.bench.yaml";
        const [run, count, prefix, base, slots] = process.argv.slice(1);
        const stack = YAML.parse(fs.readFileSync(file, "utf8"));
        stack.config["native-build-fleet:images"] = Array.from({ length: Number(count) }, (_, i) => {
            const n = "s" + String(i + 1).padStart(2, "0");
            return { name: prefix + "/" + n, context: "slots/" + n, platforms: ["linux/amd64"], tags: ["latest"], buildArgs: { BASE: base, BENCH_RUN: run } };
        });
        const builder = stack.config["native-build-fleet:builder"];
        if (slots === "") delete builder.buildSlots; else builder.buildSlots = Number(slots);
        fs.writeFileSync(file, YAML.stringify(stack));
    ' "$1" "$IMAGES" "$PREFIX" "$REGISTRY/busybox:e2e" "${2:-}")
}
hosts_of() {
    pulumi_ stack output images --json | jq -r --arg p "$PREFIX/" '
        to_entries[] | select(.key | startswith($p)) | .value.platforms[].host' | sort | uniq -c | awk '{ printf "%s=%s ", $2, $1 }'
}

per_up='[]'
# ssh_drops: connections the hosts' sshds have refused so far for too many unauthenticated at
# once. sshd_config(5) MaxStartups, default 10:30:100: past 10 it drops 30% of new connections
# (https://man.openbsd.org/sshd_config#MaxStartups), and every build dials its host anew.
ssh_drops() {
    local host c n=0
    for host in "${HOSTS[@]}"; do
        c=$(grep -c 'past MaxStartups' "$LOGS/sshd-${SSHD[$host]}.log" 2>/dev/null) || true
        n=$((n + ${c:-0}))
    done
    printf '%s\n' "$n"
}
# at_most N SUMMARY: no host of a bench/slots/solves.ts summary ran more than N solves at once.
at_most() { jq -e --argjson n "$1" '[.[] | .peakConcurrency <= $n] | all' <<<"$2" >/dev/null; }
measure() { # measure CASE: one cold up of the case, its wall time and what BuildKit recorded
    # builder.buildSlots 64 (its maximum, above the 24 solves a host gets) queues nothing.
    local key=$1 parallel=64 slots=64 start end busy drops_before rc=0 host files=() summary
    case $key in
        engine_default) parallel="" ;;
        slots*) slots=${key#slots} ;;
    esac
    configure "$key-$run" "$slots"
    wipe
    drops_before=$(ssh_drops)
    busy=$(busy_seconds)
    start=$(date +%s%3N)
    up "$key" ${parallel:+--parallel "$parallel"} || rc=$?
    end=$(date +%s%3N)
    # measurements_json (bench/lib.sh) gives every key of samples its machine CPU too.
    cpu[$key]="${cpu[$key]:-} $(awk -v a="$busy" -v b="$(busy_seconds)" 'BEGIN { printf "%.1f", b - a }')"
    for host in "${HOSTS[@]}"; do
        docker buildx history ls --builder "$BUILDER-$host" --format json >"$WORK/$key-$run-$host.history"
        files+=("$host=$WORK/$key-$run-$host.history")
    done
    summary=$(node "$WORK/solves/solves.js" "$start" "${files[@]}")
    # A failed up's time is not a build's: the medians are of the ups that succeeded, and perCase
    # counts the failed ones.
    [ "$rc" -ne 0 ] || samples[$key]="${samples[$key]:-} $(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", (e - s) / 1000 }')"
    per_up=$(jq -c --arg k "$key" --argjson run "$run" --argjson rc "$rc" --argjson s "$summary" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
        --argjson wall "$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", (e - s) / 1000 }')" \
        --argjson drops "$(($(ssh_drops) - drops_before))" \
        '. + [{case: $k, run: $run, exitCode: $rc, wallSeconds: $wall, loadAverage: $load, sshConnectionsDropped: $drops, hosts: $s}]' <<<"$per_up")
    printf '  %-16s %7.2fs  exit %s  ssh drops %s  %s\n' "$key" "$(jq -r '.[-1].wallSeconds' <<<"$per_up")" "$rc" "$(jq -r '.[-1].sshConnectionsDropped' <<<"$per_up")" \
        "$(jq -r '.[-1].hosts | to_entries | map("\(.key): \(.value.solves) solves, peak \(.value.peakConcurrency) at once, longest \(.value.longestSolveSeconds)s, silence \(.value.longestSilenceSeconds)s") | join("; ")' <<<"$per_up")" >&2
    check "$key run $run: pulumi up succeeded" equal "$rc" 0
    # The summary is solves.js's output as it is: host -> figures (per_up keeps it as .hosts).
    check "$key run $run: every solve finished without error on both hosts" \
        equal "$(jq -r '[.[] | .unfinished + .failed] | add' <<<"$summary")" 0
    check "$key run $run: each host ran its twelve builds and their cache builds (24 solves)" \
        equal "$(jq -r '[.amd.solves, .amd2.solves] | map(tostring) | join(" ")' <<<"$summary")" "24 24"
    # The log's tail is the stack's outputs; what failed is in its diagnostics, before them.
    # A failed up is a finding, not the end of the run: the next case's up starts from a wiped
    # cache and rebuilds every image, and the run still exits non-zero at its end.
    # Only its errors, each under its resource (the warnings repeat per image); no `head`, whose
    # early exit would end the run through pipefail.
    [ "$rc" -eq 0 ] || { awk '/^Diagnostics:/ { d = 1 } /^Outputs:/ { d = 0 } d && /^  [^ ]/ { r = $0 }
        d && /^    error:/ { if (r != "") print r; r = ""; print }' "$WORK/$key.log" >&2; return 0; }
    check "$key run $run: twelve builds on each host" equal "$(hosts_of)" "amd=12 amd2=12 "
    [ "$slots" = 64 ] || check "$key run $run: no host ran more than $slots solves at once" at_most "$slots" "$summary"
}

cleanup() {
    local rc=$?
    if [ "${KEEP_BENCH:-}" != 1 ]; then
        pulumi_ destroy --yes >/dev/null 2>&1 || true
        clean_slate
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT

clean_slate
for host in "${HOSTS[@]}"; do
    [ "$(ssh-keyscan -T 5 -t ed25519 "${HOST_ADDRESS[${SSHD[$host]}]}" 2>/dev/null | awk '{ print $2, $3 }')" = "$(host_key "${SSHD[$host]}" | awk '{ print $1, $2 }')" ] ||
        die "${HOST_ADDRESS[${SSHD[$host]}]}:22 does not answer with ${SSHD[$host]}'s host key (another sshd on it?); BENCH_AMD2_SSHD=arm2 reaches amd2 through arm2's sshd"
done

mkdir -p "$WORK/bench-stack"
{
    printf 'config:\n  native-build-fleet:staticHosts:\n'
    for host in "${HOSTS[@]}"; do
        printf '    - name: %s\n      address: %s\n      user: %s\n      platforms: [linux/amd64]\n      hostKey: %s\n' \
            "$host" "${HOST_ADDRESS[${SSHD[$host]}]}" "$HOST_USER" "$(host_key "${SSHD[$host]}")"
    done
    printf '  native-build-fleet:registry:\n    type: external\n    address: %s\n    username: e2e\n' "$REGISTRY"
    printf '  native-build-fleet:images: []\n'
    printf '  native-build-fleet:builder:\n    name: %s\n    buildkitImage: %s\n    buildTimeoutMinutes: 10\n    driverOptions:\n      network: host\n    buildkitdConfig: e2e/buildkitd.toml\n' \
        "$BUILDER" "$BUILDKIT_IMAGE"
} >"$WORK/bench-stack/Pulumi.bench.yaml"
bench_stack "$WORK/bench-stack/Pulumi.bench.yaml"
# Each image: the busybox base, a file of its own, and one RUN step that writes 2 MiB of its own.
for i in $(seq -w 1 "$IMAGES"); do
    mkdir -p "$WORK/slots/s$i"
    printf 'image s%s of bench/slots.sh\n' "$i" >"$WORK/slots/s$i/id.txt"
    cat >"$WORK/slots/s$i/Dockerfile" <<'EOF'
ARG BASE
FROM ${BASE}
COPY id.txt /id.txt
RUN busybox dd if=/dev/urandom of=/blob bs=64k count=32 2>/dev/null && busybox sha256sum /blob /id.txt >/sums
EOF
done
"$REPO_DIR/node_modules/.bin/tsc" "$REPO_DIR/bench/slots/solves.ts" --outDir "$WORK/solves" --module commonjs --target ES2022 \
    --skipLibCheck --types node

log "setup: the stack's first up (registers the builders, starts both nodes, builds the 24 images)"
run=setup
configure setup
timed stack_first_up up stack_first_up

for run in $(seq "$RUNS"); do
    order=("${CASES[@]}")
    if [ $((run % 2)) -eq 0 ]; then
        order=(); for ((i = ${#CASES[@]} - 1; i >= 0; i--)); do order+=("${CASES[$i]}"); done
    fi
    log "run $run of $RUNS: ${order[*]}"
    for c in "${order[@]}"; do measure "$c"; done
done

mkdir -p "$RESULTS"
jq -n --argjson m "$(measurements_json)" --argjson checks "$checks_json" --argjson runs "$RUNS" --argjson ups "$per_up" \
    --arg cores "$(nproc)" --arg cpu "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" --arg toolchain "$(bench_toolchain)" '
    {machine: {cores: ($cores | tonumber), cpu: $cpu, note: "both hosts are this one machine (one dockerd, one registry); other work may share it"},
     toolchain: $toolchain, images: "24 x linux/amd64: busybox base, a file and a RUN writing 2 MiB of its own; two hosts, twelve each",
     runs: $runs, seconds: $m,
     perCase: ($ups | group_by(.case) | map({key: .[0].case, value: {
        peakConcurrency: [.[].hosts[].peakConcurrency] | max,
        longestSolveSeconds: [.[].hosts[].longestSolveSeconds] | max,
        longestSilenceSeconds: [.[].hosts[].longestSilenceSeconds] | max,
        failedUps: [.[] | select(.exitCode != 0)] | length,
        sshConnectionsDropped: [.[].sshConnectionsDropped] | add,
        stalled: ([.[] | .exitCode != 0 or ([.hosts[] | .unfinished + .failed] | add) > 0] | any)}}) | from_entries),
     ups: $ups, checks: $checks}' >"$RESULTS/slots.json"

{
    printf '\n%s run(s), %s cores, load average now %s; wall seconds of a cold pulumi up of 24 images on 2 hosts\n\n' "$RUNS" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf '| case | median | min | max | machine CPU s (median) | failed ups | ssh connections dropped | peak solves at once on a host | longest solve s | longest silence s | stalled |\n|---|---|---|---|---|---|---|---|---|---|---|\n'
    jq -r '.seconds as $s | .perCase | to_entries[] | ($s[.key] // {}) as $t |
        "| \(.key) | \($t.median // "-") | \($t.min // "-") | \($t.max // "-") | \($t.machineBusyCpuSeconds.median // "-") | \(.value.failedUps) | \(.value.sshConnectionsDropped) | \(.value.peakConcurrency) | \(.value.longestSolveSeconds) | \(.value.longestSilenceSeconds) | \(.value.stalled) |"' "$RESULTS/slots.json"
    printf '\n-> %s; %s check(s) failed\n' "$RESULTS/slots.json" "$checks_failed"
}
[ "$checks_failed" -eq 0 ]
