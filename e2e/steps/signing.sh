# Verifiable releases (issue 19; sourced by e2e/acceptance.sh): the run makes a cosign key pair
# and turns signing on for the main stack; then, against the loopback registry, cosign verifies
# every exported index and the provenance and SBOM of every platform digest, with the commands
# the stack exports; the provenance names the run's commit and the Dockerfile's digest; the SBOM
# lists busybox, which the test image really contains; an image someone else pushed under the
# same tag fails; no key or password is anywhere; a no-op up signs nothing; a one-file change
# re-signs only what changed, and attests again what the registry lost; each signed digest's
# bundles are listed under its sha256-<hex> tag; and signing leaves every exported digest as
# it was.
# The loopback registry has no Rekor, so the stack signs with transparencyLog false (docs/signing.md,
# "Verifiable releases"); cosign never leaves loopback.
# Uses acceptance.sh's helpers (check, step, logged, up, output, pulumi_, …).
# shellcheck shell=bash

SIGNING_PASSWORD=e2e-cosign-key-password-$$
SIGNING_DIR=""

# The tag cosign stores a digest's signatures and attestations under on a registry without the
# referrers API (provider notes, supply chain): one index listing each bundle.
referrers_of() { skopeo inspect --raw "docker://$REPO:sha256-${1#sha256:}" 2>/dev/null || echo none; }
# The predicate types of the bundles that list holds, sorted: what the sign step's skip reads
# (runner/referrersTag.ts). cosign's list carries no annotations, so each bundle's manifest is read.
predicates_of() {
    referrers_of "$1" | jq -r '.manifests[]?.digest' 2>/dev/null | while read -r m; do
        skopeo inspect --raw "docker://$REPO@$m" | jq -r '.annotations["dev.sigstore.bundle.predicateType"]'
    done | sort -u | paste -sd' ' -
}
# cosign as a deploy runs it, from the directory that holds cosign.pub and trusted_root.json.
deploy_() { (cd "$SIGNING_DIR" && eval "$1") >"$WORK/cosign.out" 2>"$WORK/cosign.err"; }
# The payload of the attestation of `type` (slsaprovenance1, spdxjson) printed by verify-attestation.
statement_of() { # statement_of COMMAND
    deploy_ "$1" && jq -r '.payload' "$WORK/cosign.out" | head -n 1 | base64 -d
}
platform_commands() { output ".signature.verifyAttestations[]" | grep -F "$1" | grep -F -- "--type $2"; }

