// The `signing` config: how every pushed image is signed and attested with cosign
// (docs/signing.md, "Verifiable releases"). Absent: nothing is signed, and the program says so.

import { z } from "zod";
import { commonPattern } from "./identityPattern";
import { Reporter } from "./projectPaths";

const PUBLIC_KEY = /^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\s*$/;

/**
 * The AWS KMS key URIs cosign accepts (sigstore/sigstore pkg/signature/kms/aws, `ParseReference`):
 * `awskms://[endpoint]/` then a key id, an alias, or a key or alias ARN.
 */
export const AWS_KMS_URI = new RegExp(
    "^awskms://([a-z0-9.-]+(:[0-9]{1,5})?)?/(" +
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|alias/[A-Za-z0-9/_-]+|" +
        "arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key/([0-9a-f-]{36}|mrk-[0-9a-f]{32})|alias/[A-Za-z0-9/_-]+))$",
);

/**
 * `transparencyLog: false` (key and kms only) signs without Rekor, for registries and readers
 * that cannot reach Sigstore's public instance; verifiers then pass `--insecure-ignore-tlog=true`.
 */
export const signingSchema = z.discriminatedUnion("mode", [
    z
        .object({
            mode: z.literal("key"),
            publicKey: z
                .string()
                .regex(
                    PUBLIC_KEY,
                    "must be a cosign public key in PEM form (the contents of cosign.pub, from `cosign generate-key-pair`)",
                ),
            transparencyLog: z.boolean().default(true),
        })
        .strict(),
    z
        .object({
            mode: z.literal("kms"),
            key: z
                .string()
                .regex(
                    AWS_KMS_URI,
                    "must be an AWS KMS key URI such as awskms:///arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab or awskms:///alias/release-signing",
                ),
            transparencyLog: z.boolean().default(true),
        })
        .strict(),
    z
        .object({
            mode: z.literal("keyless"),
            identity: z
                .string()
                .min(
                    1,
                    "must be the certificate identity verifiers expect, such as https://github.com/org/repo/.github/workflows/fleet.yml@refs/heads/main",
                )
                .optional(),
            identityRegexp: z
                .string()
                .superRefine((pattern, ctx) => {
                    const problem = identityRegexpProblem(pattern);
                    if (problem !== undefined) {
                        ctx.addIssue({ code: "custom", message: problem });
                    }
                })
                .optional(),
            issuer: z.url({
                protocol: /^https$/,
                error: "must be the OIDC issuer URL, such as https://token.actions.githubusercontent.com or https://gitlab.com",
            }),
        })
        .strict()
        .refine((s) => (s.identity === undefined) !== (s.identityRegexp === undefined), {
            path: ["identity"],
            message:
                "set exactly one of signing.identity (one exact certificate identity) and signing.identityRegexp (a pattern, for a pipeline that signs on its main branch and on v* tags, " +
                'each run certified with its own ref: README, "CI pipelines")',
        }),
]);

const EXAMPLE_PATTERN = "^https://github\\.com/org/repo/\\.github/workflows/fleet\\.yml@refs/(heads/main|tags/v[^/]+)$";

/**
 * Why `pattern` cannot be signing.identityRegexp, or nothing. It must be in the syntax cosign's Go
 * regexp (RE2) and JavaScript read alike (config/identityPattern.ts), and anchored at both ends
 * with no `|` outside a group (`^a|b$` would accept any identity that ends in b), so it cannot
 * match inside a longer identity.
 */
export function identityRegexpProblem(pattern: string): string | undefined {
    const read = commonPattern(pattern);
    if ("problem" in read) {
        return (
            `must be a regular expression in the syntax cosign (Go's regexp, RE2) and this program read alike, but ${read.problem}; ` +
            `set native-build-fleet:signing identityRegexp to a pattern such as ${EXAMPLE_PATTERN}`
        );
    }
    if (!read.pattern.anchored) {
        return (
            "must be a regular expression anchored with ^ and $ and with no | outside a group (unanchored, it would accept any identity that contains a match); " +
            `set native-build-fleet:signing identityRegexp to a pattern such as ${EXAMPLE_PATTERN}`
        );
    }
    return undefined;
}

/** Whether `pattern` is one signing.identityRegexp takes. */
export function anchoredRegexp(pattern: string): boolean {
    return identityRegexpProblem(pattern) === undefined;
}

export type SigningConfig = z.infer<typeof signingSchema>;

/** Which signing secrets are set in the stack config (their values never pass through here). */
export interface SigningSecretsSet {
    signingKey?: boolean;
    signingKeyPassword?: boolean;
}

/** A key pair needs its private half and its password as config secrets. */
export function checkSigningSecrets(
    signing: SigningConfig | undefined,
    set: SigningSecretsSet,
    report: Reporter,
): void {
    if (signing?.mode !== "key") {
        return;
    }
    if (!set.signingKey) {
        report(
            "signingKey",
            "signing.mode is key, so the cosign private key is needed; run `pulumi config set --secret signingKey < cosign.key`",
        );
    }
    if (!set.signingKeyPassword) {
        report(
            "signingKeyPassword",
            "signing.mode is key, so the private key's password is needed; run `pulumi config set --secret signingKeyPassword <password>`",
        );
    }
}
