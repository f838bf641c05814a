# shellcheck shell=bash
# Build inputs under the real engine (issue #13): an image whose Dockerfile needs a build
# secret, built on both platforms; an image from a named context and an inline Dockerfile;
# a Compose file with interpolation and a secret. Then every place a secret could leak is
# searched for its value. Sourced by e2e/acceptance.sh after step 8, with its helpers
# (pulumi_, up, logged, set_images, probe, check, equal, differ, fails, step).
# shellcheck disable=SC2154 # probe is step 8's image entry in acceptance.sh

bi_secret=nbf-e2e-build-secret-$(openssl rand -hex 16)
bi_rotated=nbf-e2e-rotated-secret-$(openssl rand -hex 16)
bi_compose=nbf-e2e-compose-secret-$(openssl rand -hex 16)
bi_marker="named-context-marker from e2e/buildinputs/shared"
bi_blobs=$STATE/registry/docker/registry/v2/blobs

bi_ref() { pulumi_ stack output images --json | jq -r --arg i "$1" --arg p "$2" '.[$i].platforms[$p].ref'; }
bi_sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
# A file from the layers of a pushed image.
bi_file() {
    local dir layer
    dir=$(mktemp -d)
    skopeo copy -q "docker://$1" "dir:$dir"
    for layer in "$dir"/*; do tar -xzOf "$layer" "$2" 2>/dev/null || true; done
    rm -rf "$dir"
}
# Whether any blob the registry stores (layers, image configs with their history, manifests,
# and the registry caches' layers and cache configs) holds the text, compressed or not.
bi_in_registry() {
    local blob
    while IFS= read -r -d '' blob; do
        if gzip -t "$blob" 2>/dev/null; then
            { gzip -dc "$blob" 2>/dev/null || true; } | grep -qaF -- "$1" && return 0
        else
            grep -qaF -- "$1" "$blob" && return 0
        fi
    done < <(find "$bi_blobs" -type f -name data -print0)
    return 1
}
bi_secret_image() { # bi_secret_image REBUILD [EXTRA_JSON]
    printf '{"name": "nbf-e2e/secret", "context": "e2e/buildinputs/secret", "platforms": ["linux/amd64", "linux/arm64"], "buildArgs": {"REBUILD": "%s"}%s}' "$1" "${2:-}"
}
bi_with_secret=', "secrets": {"token": {"config": "buildToken"}}'
bi_named='{"name": "nbf-e2e/named", "context": "e2e/buildinputs", "platforms": ["linux/amd64", "linux/arm64"],
  "dockerfileInline": "FROM scratch\nCOPY --from=shared message.txt /named.txt\n", "contexts": {"shared": "e2e/buildinputs/shared"}}'

step "8b. build inputs: a build secret on both platforms, a named context, a Compose file"
set_images "[$probe, $(bi_secret_image 0)]"
check "an image whose Dockerfile needs a secret fails to build without one" fails up
check "the error names the missing secret" grep -qiE 'secret token|token.*not found' "$WORK/up.log"

printf '%s' "$bi_secret" | pulumi_ config set --secret buildToken
pulumi_ config set compose e2e/buildinputs/compose.yml
export NBF_COMPOSE_SECRET=$bi_compose COMPOSE_TAG=from-env
set_images "[$probe, $(bi_secret_image 0 "$bi_with_secret"), $bi_named]"
check "up builds the secret, named-context and Compose images" up
for platform in linux/amd64 linux/arm64; do
    ref=$(bi_ref nbf-e2e/secret "$platform")
    check "$platform: the build read the secret from the stack's secret config" equal "$(bi_file "$ref" token.sha256)" "$(bi_sha "$bi_secret")"
    check "$platform: and built for $platform" grep -qx "target=${platform#linux/}" <(bi_file "$ref" build-info.txt)
    check "$platform: the named context reached COPY --from=shared through the inline Dockerfile" \
        equal "$(bi_file "$(bi_ref nbf-e2e/named "$platform")" named.txt)" "$bi_marker"
    ref=$(bi_ref nbf-e2e/composed "$platform")
    check "$platform: the Compose image read its secret from the runner's environment" equal "$(bi_file "$ref" token.sha256)" "$(bi_sha "$bi_compose")"
    check "$platform: its build arg took the Compose file's \${GREETING:-…} default" grep -qx "greeting=hello-from-a-default" <(bi_file "$ref" build-info.txt)
done
check "the Compose image is tagged from \${COMPOSE_TAG} in the environment" logged skopeo inspect --raw "docker://$REGISTRY/nbf-e2e/composed:from-env"
check "with secrets, a second up changes nothing" up --expect-no-changes

bi_before=$(bi_ref nbf-e2e/secret linux/amd64)
printf '%s' "$bi_rotated" | pulumi_ config set --secret buildToken
check "up after the secret's value changed" up
check "BuildKit reuses the cached step (secrets are not part of its cache key): the digest stays" equal "$(bi_ref nbf-e2e/secret linux/amd64)" "$bi_before"
check "and the image still holds what the old value produced" equal "$(bi_file "$(bi_ref nbf-e2e/secret linux/amd64)" token.sha256)" "$(bi_sha "$bi_secret")"
set_images "[$probe, $(bi_secret_image 1 "$bi_with_secret"), $bi_named]"
check "up with the REBUILD build arg bumped" up
check "now the step ran again with the new value" equal "$(bi_file "$(bi_ref nbf-e2e/secret linux/amd64)" token.sha256)" "$(bi_sha "$bi_rotated")"

step "8c. the build secrets' values are nowhere: logs, state, outputs, images, history, cache"
pulumi_ stack export > "$WORK/bi-state.json"
pulumi_ stack output --json --show-secrets > "$WORK/bi-outputs.json"
for name in bi_secret bi_rotated bi_compose; do
    value=${!name}
    check "$name: in no command's output" fails grep -qF -- "$value" "$WORK/all.log"
    check "$name: not in the state in plain text" fails grep -qF -- "$value" "$WORK/bi-state.json"
    check "$name: not in the stack outputs, even with --show-secrets" fails grep -qF -- "$value" "$WORK/bi-outputs.json"
    check "$name: in no blob of the registry (layers, configs and history, caches)" fails bi_in_registry "$value"
done
check "the registry search does find text a layer holds" bi_in_registry "$bi_marker"
bi_cache=$(skopeo inspect --raw "docker://$REGISTRY/nbf-e2e/secret:cache-linux-amd64")
bi_cache_digest=$(printf '%s' "$bi_cache" | sha256sum | cut -d' ' -f1) bi_cache_config=$(jq -r '.config.digest | sub("^sha256:"; "")' <<<"$bi_cache")
check "the search covers the registry cache: its manifest and cache config are blobs searched" \
    test -f "$bi_blobs/sha256/${bi_cache_digest:0:2}/$bi_cache_digest/data" -a -f "$bi_blobs/sha256/${bi_cache_config:0:2}/$bi_cache_config/data"
check "the state holds the builds' secrets input encrypted" equal "$(jq -r '[.deployment.resources[] | select(.urn | endswith("nbf-e2e-secret-linux-amd64") or endswith("nbf-e2e-secret-linux-amd64-cache")) | .inputs.secrets["4dabf18193072939515e22adb298388d"]] | join(",")' "$WORK/bi-state.json")" "1b47061264138c4ac30d75fd1eb44270,1b47061264138c4ac30d75fd1eb44270"

set_images "[$probe]"
pulumi_ config rm compose
pulumi_ config rm buildToken
unset NBF_COMPOSE_SECRET COMPOSE_TAG
check "without the build-input images, up converges" up
