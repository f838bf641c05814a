// Checks a fleet image before a deploy uses it: cosign verifies the signature on the index
// digest, and the signed provenance and SBOM attestations on every platform digest, with the
// key or keyless identity the fleet stack exports in `images[name].signature`. Commands run as
// argument arrays (no shell); what cosign says is turned into one message that names the image,
// the digest and the fix. Runnable on its own, for CI steps and for the acceptance run:
//
//   npx ts-node --transpile-only examples/deploy/verify.ts OUTPUTS.json [IMAGE…] [-- COSIGN-FLAGS…]
//
// OUTPUTS.json is `pulumi stack output --json` of the fleet stack (or its `images` object);
// flags after `--` go to every cosign call (e.g. `--trusted-root F --insecure-ignore-tlog=true`
// for a private registry without a transparency log).

import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** The predicate types the fleet attests on each platform digest (cosign `--type`). */
export const ATTESTATIONS = [
    { name: "provenance", type: "https://slsa.dev/provenance/v1" },
    { name: "SBOM", type: "spdxjson" },
] as const;

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

export interface ImageOutput {
    ref?: string;
    platforms?: Record<string, { ref?: string }>;
    signature?: SignatureOutput;
}

/** One cosign call: what it checks, for the message, and its arguments. */
export interface Check {
    what: string;
    ref: string;
    args: string[];
}

/** A failure whose message is the whole story for the deploy's log. */
export class VerifyError extends Error {}

const DIGEST_REF = /^[^@\s]+@sha256:[0-9a-f]{64}$/;

/**
 * The flags that tie a verification to the fleet's signer, for each key source. `keyFile` is
 * where the caller wrote `publicKey` (cosign reads keys from files or KMS URIs only).
 */
export function signerFlags(image: string, signature: SignatureOutput, keyFile: string): string[] {
    const missing = (field: string) =>
        new VerifyError(
            `images.${image}.signature.${field} is missing for mode "${signature.mode}"; the fleet stack's outputs are incomplete: run \`pulumi up\` on it again`,
        );
    switch (signature.mode) {
        case "key":
            if (!signature.publicKey) {
                throw missing("publicKey");
            }
            return ["--key", keyFile];
        case "kms":
            if (!signature.kmsKey) {
                throw missing("kmsKey");
            }
            return ["--key", signature.kmsKey];
        case "keyless":
            if (!signature.certificateIdentity && !signature.certificateIdentityRegexp) {
                throw missing("certificateIdentity");
            }
            if (!signature.certificateOidcIssuer) {
                throw missing("certificateOidcIssuer");
            }
            // The fleet's own identity, or its own anchored pattern (signing.identityRegexp, for a
            // pipeline that signs on main and on v* tags); never a pattern made up here.
            return [
                ...(signature.certificateIdentityRegexp
                    ? ["--certificate-identity-regexp", signature.certificateIdentityRegexp]
                    : ["--certificate-identity", signature.certificateIdentity!]),
                "--certificate-oidc-issuer",
                signature.certificateOidcIssuer,
            ];
        default:
            throw new VerifyError(
                `images.${image}.signature.mode is "${String((signature as { mode: unknown }).mode)}"; expected "key", "kms" or "keyless"`,
            );
    }
}

/**
 * Every cosign call that must pass before `image` is deployed: `verify` on the index digest,
 * then `verify-attestation` for each predicate type on each platform digest. Throws, naming
 * the output, when the stack exports no signature (it signs nothing) or no digest.
 */
export function checksFor(
    image: string,
    output: ImageOutput | undefined,
    keyFile: string,
    extra: string[] = [],
): Check[] {
    if (output === undefined) {
        throw new VerifyError(
            `the build stack exports no image "${image}"; check the image name against its images config`,
        );
    }
    if (!output.ref || !DIGEST_REF.test(output.ref)) {
        throw new VerifyError(
            `images.${image}.ref is ${JSON.stringify(output.ref)}, not <repository>@sha256:<digest>; deploy only what the fleet stack built and exported`,
        );
    }
    if (output.signature === undefined) {
        throw new VerifyError(
            `images.${image} has no signature: the fleet stack signs nothing, so nothing proves who built ${output.ref}. ` +
                "Set `signing` in the fleet stack's config and run `pulumi up` there, then deploy again",
        );
    }
    const signer = signerFlags(image, output.signature, keyFile);
    const platforms = Object.entries(output.platforms ?? {});
    if (platforms.length === 0) {
        throw new VerifyError(
            `images.${image}.platforms is empty; the attestations hang on the platform digests, so there is nothing to check them on`,
        );
    }
    const checks: Check[] = [{ what: "signature", ref: output.ref, args: ["verify", ...signer, ...extra, output.ref] }];
    for (const [platform, { ref }] of platforms) {
        if (!ref || !DIGEST_REF.test(ref)) {
            throw new VerifyError(
                `images.${image}.platforms["${platform}"].ref is ${JSON.stringify(ref)}, not <repository>@sha256:<digest>`,
            );
        }
        checks.push(
            ...ATTESTATIONS.map((a) => ({
                what: `${a.name} attestation (${platform})`,
                ref,
                args: ["verify-attestation", ...signer, "--type", a.type, ...extra, ref],
            })),
        );
    }
    return checks;
}

