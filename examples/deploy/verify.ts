// Checks a fleet image before a deploy uses it: cosign verifies the signature on the index
// digest, and the signed provenance and SBOM attestations on every platform digest, with the
// signer the deploy pins (`trustedSigner` in its config, or `--signer FILE`; signer.ts). The
// fleet stack's exported `images[name].signature` is never trusted: whoever can write that
// stack's outputs or state could export their own key next to their own images, and verifying
// against it would prove nothing. It is only compared with the pin, and a difference stops the
// deploy ("signer changed") before cosign runs. Commands run as argument arrays (no shell); what
// cosign says is turned into one message that names the image, the digest and the fix. Runnable
// on its own, for CI steps and for the acceptance run:
//
//   npx ts-node --transpile-only examples/deploy/verify.ts --signer SIGNER [--repository REPO] OUTPUTS.json [IMAGE…] [-- COSIGN-FLAGS…]
//
// With --repository (one image), the image's digests must be in REPO and its signed provenance
// must name REPO and the platform digest as its subject, so the outputs cannot point the deploy
// at another image the same key signed. It cannot tell an older release of REPO from the
// current one (docs/signing.md, "What a deploy's check proves").
//
// SIGNER is a JSON file with the trustedSigner object, or the fleet's cosign.pub itself;
// OUTPUTS.json is `pulumi stack output --json` of the fleet stack (or its `images` object);
// flags after `--` go to every cosign call (e.g. `--trusted-root F --insecure-ignore-tlog=true`
// for a private registry without a transparency log).

import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    describeSigner,
    exportedSigner,
    sameSigner,
    SignatureOutput,
    signerFlags,
    signerFromFile,
    TrustedSigner,
    VerifyError,
} from "./signer";

/** The predicate types the fleet attests on each platform digest (cosign `--type`). */
export const ATTESTATIONS = [
    { name: "provenance", type: "https://slsa.dev/provenance/v1" },
    { name: "SBOM", type: "spdxjson" },
] as const;

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
    /** For a provenance check: the repository its statement's subject must name, with `ref`'s digest. */
    subject?: string;
}

const DIGEST_REF = /^[^@\s]+@sha256:[0-9a-f]{64}$/;
const repositoryOf = (ref: string) => ref.slice(0, ref.lastIndexOf("@"));

/**
 * Why the provenance cosign verified for `ref` does not show it was built for `repository`, or
 * undefined when it does. cosign prints each verified attestation as a DSSE envelope, one JSON
 * object a line, whose payload is the in-toto statement; the fleet's names the repository and
 * the platform digest as its subject (runner/provenance.ts). A signature alone says only that
 * the fleet signed the digest at some point, for some image: this ties it to the image the
 * deploy expects, so another image's digest signed by the same key does not pass.
 */
export function provenanceProblem(stdout: string, ref: string, repository: string): string | undefined {
    const hex = ref.slice(ref.lastIndexOf("@sha256:") + "@sha256:".length);
    const seen: string[] = [];
    for (const line of stdout.split("\n").filter((l) => l.trim().startsWith("{"))) {
        let statement: { predicateType?: unknown; subject?: unknown };
        try {
            const envelope = JSON.parse(line) as { payload?: unknown };
            statement = JSON.parse(
                Buffer.from(String(envelope.payload), "base64").toString("utf8"),
            ) as typeof statement;
        } catch {
            continue;
        }
        if (statement.predicateType !== "https://slsa.dev/provenance/v1" || !Array.isArray(statement.subject)) {
            continue;
        }
        for (const subject of statement.subject as { name?: unknown; digest?: { sha256?: unknown } }[]) {
            if (subject.name === repository && subject.digest?.sha256 === hex) {
                return undefined;
            }
            seen.push(`${String(subject.name)}@sha256:${String(subject.digest?.sha256)}`);
        }
    }
    return seen.length === 0
        ? "cosign printed no SLSA provenance statement for it"
        : `its signed provenance was made for ${seen.join(", ")}, not ${repository}@sha256:${hex}`;
}

/**
 * Every cosign call that must pass before `image` is deployed: `verify` on the index digest,
 * then `verify-attestation` for each predicate type on each platform digest, all with the
 * pinned `signer`. Throws, naming the output, when the stack exports no signature (it signs
 * nothing), no digest, or a signer other than the pinned one.
 */