signing_steps() {
    SIGNING_DIR=$(mktemp -d /tmp/nbf-e2e-signing.XXXXXX)
    step "signing 1: a cosign key pair, signing on in the stack config"
    # Provenance names the commit: the run's copy of the project is a repository since
    # reproducible 1 (e2e/steps/reproducible.sh), whose up left every image on that commit.
    check "the project is in git" logged git -C "$WORK" rev-parse --verify HEAD
    local before_ref before_amd before_arm commit
    before_ref=$(output .ref) before_amd=$(output '.platforms["linux/amd64"].digest') before_arm=$(output '.platforms["linux/arm64"].digest')
    commit=$(git -C "$WORK" rev-parse HEAD)
    (cd "$SIGNING_DIR" && COSIGN_PASSWORD=$SIGNING_PASSWORD cosign generate-key-pair >/dev/null 2>&1)
    echo '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}' > "$SIGNING_DIR/trusted_root.json"
    pulumi_ config set signing "$(jq -cn --rawfile k "$SIGNING_DIR/cosign.pub" '{mode: "key", publicKey: $k, transparencyLog: false}')"
    pulumi_ config set --secret signingKey < "$SIGNING_DIR/cosign.key"
    pulumi_ config set --secret signingKeyPassword "$SIGNING_PASSWORD"

    check "a preview says what an update would sign" logged pulumi_ preview
    check "  naming the image and its platforms" grep -q "an update signs the indexes (latest) of nbf-e2e/probe and attests provenance and an SPDX SBOM on its linux/amd64, linux/arm64 images" "$WORK/last.log"
    check "  and signs nothing" equal "$(referrers_of "$before_ref" | head -c 4)" none

    step "signing 2: up signs every index and attests provenance and an SBOM on every platform digest"
    check "up with signing" timed pulumi_sign up
    check "signing changed no exported digest" equal "$(output .ref) $(output '.platforms["linux/amd64"].digest') $(output '.platforms["linux/arm64"].digest')" \
        "$before_ref $before_amd $before_arm"
    local digest
    digest=$(output .digest)
    check "the registry still serves the exported index digest under its tag" equal "sha256:$(index_of "$REPO:latest" | sha256sum | cut -d' ' -f1)" "$digest"
    check "the exported verify command passes for the index" deploy_ "$(output .signature.verify)"
    check "  and is a command by digest" grep -qF "$REPO@$digest" <<<"$(output .signature.verify)"
    local platform pdigest statement
    for platform in linux/amd64 linux/arm64; do
        pdigest=$(output ".platforms[\"$platform\"].digest")
        check "$platform: cosign verify-attestation passes for its provenance" deploy_ "$(platform_commands "$pdigest" slsaprovenance1)"
        statement=$(statement_of "$(platform_commands "$pdigest" slsaprovenance1)")
        check "$platform: the provenance is SLSA v1 about this digest" equal \
            "$(jq -r '"\(.predicateType) \(.subject[0].digest.sha256)"' <<<"$statement")" "https://slsa.dev/provenance/v1 ${pdigest#sha256:}"
        check "$platform: it names the run's commit" equal "$(jq -r .predicate.buildDefinition.externalParameters.source.commit <<<"$statement")" "$commit"
        check "$platform: and the Dockerfile's digest" equal "$(jq -r .predicate.buildDefinition.externalParameters.dockerfile.sha256 <<<"$statement")" \
            "$(sha256sum "$WORK/e2e/app/Dockerfile" | cut -d' ' -f1)"
        check "$platform: and the base image by digest" equal \
            "$(jq -r '.predicate.buildDefinition.resolvedDependencies[] | select(.name == "registry.e2e.test:5000/busybox:e2e") | .digest.sha256' <<<"$statement")" \
            "$(skopeo inspect --raw "docker://$REGISTRY/busybox:e2e" | sha256sum | cut -d' ' -f1)"
        check "$platform: cosign verify-attestation passes for its SBOM" deploy_ "$(platform_commands "$pdigest" spdxjson)"
        statement=$(statement_of "$(platform_commands "$pdigest" spdxjson)")
        check "$platform: the SBOM lists busybox, which the image contains" grep -qx busybox <<<"$(jq -r '.predicate.packages[].name' <<<"$statement")"
    done
    # Debian's docker-registry (distribution 2.8) has no referrers API, so cosign itself lists
    # each bundle under the subject's sha256-<hex> tag; on ECR the sign step writes that list.
    check "the loopback registry answers 404 to the referrers API" equal \
        "$(curl -s -o /dev/null -w '%{http_code}' "https://$REGISTRY/v2/$IMAGE/referrers/$digest")" 404
    check "the index's sha256-<hex> tag lists its signature" equal "$(predicates_of "$digest")" "https://sigstore.dev/cosign/sign/v1"
    for pdigest in "$before_amd" "$before_arm"; do
        check "  and each platform's tag its provenance and SBOM" equal "$(predicates_of "$pdigest")" "https://slsa.dev/provenance/v1 https://spdx.dev/Document"
    done
    check "the index digest is signed, not attested: cosign verify-attestation finds nothing on it" fails deploy_ \
        "cosign verify-attestation --key cosign.pub --insecure-ignore-tlog=true --trusted-root trusted_root.json --type slsaprovenance1 $REPO@$digest"

    step "signing 3: an image someone else pushed under the same tag fails verification, even signed with their own key"
    local other=$SIGNING_DIR/other
    mkdir -p "$other"
    (cd "$other" && COSIGN_PASSWORD=x cosign generate-key-pair >/dev/null 2>&1 && cosign signing-config create --out signing-config.json >/dev/null 2>&1)
    skopeo copy -q "docker://$REGISTRY/busybox:e2e" "docker://$REPO:latest"
    (cd "$other" && COSIGN_PASSWORD=x cosign sign --key cosign.key --signing-config signing-config.json \
        --trusted-root "$SIGNING_DIR/trusted_root.json" --yes "$REPO@sha256:$(skopeo inspect --raw "docker://$REPO:latest" | sha256sum | cut -d' ' -f1)" >/dev/null 2>&1) || true
    check "cosign verify with the stack's key refuses what the tag now points at" fails deploy_ \
        "cosign verify --key cosign.pub --insecure-ignore-tlog=true --trusted-root trusted_root.json $REPO:latest"
    skopeo copy -q --all --preserve-digests "docker://$REPO@$digest" "docker://$REPO:latest"
    check "with the fleet's index back under the tag, it verifies again" deploy_ \
        "cosign verify --key cosign.pub --insecure-ignore-tlog=true --trusted-root trusted_root.json $REPO:latest"

    step "signing 4: a no-op up signs nothing; a one-file change re-signs only what changed"
    local amd_refs arm_refs index_refs
    amd_refs=$(referrers_of "$before_amd") arm_refs=$(referrers_of "$before_arm") index_refs=$(referrers_of "$digest")
    check "up --expect-no-changes" up --expect-no-changes
    check "  the signatures and attestations are as they were" equal "$(referrers_of "$before_amd")$(referrers_of "$before_arm")$(referrers_of "$digest")" "$amd_refs$arm_refs$index_refs"
    echo "changed at $(date +%s%N)" >> "$WORK/e2e/app/src/arm64.txt"
    check "up after a one-file change" timed pulumi_sign_one_file up
    local new_arm new_digest
    new_arm=$(output '.platforms["linux/arm64"].digest') new_digest=$(output .digest)
    check "  linux/amd64 keeps its digest" equal "$(output '.platforms["linux/amd64"].digest')" "$before_amd"
    check "  and is not attested again" equal "$(referrers_of "$before_amd")" "$amd_refs"
    check "  the new linux/arm64 image is attested" deploy_ "$(platform_commands "$new_arm" slsaprovenance1)"
    check "  and its SBOM" deploy_ "$(platform_commands "$new_arm" spdxjson)"
    check "  the new index is signed" deploy_ "$(output .signature.verify)"
    check "  the old index's signature is untouched" equal "$(referrers_of "$digest")" "$index_refs"
    check "  new index, new arm64 digest" differ "$new_digest $new_arm" "$digest $before_arm"

    step "signing 4b: attestations the registry lost are attested again by the next up that runs the sign step"
    local tagged
    tagged=$(referrers_of "$before_amd" | sha256sum | cut -d' ' -f1)
    check "the registry deletes linux/amd64's referrers list" curl -sf -o /dev/null -X DELETE "https://$REGISTRY/v2/$IMAGE/manifests/sha256:$tagged"
    check "with linux/amd64's referrers list deleted (as if expired), its SBOM no longer verifies" fails deploy_ "$(platform_commands "$before_amd" spdxjson)"
    echo "changed at $(date +%s%N)" >> "$WORK/e2e/app/src/arm64.txt"
    check "up after another arm64 change" timed pulumi_sign_heal up
    check "  linux/amd64 keeps its digest" equal "$(output '.platforms["linux/amd64"].digest')" "$before_amd"
    check "  and its provenance and SBOM verify again" deploy_ "$(platform_commands "$before_amd" spdxjson)"
    check "  listed under its tag" equal "$(predicates_of "$before_amd")" "https://slsa.dev/provenance/v1 https://spdx.dev/Document"

    step "signing 5: no private key or password in the state, the outputs, the logs or any attestation"
    local key_line attestations
    key_line=$(sed -n 2p "$SIGNING_DIR/cosign.key")
    attestations=$(for d in "$before_amd" "$before_arm" "$new_arm"; do
        skopeo inspect --raw "docker://$REPO:sha256-${d#sha256:}" | jq -r '.manifests[].digest' | while read -r m; do
            skopeo inspect --raw "docker://$REPO@$m" | jq -r '.layers[].digest' | while read -r l; do
                curl -sf "https://$REGISTRY/v2/$IMAGE/blobs/$l"
            done
        done
    done)
    check "the attestations were read" grep -q dsseEnvelope <<<"$attestations"
    pulumi_ stack export > "$WORK/signing-state.json"
    pulumi_ stack output --json --show-secrets > "$WORK/signing-outputs.json"
    check "the key and its password are in no command output" fails grep -qF -e "$key_line" -e "$SIGNING_PASSWORD" "$WORK/all.log"
    check "  nor in the state in plain text" fails grep -qF -e "$key_line" -e "$SIGNING_PASSWORD" "$WORK/signing-state.json"
    check "  nor in the outputs" fails grep -qF -e "$key_line" -e "$SIGNING_PASSWORD" "$WORK/signing-outputs.json"
    check "  nor in any attestation, nor the registry password" fails grep -qF -e "$key_line" -e "$SIGNING_PASSWORD" -e e2e-registry-needs-no-password <<<"$attestations"
    check "  and the sign step's temporary files are gone" equal "$(find "${TMPDIR:-/tmp}" -maxdepth 2 -name 'nbf-attest-*' | wc -l)" 0
    # One run each, on a shared machine: an indication, not a benchmark. The unsigned one-file
    # rebuild of step 4 is the comparison.
    # shellcheck disable=SC2154 # seconds is acceptance.sh's timing table
    printf 'signing timings: up that signs an unchanged stack %.1fs; one-file rebuild with signing %.1fs (without: %.1fs in step 4)\n' \
        "${seconds[pulumi_sign]}" "${seconds[pulumi_sign_one_file]}" "${seconds[pulumi_one_file]}"
}
