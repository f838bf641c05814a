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
#   floor   Pulumi's floor: an empty program's no-op `pulumi up` and `pulumi preview`
#           (bench/overhead/floor: same runtime, backend and machine), next to the no-op up
#           and the preview, so what the program adds is the difference;
#   signed  the same stack with `signing` on (a cosign key pair, no transparency log: no
#           Sigstore is reachable here): cold build, no-op up, one-file rebuild (issue 19);
#   buildx  the same cold build and one-file rebuild on the same builder with the program's
#           cache settings, and the cold build with the two platforms one after the other.
# Medians (with min and max) of BENCH_RUNS runs (default 3) go to bench/results/overhead.json.
# A benchmark, not a test: targets missed are reported, not failed. It does fail when a
# build fails or a rebuild that must come from the cache does not.
# Needs root (it starts dockerd and sshd through e2e/services.sh).
set -euo pipefail
# shellcheck source=e2e/env.sh
source "$(dirname "$0")/../e2e/env.sh"

# shellcheck source=bench/lib.sh
source "$REPO_DIR/bench/lib.sh"

RUNS=$(bench_runs)
SEQUENTIAL=${BENCH_SEQUENTIAL:-1}
FRESH=${BENCH_FRESH:-1}

BUILDER=nbf-bench
IMAGE=nbf-bench/app
REPO=$REGISTRY/$IMAGE
DIRECT=$REGISTRY/nbf-bench/direct
APP=bench/overhead/app
PLATFORMS=(linux/amd64 linux/arm64)
RESULTS=${NBF_BENCH_RESULTS:-$REPO_DIR/bench/results}
# Each compile step of bench/overhead/app/Dockerfile prints "nbf-bench: compiled WHAT for
# OS/ARCH" when it runs: WHAT is std, internal or server.

bench_start
WORK=$(mktemp -d /tmp/nbf-bench.XXXXXX)
output() { pulumi_ stack output images --json | jq -r --arg i "$IMAGE" ".[\$i]$1"; }

imports_cache_of() { # imports_cache_of LOG REPOSITORY: the log shows each platform's cache imported
    local platform
    for platform in "${PLATFORMS[@]}"; do
        grep -q "importing cache manifest from $2:cache-${platform//\//-}" "$1" ||
            { printf '       no cache import from %s:cache-%s\n' "$2" "${platform//\//-}" >&2; return 1; }
    done
}
index_platforms() { skopeo inspect --raw "docker://$1" | jq -c '[.manifests[].platform | "\(.os)/\(.architecture)"] | sort'; }

# Nothing of the test image anywhere: no BuildKit cache on the nodes, no image or cache in the registry.
wipe() {
    docker buildx prune --builder "$BUILDER" --all --force >/dev/null 2>&1
    rm -rf "$STATE/registry/docker/registry/v2/repositories/nbf-bench"
}
# A fresh CI runner: no buildx builder or SSH files on this machine, and no BuildKit
# containers or state on the hosts. Only Pulumi's state and the registry remain.
# The program registers the stack's builder, one per host ($BUILDER-<host>) and each host's
# preview builder ($BUILDER-<host>_preview, runner/builderSpec.ts previewBuilderName): one left
# behind would be refused as another stack's once the SSH files that list it are gone.
builders() { local h; printf '%s\n' "$BUILDER"; for h in "${HOST_NAMES[@]}"; do printf '%s-%s\n%s-%s_preview\n' "$BUILDER" "$h" "$BUILDER" "$h"; done; }
fresh_runner() {
    local b
    for b in $(builders); do docker buildx rm --keep-daemon "$b" >/dev/null 2>&1 || true; done
    rm -rf "$(getent passwd "$(id -u)" | cut -d: -f6)/.ssh/native-build-fleet/$BUILDER"
    docker ps -aq --filter "name=buildx_buildkit_$BUILDER" | xargs -r docker rm -f >/dev/null
    docker volume ls -q --filter "name=buildx_buildkit_$BUILDER" | xargs -r docker volume rm >/dev/null
}
no_local_state() {
    local b
    [ -z "$(docker ps -aq --filter "name=buildx_buildkit_$BUILDER")$(docker volume ls -q --filter "name=buildx_buildkit_$BUILDER")" ] || return 1
    for b in $(builders); do ! docker buildx inspect "$b" >/dev/null 2>&1 || return 1; done
}
# Forces the next `up` to rebuild both platforms without changing a compile step's cache key:
# the Dockerfile reads BENCH_RUN only in its last stage, as a label (new digests, so the index
# is pushed again).
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

