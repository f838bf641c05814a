#!/usr/bin/env bash
# npm run bench:overhead: what the program costs over plain `docker buildx build`, and how
# well the registry cache serves rebuilds, with a compile-heavy image (bench/overhead/app:
# a Go service cross-compiled for linux/amd64 and linux/arm64, no emulation).
#
# On the acceptance run's loopback world (e2e/services.sh: dockerd, a TLS registry, two
# static hosts over SSH), each run of the loop measures, side by side:
#   pulumi  cold build, no-op up, no-change preview, one-file rebuild, and two "fresh CI
#           runner" rebuilds (no local builder, BuildKit containers and their state removed):
#           one forced with nothing changed, one after a one-file change;
#   buildx  the same cold build and one-file rebuild on the same builder with the program's
#           cache settings, and the cold build with the two platforms one after the other.
# Medians (with min and max) of BENCH_RUNS runs (default 3) go to bench/results/overhead.json.
# A benchmark, not a test: targets missed are reported, not failed. It does fail when a
# build fails or a rebuild that must come from the cache does not.
# Needs root (it starts dockerd and sshd through e2e/services.sh).
set -euo pipefail
# shellcheck source=e2e/env.sh
source "$(dirname "$0")/../e2e/env.sh"

RUNS=${BENCH_RUNS:-3}
SEQUENTIAL=${BENCH_SEQUENTIAL:-1}
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, not '$RUNS'"

BUILDER=nbf-bench
IMAGE=nbf-bench/app
REPO=$REGISTRY/$IMAGE
DIRECT=$REGISTRY/nbf-bench/direct
APP=bench/overhead/app
PLATFORMS=(linux/amd64 linux/arm64)
RESULTS=${NBF_BENCH_RESULTS:-$REPO_DIR/bench/results}
# Each compile step of bench/overhead/app/Dockerfile prints "nbf-bench: compiled WHAT for
# OS/ARCH" when it runs: WHAT is std, internal or server.

bash "$E2E_DIR/toolchain.sh" >&2
bash "$E2E_DIR/services.sh" start >&2

export PULUMI_DEBUG_COMMANDS=true
GO_VERSION=$(go env GOVERSION)
GO_IMAGE=$REGISTRY/nbf-bench-base/go:${GO_VERSION#go}
WORK=$(mktemp -d /tmp/nbf-bench.XXXXXX)
declare -A samples=() cpu=()
checks_failed=0
checks_json='[]'

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

pulumi_() { (cd "$WORK" && pulumi "$@"); }
# up NAME [ARGS]: pulumi up, its output kept as $WORK/NAME.log and its engine events as
# $WORK/NAME.events (see steps_of).
up() {
    local name=$1; shift
    rm -f "$WORK/$name.events"
    pulumi_ up --yes --skip-preview --event-log "$WORK/$name.events" "$@" >"$WORK/$name.log" 2>&1
}
# steps_of NAME: the build logs of an up, as $WORK/NAME.steps, one "resource<TAB>line" a line.
# The provider reports BuildKit's plain progress as status messages; the non-interactive
# display prints only some of them (measured: vertices missing from its output), so they
# are read from the engine's event log (--event-log, offered with PULUMI_DEBUG_COMMANDS).
steps_of() {
    jq -r 'select(.diagnosticEvent) | .diagnosticEvent | (.urn // "-") as $u | .message | split("\n")[] | select(. != "") | "\($u)\t\(.)"' \
        "$WORK/$1.events" >"$WORK/$1.steps"
}
preview() { local name=$1; shift; pulumi_ preview "$@" >"$WORK/$name.log" 2>&1; }
output() { pulumi_ stack output images --json | jq -r --arg i "$IMAGE" ".[\$i]$1"; }

# busy_seconds: CPU time the whole machine has spent busy since boot (all processes, ours,
# BuildKit's and anyone else's), from /proc/stat.
busy_seconds() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat; }

