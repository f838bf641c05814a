#!/usr/bin/env bash
# Real-engine acceptance run (npm run test:e2e): the program under the real Pulumi engine,
# the real docker-build provider, buildx and BuildKit, against two static build hosts and
# a registry on loopback. Each step is asserted; timings go to a JSON file.
# Needs root (it starts dockerd and sshd). Two parts are stand-ins: see e2e/toolchain.sh.
set -euo pipefail
# shellcheck source=e2e/env.sh
source "$(dirname "$0")/env.sh"

bash "$E2E_DIR/toolchain.sh"
bash "$E2E_DIR/standins/test.sh"
bash "$E2E_DIR/services.sh" start

BUILDER=nbf-e2e
IMAGE=nbf-e2e/probe
REPO=$REGISTRY/$IMAGE
RESULTS=${NBF_E2E_RESULTS:-$REPO_DIR/bench/results}
WORK=$(mktemp -d /tmp/nbf-e2e.XXXXXX)
declare -A seconds=()
# shellcheck source=e2e/checks.sh
source "$E2E_DIR/checks.sh"
# shellcheck source=e2e/steps/preview.sh
source "$E2E_DIR/steps/preview.sh"
timed() { # timed KEY COMMAND... : runs it, records the wall time under KEY
    local key=$1 start rc=0; shift
    start=$(date +%s.%N)
    "$@" || rc=$?
    seconds[$key]=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }')
    return "$rc"
}

pulumi_() { (cd "$WORK" && pulumi "$@"); }
# Every command's output is also kept in all.log, which the run searches for secrets.
logged() { local rc=0; "$@" >"$WORK/last.log" 2>&1 || rc=$?; cat "$WORK/last.log" >> "$WORK/all.log"; return "$rc"; }
up() { local rc=0; logged pulumi_ up --yes --skip-preview "$@" || rc=$?; cp "$WORK/last.log" "$WORK/up.log"; return "$rc"; }
output() { pulumi_ stack output images --json | jq -r --arg i "$IMAGE" ".[\$i]$1"; }
index_of() { skopeo inspect --raw "docker://$1"; }

