# The fleet as a fleet (sourced by e2e/acceptance.sh): two hosts of each platform and four
# two-platform images. Every host builds; a second up changes nothing; with one amd64 host's
# sshd stopped, up succeeds, warns naming it and builds its share on the other amd64 host
# while nothing else rebuilds; once it is back, its builds return and up converges.
# Uses acceptance.sh's helpers (check, step, logged, built_on, …) and its own stack and work
# directory, so the main stack's steps are untouched.
# shellcheck shell=bash

SPREAD_WORK=""
spread_() { (cd "$SPREAD_WORK" && PULUMI_BACKEND_URL="file://$SPREAD_WORK/state" pulumi "$@"); }
spread_up() { local rc=0; logged spread_ up --yes --skip-preview "$@" || rc=$?; cp "$WORK/last.log" "$SPREAD_WORK/up.log"; return "$rc"; }
# Per image and platform: the image, the platform, the host the stack says built it, its ref.
placed() {
    spread_ stack output images --json | jq -r '
        to_entries[] | .key as $image | .value.platforms | to_entries[] | "\($image) \(.key) \(.value.host) \(.value.ref)"'
}

spread_steps() {
    local dir builder=nbf-spread images=(a b c d) i host platform
    dir=$(mktemp -d /tmp/nbf-e2e-spread.XXXXXX)
    SPREAD_WORK=$dir
    (cd "$REPO_DIR" && git ls-files -co --exclude-standard | grep -v '^node_modules/' | tar -cf - -T -) | tar -xf - -C "$dir"
    ln -s "$REPO_DIR/node_modules" "$dir/node_modules"
    # In git, as a clone is: the builds get SOURCE_DATE_EPOCH (step 12 relies on it).
    in_git "$dir"
    mkdir -p "$dir/state"
    for b in $(builders_of "$builder"); do docker buildx rm "$b" >/dev/null 2>&1 || true; done
    rm -rf "$(getent passwd "$(id -u)" | cut -d: -f6)/.ssh/native-build-fleet/$builder"

    step "10. every host builds: two hosts per platform, four two-platform images"
    spread_ stack init spread >/dev/null
    local hosts_json="" images_json=""
    for host in "${HOST_NAMES[@]}" "${SPREAD_HOSTS[@]}"; do
        hosts_json+=$(jq -nc --arg n "$host" --arg a "${HOST_ADDRESS[$host]}" --arg p "${HOST_PLATFORM[$host]}" --arg u "$HOST_USER" \
            --arg k "$(cat "$STATE/hosts/$host/ssh_host_ed25519_key.pub")" '{name: $n, address: $a, user: $u, platforms: [$p], hostKey: $k}'),
    done
    for i in "${images[@]}"; do
        images_json+=$(jq -nc --arg n "nbf-e2e/spread-$i" '{name: $n, context: "e2e/app", platforms: ["linux/amd64", "linux/arm64"], tags: ["latest"]}'),
    done
    # The e2e stack's registry and builder settings, with four hosts, four images, its own builder.
    (cd "$dir" && node -e '
        const fs = require("fs"), YAML = require("yaml"), file = "stacks/Pulumi.spread.yaml";
        const base = YAML.parse(fs.readFileSync("stacks/Pulumi.e2e.yaml", "utf8")).config;
        const stack = fs.existsSync(file) ? YAML.parse(fs.readFileSync(file, "utf8")) ?? {} : {};
        stack.config = { ...base, ...stack.config,
            "native-build-fleet:staticHosts": JSON.parse(process.argv[1]), "native-build-fleet:images": JSON.parse(process.argv[2]),
            "native-build-fleet:builder": { ...base["native-build-fleet:builder"], name: process.argv[3] } };
        fs.writeFileSync(file, YAML.stringify(stack));
    ' "[${hosts_json%,}]" "[${images_json%,}]" "$builder")
    spread_ config set --secret sshPrivateKey < "$STATE/operator/id_ed25519"
    spread_ config set --secret registryPassword e2e-registry-needs-no-password
    check "up builds all eight platform images" spread_up
    local before; before=$(placed)
    check "each of the four hosts built two of them" \
        equal "$(awk '{ print $3 }' <<<"$before" | sort | uniq -c | awk '{ print $2 "=" $1 }' | tr '\n' ' ')" "amd=2 amd2=2 arm=2 arm2=2 "
    local mismatched=""
    while read -r image platform host ref; do
        [ "$(built_on "$ref")" = "${builder}_$host" ] || mismatched+="$image/$platform "
        [ "${HOST_PLATFORM[$host]}" = "$platform" ] || mismatched+="$image/$platform(not native) "
    done <<<"$before"
    check "the images record that each was built on its host's node, natively" equal "$mismatched" ""
    check "a second up changes nothing" logged spread_ up --yes --expect-no-changes

    step "11. one amd64 host down: its builds go to the other amd64 host, nothing else rebuilds; then they return"
    bash "$E2E_DIR/services.sh" stop-host amd2
    check "up succeeds with the host down" spread_up
    check "it warns naming the host" grep -q "build host amd2 (linux/amd64) did not answer" "$dir/up.log"
    local during; during=$(placed)
    check "no build is placed on the stopped host" fails grep -q ' amd2 ' <<<"$during"
    local moved="" kept="" now
    while read -r image platform host ref; do
        now=$(awk -v i="$image" -v p="$platform" '$1 == i && $2 == p { print $3 " " $4 }' <<<"$during")
        if [ "$host" = amd2 ]; then
            # On amd, from the platform's registry cache: every step a cache hit (the same image),
            # or the step that records its container ran on amd, or it was a hit of the cache amd2
            # exported while the image changed elsewhere (so it records amd2's container; amd2's
            # sshd is stopped, so nothing ran there).
            [ "${now% *}" = amd ] && { [ "${now#* }" = "$ref" ] || [[ "$(built_on "${now#* }")" =~ ^${builder}_amd2?$ ]]; } || moved+="$image/$platform "
        else
            [ "$now" = "$host $ref" ] || kept+="$image/$platform "
        fi
    done <<<"$before"
    check "amd2's builds were made on amd (from the registry cache)" equal "$moved" ""
    check "every other platform image kept its host and digest" equal "$kept" ""
    bash "$E2E_DIR/services.sh" start-host amd2
    check "with the host back, up converges" spread_up
    check "its builds are back on it" equal "$(placed | awk '{ print $1, $2, $3 }')" "$(awk '{ print $1, $2, $3 }' <<<"$before")"
    check "and then nothing is left to change" logged spread_ up --yes --expect-no-changes
    reproducible_pool_steps
    check "destroy removes the spread stack's builders" logged spread_ destroy --yes
    check "none of them is left on this machine" equal "$(builders_of "$builder")" ""
    rm -rf "$dir"
}
