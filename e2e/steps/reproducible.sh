# Reproducible platform images (issue 19, item 7; sourced by e2e/acceptance.sh). Two claims:
# - the one-time upgrade (README, "Upgrade notes"): on a project in git, the first `up` after
#   moving to SOURCE_DATE_EPOCH and the rewrite-timestamp export updates each platform image
#   in place and moves every digest once, stamps the image with the context's commit time,
#   clamps every file to it, and then nothing changes;
# - the same commit built from nothing on two hosts of a pool gives one platform digest
#   (the spread stack's two amd64 hosts, e2e/repro: its files are written at different times
#   on each, nothing of the host is in their contents).
# Uses acceptance.sh's helpers (check, step, logged, up, output, pulumi_, …), preview.sh's
# platform_image and spread.sh's spread_, spread_up and placed.
# shellcheck shell=bash

# in_git DIR: the project copy in DIR becomes a repository with one commit, as a clone is;
# its own files (state, logs) are not part of the source.
in_git() {
    (cd "$1" && git init -q && printf '%s\n' node_modules state/ '*.log' state.json 'signing-*.json' 'cosign.*' >> .git/info/exclude &&
        git add -A && git -c user.name=e2e -c user.email=e2e@example.invalid commit -qm "acceptance run" &&
        git remote add origin https://example.invalid/native-build-fleet.git)
}

# layer_times REF: the modification time (Unix seconds) of every entry in the image's layers.
layer_times() {
    local dir layer
    dir=$(mktemp -d)
    skopeo copy -q "docker://$1" "dir:$dir"
    for layer in "$dir"/*; do
        TZ=UTC tar -tzvf "$layer" --full-time 2>/dev/null | awk '{ print $4 "T" $5 "Z" }' || true
    done | while read -r t; do date -u -d "${t/T/ }" +%s; done
    rm -rf "$dir"
}

# rebuild_digest REF BUILDER CONTEXT: what a third party does to check a platform image
# (README, "Rebuilding a release to compare"): plain `docker buildx build` without any cache,
# given the image's own labels and its created time as SOURCE_DATE_EPOCH, exported as the
# fleet exports it; prints the digest it pushed (under the tag `rebuild`).
rebuild_digest() {
    local ref=$1 labels=() meta
    meta=$(mktemp)
    mapfile -t labels < <(skopeo inspect --config "docker://$ref" | jq -r '.config.Labels // {} | to_entries[] | "--label=\(.key)=\(.value)"')
    docker buildx build --builder "$2" --platform "$(skopeo inspect --config "docker://$ref" | jq -r '"\(.os)/\(.architecture)"')" \
        --no-cache --provenance=false --sbom=false "${labels[@]}" --build-arg "SOURCE_DATE_EPOCH=$(image_created "$ref")" \
        --output "type=registry,name=${ref%@*}:rebuild,oci-mediatypes=true,rewrite-timestamp=true" --metadata-file "$meta" "$3" >"$WORK/last.log" 2>&1
    jq -r '."containerimage.digest"' "$meta"
    rm -f "$meta"
}

# image_created REF: the image config's created time, in Unix seconds.
image_created() { date -u -d "$(skopeo inspect --config "docker://$1" | jq -r .created)" +%s; }

reproducible_upgrade_steps() {
    local source=$WORK/components/imageBuild.ts platform old_digests new_digests epoch ref
    step "reproducible 1. the project in git: the one-time move to reproducible images moves every digest once, then nothing"
    in_git "$WORK"
    cp "$source" "$WORK/imageBuild.ts.new"
    # The platform images as they were before: the registry export without rewrite-timestamp and
    # no SOURCE_DATE_EPOCH. `cp` back, not `mv`: run.js recompiles only newer sources.
    perl -0777 -pi -e 's/exports: \[\{ raw: REGISTRY_EXPORT \}\]/exports: [{ registry: { ociMediaTypes: true } }]/ or die "imageBuild.ts has no raw export\n";
        s/\.\.\.sourceDateEpochArg\(l\),\s*(\.\.\.image\.buildArgs,\s*\.\.\.image\.platformBuildArgs)/$1/ or die "imageBuild.ts has no SOURCE_DATE_EPOCH\n"' "$source"
    check "up on the form before, with the project in git (the OCI labels now name its commit)" up
    old_digests=$(output '.platforms | map(.digest) | join(" ")')
    cp "$WORK/imageBuild.ts.new" "$source"
    check "the upgrade's up succeeds" up
    for platform in linux/amd64 linux/arm64; do
        check "$platform: its image updates in place, with SOURCE_DATE_EPOCH and the rewrite-timestamp export" \
            grep -qE "$(platform_image "$platform") .*\[diff: ~buildArgs,exports\]" "$WORK/up.log"
        check "$platform: and its cache build gets SOURCE_DATE_EPOCH too, so it stays a cache hit" \
            grep -qE "$(platform_image "$platform")-cache .*\[diff: ~buildArgs\]" "$WORK/up.log"
    done
    check "nothing is replaced" fails grep -qE '^ +\+-[0-9]+ replaced$' "$WORK/up.log"
    new_digests=$(output '.platforms | map(.digest) | join(" ")')
    check "every platform digest moved" equal "$(comm -12 <(tr ' ' '\n' <<<"$old_digests" | sort) <(tr ' ' '\n' <<<"$new_digests" | sort) | grep -c .)" 0
    epoch=$(git -C "$WORK" log -1 --format=%ct -- e2e/app)
    for platform in linux/amd64 linux/arm64; do
        ref="$REPO@$(output ".platforms[\"$platform\"].digest")"
        check "$platform: the image config's created time is the context's commit time (SOURCE_DATE_EPOCH)" equal "$(image_created "$ref")" "$epoch"
        check "$platform: no file in its layers is newer than that" grep -qE '^[1-9][0-9]* files, 0 newer$' \
            <<<"$(layer_times "$ref" | awk -v e="$epoch" '$1 > e { late++ } END { print NR " files, " late + 0 " newer" }')"
    done
    check "then up changes nothing" up --expect-no-changes
}

# repro_image HOST: the spread stack's images are its four and e2e/repro, for linux/amd64 on HOST only.
repro_image() {
    (cd "$SPREAD_WORK" && node -e '
        const fs = require("fs"), YAML = require("yaml"), file = "stacks/Pulumi.spread.yaml";
        const doc = YAML.parseDocument(fs.readFileSync(file, "utf8"));
        const images = doc.getIn(["config", "native-build-fleet:images"]).toJSON().filter((i) => i.context !== "e2e/repro");
        images.push({ name: "nbf-e2e/spread-repro", context: "e2e/repro", platforms: ["linux/amd64"], tags: ["latest"], pools: [process.argv[1]] });
        doc.setIn(["config", "native-build-fleet:images"], doc.createNode(images));
        fs.writeFileSync(file, String(doc));' "$1")
}

# Prunes the builder until `buildx du` lists no build step. A base image BuildKit still holds
# may stay: prune never removes a record that is not reclaimable, "actively in use by some
# component of the builder" (docker/buildx docs/reference/buildx_du.md), and twice one such
# record, "pulled from" the test's busybox base, stayed after every prune. The base is the same
# bytes by digest on both hosts, so the build is still one from nothing. Anything else left is
# pruned again, up to five times, and printed if it stays; a `du` that fails counts as not empty.
buildkit_emptied() {
    local builder=$1 left
    for _ in 1 2 3 4 5; do
        docker buildx prune --builder "$builder" --all --force >/dev/null 2>&1 || true
        left=$(docker buildx du --builder "$builder" --format '{{.Reclaimable}} {{.Description}}') &&
            ! grep -qv -e '^false pulled from ' -e '^$' <<<"$left" && return 0
        sleep 2
    done
    printf '     left in %s:\n' "$builder"
    docker buildx du --builder "$builder" --verbose 2>&1 | sed 's/^/       /'
    return 1
}

# On the spread stack, once steps 10 and 11 are done: e2e/repro pinned to one amd64 host,
# then to the other, with its registry cache removed and the other host's BuildKit cache
# emptied in between, and the context's files written anew (a second checkout).
reproducible_pool_steps() {
    local image=nbf-e2e/spread-repro others_before first second
    step "12. the same commit built from nothing on the two amd64 hosts gives one platform digest"
    others_before=$(placed | grep -v "^$image ")
    # As a clone writes them: every file of the context newer than its commit. BuildKit clamps
    # only later times, and this copy kept the times its files had before the commit; built so,
    # amd's image differed from amd2's (README, "Reproducible where the Dockerfile allows").
    find "$SPREAD_WORK/e2e/repro" -exec touch {} +
    repro_image amd
    check "up builds it on amd" spread_up
    first=$(placed | grep "^$image " || true)
    check "  on amd" equal "$(awk '{ print $3 }' <<<"$first")" amd
    check "  and moves no other image" equal "$(placed | grep -v "^$image ")" "$others_before"
    # A second checkout of the same commit: every file of the context written later again.
    sleep 1
    find "$SPREAD_WORK/e2e/repro" -exec touch {} +
    check "the context is unchanged in git" equal "$(git -C "$SPREAD_WORK" status --porcelain -- e2e/repro)" ""
    rm -rf "$STATE/registry/docker/registry/v2/repositories/$image/_manifests/tags/cache-linux-amd64"
    check "its registry cache is gone" fails skopeo inspect --raw "docker://$REGISTRY/$image:cache-linux-amd64"
    # Emptied, not read from build records: the image build and its cache build run at once and
    # share steps, so either may count some as cached from the other.
    check "amd2's BuildKit cache holds no build step" buildkit_emptied nbf-spread-amd2
    repro_image amd2
    check "up builds it again on amd2, from nothing" spread_up
    second=$(placed | grep "^$image " || true)
    check "  on amd2" equal "$(awk '{ print $3 }' <<<"$second")" amd2
    check "the same platform digest as amd's build" equal "$(awk '{ print $4 }' <<<"$second")" "$(awk '{ print $4 }' <<<"$first")"
    local ref; ref=$(awk '{ print $4 }' <<<"$first")
    check "a third party's rebuild (plain buildx, no cache, the image's labels and created time) gives it too" \
        equal "$(rebuild_digest "$ref" nbf-spread-amd "$SPREAD_WORK/e2e/repro")" "${ref#*@}"
    check "and then nothing is left to change" logged spread_ up --yes --expect-no-changes
}