# timed KEY COMMAND...: runs it and adds its wall time to KEY's samples, and the machine's busy
# CPU seconds meanwhile to KEY's cpu samples; a failure ends the run.
timed() {
    local key=$1 start busy rc=0 s; shift
    busy=$(busy_seconds)
    start=$(date +%s.%N)
    "$@" || rc=$?
    s=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
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

# compiled STEPS WHAT: how many builds ran the compile step WHAT (std, internal or server),
# from a "build<TAB>plain progress line" file: the step prints its marker only when it runs,
# never when BuildKit takes it from a cache.
compiled() {
    awk -F '\t' -v what="$2" '$2 ~ ("^#[0-9]+ [0-9.]+ nbf-bench: compiled " what " for ") { ran[$1] = 1 }
        END { n = 0; for (b in ran) n++; print n }' "$1"
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
imports_cache_of() { # imports_cache_of LOG REPOSITORY: the log shows each platform's cache imported
    local platform
    for platform in "${PLATFORMS[@]}"; do
        grep -q "importing cache manifest from $2:cache-${platform//\//-}" "$1" ||
            { printf '       no cache import from %s:cache-%s\n' "$2" "${platform//\//-}" >&2; return 1; }
    done
}
index_platforms() { skopeo inspect --raw "docker://$1" | jq -c '[.manifests[].platform | "\(.os)/\(.architecture)"] | sort'; }
equal() { [ "$1" = "$2" ] || { printf '       expected %s, got %s\n' "$2" "$1" >&2; return 1; }; }

# Nothing of the test image anywhere: no BuildKit cache on the nodes, no image or cache in the registry.
wipe() {
    docker buildx prune --builder "$BUILDER" --all --force >/dev/null 2>&1
    rm -rf "$STATE/registry/docker/registry/v2/repositories/nbf-bench"
}
# A fresh CI runner: no buildx builder or SSH files on this machine, and no BuildKit
# containers or state on the hosts. Only Pulumi's state and the registry remain.
fresh_runner() {
    docker buildx rm --keep-daemon "$BUILDER" >/dev/null 2>&1 || true
    rm -rf "$(getent passwd "$(id -u)" | cut -d: -f6)/.ssh/native-build-fleet/$BUILDER"
    docker ps -aq --filter "name=buildx_buildkit_$BUILDER" | xargs -r docker rm -f >/dev/null
    docker volume ls -q --filter "name=buildx_buildkit_$BUILDER" | xargs -r docker volume rm >/dev/null
}
no_local_state() {
    [ -z "$(docker ps -aq --filter "name=buildx_buildkit_$BUILDER")$(docker volume ls -q --filter "name=buildx_buildkit_$BUILDER")" ] &&
        ! docker buildx inspect "$BUILDER" >/dev/null 2>&1
}
# Forces the next `up` to rebuild both platforms without changing any cache key: BENCH_RUN
# is a build arg the Dockerfile never declares.
force_rebuild() { pulumi_ config set --path 'images[0].buildArgs.BENCH_RUN' "$1"; }
# The one-file change: a new version string, so the binary (not only the source) changes.
change_one_file() {
    printf 'package main\n\n// buildNote is printed by -version; rewritten by bench/overhead.sh.\nconst buildNote = "inspector %s"\n' "$1" \
        > "$WORK/$APP/cmd/server/note.go"
}

# direct NAME MODE TAG: the same builds with docker buildx, on the same builder, with the
# program's cache settings (registry cache per platform, exported mode=max as an image
# manifest with OCI media types), both platforms at once (MODE parallel) or one after the
# other (sequential), then the index.
direct() {
    local name=$1 mode=$2 tag=$3 platform pids=() rc=0
    : >"$WORK/$name.log"
    for platform in "${PLATFORMS[@]}"; do
        local slug=${platform//\//-}
        docker buildx build --builder "$BUILDER" --platform "$platform" --push --provenance=false --progress=plain \
            --build-arg "GO_IMAGE=$GO_IMAGE" --label "dev.native-build-fleet.builder=$BUILDER" \
            -t "$DIRECT:$tag-$slug" \
            --cache-from "type=registry,ref=$DIRECT:cache-$slug" \
            --cache-to "type=registry,ref=$DIRECT:cache-$slug,mode=max,image-manifest=true,oci-mediatypes=true" \
            "$WORK/$APP" >"$WORK/$name-$slug.log" 2>&1 &
        pids+=($!)
        if [ "$mode" = sequential ]; then wait "${pids[-1]}" || rc=1; fi
    done
    if [ "$mode" = parallel ]; then for pid in "${pids[@]}"; do wait "$pid" || rc=1; done; fi
    for platform in "${PLATFORMS[@]}"; do cat "$WORK/$name-${platform//\//-}.log" >>"$WORK/$name.log"; done
    [ "$rc" -eq 0 ] || return 1
    docker buildx imagetools create -t "$DIRECT:$tag" "$DIRECT:$tag-linux-amd64" "$DIRECT:$tag-linux-arm64" >>"$WORK/$name.log" 2>&1
}
# direct_steps NAME: direct's build logs as $WORK/NAME.steps, one "platform<TAB>line" a line.
direct_steps() {
    local platform
    for platform in "${PLATFORMS[@]}"; do sed "s|^|$platform\t|" "$WORK/$1-${platform//\//-}.log"; done >"$WORK/$1.steps"
}

cleanup() {
    local rc=$?
    if [ "${KEEP_BENCH:-}" != 1 ]; then
        pulumi_ destroy --yes >/dev/null 2>&1 || true
        rm -rf "$WORK"
        rm -rf "$STATE/registry/docker/registry/v2/repositories/nbf-bench"
    fi
    exit "$rc"
}
trap cleanup EXIT

go_image

# A fresh start, as the acceptance run makes it, for this benchmark's own builder.
docker buildx rm "$BUILDER" >/dev/null 2>&1 || true
fresh_runner
rm -rf "$STATE/registry/docker/registry/v2/repositories/nbf-bench"

# The project as a fresh clone has it (with this checkout's dependencies), and the stack.
(cd "$REPO_DIR" && git ls-files -co --exclude-standard | grep -v '^node_modules/' | tar -cf - -T -) | tar -xf - -C "$WORK"
ln -s "$REPO_DIR/node_modules" "$WORK/node_modules"
cp "$REPO_DIR/bench/overhead/Pulumi.bench.yaml" "$WORK/stacks/Pulumi.bench.yaml"
mkdir -p "$WORK/state"
# The backend is chosen per run, not with `pulumi login`, which other runs share.
export PULUMI_BACKEND_URL="file://$WORK/state"
pulumi_ stack init bench >/dev/null
for i in "${!HOST_NAMES[@]}"; do
    pulumi_ config set --path "staticHosts[$i].hostKey" "$(cat "$STATE/hosts/${HOST_NAMES[$i]}/ssh_host_ed25519_key.pub")"
done
pulumi_ config set --secret sshPrivateKey <"$STATE/operator/id_ed25519"
pulumi_ config set --secret registryPassword e2e-registry-needs-no-password
pulumi_ config set --path 'images[0].buildArgs.GO_IMAGE' "$GO_IMAGE"

log "setup: the stack's first up (registers the builder, starts both nodes, builds both platforms cold)"
timed stack_first_up up stack_first_up
steps_of stack_first_up
check "the index lists exactly linux/amd64 and linux/arm64" equal "$(index_platforms "$(output .ref)")" '["linux/amd64","linux/arm64"]'
check "the first up compiled everything once per platform (each cache export reused it)" \
    ran "$WORK/stack_first_up.steps" std 2

for run in $(seq "$RUNS"); do
    log "run $run of $RUNS: pulumi"
    wipe
    force_rebuild "cold-$run"
    timed pulumi_cold up pulumi_cold
    steps_of pulumi_cold
    check "pulumi cold: the index lists both platforms" equal "$(index_platforms "$(output .ref)")" '["linux/amd64","linux/arm64"]'
    check "pulumi cold: each platform compiled the standard library once (its cache export reused it)" \
        ran "$WORK/pulumi_cold.steps" std 2
    timed pulumi_noop up pulumi_noop --expect-no-changes
    timed preview_noop preview preview_noop --expect-no-changes
    old_ref=$(output .ref)
    change_one_file "pulumi-$run-$(date +%s%N)"
    timed pulumi_one_file up pulumi_one_file
    steps_of pulumi_one_file
    check "pulumi one-file: the standard library and the library packages came from the cache" \
        none_ran "$WORK/pulumi_one_file.steps" std internal
    check "pulumi one-file: the binary was rebuilt once per platform" ran "$WORK/pulumi_one_file.steps" server 2
    check "pulumi one-file: the index moved" test "$(output .ref)" != "$old_ref"

    fresh_runner
    check "fresh runner: no builder, BuildKit containers or volumes left" no_local_state
    force_rebuild "fresh-$run"
    timed fresh_runner_forced up fresh_runner_forced
    steps_of fresh_runner_forced
    check "fresh runner, nothing changed: the builder is registered again" docker buildx inspect "$BUILDER" >/dev/null
    check "fresh runner, nothing changed: each platform imported its registry cache" imports_cache_of "$WORK/fresh_runner_forced.steps" "$REPO"
    check "fresh runner, nothing changed: no compile step ran (all came from the registry cache)" \
        none_ran "$WORK/fresh_runner_forced.steps" std internal server

    fresh_runner
    check "fresh runner: no builder, BuildKit containers or volumes left" no_local_state
    change_one_file "fresh-$run-$(date +%s%N)"
    timed fresh_runner_one_file up fresh_runner_one_file
    steps_of fresh_runner_one_file
    check "fresh runner, one file changed: each platform imported its registry cache" imports_cache_of "$WORK/fresh_runner_one_file.steps" "$REPO"
    check "fresh runner, one file changed: the standard library and the library packages came from the registry cache" \
        none_ran "$WORK/fresh_runner_one_file.steps" std internal
    check "fresh runner, one file changed: the binary was rebuilt once per platform" ran "$WORK/fresh_runner_one_file.steps" server 2

    log "run $run of $RUNS: docker buildx"
    wipe
    timed buildx_cold direct buildx_cold parallel "cold-$run"
    direct_steps buildx_cold
    check "buildx cold: each platform compiled the standard library" ran "$WORK/buildx_cold.steps" std 2
    change_one_file "buildx-$run-$(date +%s%N)"
    timed buildx_one_file direct buildx_one_file parallel "one-file-$run"
    direct_steps buildx_one_file
    check "buildx one-file: the standard library and the library packages came from the cache" \
        none_ran "$WORK/buildx_one_file.steps" std internal
    check "buildx one-file: the binary was rebuilt on both platforms" ran "$WORK/buildx_one_file.steps" server 2
    if [ "$SEQUENTIAL" = 1 ]; then
        wipe
        timed buildx_cold_sequential direct buildx_cold_sequential sequential "sequential-$run"
        direct_steps buildx_cold_sequential
        check "buildx cold, one platform after the other: each platform compiled the standard library" \
            ran "$WORK/buildx_cold_sequential.steps" std 2
    fi
done

# Statistics and results.
stats_json() { # stats_json SAMPLES: {median, min, max, samples} of space-separated numbers
    tr ' ' '\n' <<<"$1" | awk 'NF' | jq -sc 'sort as $s | {median: (if ($s | length) % 2 == 1 then $s[(($s | length) - 1) / 2]
        else (($s[($s | length) / 2 - 1] + $s[($s | length) / 2]) / 2 * 100 | round / 100) end), min: min, max: max, samples: .}'
}
measurements='{}'
for key in "${!samples[@]}"; do
    measurements=$(jq -c --arg k "$key" --argjson v "$(stats_json "${samples[$key]}")" --argjson c "$(stats_json "${cpu[$key]}")" \
        '. + {($k): ($v + {machineBusyCpuSeconds: $c})}' <<<"$measurements")
done
mkdir -p "$RESULTS"
jq -n --argjson m "$measurements" --argjson checks "$checks_json" --argjson runs "$RUNS" \
    --arg cores "$(nproc)" --arg cpu "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" \
    --arg toolchain "pulumi $(pulumi version), docker-build $DOCKER_BUILD_VERSION, buildx $BUILDX_VERSION, buildkit $BUILDKIT_VERSION, $GO_VERSION; command $COMMAND_VERSION and nodejs language host: stand-ins" \
    --arg image "$APP: Go service, standard library + 2 packages + binary, cross-compiled on BUILDPLATFORM for linux/amd64 and linux/arm64 (no emulation), base $GO_IMAGE" '
    def med(k): $m[k].median;
    def ratio(a; b): if $m[a] and $m[b] then (med(a) / med(b) * 1000 | round / 1000) else null end;
    def target(name; a; b; op; limit): {target: name, ratio: ratio(a; b), limit: limit,
        met: (if ratio(a; b) == null then null elif op == "<=" then ratio(a; b) <= limit else ratio(a; b) >= limit end)};
    {machine: {cores: ($cores | tonumber), cpu: $cpu,
       note: "both build hosts are this one machine: the two nodes share its cores"},
     toolchain: $toolchain, image: $image, runs: $runs, seconds: $m,
     targets: [
       target("2: cold two-platform pulumi up <= 1.25x docker buildx"; "pulumi_cold"; "buildx_cold"; "<="; 1.25),
       target("2: one-file rebuild pulumi up <= 1.25x docker buildx"; "pulumi_one_file"; "buildx_one_file"; "<="; 1.25),
       target("5: one-file rebuild (pulumi up) <= 25% of cold (pulumi up)"; "pulumi_one_file"; "pulumi_cold"; "<="; 0.25),
       target("5: one-file rebuild (buildx) <= 25% of cold (buildx), for reference"; "buildx_one_file"; "buildx_cold"; "<="; 0.25)],
     fresh_runner: {forcedOverCold: ratio("fresh_runner_forced"; "pulumi_cold"), oneFileOverCold: ratio("fresh_runner_one_file"; "pulumi_cold")},
     concurrency: {sequentialOverParallel: ratio("buildx_cold_sequential"; "buildx_cold"),
       note: "target 3: both nodes share 2 cores here, so concurrency cannot show real parallel speedup"},
     checks: $checks}' >"$RESULTS/overhead.json"

row() { # row KEY LABEL
    [ -n "${samples[$1]:-}" ] || return 0
    jq -r --arg k "$1" --arg l "$2" '.seconds[$k] | "| \($l) | \(.median) | \(.min) | \(.max) | \(.machineBusyCpuSeconds.median) |"' "$RESULTS/overhead.json"
}
{
    printf '\n%s runs, %s cores; wall seconds, and the CPU seconds the whole machine was busy meanwhile\n\n' "$RUNS" "$(nproc)"
    printf '| measurement | median | min | max | machine CPU s (median) |\n|---|---|---|---|---|\n'
    row stack_first_up "first up of the stack (registers builder, starts nodes, cold build; 1 sample)"
    row pulumi_cold "cold two-platform build, pulumi up"
    row buildx_cold "cold two-platform build, docker buildx"
    row buildx_cold_sequential "cold, docker buildx, platforms one after the other"
    row pulumi_one_file "one-file rebuild, pulumi up"
    row buildx_one_file "one-file rebuild, docker buildx"
    row pulumi_noop "no-op pulumi up"
    row preview_noop "no-change pulumi preview"
    row fresh_runner_forced "fresh runner, nothing changed, forced rebuild, pulumi up"
    row fresh_runner_one_file "fresh runner, one file changed, pulumi up"
    printf '\n| target | ratio of medians | limit | met |\n|---|---|---|---|\n'
    jq -r '.targets[] | "| \(.target) | \(.ratio) | \(.limit) | \(.met) |"' "$RESULTS/overhead.json"
    jq -r '"| fresh runner, nothing changed / cold | \(.fresh_runner.forcedOverCold) | | |",
           "| fresh runner, one file / cold | \(.fresh_runner.oneFileOverCold) | | |",
           "| 3: sequential / concurrent (shared cores) | \(.concurrency.sequentialOverParallel) | | |"' "$RESULTS/overhead.json"
    printf '\n-> %s; %s check(s) failed\n' "$RESULTS/overhead.json" "$checks_failed"
}
[ "$checks_failed" -eq 0 ]
