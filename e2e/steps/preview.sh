# shellcheck shell=bash
# Acceptance steps for previews that really build (issue 14), sourced by e2e/acceptance.sh
# and run after the cold `up`. They use its helpers (check, logged, pulumi_, up, output,
# timed) and settings (WORK, STATE, REGISTRY, BUILDER, HOST_NAMES, HOST_PLATFORM).
# What a preview built is read from the builder's own records (`docker buildx history ls`,
# every node); what it pushed, from the registry (every tag's manifest, the blob count).
# Each preview's output is kept in $LOGS/preview-*.log.

# Every tag of the run's repositories with the digest of the manifest it serves, cache tags
# included, then the number of blobs the registry stores: the same text before and after
# means nothing was pushed and no cache was written.
registry_state() {
    local root=$STATE/registry/docker/registry/v2 dir repo tag
    for dir in "$root"/repositories/nbf-e2e/*/; do
        repo=nbf-e2e/$(basename "$dir")
        for tag in $(skopeo list-tags "docker://$REGISTRY/$repo" | jq -r '.Tags[]' | sort); do
            printf '%s:%s %s\n' "$repo" "$tag" "$(skopeo inspect --raw "docker://$REGISTRY/$repo:$tag" | sha256sum | cut -d' ' -f1)"
        done
    done
    printf 'blobs %s\n' "$(find "$root/blobs" -type f -name data | wc -l)"
}

# The build records of every host's own node (the stack's builder) and of its preview node
# (its preview builder), one JSON object a line; `ref` is <builder>/<node>/<record>.
build_records() {
    local host
    docker buildx history ls --builder "$BUILDER" --format json --no-trunc
    for host in "${HOST_NAMES[@]}"; do
        # Before a host's first preview its preview node has no container, hence no records.
        docker buildx history ls --builder "$BUILDER-${host}_preview" --format json --no-trunc 2>/dev/null || true
    done
}

# records_since FILE: the records made since FILE was written by build_records.
records_since() {
    build_records | jq -c --slurpfile old "$1" '([$old[].ref]) as $seen | select(.ref as $r | $seen | index($r) | not)'
}

# node_builds RECORDS NODE STATUS: how many of RECORDS ran on NODE and ended in STATUS
# (Completed or Error; "" for any); with a fourth argument, only those that took a step from
# the cache. NODE is a host's name for its own node (`<builder>_<host>`), `<host>_preview` for
# its preview node (`<builder>_<host>.preview`, on the host's preview builder).
node_builds() {
    local node="$BUILDER/${BUILDER}_$2/"
    [[ $2 == *_preview ]] && node="$BUILDER-$2/${BUILDER}_${2%_preview}.preview/"
    jq -s --arg node "$node" --arg status "$3" --arg cached "${4:-}" \
        '[.[] | select((.ref | startswith($node)) and ($status == "" or .status == $status) and ($cached == "" or .cached_steps > 0))] | length' <<<"$1"
}

# diagnostics_of LOG NAME: what Pulumi's Diagnostics section says under the resource NAME.
diagnostics_of() {
    awk -v name="($2):" '/^Diagnostics:/ { d = 1; next } d && /^  [^ ]/ { f = index($0, name) > 0; next } d && f' "$1"
}

# The platform image resources, as `pulumi preview` names them.
platform_image() { printf '%s-%s' "fleet-${IMAGE//\//-}" "${1//\//-}"; }

# keep NAME: keeps the last command's output as $LOGS/preview-NAME.log.
keep() { cp "$WORK/last.log" "$LOGS/preview-$1.log"; }

# Right after the preview of the brand-new stack: the builder is not registered yet, so the
# images' builder label is unknown, and only the two platform builds say so.
new_stack_preview_checks() {
    keep new-stack
    local skipped='Skipping preview build because some inputs are unknown' platform
    for platform in linux/amd64 linux/arm64; do
        check "$platform: the new stack's preview skips its build: the builder label is unknown" \
            grep -q "$skipped" <(diagnostics_of "$WORK/last.log" "$(platform_image "$platform")")
    done
    check "and skips no other build" equal "$(awk '/^Diagnostics:/ { d = 1 } d' "$WORK/last.log" | grep -c "$skipped")" 2
}

preview_steps() {
    local app=$WORK/e2e/app host platform records

    step "preview A. a broken Dockerfile fails the preview on every platform; outputs and registry stay"
    local outputs_before registry_before
    outputs_before=$(pulumi_ stack output --json)
    registry_before=$(registry_state)
    build_records > "$WORK/records.json"
    cp "$app/Dockerfile" "$WORK/Dockerfile.valid"
    sed -i 's|^FROM scratch$|RUN false\n&|' "$app/Dockerfile"
    check "the copy's build stage now ends in RUN false" grep -qx 'RUN false' "$app/Dockerfile"
    check "pulumi preview fails" timed preview_broken fails logged pulumi_ preview
    keep broken
    records=$(records_since "$WORK/records.json")
    for host in "${HOST_NAMES[@]}"; do
        platform=${HOST_PLATFORM[$host]}
        check "$platform: the preview names the image and platform with BuildKit's error" \
            grep -q '"/bin/sh -c false" did not complete successfully: exit code: 1' <(diagnostics_of "$WORK/last.log" "$(platform_image "$platform")")
        check "$platform: the failed build ran on its preview node (${BUILDER}_${host}.preview)" equal "$(node_builds "$records" "${host}_preview" Error)" 1
        check "$platform: and nothing ran on the host's own node, which updates build on" equal "$(node_builds "$records" "$host" "")" 0
    done
    check "the exported outputs are untouched" equal "$(pulumi_ stack output --json)" "$outputs_before"
    check "the registry is untouched: every tag's manifest, the cache tags, the blob count" equal "$(registry_state)" "$registry_before"
    cp "$WORK/Dockerfile.valid" "$app/Dockerfile"

    step "preview B. a valid change builds on every host's preview node and pushes nothing"
    build_records > "$WORK/records.json"
    cp -r "$app/src" "$WORK/src.committed"
    for platform in linux/amd64 linux/arm64; do echo "previewed at $(date +%s%N)" >> "$app/src/${platform#linux/}.txt"; done
    check "pulumi preview succeeds" timed preview_build logged pulumi_ preview
    keep valid-change
    check "it does not skip a build: no input is unknown" fails grep -q 'Skipping preview build' "$WORK/last.log"
    records=$(records_since "$WORK/records.json")
    # No "cached" here: each platform's source changed, so every step after the base image is
    # new, and the preview node (its own BuildKit state since issue 20) has not loaded this
    # Dockerfile before (preview A built another), so even BuildKit's definition-loading steps
    # are not cached. On the update node they were, which is what this check used to count.
    for host in "${HOST_NAMES[@]}"; do
        check "${HOST_PLATFORM[$host]}: the preview built it on its preview node (${BUILDER}_${host}.preview)" \
            equal "$(node_builds "$records" "${host}_preview" Completed)" 1
        check "${HOST_PLATFORM[$host]}: and nothing on the host's own node, which updates build on" equal "$(node_builds "$records" "$host" "")" 0
    done
    check "only the two platform images were built: the cache builds never run in previews" equal "$(grep -c . <<<"$records")" 2
    check "the exported outputs are untouched" equal "$(pulumi_ stack output --json)" "$outputs_before"
    check "the registry is untouched: nothing pushed, no cache written" equal "$(registry_state)" "$registry_before"
    rm -rf "$app/src" && cp -r "$WORK/src.committed" "$app/src"
    check "with the change undone, the preview shows no changes" logged pulumi_ preview --expect-no-changes

    # The run's copy is not in git yet, so the builds get no SOURCE_DATE_EPOCH and the export's
    # rewrite-timestamp does nothing (BuildKit skips it, exporter/containerimage/writer.go
    # `rewriteRemoteWithEpoch`): what this step compares is the export's media types. The move to
    # reproducible images, which changes every digest once, is checked in git (signing 1).
    step "preview C. a stack on the push: true form moves to the registry export in one update that keeps every digest"
    local source=$WORK/components/imageBuild.ts
    cp "$source" "$WORK/imageBuild.ts.new"
    # The platform images as they were before issue 14. `cp`, not `mv`: run.js recompiles
    # only sources newer than its last compilation.
    perl -0777 -pi -e 's/push: false,\n\s*exports: \[\{ raw: REGISTRY_EXPORT \}\],/push: true,/ or die "imageBuild.ts has no registry export to undo\n"' "$source"
    check "the old form sets push: true and no export" grep -q 'push: true,' "$source"
    check "up on the push: true form" up
    check "the push: true form pushed the same manifests" equal "$(pulumi_ stack output --json)" "$outputs_before"
    build_records > "$WORK/records.json"
    echo "previewed at $(date +%s%N)" >> "$app/src/arm64.txt"
    check "on that form a preview of a change builds nothing (pulumi-docker-build#252)" logged pulumi_ preview
    keep push-form
    check "and says its inputs are unknown, although none is" grep -q 'Skipping preview build because some inputs are unknown' "$WORK/last.log"
    check "the builder has no new record" equal "$(records_since "$WORK/records.json" | grep -c .)" 0
    rm -rf "$app/src" && cp -r "$WORK/src.committed" "$app/src"
    cp "$WORK/imageBuild.ts.new" "$source"
    check "the update to the registry-export form succeeds" timed upgrade_up up
    keep upgrade
    check "it updates the two platform images and nothing else" grep -qE '^ +~ 2 updated$' "$WORK/up.log"
    # The build stage writes its node's cgroup and the files' times into a layer: a step
    # that ran again would change the digest.
    check "every digest and the index are unchanged" equal "$(pulumi_ stack output --json)" "$outputs_before"
    check "the registry serves the same manifest for every tag" equal "$(registry_state)" "$registry_before"
    check "then up changes nothing" up --expect-no-changes
    check "and preview shows no changes" logged pulumi_ preview --expect-no-changes

    # shellcheck disable=SC2154 # seconds: acceptance.sh's timings, filled by timed
    printf '\npreview timings: broken Dockerfile %ss, valid change %ss (previews that build); upgrade update %ss\n' \
        "${seconds[preview_broken]}" "${seconds[preview_build]}" "${seconds[upgrade_up]}"
}
