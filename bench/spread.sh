#!/usr/bin/env bash
# npm run bench:spread: what spreading a fleet's builds over the hosts of a pool buys, with
# bench/overhead's compile-heavy Go image, each build host's BuildKit held to one CPU of this
# machine (docker-container driver option cpuset-cpus, set per static host).
#
# On the acceptance run's loopback world (e2e/services.sh: dockerd, a TLS registry, sshd
# hosts amd and amd2 declaring linux/amd64 and arm declaring linux/arm64), each run measures,
# side by side and cold (no BuildKit state on any node, nothing of the images in the registry):
#   one_node         four images for linux/amd64, all pinned to host amd (images[].pools);
#   two_nodes        the same four, spread over amd and amd2 (two each);
#   pair_parallel    one image for linux/amd64 (on amd) and linux/arm64 (on arm), one `pulumi up`;
#   pair_sequential  the same up with `--parallel 1`, so the same two builds (and their cache
#                    exports) run one after the other through the same program.
# Every measurement is a `pulumi up` of the same stack, so both sides of each ratio carry the
# program's fixed costs. The four images have go.mod files of their own: no two share a cache
# key, so BuildKit cannot merge their work on one node. Odd runs take each pair of cases in
# the order above and even runs the other way round, so a slow spell hits both sides.
# Medians (with min and max) of BENCH_RUNS runs (default 3) go to bench/results/spread.json.
# A benchmark, not a test: targets missed are reported, not failed. It fails when a build
# fails, or when a check (placement, cold compiles, CPU sets) does not hold.
# Needs root (it starts dockerd and sshd through e2e/services.sh).
set -euo pipefail
# shellcheck source=e2e/env.sh
source "$(dirname "$0")/../e2e/env.sh"
# shellcheck source=bench/lib.sh
source "$REPO_DIR/bench/lib.sh"

RUNS=$(bench_runs)
BUILDER=nbf-sbench
PREFIX=nbf-bench-spread
FOUR=(four-a four-b four-c four-d)
# Each node's CPU: amd and amd2 on different CPUs for the four-image cases, amd and arm for the pair.
declare -A CPUSET=([amd]=0 [amd2]=1 [arm]=1)
# The sshd of the acceptance world (e2e/env.sh) each host is reached through. Every one of
# them leads to this machine's one dockerd, so BENCH_AMD2_SSHD=arm2 may stand in for amd2's
# when amd2's own sshd cannot be used (the host is still declared linux/amd64 in this stack).
declare -A SSHD=([amd]=amd [amd2]=${BENCH_AMD2_SSHD:-amd2} [arm]=arm)
declare -A PLATFORM=([amd]=linux/amd64 [amd2]=linux/amd64 [arm]=linux/arm64)
RESULTS=${NBF_BENCH_RESULTS:-$REPO_DIR/bench/results}

bench_start
WORK=$(mktemp -d /tmp/nbf-bench-spread.XXXXXX)

# No builder, SSH files, BuildKit container or volume of this benchmark left on this machine,
# and nothing of its images in the registry.
clean_slate() {
    local b
    # The builders the program registers for this stack: one per host, and the stack's.
    for b in "${!CPUSET[@]}" ""; do
        b=$BUILDER${b:+-$b}
        docker buildx rm "$b" >/dev/null 2>&1 || docker buildx rm --keep-daemon "$b" >/dev/null 2>&1 || true
    done
    rm -rf "$(getent passwd "$(id -u)" | cut -d: -f6)/.ssh/native-build-fleet/$BUILDER"
    docker ps -aq --filter "name=buildx_buildkit_$BUILDER" | xargs -r docker rm -f >/dev/null
    docker volume ls -q --filter "name=buildx_buildkit_$BUILDER" | xargs -r docker volume rm >/dev/null
    rm -rf "$STATE/registry/docker/registry/v2/repositories/$PREFIX"
}
# Cold: no BuildKit state on any host's node (its layers, the pulled Go image, the cache
# mounts) and no image or registry cache of this benchmark in the registry.
wipe() {
    local host
    for host in "${!CPUSET[@]}"; do docker buildx prune --builder "$BUILDER-$host" --all --force >/dev/null 2>&1; done
    rm -rf "$STATE/registry/docker/registry/v2/repositories/$PREFIX"
}

