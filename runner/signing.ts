// The cosign and syft command lines of the sign step (runner/attest.ts), for each key source,
// and the verification commands the stack exports. Pure: every argument array is table-tested.
//
// Everything is attached BY DIGEST (`<repository>@sha256:…`), never through a tag, so a
// release tag that moves later never carries another image's signature. cosign v3 writes
// Sigstore bundles (`--new-bundle-format`, its default) through the OCI referrers API where
// the registry serves it (ECR does), else under the referrers tag scheme
// (`sha256-<hex of the subject>`, provider notes, supply chain): either way the subject's
// manifest is not touched, so signing never changes a digest the stack exports.

import { matchesAsCosign, SigningConfig } from "../config/signing";

/** The CI that provides a keyless signature's OIDC token; `none` outside both. */
export type OidcSource = "github" | "gitlab" | "none";

/** Files the sign step writes in its private directory. */
export interface CosignFiles {
    /** signing.mode key: the private key, 0600. */
    key?: string;
    /** transparencyLog false: a signing config that names no service (`cosign signing-config create`). */
    signingConfig?: string;
    /** transparencyLog false: a trusted root with no authority, so cosign never fetches Sigstore's from TUF. */
    trustedRoot?: string;
}

/** `cosign attest --type` for each document the step attaches. */
export const PREDICATE_TYPES = {
    provenance: { cosignType: "slsaprovenance1", uri: "https://slsa.dev/provenance/v1" },
    sbom: { cosignType: "spdxjson", uri: "https://spdx.dev/Document" },
} as const;
export type Predicate = keyof typeof PREDICATE_TYPES;

/** The trusted root for offline signing and verification: no CA, no log, no TSA (provider notes). */
export const EMPTY_TRUSTED_ROOT = `${JSON.stringify({ mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1" })}\n`;

/** Where the OIDC token comes from: GitHub Actions' ambient token, or GitLab's SIGSTORE_ID_TOKEN id_token. */
export function oidcSource(env: NodeJS.ProcessEnv): OidcSource {
    if (env.GITHUB_ACTIONS === "true" && env.ACTIONS_ID_TOKEN_REQUEST_URL) {
        return "github";
    }
    if (env.GITLAB_CI === "true" && env.SIGSTORE_ID_TOKEN) {
        return "gitlab";
    }
    return "none";
}

/**
 * The certificate identity Fulcio gives this CI run: on GitHub Actions the `job_workflow_ref`
 * claim, the workflow file at the ref that ran (`GITHUB_WORKFLOW_REF` for a workflow that is
 * not called as a reusable one), so `…/fleet.yml@refs/heads/main` on main and
 * `…/fleet.yml@refs/tags/v1.2.0` on a tag; on GitLab the `ci_config_ref_uri` claim,
 * `<host>/<project>//<CI config path>@refs/heads|tags/<ref>` (Sigstore, "OIDC Usage in Fulcio",
 * https://docs.sigstore.dev/certificate_authority/oidc-in-fulcio/; GitLab's ID token claims).
 * Undefined outside both, or when the CI does not say.
 */
export function ciIdentity(env: NodeJS.ProcessEnv): string | undefined {
    const source = oidcSource(env);
    if (source === "github" && env.GITHUB_WORKFLOW_REF) {
        return `${env.GITHUB_SERVER_URL || "https://github.com"}/${env.GITHUB_WORKFLOW_REF}`;
    }
    const ref = env.CI_COMMIT_TAG
        ? `refs/tags/${env.CI_COMMIT_TAG}`
        : env.CI_COMMIT_BRANCH
          ? `refs/heads/${env.CI_COMMIT_BRANCH}`
          : undefined;
    if (source === "gitlab" && env.CI_SERVER_HOST && env.CI_PROJECT_PATH && ref) {
        return `https://${env.CI_SERVER_HOST}/${env.CI_PROJECT_PATH}//${env.CI_CONFIG_PATH || ".gitlab-ci.yml"}@${ref}`;
    }
    return undefined;
}

/**
 * Whether the stack's verifiers accept a certificate for `identity`: the exact identity, or a
 * match of the pattern as cosign finds one, with RE2 on both sides (config/signing.ts matchesAsCosign).
 */
export function acceptsIdentity(signing: SigningConfig & { mode: "keyless" }, identity: string): boolean {
    return signing.identityRegexp !== undefined
        ? matchesAsCosign(signing.identityRegexp, identity)
        : identity === signing.identity;
}

/** Whether the signature goes to Rekor: always for keyless (Fulcio certificates are short-lived). */
export function usesTransparencyLog(signing: SigningConfig): boolean {
    return signing.mode === "keyless" || signing.transparencyLog;
}

/**
 * The key and service arguments shared by `sign` and `attest`. Keyless on GitHub names the
 * provider, so cosign never tries another; on GitLab cosign reads SIGSTORE_ID_TOKEN from its
 * environment (cosign pkg/providers/envvar), so the token is never in argv.
 */
function signerArgs(signing: SigningConfig, files: CosignFiles, oidc: OidcSource): string[] {
    const key =
        signing.mode === "key"
            ? ["--key", required(files.key, "key")]
            : signing.mode === "kms"
              ? ["--key", signing.key]
              : oidc === "github"
                ? ["--oidc-provider", "github-actions"]
                : [];
    // cosign v3 refuses --tlog-upload=false; a signing config without services is how it signs
    // without Rekor, and an explicit trusted root stops its TUF fetch
    // (cmd/cosign/cli/signcommon/common.go, LoadTrustedMaterialAndSigningConfig).
    const offline = usesTransparencyLog(signing)
        ? []
        : [
              "--signing-config",
              required(files.signingConfig, "signingConfig"),
              "--trusted-root",
              required(files.trustedRoot, "trustedRoot"),
          ];
    return [...key, ...offline, "--yes"];
}

