// The signer a deploy trusts (examples/deploy/verify.ts verifies with it): pinned in the
// deploy's own config (`trustedSigner`) or given to the command (`--signer`), never taken from
// the fleet stack's outputs. Whoever can write that stack's outputs or state could export their
// own key next to their own images; the exported signer is only compared with the pin here.

import { createHash } from "crypto";
import { z } from "zod";

/** A failure whose message is the whole story for the deploy's log. */
export class VerifyError extends Error {}

/** `images[name].signature` as the fleet stack exports it (absent when it signs nothing). */
export interface SignatureOutput {
    mode: "key" | "kms" | "keyless";
    publicKey?: string;
    kmsKey?: string;
    certificateIdentity?: string;
    certificateIdentityRegexp?: string;
    certificateOidcIssuer?: string;
    verify?: string;
    verifyAttestations?: string[];
}

const PEM_PUBLIC_KEY = /^\s*-----BEGIN PUBLIC KEY-----\s+([A-Za-z0-9+/=\s]+?)\s*-----END PUBLIC KEY-----\s*$/;

/**
 * The signer a deploy trusts, in the fleet's own `signing` shape (without `transparencyLog`),
 * so the fleet's owner can hand it over as written: a cosign public key, an AWS KMS key URI, or
 * a keyless identity (or anchored identity pattern) and OIDC issuer.
 */
const trustedSignerSchema = z.discriminatedUnion(
    "mode",
    [
        z
            .object({
                mode: z.literal("key"),
                publicKey: z
                    .string()
                    .regex(PEM_PUBLIC_KEY, "must be the fleet's cosign public key in PEM form (its cosign.pub)"),
            })
            .strict(),
        z
            .object({
                mode: z.literal("kms"),
                key: z
                    .string()
                    .regex(
                        /^awskms:\/\/\S+$/,
                        "must be the fleet's AWS KMS key URI, such as awskms:///alias/release-signing",
                    ),
            })
            .strict(),
        z
            .object({
                mode: z.literal("keyless"),
                identity: z.string().min(1, "must be the certificate identity the fleet signs with").optional(),
                // A pattern that is not anchored would let a look-alike identity through (cosign
                // searches with it, as Go's MatchString does); the fleet's config checks the full RE2.
                identityRegexp: z
                    .string()
                    .regex(/^\^.*\$$/, "must be a regular expression anchored with ^ and $")
                    .optional(),
                issuer: z.url({
                    protocol: /^https$/,
                    error: "must be the OIDC issuer URL, such as https://gitlab.com",
                }),
            })
            .strict()
            .refine((s) => (s.identity === undefined) !== (s.identityRegexp === undefined), {
                path: ["identity"],
                message: "set exactly one of identity and identityRegexp",
            }),
    ],
    { error: 'must be "key", "kms" or "keyless", as in the fleet stack\'s signing config' },
);

export type TrustedSigner = z.infer<typeof trustedSignerSchema>;

/**
 * The pinned signer from `raw` (the deploy's `trustedSigner` config, or a `--signer` file), or a
 * VerifyError that lists every problem under `source`. Absent is an error too: a deploy that
 * verifies against whatever the fleet stack exports verifies nothing.
 */
export function parseTrustedSigner(raw: unknown, source: string): TrustedSigner {
    // `pulumi config set --path` writes one field of an object, and takes a multi-line value (the
    // PEM) piped to standard input: https://www.pulumi.com/docs/iac/cli/commands/pulumi_config_set/
    if (raw === undefined || raw === null || raw === "") {
        throw new VerifyError(
            `${source} is not set: this deploy verifies images only against a signer it pins itself, never the one the fleet stack exports ` +
                "(whoever can write that stack's outputs could swap in their own). " +
                (source.startsWith("--signer")
                    ? "Give the fleet's cosign.pub, or a JSON file with the fleet's signing config without transparencyLog"
                    : "Copy the fleet's signing config without transparencyLog, e.g. `pulumi config set --path trustedSigner.mode key` " +
                      "and `pulumi config set --path trustedSigner.publicKey < cosign.pub`"),
        );
    }
    if (typeof raw !== "object" || Array.isArray(raw)) {
        throw new VerifyError(
            `${source} must be an object {mode: key, publicKey} | {mode: kms, key} | {mode: keyless, identity or identityRegexp, issuer}, not ${JSON.stringify(raw)}`,
        );
    }
    const parsed = trustedSignerSchema.safeParse(raw);
    if (!parsed.success) {
        const problems = parsed.error.issues.map((i) => `${[source, ...i.path].join(".")}: ${i.message}`);
        throw new VerifyError(`the trusted signer is not valid:\n  - ${problems.join("\n  - ")}`);
    }
    return parsed.data;
}