bench_stack "$REPO_DIR/bench/overhead/Pulumi.bench.yaml"
# The sign step's provenance names the commit, as a release's would: the scratch project is a
# repository (its own files are not part of it), so every measurement, signed or not, reads
# the same OCI labels from git.
(cd "$WORK" && git init -q && printf '%s\n' node_modules state/ '*.log' '*.events' '*.span' '*.steps' '*.fifo' runs/ floor/ signing/ 'state*.json' 'breakdown*.json' cosign.out >>.git/info/exclude &&
    git add -A && git -c user.name=bench -c user.email=bench@example.invalid commit -qm "overhead benchmark")
# The empty program whose no-op up and preview are Pulumi's floor, on the same backend.
FLOOR=$WORK/floor
mkdir -p "$FLOOR"
cp "$REPO_DIR/bench/overhead/floor/Pulumi.yaml" "$REPO_DIR/bench/overhead/floor/index.js" "$FLOOR/"
ln -s "$REPO_DIR/node_modules" "$FLOOR/node_modules"
PROJECT=$FLOOR pulumi_ stack init floor >/dev/null
PROJECT=$FLOOR pulumi_ up --yes --skip-preview >/dev/null
# The signing key pair of the signed measurements (transparencyLog false: no Sigstore here).
SIGN_DIR=$WORK/signing SIGN_PASSWORD=bench-only-password
mkdir -p "$SIGN_DIR"
(cd "$SIGN_DIR" && COSIGN_PASSWORD=$SIGN_PASSWORD cosign generate-key-pair >/dev/null 2>&1)
echo '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}' >"$SIGN_DIR/trusted_root.json"
signing_on() {
    pulumi_ config set signing "$(jq -cn --rawfile k "$SIGN_DIR/cosign.pub" '{mode: "key", publicKey: $k, transparencyLog: false}')"
    pulumi_ config set --secret signingKey <"$SIGN_DIR/cosign.key"
    pulumi_ config set --secret signingKeyPassword "$SIGN_PASSWORD"
}
# Signing off again, and an untimed up that removes the sign step, so the unsigned
# measurements that follow carry none of it.
signing_off() {
    pulumi_ config rm signing && pulumi_ config rm signingKey && pulumi_ config rm signingKeyPassword
    pulumi_ up --yes --skip-preview >"$WORK/signing_off.log" 2>&1 || { tail -n 30 "$WORK/signing_off.log" >&2; die "the up that turns signing off failed"; }
}
# verified: the stack's index verifies with the command its `signature` output gives.
verified() { (cd "$SIGN_DIR" && eval "$(output .signature.verify)") >"$WORK/cosign.out" 2>&1 || { tail -n 5 "$WORK/cosign.out" >&2; return 1; }; }
for i in "${!HOST_NAMES[@]}"; do
    pulumi_ config set --path "staticHosts[$i].hostKey" "$(host_key "${HOST_NAMES[$i]}")"
done
pulumi_ config set --path 'images[0].buildArgs.GO_IMAGE' "$GO_IMAGE"

log "setup: the stack's first up (registers the builder, starts both nodes, builds both platforms cold)"
timed stack_first_up up stack_first_up
steps_of stack_first_up
check "the index lists exactly linux/amd64 and linux/arm64" equal "$(index_platforms "$(output .ref)")" '["linux/amd64","linux/arm64"]'
check "the first up compiled everything once per platform (each cache export reused it)" \
    ran "$WORK/stack_first_up.steps" std 2

# keep KEY RUN: this run's event log and span of KEY, for the breakdown at the end.
keep() { mkdir -p "$WORK/runs"; cp "$WORK/$1.events" "$WORK/runs/$1-$2.events"; cp "$WORK/$1.span" "$WORK/runs/$1-$2.span"; }