function required(value: string | undefined, what: string): string {
    if (value === undefined) {
        throw new Error(`internal: the ${what} file is missing`);
    }
    return value;
}

/** `cosign sign` of one index, by digest. */
export function signArgs(signing: SigningConfig, files: CosignFiles, oidc: OidcSource, ref: string): string[] {
    return ["sign", ...signerArgs(signing, files, oidc), digestOnly(ref)];
}

/** `cosign attest` of one document on one platform image, by digest. */
export function attestArgs(
    signing: SigningConfig,
    files: CosignFiles,
    oidc: OidcSource,
    ref: string,
    predicate: Predicate,
    document: string,
): string[] {
    return [
        "attest",
        ...signerArgs(signing, files, oidc),
        "--type",
        PREDICATE_TYPES[predicate].cosignType,
        "--predicate",
        document,
        digestOnly(ref),
    ];
}

/** `cosign public-key`: the public half of the configured private key (its password in COSIGN_PASSWORD). */
export function publicKeyArgs(files: CosignFiles): string[] {
    return ["public-key", "--key", required(files.key, "key")];
}

/** syft's SPDX JSON of the pushed image, read from the registry (never a local daemon), by digest. */
export function syftArgs(ref: string, output: string): string[] {
    return ["scan", `registry:${digestOnly(ref)}`, "--output", `spdx-json=${output}`, "--quiet"];
}

/** `<repository>@sha256:…`; a reference with a tag, or without a digest, is refused. */
export function digestOnly(ref: string): string {
    const at = ref.indexOf("@");
    if (at < 0 || !/^sha256:[a-f0-9]{64}$/.test(ref.slice(at + 1))) {
        throw new Error(`internal: ${ref} is not a digest reference`);
    }
    const repository = ref.slice(0, at);
    // A tag is the part after the last ':' of the last path component.
    const last = repository.slice(repository.lastIndexOf("/") + 1);
    return last.includes(":")
        ? `${repository.slice(0, repository.length - last.length)}${last.slice(0, last.indexOf(":"))}@${ref.slice(at + 1)}`
        : ref;
}

/** What identifies the signer in `cosign verify`: the key, or the keyless certificate's identity and issuer. */
export function verifierArgs(signing: SigningConfig, publicKeyFile = "cosign.pub"): string[] {
    const who =
        signing.mode === "key"
            ? ["--key", publicKeyFile]
            : signing.mode === "kms"
              ? ["--key", signing.key]
              : [
                    ...(signing.identityRegexp !== undefined
                        ? ["--certificate-identity-regexp", signing.identityRegexp]
                        : ["--certificate-identity", signing.identity ?? ""]),
                    "--certificate-oidc-issuer",
                    signing.issuer,
                ];
    return usesTransparencyLog(signing)
        ? who
        : [...who, "--insecure-ignore-tlog=true", "--trusted-root", "trusted_root.json"];
}

/** `cosign verify` of an index. */
export function verifyArgs(signing: SigningConfig, ref: string, publicKeyFile?: string): string[] {
    return ["verify", ...verifierArgs(signing, publicKeyFile), digestOnly(ref)];
}

/** `cosign verify-attestation` of one document type on a platform image. */
export function verifyAttestationArgs(
    signing: SigningConfig,
    ref: string,
    predicate: Predicate,
    publicKeyFile?: string,
): string[] {
    return [
        "verify-attestation",
        ...verifierArgs(signing, publicKeyFile),
        "--type",
        PREDICATE_TYPES[predicate].cosignType,
        digestOnly(ref),
    ];
}

/** A command line for people: arguments quoted for a POSIX shell where they need it. */
export function shellLine(command: string, args: string[]): string {
    return [command, ...args]
        .map((a) => (/^[A-Za-z0-9@%+=:,./_-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`))
        .join(" ");
}

/** The per-image `signature` output: plain values a deploy needs to verify, no secrets. */
export interface SignatureOutput {
    mode: SigningConfig["mode"];
    publicKey?: string;
    kmsKey?: string;
    certificateIdentity?: string;
    /** keyless with `identityRegexp`: the pattern every signing run's identity matches. */
    certificateIdentityRegexp?: string;
    certificateOidcIssuer?: string;
    verify: string;
    verifyAttestations: string[];
}

/** The `signature` output of one image: how to verify its index and each platform's attestations. */
export function signatureOutput(signing: SigningConfig, indexRef: string, platformRefs: string[]): SignatureOutput {
    return {
        mode: signing.mode,
        ...(signing.mode === "key" ? { publicKey: signing.publicKey } : {}),
        ...(signing.mode === "kms" ? { kmsKey: signing.key } : {}),
        ...(signing.mode === "keyless"
            ? {
                  ...(signing.identityRegexp !== undefined
                      ? { certificateIdentityRegexp: signing.identityRegexp }
                      : { certificateIdentity: signing.identity }),
                  certificateOidcIssuer: signing.issuer,
              }
            : {}),
        verify: shellLine("cosign", verifyArgs(signing, indexRef)),
        verifyAttestations: platformRefs.flatMap((ref) =>
            (["provenance", "sbom"] as const).map((p) => shellLine("cosign", verifyAttestationArgs(signing, ref, p))),
        ),
    };
}