/** The base64 body of a PEM public key, without whitespace: what two copies of one key share. */
function keyBody(pem: string): string {
    return (PEM_PUBLIC_KEY.exec(pem)?.[1] ?? pem).replace(/\s+/g, "");
}

/** A signer in a line: the key's SHA-256 (of its DER bytes), the KMS URI, or identity and issuer. */
export function describeSigner(signer: TrustedSigner): string {
    switch (signer.mode) {
        case "key":
            return `public key sha256:${createHash("sha256")
                .update(Buffer.from(keyBody(signer.publicKey), "base64"))
                .digest("hex")}`;
        case "kms":
            return `KMS key ${signer.key}`;
        case "keyless":
            return signer.identityRegexp !== undefined
                ? `keyless identity pattern ${signer.identityRegexp} from ${signer.issuer}`
                : `keyless identity ${signer.identity} from ${signer.issuer}`;
    }
}

/** Whether two signers are the same: key bodies, KMS URIs, identities and issuers, exactly. */
export function sameSigner(a: TrustedSigner, b: TrustedSigner): boolean {
    switch (a.mode) {
        case "key":
            return b.mode === "key" && keyBody(a.publicKey) === keyBody(b.publicKey);
        case "kms":
            return b.mode === "kms" && a.key === b.key;
        case "keyless":
            return (
                b.mode === "keyless" &&
                a.identity === b.identity &&
                a.identityRegexp === b.identityRegexp &&
                a.issuer === b.issuer
            );
    }
}

/**
 * The signer the fleet stack says it signs with, in the pinned signer's shape, for comparison
 * only. Throws, naming the output, when the stack's outputs are incomplete.
 */
export function exportedSigner(image: string, signature: SignatureOutput): TrustedSigner {
    const missing = (field: string) =>
        new VerifyError(
            `images.${image}.signature.${field} is missing for mode "${signature.mode}"; the fleet stack's outputs are incomplete: run \`pulumi up\` on it again`,
        );
    switch (signature.mode) {
        case "key":
            if (!signature.publicKey) {
                throw missing("publicKey");
            }
            return { mode: "key", publicKey: signature.publicKey };
        case "kms":
            if (!signature.kmsKey) {
                throw missing("kmsKey");
            }
            return { mode: "kms", key: signature.kmsKey };
        case "keyless":
            if (!signature.certificateIdentity && !signature.certificateIdentityRegexp) {
                throw missing("certificateIdentity");
            }
            if (!signature.certificateOidcIssuer) {
                throw missing("certificateOidcIssuer");
            }
            return {
                mode: "keyless",
                ...(signature.certificateIdentityRegexp
                    ? { identityRegexp: signature.certificateIdentityRegexp }
                    : { identity: signature.certificateIdentity }),
                issuer: signature.certificateOidcIssuer,
            };
        default:
            throw new VerifyError(
                `images.${image}.signature.mode is "${String((signature as { mode: unknown }).mode)}"; expected "key", "kms" or "keyless"`,
            );
    }
}

/**
 * The flags that tie a verification to the pinned signer. `keyFile` is where the caller wrote
 * its public key (cosign reads keys from files or KMS URIs only).
 */
export function signerFlags(signer: TrustedSigner, keyFile: string): string[] {
    switch (signer.mode) {
        case "key":
            return ["--key", keyFile];
        case "kms":
            return ["--key", signer.key];
        case "keyless":
            // The pinned identity, or the pinned anchored pattern (for a pipeline that signs on
            // main and on v* tags); never a pattern made up here.
            return [
                ...(signer.identityRegexp !== undefined
                    ? ["--certificate-identity-regexp", signer.identityRegexp]
                    : ["--certificate-identity", signer.identity!]),
                "--certificate-oidc-issuer",
                signer.issuer,
            ];
    }
}

/** A `--signer` file: the fleet's cosign.pub as it is, or the trustedSigner object in JSON. */
export function signerFromFile(file: string, text: string): TrustedSigner {
    const source = `--signer ${file}`;
    if (text.trimStart().startsWith("-----BEGIN")) {
        return parseTrustedSigner({ mode: "key", publicKey: text }, source);
    }
    let raw: unknown;
    try {
        raw = JSON.parse(text) as unknown;
    } catch (error) {
        throw new VerifyError(`${source} is neither a PEM public key nor JSON (${String(error)})`);
    }
    return parseTrustedSigner(raw, source);
}