# pulumi_part RUN: every pulumi measurement of one run.
pulumi_part() {
    local run=$1
    log "run $run of $RUNS: pulumi"
    wipe
    force_rebuild "cold-$run"
    timed pulumi_cold up pulumi_cold
    keep pulumi_cold "$run"
    steps_of pulumi_cold
    check "pulumi cold: the index lists both platforms" equal "$(index_platforms "$(output .ref)")" '["linux/amd64","linux/arm64"]'
    check "pulumi cold: each platform compiled the standard library once (its cache export reused it)" \
        ran "$WORK/pulumi_cold.steps" std 2
    timed pulumi_noop up pulumi_noop --expect-no-changes
    keep pulumi_noop "$run"
    timed preview_noop preview preview_noop --expect-no-changes
    keep preview_noop "$run"
    # Pulumi's floor, right beside them.
    PROJECT=$FLOOR timed floor_up up floor_up --expect-no-changes
    PROJECT=$FLOOR timed floor_preview preview floor_preview --expect-no-changes
    old_ref=$(output .ref)
    change_one_file "pulumi-$run-$(date +%s%N)"
    timed pulumi_one_file up pulumi_one_file
    keep pulumi_one_file "$run"
    steps_of pulumi_one_file
    check "pulumi one-file: the standard library and the library packages came from the cache" \
        none_ran "$WORK/pulumi_one_file.steps" std internal
    check "pulumi one-file: the binary was rebuilt once per platform" ran "$WORK/pulumi_one_file.steps" server 2
    check "pulumi one-file: the index moved" test "$(output .ref)" != "$old_ref"
    [ "$FRESH" = 1 ] || return 0

    fresh_runner
    check "fresh runner: no builder, BuildKit containers or volumes left" no_local_state
    force_rebuild "fresh-$run"
    timed fresh_runner_forced up fresh_runner_forced
    keep fresh_runner_forced "$run"
    steps_of fresh_runner_forced
    check "fresh runner, nothing changed: the builder is registered again" docker buildx inspect "$BUILDER" >/dev/null
    check "fresh runner, nothing changed: each platform imported its registry cache" imports_cache_of "$WORK/fresh_runner_forced.steps" "$REPO"
    check "fresh runner, nothing changed: no compile step ran (all came from the registry cache)" \
        none_ran "$WORK/fresh_runner_forced.steps" std internal server

    fresh_runner
    check "fresh runner: no builder, BuildKit containers or volumes left" no_local_state
    change_one_file "fresh-$run-$(date +%s%N)"
    timed fresh_runner_one_file up fresh_runner_one_file
    keep fresh_runner_one_file "$run"
    steps_of fresh_runner_one_file
    check "fresh runner, one file changed: each platform imported its registry cache" imports_cache_of "$WORK/fresh_runner_one_file.steps" "$REPO"
    check "fresh runner, one file changed: the standard library and the library packages came from the registry cache" \
        none_ran "$WORK/fresh_runner_one_file.steps" std internal
    check "fresh runner, one file changed: the binary was rebuilt once per platform" ran "$WORK/fresh_runner_one_file.steps" server 2
}

# signed_part RUN: the same stack with signing on: cold build, no-op up, one-file rebuild.
signed_part() {
    local run=$1 old_ref
    log "run $run of $RUNS: pulumi with signing"
    signing_on
    wipe
    force_rebuild "signed-cold-$run"
    timed signed_cold up signed_cold
    keep signed_cold "$run"
    check "signed cold: the index lists both platforms" equal "$(index_platforms "$(output .ref)")" '["linux/amd64","linux/arm64"]'
    check "signed cold: the index verifies with the stack's signature output" verified
    # --expect-no-changes fails the up if any step, the sign step too, would run again.
    timed signed_noop up signed_noop --expect-no-changes
    keep signed_noop "$run"
    old_ref=$(output .ref)
    change_one_file "signed-$run-$(date +%s%N)"
    timed signed_one_file up signed_one_file
    keep signed_one_file "$run"
    steps_of signed_one_file
    check "signed one-file: only the binary was rebuilt, once per platform" ran "$WORK/signed_one_file.steps" server 2
    check "signed one-file: the index moved" test "$(output .ref)" != "$old_ref"
    check "signed one-file: the new index verifies" verified
    # The graph with the sign step, for the signed runs' breakdown (the final state has none).
    pulumi_ stack export >"$WORK/state-signed.json"
    signing_off
}

