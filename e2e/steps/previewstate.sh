# shellcheck shell=bash
# Acceptance steps for issue 20 item 4 (previews build on BuildKit state of their own),
# sourced by e2e/acceptance.sh after step 8, whose set_images and $probe they use, with its
# helpers (check, logged, pulumi_, up, timed) and e2e/steps/preview.sh's (build_records,
# records_since, node_builds, keep).
#
# A pull request that changes only a Dockerfile writes a marker into a `RUN --mount=type=cache`
# directory during `pulumi preview`; the next update's build reads that cache mount and must
# not find it. The control: the same update's build does find what earlier updates wrote there,
# so the check fails when previews and updates share BuildKit state.
# shellcheck disable=SC2154 # probe is step 8's image entry in acceptance.sh

PS_IMAGE=nbf-e2e/cachemount
PS_POISON=poisoned-by-a-preview

# ps_seen PLATFORM: what the update's build of that platform found in the cache mount, read
# from the image it pushed (seen.txt).
ps_seen() {
    local digest dir layer
    digest=$(pulumi_ stack output images --json | jq -r --arg i "$PS_IMAGE" --arg p "$1" '.[$i].platforms[$p].digest')
    dir=$(mktemp -d)
    skopeo copy -q "docker://$REGISTRY/$PS_IMAGE@$digest" "dir:$dir"
    for layer in "$dir"/*; do tar -xzOf "$layer" seen.txt 2>/dev/null || true; done
    rm -rf "$dir"
}

# ps_mount BUILDER PLATFORM: what the cache mount holds on BUILDER's node, read by a build run
# by hand that shares the mount's id and copies it out.
ps_mount() {
    local out
    out=$(mktemp -d)
    # A read that always runs, through a token in its command rather than --no-cache: measured on
    # BuildKit v0.31.0, a --no-cache build's RUN got a new, empty directory for the same cache id
    # instead of the one earlier builds wrote, while a plain build sees what any Dockerfile wrote.
    # shellcheck disable=SC2016 # $BUILDPLATFORM is the Dockerfile's: the node's own platform, no emulation
    printf 'FROM --platform=$BUILDPLATFORM %s\nRUN --mount=type=cache,id=nbf-e2e-shared,target=/cache : %s && mkdir -p /out && cat /cache/history > /out/history\nFROM scratch\nCOPY --from=0 /out/ /\n' \
        "$REGISTRY/busybox:e2e" "$(date +%s%N)" > "$out/Dockerfile"
    docker buildx build -q --builder "$1" --platform "$2" --output "type=local,dest=$out/result" "$out" >/dev/null 2>&1 \
        && cat "$out/result/history"
    rm -rf "$out"
}

previewstate_steps() {
    local dir=$WORK/e2e/cachemount host platform records image
    image=$(printf '{"name": "%s", "context": "e2e/cachemount", "platforms": ["linux/amd64", "linux/arm64"], "tags": ["latest"]}' "$PS_IMAGE")

    step "preview D. a preview's RUN step writes into a cache mount; the next update's build does not see it"
    echo up-1 > "$dir/version.txt"
    set_images "[$probe, $image]"
    check "up with an image whose build appends to a cache mount" up
    echo up-2 > "$dir/version.txt"
    check "a second update of it" up
    for host in "${HOST_NAMES[@]}"; do
        platform=${HOST_PLATFORM[$host]}
        check "$platform: control: the second update's build sees what the first wrote into the cache mount" \
            equal "$(ps_seen "$platform" | sort -u | tr '\n' ' ')" "up-1 up-2 "
    done

    # The pull request changes only the Dockerfile: a step before the build's own writes the marker.
    cp "$dir/Dockerfile" "$WORK/cachemount.Dockerfile"
    sed -i "s|^COPY version.txt /src/version.txt\$|RUN --mount=type=cache,id=nbf-e2e-shared,target=/cache echo $PS_POISON >> /cache/history\n&|" "$dir/Dockerfile"
    check "the pull request's Dockerfile writes the marker into the cache mount" grep -q "echo $PS_POISON" "$dir/Dockerfile"
    build_records > "$WORK/records.json"
    check "pulumi preview of the pull request builds it" logged pulumi_ preview
    keep poison
    check "it did not skip the build" fails grep -q 'Skipping preview build' "$WORK/last.log"
    records=$(records_since "$WORK/records.json")
    for host in "${HOST_NAMES[@]}"; do
        platform=${HOST_PLATFORM[$host]}
        check "$platform: the preview built on the host's preview node (${BUILDER}_${host}.preview)" equal "$(node_builds "$records" "${host}_preview" Completed)" 1
        check "$platform: and nothing on the host's own node" equal "$(node_builds "$records" "$host" "")" 0
        check "$platform: the marker is in the preview state's cache mount (the preview wrote it)" \
            grep -qx "$PS_POISON" <(ps_mount "$BUILDER-${host}_preview" "$platform")
        check "$platform: the preview node has a BuildKit container of its own" \
            equal "$(docker ps -q --filter "name=buildx_buildkit_${BUILDER}_${host}.preview$" | wc -l)" 1
        check "$platform: and a state volume of its own" \
            equal "$(docker volume ls -q --filter "name=buildx_buildkit_${BUILDER}_${host}.preview_state" | wc -l)" 1
    done

    # Not merged: the release builds the reviewed Dockerfile with a change that reruns its step.
    # Without --skip-preview: its preview pass builds on the preview nodes (which hold the
    # marker), and its update pass must still build on the hosts' own.
    cp "$WORK/cachemount.Dockerfile" "$dir/Dockerfile"
    echo up-3 > "$dir/version.txt"
    build_records > "$WORK/records.json"
    check "the next update, pulumi up with its own preview first, succeeds" logged pulumi_ up --yes
    keep up-with-preview
    records=$(records_since "$WORK/records.json")
    for host in "${HOST_NAMES[@]}"; do
        check "${HOST_PLATFORM[$host]}: its preview pass built on the preview node" equal "$(node_builds "$records" "${host}_preview" Completed)" 1
        check "${HOST_PLATFORM[$host]}: its update pass built on the host's own node (image and cache builds)" \
            test "$(node_builds "$records" "$host" Completed)" -ge 1
    done
    for host in "${HOST_NAMES[@]}"; do
        platform=${HOST_PLATFORM[$host]}
        check "$platform: the update's build does not see the preview's marker" fails grep -q "$PS_POISON" <(ps_seen "$platform")
        check "$platform: and does see what the earlier updates wrote (the mount is kept)" \
            equal "$(ps_seen "$platform" | sort -u | tr '\n' ' ')" "up-1 up-2 up-3 "
    done

    step "preview E. the cost of a preview's first build on fresh preview state"
    # buildx rm takes the preview containers and their state volumes; the next preview registers
    # the preview builders again and starts with nothing but the registry cache.
    for host in "${HOST_NAMES[@]}"; do docker buildx rm "$BUILDER-${host}_preview" >/dev/null 2>&1 || true; done
    check "no preview state is left on the hosts" equal "$(docker volume ls -q --filter "name=.preview_state" | grep -c "^buildx_buildkit_${BUILDER}_")" 0
    echo preview-cold > "$dir/version.txt"
    check "a preview on fresh preview state" timed preview_state_cold logged pulumi_ preview
    echo preview-warm > "$dir/version.txt"
    check "the same preview again, its state warm" timed preview_state_warm logged pulumi_ preview
    echo up-3 > "$dir/version.txt"
    check "with the change undone, the preview shows no changes" logged pulumi_ preview --expect-no-changes
    step "preview F. a preview does not start beside a running update of the stack as the same user"
    local lease up_pid rc=0
    lease="$(getent passwd "$(id -u)" | cut -d: -f6)/.ssh/native-build-fleet/$BUILDER/purpose"
    # A build step that takes a while, so the update is still building when the preview starts.
    sed -i 's|^FROM scratch$|RUN sleep 45\n\n&|' "$dir/Dockerfile"
    # The runs before left leases of pulumi processes that have ended; only the new update's counts.
    rm -f "$lease"
    (pulumi_ up --yes --skip-preview > "$WORK/slow-up.log" 2>&1) &
    up_pid=$!
    for _ in $(seq 120); do jq -e 'any(.[]; .purpose == "update")' "$lease" >/dev/null 2>&1 && break; sleep 1; done
    check "the update recorded its purpose and its pulumi process" jq -e 'any(.[]; .purpose == "update" and .cli.pid > 1)' "$lease"
    check "pulumi preview fails while it runs" fails logged pulumi_ preview
    keep refused
    check "naming the running update and why" grep -q "a pulumi update of this stack is running on this machine as this user" "$WORK/last.log"
    wait "$up_pid" || rc=$?
    cat "$WORK/slow-up.log" >> "$WORK/all.log"
    check "the update was not disturbed" equal "$rc" 0
    cp "$WORK/cachemount.Dockerfile" "$dir/Dockerfile"
    check "once it ended, pulumi preview runs" logged pulumi_ preview

    set_images "[$probe]"
    check "without the image, up converges" up

    # shellcheck disable=SC2154 # seconds: acceptance.sh's timings, filled by timed
    printf '\npreview state timings: first preview on fresh preview state %ss, the same preview warm %ss\n' \
        "${seconds[preview_state_cold]}" "${seconds[preview_state_warm]}"
}