# Which node built a platform image: its build-info.txt names the cgroup of the BuildKit
# container that ran the build step; map that container back to its buildx node.
built_on() {
    local ref=$1 dir info id
    dir=$(mktemp -d)
    skopeo copy -q "docker://$ref" "dir:$dir"
    info=$(for layer in "$dir"/*; do tar -xzOf "$layer" build-info.txt 2>/dev/null || true; done)
    rm -rf "$dir"
    id=$(printf '%s\n' "$info" | sed -n 's|^cgroup=.*/docker/buildx/\([0-9a-f]*\)/.*|\1|p')
    [ -n "$id" ] || { echo "unknown"; return 0; }
    docker inspect --format '{{.Name}}' "$id" 2>/dev/null | sed 's|^/buildx_buildkit_||'
}

cleanup() {
    local rc=$?
    if [ "${KEEP_E2E:-}" != 1 ]; then
        pulumi_ destroy --yes >/dev/null 2>&1 || true
        rm -rf "$WORK"
    fi
    bash "$E2E_DIR/services.sh" start-host arm >/dev/null 2>&1 || true
    exit "$rc"
}
trap cleanup EXIT

# The builders of a stack on this machine: its own and one per host (`<builder>-<host>`).
builders_of() {
    local f
    for f in "${DOCKER_CONFIG:-$HOME/.docker}/buildx/instances/$1" "${DOCKER_CONFIG:-$HOME/.docker}/buildx/instances/$1"-*; do
        [ -f "$f" ] && basename "$f"
    done
    return 0
}

# A fresh start: no builder, no BuildKit containers or caches, no image in the registry.
for b in $(builders_of "$BUILDER"); do docker buildx rm "$b" >/dev/null 2>&1 || docker buildx rm --keep-daemon "$b" >/dev/null 2>&1 || true; done
docker ps -aq --filter "name=buildx_buildkit_$BUILDER" | xargs -r docker rm -f >/dev/null
docker volume ls -q --filter "name=buildx_buildkit_$BUILDER" | xargs -r docker volume rm >/dev/null
rm -rf "$STATE/registry/docker/registry/v2/repositories/nbf-e2e"
rm -rf "$(getent passwd "$(id -u)" | cut -d: -f6)/.ssh/native-build-fleet/$BUILDER"

# The project as a fresh clone has it, with this checkout's installed dependencies.
(cd "$REPO_DIR" && git ls-files -co --exclude-standard | grep -v '^node_modules/' | tar -cf - -T -) | tar -xf - -C "$WORK"
ln -s "$REPO_DIR/node_modules" "$WORK/node_modules"
mkdir -p "$WORK/state"
# The backend is chosen per run, not with `pulumi login`, which other runs share.
export PULUMI_BACKEND_URL="file://$WORK/state"
pulumi_ stack init e2e >/dev/null
for i in "${!HOST_NAMES[@]}"; do
    pulumi_ config set --path "staticHosts[$i].hostKey" "$(cat "$STATE/hosts/${HOST_NAMES[$i]}/ssh_host_ed25519_key.pub")"
done
pulumi_ config set --secret sshPrivateKey < "$STATE/operator/id_ed25519"
pulumi_ config set --secret registryPassword e2e-registry-needs-no-password

step "0. the policy pack under the real engine: a clean stack passes, a violating one fails naming the rule"
check "pulumi preview --policy-pack policy enforces the pack (e2e/policy-pack.sh)" logged bash "$E2E_DIR/policy-pack.sh"

step "1. pulumi preview on the new stack"
check "preview succeeds" timed preview_new logged pulumi_ preview
new_stack_preview_checks

step "2. pulumi up: register the builder over SSH, build both platforms natively, push, index"
if timed pulumi_cold up; then pass "up succeeds"; else fail "up succeeds"; tail -40 "$WORK/last.log"; exit 1; fi
ref=$(output .ref)
digest=$(output .digest)
check "the exported digest is what the registry serves for the index" \
    equal "sha256:$(index_of "$ref" | sha256sum | cut -d' ' -f1)" "$digest"
check "the index lists exactly linux/amd64 and linux/arm64" \
    equal "$(index_of "$ref" | jq -c '[.manifests[].platform | "\(.os)/\(.architecture)"] | sort')" '["linux/amd64","linux/arm64"]'
for i in "${!HOST_NAMES[@]}"; do
    host=${HOST_NAMES[$i]} platform=${HOST_PLATFORM[${HOST_NAMES[$i]}]}
    pdigest=$(output ".platforms[\"$platform\"].digest")
    check "$platform: the index entry is the exported platform digest" \
        equal "$(index_of "$ref" | jq -r --arg a "${platform#linux/}" '.manifests[] | select(.platform.architecture == $a) | .digest')" "$pdigest"
    check "$platform: built on the node declared for it (${BUILDER}_$host)" equal "$(built_on "$REPO@$pdigest")" "${BUILDER}_$host"
    check "$platform: a registry cache of its own" logged skopeo inspect --raw "docker://$REPO:cache-${platform//\//-}"
done

verified=$(pulumi_ stack export | jq -r '.deployment.resources[] | select(.type == "command:local:Command" and (.urn | endswith("-verify"))) | .outputs.stdout')
check "the program read the index back and found both platforms with their digests" \
    equal "$(printf '%s\n' "$verified" | sort)" "$(printf 'linux/amd64 %s\nlinux/arm64 %s' "$(output '.platforms["linux/amd64"].digest')" "$(output '.platforms["linux/arm64"].digest')")"

step "3. a second pulumi up changes nothing"
check "up --expect-no-changes" timed pulumi_noop up --expect-no-changes
check "preview --expect-no-changes" timed preview_noop logged pulumi_ preview --expect-no-changes

preview_steps

step "4. one source file changed: only its platform rebuilds, from the cache, and the index moves"
old_ref=$ref old_amd=$(output '.platforms["linux/amd64"].digest') old_arm=$(output '.platforms["linux/arm64"].digest')
echo "changed at $(date +%s%N)" >> "$WORK/e2e/app/src/arm64.txt"
check "up after the change" timed pulumi_one_file up
check "linux/amd64 keeps its digest" equal "$(output '.platforms["linux/amd64"].digest')" "$old_amd"
check "linux/arm64 has a new digest" differ "$(output '.platforms["linux/arm64"].digest')" "$old_arm"
check "the index moved" differ "$(output .ref)" "$old_ref"
check "the old index is still readable" logged index_of "$old_ref"
check "the unchanged steps came from the cache" grep -q CACHED "$WORK/up.log"

step "5. a fresh CI runner: no local buildx builder, no SSH files"
for b in $(builders_of "$BUILDER"); do docker buildx rm --keep-daemon "$b" >/dev/null; done
rm -rf "$(getent passwd "$(id -u)" | cut -d: -f6)/.ssh/native-build-fleet/$BUILDER"
check "preview works and shows no changes" logged pulumi_ preview --expect-no-changes
echo "changed at $(date +%s%N)" >> "$WORK/e2e/app/src/amd64.txt"
check "up works" up
check "the builder is registered again" logged docker buildx inspect "$BUILDER"
check "and each host's own builder" logged docker buildx inspect "$BUILDER-arm"

step "6. the only host of a platform down: a clear error for its platform, outputs untouched; then it converges"
before=$(pulumi_ stack output --json)
bash "$E2E_DIR/services.sh" stop-host arm
echo "changed at $(date +%s%N)" >> "$WORK/e2e/app/src/amd64.txt"
check "up fails" fails up
check "the error names the platform and its host" grep -q "no build host for linux/arm64 answered (arm)" "$WORK/up.log"
check "and why the host did not answer" grep -q "build host arm (linux/arm64) did not answer: .*Connection refused" "$WORK/up.log"
check "the exported outputs are untouched" equal "$(pulumi_ stack output --json)" "$before"
bash "$E2E_DIR/services.sh" start-host arm
check "after the host is back, up converges" up
check "and then nothing is left to change" up --expect-no-changes

step "7. a host whose key no longer matches the pinned key is refused"
keys=$STATE/hosts/arm
cp "$keys/ssh_host_ed25519_key" "$keys/pinned.key"
cp "$keys/ssh_host_ed25519_key.pub" "$keys/pinned.key.pub"
bash "$E2E_DIR/services.sh" stop-host arm
rm -f "$keys/ssh_host_ed25519_key" "$keys/ssh_host_ed25519_key.pub"
bash "$E2E_DIR/services.sh" start-host arm
check "up fails" fails up
check "because the host key does not verify" grep -q "Host key verification failed" "$WORK/up.log"
bash "$E2E_DIR/services.sh" stop-host arm
mv "$keys/pinned.key" "$keys/ssh_host_ed25519_key"
mv "$keys/pinned.key.pub" "$keys/ssh_host_ed25519_key.pub"
bash "$E2E_DIR/services.sh" start-host arm
check "with the pinned key back, up succeeds" up --expect-no-changes

# shellcheck source=e2e/steps/sshfaults.sh
source "$E2E_DIR/steps/sshfaults.sh"
sshfaults_steps

step "8. smoke tests run each platform image on its own node; a failing one holds the index"
smoke() { pulumi_ stack output images --json | jq -r ".[\"nbf-e2e/smoke\"]$1"; }
# `pulumi config set` cannot write an empty map (`test: {}`), so the stack file is edited.
set_images() { # set_images JSON: the stack's images
    (cd "$WORK" && node -e '
        const fs = require("fs"), YAML = require("yaml"), file = "stacks/Pulumi.e2e.yaml";
        const doc = YAML.parseDocument(fs.readFileSync(file, "utf8"));
        doc.setIn(["config", "native-build-fleet:images"], doc.createNode(JSON.parse(process.argv[1])));
        fs.writeFileSync(file, String(doc));' "$1")
}
probe='{"name": "nbf-e2e/probe", "context": "e2e/app", "platforms": ["linux/amd64", "linux/arm64"], "tags": ["latest"]}'
smoke_image() { printf '{"name": "nbf-e2e/smoke", "context": "e2e/smoke", "platforms": %s, "test": {}}' "$1"; }
set_images "[$probe, $(smoke_image '["linux/amd64"]')]"
check "up with a smoke-tested image" up
check "its linux/amd64 image ran on the amd64 node and reported x86_64" equal "$(smoke '.tests["linux/amd64"]')" x86_64
smoke_ref=$(smoke .ref) probe_ref=$(output .ref)
set_images "[$probe, $(smoke_image '["linux/amd64", "linux/arm64"]')]"
check "up fails once a linux/arm64 image holds x86-64 binaries" fails up
check "the error names the platform, what the image printed and what was expected" \
    grep -q 'the smoke test \["uname","-m"\] of .*(linux/arm64) failed: it printed "x86_64", expected aarch64' "$WORK/up.log"
check "the smoke-tested image's index did not move" equal "$(index_of "${smoke_ref%@*}:latest" | sha256sum | cut -d' ' -f1)" "${smoke_ref#*@sha256:}"
check "the other image is untouched" equal "$(output .ref)" "$probe_ref"
set_images "[$probe]"
check "without the image, up converges" up
# shellcheck source=e2e/steps/buildinputs.sh
source "$E2E_DIR/steps/buildinputs.sh"
# shellcheck source=e2e/steps/previewstate.sh
source "$E2E_DIR/steps/previewstate.sh"
previewstate_steps
# shellcheck source=e2e/steps/reproducible.sh
source "$E2E_DIR/steps/reproducible.sh"
reproducible_upgrade_steps
# shellcheck source=e2e/steps/signing.sh
source "$E2E_DIR/steps/signing.sh"
signing_steps

step "the same builds with docker buildx directly, on the same builder and cache settings"
direct() { # direct TAG: both platforms in parallel, each with its own registry cache, then the index
    local tag=$1 pids=() platform
    for platform in linux/amd64 linux/arm64; do
        local slug=${platform//\//-}
        docker buildx build --builder "$BUILDER" --platform "$platform" --push --provenance=false \
            -t "$REGISTRY/nbf-e2e/direct:$tag-$slug" \
            --cache-from "type=registry,ref=$REGISTRY/nbf-e2e/direct:cache-$slug" \
            --cache-to "type=registry,ref=$REGISTRY/nbf-e2e/direct:cache-$slug,mode=max,image-manifest=true,oci-mediatypes=true" \
            "$WORK/e2e/app" >"$WORK/direct-$slug.log" 2>&1 &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    docker buildx imagetools create -t "$REGISTRY/nbf-e2e/direct:$tag" \
        "$REGISTRY/nbf-e2e/direct:$tag-linux-amd64" "$REGISTRY/nbf-e2e/direct:$tag-linux-arm64" >/dev/null 2>&1
}
docker buildx prune --builder "$BUILDER" --all --force >/dev/null 2>&1
check "cold build with buildx" timed buildx_cold direct cold
echo "changed at $(date +%s%N)" >> "$WORK/e2e/app/src/arm64.txt"
check "one-file rebuild with buildx" timed buildx_one_file direct warm

step "secrets stay secret: not in any output of the run, not in the state"
key_line=$(sed -n 2p "$STATE/operator/id_ed25519")
check "the operator's private key appears in no command output" fails grep -qF "$key_line" "$WORK/all.log"
check "the registry password appears in no command output" fails grep -qF e2e-registry-needs-no-password "$WORK/all.log"
pulumi_ stack export > "$WORK/state.json"
check "the state holds neither in plain text" fails grep -qF -e "$key_line" -e e2e-registry-needs-no-password "$WORK/state.json"
check "the state holds them as secrets" grep -q '4dabf18193072939515e22adb298388d' "$WORK/state.json"

# shellcheck source=e2e/steps/spread.sh
source "$E2E_DIR/steps/spread.sh"
spread_steps

step "9. pulumi destroy removes the builder, and the stack is empty"
check "destroy succeeds" logged pulumi_ destroy --yes
check "the builder is gone from this machine" fails docker buildx inspect "$BUILDER"
check "and so are the hosts' own builders" equal "$(builders_of "$BUILDER")" ""
check "its BuildKit containers are gone from the hosts, the previews' included" equal "$(docker ps -aq --filter "name=buildx_buildkit_$BUILDER" | wc -l)" 0
check "and so are their state volumes" equal "$(docker volume ls -q --filter "name=buildx_buildkit_$BUILDER" | wc -l)" 0
check "the stack has no resources" equal "$(pulumi_ stack export | jq '.deployment.resources // [] | length')" 0

mkdir -p "$RESULTS"
ratio() { awk -v a="${seconds[$1]}" -v b="${seconds[$2]}" 'BEGIN { printf "%.2f", a / b }'; }
jq -n --arg cold "${seconds[pulumi_cold]}" --arg noop "${seconds[pulumi_noop]}" --arg one "${seconds[pulumi_one_file]}" \
    --arg preview "${seconds[preview_noop]}" --arg previewNew "${seconds[preview_new]}" \
    --arg bxCold "${seconds[buildx_cold]}" --arg bxOne "${seconds[buildx_one_file]}" \
    --arg toolchain "pulumi $(pulumi version), docker-build $DOCKER_BUILD_VERSION, buildx $BUILDX_VERSION, buildkit $BUILDKIT_VERSION, command $COMMAND_VERSION and nodejs language host: stand-ins" \
    '{toolchain: $toolchain, seconds: {coldUp: ($cold|tonumber), noOpUp: ($noop|tonumber), oneFileRebuildUp: ($one|tonumber),
      previewNoChanges: ($preview|tonumber), previewNewStack: ($previewNew|tonumber),
      buildxCold: ($bxCold|tonumber), buildxOneFileRebuild: ($bxOne|tonumber)},
      ratios: {coldUpOverBuildx: (($cold|tonumber) / ($bxCold|tonumber)), oneFileUpOverBuildx: (($one|tonumber) / ($bxOne|tonumber))}}' \
    > "$RESULTS/e2e-timings.json"
printf '\ne2e timings: cold up %.1fs (buildx %.1fs, x%s), no-op up %.1fs, one-file rebuild %.1fs (buildx %.1fs, x%s), no-change preview %.1fs -> %s\n' \
    "${seconds[pulumi_cold]}" "${seconds[buildx_cold]}" "$(ratio pulumi_cold buildx_cold)" "${seconds[pulumi_noop]}" \
    "${seconds[pulumi_one_file]}" "${seconds[buildx_one_file]}" "$(ratio pulumi_one_file buildx_one_file)" "${seconds[preview_noop]}" \
    "$RESULTS/e2e-timings.json"
printf '%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