# buildx_part RUN: every docker buildx measurement of one run.
buildx_part() {
    local run=$1
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
}

# Side by side: odd runs measure pulumi first, even runs docker buildx first, so neither
# side always runs on the machine the other has just warmed (or loaded); signed runs between.
for run in $(seq "$RUNS"); do
    if [ $((run % 2)) -eq 1 ]; then pulumi_part "$run"; signed_part "$run"; buildx_part "$run"
    else buildx_part "$run"; signed_part "$run"; pulumi_part "$run"; fi
done

measurements=$(measurements_json)
mkdir -p "$RESULTS"
# The breakdown of every pulumi measurement, from its runs' event logs and the stack's graph.
pulumi_ stack export >"$WORK/state.json"
runs_of() { local r list=; for r in $(seq "$RUNS"); do list+="$WORK/runs/$1-$r,"; done; printf '%s=%s' "$1" "$list"; }
fresh_runs=()
[ "$FRESH" != 1 ] || fresh_runs=("$(runs_of fresh_runner_forced)" "$(runs_of fresh_runner_one_file)")
"$REPO_DIR/node_modules/.bin/ts-node" --transpile-only "$REPO_DIR/bench/overhead/breakdown.ts" "$WORK/state.json" \
    "$(runs_of pulumi_one_file)" "$(runs_of pulumi_noop)" "$(runs_of preview_noop)" "$(runs_of pulumi_cold)" \
    "${fresh_runs[@]}" >"$WORK/breakdown-unsigned.json"
"$REPO_DIR/node_modules/.bin/ts-node" --transpile-only "$REPO_DIR/bench/overhead/breakdown.ts" "$WORK/state-signed.json" \
    "$(runs_of signed_cold)" "$(runs_of signed_noop)" "$(runs_of signed_one_file)" >"$WORK/breakdown-signed.json"
jq -s '.[0] + .[1]' "$WORK/breakdown-unsigned.json" "$WORK/breakdown-signed.json" >"$WORK/breakdown.json"
jq -n --argjson m "$measurements" --argjson checks "$checks_json" --argjson runs "$RUNS" --slurpfile breakdown "$WORK/breakdown.json" \
    --arg cores "$(nproc)" --arg cpu "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" \
    --arg toolchain "$(bench_toolchain)" \
    --arg image "$APP: Go service, standard library + 2 packages + binary, cross-compiled on BUILDPLATFORM for linux/amd64 and linux/arm64 (no emulation), base $GO_IMAGE" '
    def med(k): $m[k].median;
    def ratio(a; b): if $m[a] and $m[b] then (med(a) / med(b) * 1000 | round / 1000) else null end;
    def add(x): if x == null then null else (x * 100 | round / 100) end;
    def share(x): if med("pulumi_cold") then (x / med("pulumi_cold") * 1000 | round / 1000) else null end;
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
     overFloor: {
       note: "what the program adds: its median minus the floor (an empty program, same CLI, backend and machine), and for the rebuild minus plain buildx too; target 1 of issue 22: at most 1.0 s each",
       noopUp: add(med("pulumi_noop") - med("floor_up")), noChangePreview: add(med("preview_noop") - med("floor_preview")),
       oneFileRebuild: add(med("pulumi_one_file") - med("floor_up") - med("buildx_one_file")),
       signedNoopUp: add(med("signed_noop") - med("floor_up")), limitSeconds: 1.0},
     signing: {
       note: "issue 19: what signing and attesting add, the same stack with and without signing, as a share of the unsigned cold build (target under 0.10)",
       coldSeconds: add(med("signed_cold") - med("pulumi_cold")), coldShare: share(med("signed_cold") - med("pulumi_cold")),
       oneFileSeconds: add(med("signed_one_file") - med("pulumi_one_file")), oneFileShare: share(med("signed_one_file") - med("pulumi_one_file")),
       noopSeconds: add(med("signed_noop") - med("pulumi_noop"))},
     fresh_runner: {forcedOverCold: ratio("fresh_runner_forced"; "pulumi_cold"), oneFileOverCold: ratio("fresh_runner_one_file"; "pulumi_cold")},
     concurrency: {sequentialOverParallel: ratio("buildx_cold_sequential"; "buildx_cold"),
       note: "target 3: both nodes share 2 cores here, so concurrency cannot show real parallel speedup"},
     breakdown: $breakdown[0],
     checks: $checks}' >"$RESULTS/overhead.json"