export function checksFor(
    image: string,
    output: ImageOutput | undefined,
    signer: TrustedSigner,
    keyFile: string,
    extra: string[] = [],
    repository?: string,
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
    const exported = exportedSigner(image, output.signature);
    if (!sameSigner(exported, signer)) {
        throw new VerifyError(
            `images.${image}: signer changed: the fleet stack exports ${describeSigner(exported)}, but this deploy trusts ${describeSigner(signer)}. ` +
                "Whoever can write the fleet stack's outputs could have swapped both the signer and the image, so nothing is deployed. " +
                "If the fleet's owners really changed the signer, set trustedSigner (or --signer) to the new one from a source you trust",
        );
    }
    if (repository !== undefined && repositoryOf(output.ref) !== repository) {
        throw new VerifyError(
            `images.${image}.ref is in ${repositoryOf(output.ref)}, but this deploy expects ${repository}: ` +
                "whoever can write the fleet stack's outputs could point it at another image the fleet signed, so nothing is deployed",
        );
    }
    const flags = signerFlags(signer, keyFile);
    const platforms = Object.entries(output.platforms ?? {});
    if (platforms.length === 0) {
        throw new VerifyError(
            `images.${image}.platforms is empty; the attestations hang on the platform digests, so there is nothing to check them on`,
        );
    }
    const checks: Check[] = [{ what: "signature", ref: output.ref, args: ["verify", ...flags, ...extra, output.ref] }];
    for (const [platform, { ref }] of platforms) {
        if (!ref || !DIGEST_REF.test(ref)) {
            throw new VerifyError(
                `images.${image}.platforms["${platform}"].ref is ${JSON.stringify(ref)}, not <repository>@sha256:<digest>`,
            );
        }
        if (repository !== undefined && repositoryOf(ref) !== repository) {
            throw new VerifyError(
                `images.${image}.platforms["${platform}"].ref is in ${repositoryOf(ref)}, but this deploy expects ${repository}`,
            );
        }
        checks.push(
            ...ATTESTATIONS.map((a) => ({
                what: `${a.name} attestation (${platform})`,
                ref,
                args: ["verify-attestation", ...flags, "--type", a.type, ...extra, ref],
                ...(repository !== undefined && a.name === "provenance" ? { subject: repository } : {}),
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
function run(
    file: string,
    args: string[],
    env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        execFile(file, args, { env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === "number" ? error.code : 127;
            resolve({ code, stdout: String(stdout), stderr: String(stderr) || (error?.message ?? "") });
        });
    });
}

/**
 * Verifies `image` from the fleet stack's `images` output against the pinned `signer` and
 * returns its index reference, or throws a VerifyError saying what failed. Checks run one after
 * another and stop at the first failure; the pinned public key lives in a private temporary
 * directory for as long as they run.
 */
export async function verifyImage(
    images: Record<string, ImageOutput | undefined>,
    image: string,
    opts: { env: NodeJS.ProcessEnv; signer: TrustedSigner; extraArgs?: string[]; repository?: string },
): Promise<string> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-verify-"));
    try {
        const keyFile = path.join(dir, "cosign.pub");
        const checks = checksFor(image, images[image], opts.signer, keyFile, opts.extraArgs, opts.repository);
        if (opts.signer.mode === "key") {
            fs.writeFileSync(keyFile, opts.signer.publicKey, { mode: 0o600 });
        }
        for (const check of checks) {
            const { code, stdout, stderr } = await run("cosign", check.args, opts.env);
            if (code !== 0) {
                throw new VerifyError(explain(image, check, code, stderr));
            }
            const problem =
                check.subject === undefined ? undefined : provenanceProblem(stdout, check.ref, check.subject);
            if (problem !== undefined) {
                throw new VerifyError(
                    `${image}: the ${check.what} of ${check.ref} is not for this image: ${problem}; do not deploy it`,
                );
            }
        }
        return images[image]?.ref as string;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

const USAGE =
    "usage: verify --signer SIGNER OUTPUTS.json [IMAGE…] [-- COSIGN-FLAGS…] (SIGNER: a JSON file with the trusted signer " +
    "{mode, publicKey | key | identity or identityRegexp, issuer}, or the fleet's cosign.pub; OUTPUTS.json from " +
    "`pulumi stack output --json` of the fleet stack)";

/** `--signer SIGNER OUTPUTS.json [IMAGE…] [-- FLAGS…]` → what to verify and against whom; every image when none is named. */
export function parseArgs(
    argv: string[],
    readFile: (file: string) => string,
): {
    images: Record<string, ImageOutput>;
    names: string[];
    signer: TrustedSigner;
    extraArgs: string[];
    repository?: string;
} {
    const split = argv.indexOf("--");
    let own = split === -1 ? argv : argv.slice(0, split);
    const extraArgs = split === -1 ? [] : argv.slice(split + 1);
    const r = own.indexOf("--repository");
    const repository = r === -1 ? undefined : own[r + 1];
    own = r === -1 ? own : [...own.slice(0, r), ...own.slice(r + 2)];
    const at = own.indexOf("--signer");
    const signerFile = at === -1 ? undefined : own[at + 1];
    const positional = at === -1 ? own : [...own.slice(0, at), ...own.slice(at + 2)];
    if (positional.length === 0) {
        throw new VerifyError(USAGE);
    }
    if (signerFile === undefined) {
        throw new VerifyError(
            "--signer is missing: images are verified only against a signer you pin, never the one the fleet stack exports " +
                `(whoever can write that stack's outputs could swap in their own); ${USAGE}`,
        );
    }
    const signer = signerFromFile(signerFile, readFile(signerFile));
    const outputs = JSON.parse(readFile(positional[0])) as { images?: Record<string, ImageOutput> } | null;
    const images = (
        outputs !== null && typeof outputs === "object" && "images" in outputs ? outputs.images : outputs
    ) as Record<string, ImageOutput> | null;
    if (images === null || typeof images !== "object") {
        throw new VerifyError(
            `${positional[0]} holds no images object; pass \`pulumi stack output --json\` of the fleet stack`,
        );
    }
    const names = positional.length > 1 ? positional.slice(1) : Object.keys(images);
    return { images, names, signer, extraArgs, ...(repository !== undefined ? { repository } : {}) };
}

/** The command: verifies each image, prints one line per verified image, exits 1 on the first failure. */
export async function main(
    argv: string[],
    env: NodeJS.ProcessEnv,
    print: (line: string) => void,
    fail: (line: string) => void,
): Promise<number> {
    try {
        const { images, names, signer, extraArgs, repository } = parseArgs(argv, (file) =>
            fs.readFileSync(file, "utf8"),
        );
        for (const name of names) {
            print(`verified ${name}: ${await verifyImage(images, name, { env, signer, extraArgs, repository })}`);
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