# The stack's images: the four (on FOUR_POOLS, rebuilt whenever FOUR_RUN changes) and the
# pair (amd and arm, rebuilt whenever PAIR_RUN changes). BENCH_RUN is a build arg the
# Dockerfile reads only as a label of its last stage: changing it forces a build (new digests)
# without changing a compile step's cache key.
FOUR_POOLS='["amd"]' FOUR_RUN=0 PAIR_RUN=0
configure() { # configure [only-pair]
    local images
    images=$(jq -nc --argjson pools "$FOUR_POOLS" --arg four "$FOUR_RUN" --arg pair "$PAIR_RUN" --arg go "$GO_IMAGE" --arg p "$PREFIX" \
        --argjson names "$(printf '%s\n' "${FOUR[@]}" | jq -Rsc 'split("\n") | map(select(. != ""))')" '
        [$names[] | {name: "\($p)/\(.)", context: "spread/\(.)", platforms: ["linux/amd64"], tags: ["latest"], pools: $pools,
            buildArgs: {GO_IMAGE: $go, BENCH_RUN: $four}}]
        + [{name: "\($p)/pair", context: "spread/pair", platforms: ["linux/amd64", "linux/arm64"], tags: ["latest"], pools: ["amd", "arm"],
            buildArgs: {GO_IMAGE: $go, BENCH_RUN: $pair}}]')
    if [ "${1:-}" = only-pair ]; then images=$(jq -c '[.[] | select(.name | endswith("/pair"))]' <<<"$images"); fi
    (cd "$WORK" && node -e '
        const fs = require("fs"), YAML = require("yaml"), file = "stacks/Pulumi.bench.yaml";
        const stack = YAML.parse(fs.readFileSync(file, "utf8"));
        stack.config["native-build-fleet:images"] = JSON.parse(process.argv[1]);
        fs.writeFileSync(file, YAML.stringify(stack));
    ' "$images")
}
# placed PREFIX: "image platform host" of each platform image whose name starts with PREFIX,
# as the stack reports it (images[n].platforms[p].host).
placed() {
    pulumi_ stack output images --json | jq -r --arg p "$1" '
        to_entries[] | select(.key | startswith($p)) | .key as $image | .value.platforms | to_entries[] | "\($image) \(.key) \(.value.host)"' | sort
}
hosts_of() { placed "$1" | awk '{ print $3 }' | sort | uniq -c | awk '{ printf "%s=%s ", $2, $1 }'; }

four() { # four KEY POOLS: the four images, cold, on POOLS
    local key=$1 want
    FOUR_POOLS=$2 FOUR_RUN="$key-$run"
    configure
    wipe
    timed "$key" up "$key"
    steps_of "$key"
    check "$key: each of the four images compiled the standard library (cold)" ran "$WORK/$key.steps" std 4
    want=$(jq -r 'if length == 1 then "\(.[0])=4 " else "\(.[0])=2 \(.[1])=2 " end' <<<"$2")
    check "$key: the four builds were placed $want" equal "$(hosts_of "$PREFIX/four-")" "$want"
}
pair() { # pair KEY [UP ARGS]: the two-platform image, cold
    local key=$1; shift
    PAIR_RUN="$key-$run"
    configure
    wipe
    timed "$key" up "$key" "$@"
    steps_of "$key"
    check "$key: both platforms compiled the standard library (cold)" ran "$WORK/$key.steps" std 2
    check "$key: linux/amd64 built on amd, linux/arm64 on arm" \
        equal "$(placed "$PREFIX/pair" | awk '{ print $2 "@" $3 }' | tr '\n' ' ')" "linux/amd64@amd linux/arm64@arm "
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

go_image
clean_slate
# Each sshd answers with the key this stack pins, or the first up would wait on it.
for host in "${!SSHD[@]}"; do
    [ "$(ssh-keyscan -T 5 -t ed25519 "${HOST_ADDRESS[${SSHD[$host]}]}" 2>/dev/null | awk '{ print $2, $3 }')" = "$(host_key "${SSHD[$host]}" | awk '{ print $1, $2 }')" ] ||
        die "${HOST_ADDRESS[${SSHD[$host]}]}:22 does not answer with ${SSHD[$host]}'s host key (another sshd on it?); BENCH_AMD2_SSHD=arm2 reaches amd2 through arm2's sshd"
done

# The stack: three static hosts, each node's BuildKit on one CPU, the acceptance run's
# registry and BuildKit settings, a builder of its own; five copies of the test image.
mkdir -p "$WORK/bench-stack"
{
    printf 'config:\n  native-build-fleet:staticHosts:\n'
    for host in amd amd2 arm; do
        printf '    - name: %s\n      address: %s\n      user: %s\n      platforms: [%s]\n      hostKey: %s\n      driverOptions:\n        cpuset-cpus: "%s"\n' \
            "$host" "${HOST_ADDRESS[${SSHD[$host]}]}" "$HOST_USER" "${PLATFORM[$host]}" "$(host_key "${SSHD[$host]}")" "${CPUSET[$host]}"
    done
    printf '  native-build-fleet:registry:\n    type: external\n    address: %s\n    username: e2e\n' "$REGISTRY"
    printf '  native-build-fleet:images: []\n'
    printf '  native-build-fleet:builder:\n    name: %s\n    buildkitImage: %s\n    driverOptions:\n      network: host\n    buildkitdConfig: e2e/buildkitd.toml\n' \
        "$BUILDER" "$BUILDKIT_IMAGE"
} >"$WORK/bench-stack/Pulumi.bench.yaml"
bench_stack "$WORK/bench-stack/Pulumi.bench.yaml"
for name in "${FOUR[@]}" pair; do
    mkdir -p "$WORK/spread"
    cp -r "$WORK/bench/overhead/app" "$WORK/spread/$name"
    printf '\n// bench/spread.sh image %s: a go.mod of its own, so no two images share a cache key.\n' "$name" >>"$WORK/spread/$name/go.mod"
done

log "setup: the stack's first up (registers the builders, starts the three nodes, builds the pair)"
run=setup
configure only-pair
timed stack_first_up up stack_first_up
for host in "${!CPUSET[@]}"; do
    check "$host's BuildKit runs on CPU ${CPUSET[$host]} only" \
        equal "$(docker inspect --format '{{.HostConfig.CpusetCpus}}' "buildx_buildkit_$BUILDER-$host" 2>&1)" "${CPUSET[$host]}"
done

for run in $(seq "$RUNS"); do
    log "run $run of $RUNS: four images for linux/amd64, one node and two nodes"
    if [ $((run % 2)) -eq 1 ]; then
        four one_node '["amd"]'; four two_nodes '["amd","amd2"]'
    else
        four two_nodes '["amd","amd2"]'; four one_node '["amd"]'
    fi
    log "run $run of $RUNS: one image, two platforms on two nodes, at once and one after the other"
    if [ $((run % 2)) -eq 1 ]; then
        pair pair_parallel; pair pair_sequential --parallel 1
    else
        pair pair_sequential --parallel 1; pair pair_parallel
    fi
done

# Results: medians, and each run's own ratio (the two sides measured minutes apart).
per_run() { # per_run A B: A's samples over B's, run by run
    paste -d ' ' <(tr ' ' '\n' <<<"${samples[$1]}" | awk 'NF') <(tr ' ' '\n' <<<"${samples[$2]}" | awk 'NF') |
        awk '{ printf "%.3f\n", $1 / $2 }' | jq -sc .
}
mkdir -p "$RESULTS"
jq -n --argjson m "$(measurements_json)" --argjson checks "$checks_json" --argjson runs "$RUNS" \
    --argjson fourRuns "$(per_run two_nodes one_node)" --argjson pairRuns "$(per_run pair_parallel pair_sequential)" \
    --arg cores "$(nproc)" --arg cpu "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" \
    --arg toolchain "$(bench_toolchain)" \
    --arg image "bench/overhead/app (Go service: standard library + 2 packages + binary, cross-compiled on BUILDPLATFORM, no emulation), five copies with go.mod files of their own, base $GO_IMAGE" '
    def med(k): $m[k].median;
    def ratio(a; b): if $m[a] and $m[b] then (med(a) / med(b) * 1000 | round / 1000) else null end;
    def target(name; a; b; limit; runs): {target: name, ratio: ratio(a; b), limit: limit,
        met: (if ratio(a; b) == null then null else ratio(a; b) <= limit end), perRun: runs};
    {machine: {cores: ($cores | tonumber), cpu: $cpu,
       note: "every build host is this one machine; each node BuildKit container is held to one of its CPUs (cpuset-cpus)"},
     toolchain: $toolchain, image: $image, runs: $runs, seconds: $m,
     cpusets: {amd: "0", amd2: "1", arm: "1"},
     targets: [
       target("four images for linux/amd64, cold: two nodes <= 0.6x one node"; "two_nodes"; "one_node"; 0.6; $fourRuns),
       target("one image, two platforms on two nodes, cold: one up <= 0.7x the same builds one after the other (up --parallel 1)";
         "pair_parallel"; "pair_sequential"; 0.7; $pairRuns)],
     checks: $checks}' >"$RESULTS/spread.json"

row() { table_row "$RESULTS/spread.json" "$@"; }
{
    table_head "$RUNS run(s), $(nproc) cores, each node on one CPU; wall seconds of pulumi up"
    row stack_first_up "first up (registers the builders, starts the nodes, builds the pair; 1 sample)"
    row one_node "four images, linux/amd64, cold, one node"
    row two_nodes "four images, linux/amd64, cold, two nodes"
    row pair_sequential "two platforms on two nodes, cold, one after the other (--parallel 1)"
    row pair_parallel "two platforms on two nodes, cold, at once"
    printf '\n| target | ratio of medians | per run | limit | met |\n|---|---|---|---|---|\n'
    jq -r '.targets[] | "| \(.target) | \(.ratio) | \(.perRun | map(tostring) | join(", ")) | \(.limit) | \(.met) |"' "$RESULTS/spread.json"
    printf '\n-> %s; %s check(s) failed\n' "$RESULTS/spread.json" "$checks_failed"
}
[ "$checks_failed" -eq 0 ]