row() { table_row "$RESULTS/overhead.json" "$@"; }
# breakdown_tables RESULTS KEY: KEY's critical path (its median run, each segment also as the
# median over the runs) and the slowest of its resource steps.
breakdown_tables() {
    jq -r --arg k "$2" '.breakdown[$k] | select(. != null) |
        "\n\($k): critical path of the median run (\(.medianRunWallSeconds) s), from the engine event log\n",
        "| segment | s, median run | s, median of \(.runs) runs |", "|---|---|---|",
        (.medianRunPath[] | "| \(.segment) | \(.seconds) | \(.medianSeconds) |"),
        "\n\($k): resource steps (pre to outputs event), medians of \(.runs) runs, 0.05 s or more\n",
        "| step | s |", "|---|---|",
        ([.steps[] | select(.medianSeconds >= 0.05)] | if length == 0 then "| (none) | |" else .[] | "| \(.step) | \(.medianSeconds) |" end)' "$1"
}
{
    table_head "$RUNS runs, $(nproc) cores; wall seconds"
    row stack_first_up "first up of the stack (registers builder, starts nodes, cold build; 1 sample)"
    row pulumi_cold "cold two-platform build, pulumi up"
    row buildx_cold "cold two-platform build, docker buildx"
    row buildx_cold_sequential "cold, docker buildx, platforms one after the other"
    row pulumi_one_file "one-file rebuild, pulumi up"
    row buildx_one_file "one-file rebuild, docker buildx"
    row pulumi_noop "no-op pulumi up"
    row preview_noop "no-change pulumi preview"
    row floor_up "Pulumi's floor: an empty program's no-op pulumi up"
    row floor_preview "Pulumi's floor: an empty program's pulumi preview"
    row signed_cold "cold two-platform build, pulumi up, signing on"
    row signed_one_file "one-file rebuild, pulumi up, signing on"
    row signed_noop "no-op pulumi up, signing on"
    row fresh_runner_forced "fresh runner, nothing changed, forced rebuild, pulumi up"
    row fresh_runner_one_file "fresh runner, one file changed, pulumi up"
    printf '\n| target | ratio of medians | limit | met |\n|---|---|---|---|\n'
    jq -r '.targets[] | "| \(.target) | \(.ratio) | \(.limit) | \(.met) |"' "$RESULTS/overhead.json"
    jq -r '"| fresh runner, nothing changed / cold | \(.fresh_runner.forcedOverCold) | | |",
           "| fresh runner, one file / cold | \(.fresh_runner.oneFileOverCold) | | |",
           "| 3: sequential / concurrent (shared cores) | \(.concurrency.sequentialOverParallel) | | |"' "$RESULTS/overhead.json"
    jq -r '"\n| what the program adds (issue 22, target 1) | s (medians) | limit |", "|---|---|---|",
           "| no-op up - floor up | \(.overFloor.noopUp) | \(.overFloor.limitSeconds) |",
           "| no-change preview - floor preview | \(.overFloor.noChangePreview) | \(.overFloor.limitSeconds) |",
           "| one-file rebuild - floor up - buildx one-file | \(.overFloor.oneFileRebuild) | \(.overFloor.limitSeconds) |",
           "| no-op up with signing - floor up | \(.overFloor.signedNoopUp) | \(.overFloor.limitSeconds) |",
           "\n| what signing adds (issue 19) | s (medians) | share of the unsigned cold build |", "|---|---|---|",
           "| cold build | \(.signing.coldSeconds) | \(.signing.coldShare) |",
           "| one-file rebuild | \(.signing.oneFileSeconds) | \(.signing.oneFileShare) |",
           "| no-op up | \(.signing.noopSeconds) | |"' "$RESULTS/overhead.json"
    for key in pulumi_one_file pulumi_noop preview_noop signed_one_file; do breakdown_tables "$RESULTS/overhead.json" "$key"; done
    printf '\n-> %s; %s check(s) failed\n' "$RESULTS/overhead.json" "$checks_failed"
}
[ "$checks_failed" -eq 0 ]