/** What went wrong, in a deploy's words, from cosign's exit code and standard error. */
export function explain(image: string, check: Check, code: number, stderr: string): string {
    const said =
        stderr
            .split("\n")
            .map((l) => l.trim())
            .filter((l) => l !== "" && !l.startsWith("WARNING"))
            .pop() ?? `exit code ${code}`;
    const head = `${image}: the ${check.what} of ${check.ref} did not verify`;
    if (code === 127 || /ENOENT|not found in \$?PATH|command not found/i.test(said)) {
        return `${image}: cosign is not installed or not on PATH (${said}); install cosign v3 to verify images before deploying`;
    }
    if (
        /no (matching )?signatures|no signatures found|no matching attestations|none of the attestations matched|no attestations found/i.test(
            stderr,
        )
    ) {
        return (
            `${head}: nothing signed by the fleet's ${check.args.includes("--key") ? "key" : "identity"} is attached to it (${said}). ` +
            "Either someone other than the fleet pushed it, or the fleet stack has not signed it yet: do not deploy it"
        );
    }
    if (
        /invalid signature|signature.*(mismatch|failed)|verification failed|crypto\/.*: verification error|expected identity not found|none of the expected identities/i.test(
            stderr,
        )
    ) {
        return `${head}: a signature is attached but does not match the fleet's signer (${said}); do not deploy it`;
    }
    return `${head}: ${said}`;
}

/** Runs one command without a shell; never rejects (a missing command is code 127). */
function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string }> {
    return new Promise((resolve) => {
        execFile(file, args, { env, maxBuffer: 16 * 1024 * 1024 }, (error, _stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === "number" ? error.code : 127;
            resolve({ code, stderr: String(stderr) || (error?.message ?? "") });
        });
    });
}

/**
 * Verifies `image` from the fleet stack's `images` output and returns its index reference, or
 * throws a VerifyError saying what failed. Checks run one after another and stop at the first
 * failure; the public key lives in a private temporary directory for as long as they run.
 */
export async function verifyImage(
    images: Record<string, ImageOutput | undefined>,
    image: string,
    opts: { env: NodeJS.ProcessEnv; extraArgs?: string[] },
): Promise<string> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-verify-"));
    try {
        const keyFile = path.join(dir, "cosign.pub");
        const checks = checksFor(image, images[image], keyFile, opts.extraArgs);
        const signature = images[image]?.signature;
        if (signature?.mode === "key" && signature.publicKey) {
            fs.writeFileSync(keyFile, signature.publicKey, { mode: 0o600 });
        }
        for (const check of checks) {
            const { code, stderr } = await run("cosign", check.args, opts.env);
            if (code !== 0) {
                throw new VerifyError(explain(image, check, code, stderr));
            }
        }
        return images[image]?.ref as string;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** `OUTPUTS.json [IMAGE…] [-- FLAGS…]` → what to verify; every image when none is named. */
export function parseArgs(
    argv: string[],
    readJson: (file: string) => unknown,
): { images: Record<string, ImageOutput>; names: string[]; extraArgs: string[] } {
    const split = argv.indexOf("--");
    const positional = split === -1 ? argv : argv.slice(0, split);
    const extraArgs = split === -1 ? [] : argv.slice(split + 1);
    if (positional.length === 0) {
        throw new VerifyError(
            "usage: verify OUTPUTS.json [IMAGE…] [-- COSIGN-FLAGS…] (OUTPUTS.json from `pulumi stack output --json` of the fleet stack)",
        );
    }
    const outputs = readJson(positional[0]) as { images?: Record<string, ImageOutput> } | null;
    const images = (
        outputs !== null && typeof outputs === "object" && "images" in outputs ? outputs.images : outputs
    ) as Record<string, ImageOutput> | null;
    if (images === null || typeof images !== "object") {
        throw new VerifyError(
            `${positional[0]} holds no images object; pass \`pulumi stack output --json\` of the fleet stack`,
        );
    }
    const names = positional.length > 1 ? positional.slice(1) : Object.keys(images);
    return { images, names, extraArgs };
}

/** The command: verifies each image, prints one line per verified image, exits 1 on the first failure. */
export async function main(
    argv: string[],
    env: NodeJS.ProcessEnv,
    print: (line: string) => void,
    fail: (line: string) => void,
): Promise<number> {
    try {
        const { images, names, extraArgs } = parseArgs(
            argv,
            (file) => JSON.parse(fs.readFileSync(file, "utf8")) as unknown,
        );
        for (const name of names) {
            print(`verified ${name}: ${await verifyImage(images, name, { env, extraArgs })}`);
        }
        return 0;
    } catch (error) {
        fail(error instanceof VerifyError ? `verify: ${error.message}` : `verify: ${String(error)}`);
        return 1;
    }
}

if (require.main === module) {
    void main(
        process.argv.slice(2),
        process.env,
        (line) => console.log(line),
        (line) => console.error(line),
    ).then((code) => {
        process.exitCode = code;
    });
}
