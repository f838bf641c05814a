// The sign step of one image: an SPDX SBOM (syft, from the pushed image in the registry) and
// SLSA v1 provenance (runner/provenance.ts) attested with cosign on every platform digest, and
// every index digest signed. Runs as `node bin/runner/cli.js attest` (runner/cli.ts) with an
// AttestSpec as JSON in NBF_SPEC and its secrets as JSON on standard input; prints what it
// has signed as JSON, which the next run reads back (PULUMI_COMMAND_STDOUT) to skip digests
// this stack signed already with the same signer, as long as the registry still holds what
// was attached to them (runner/referrersTag.ts: one request per digest).

import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { SigningConfig } from "../config/signing";
import { privateDockerConfig } from "./dockerConfig";
import { privateTempDir, run, RunnerEnv, RunnerError } from "./process";
import { baseImages, BuildDeclaration, Observed, PlatformBuild, provenanceStatement } from "./provenance";
import {
    attachedTo,
    missingPredicates,
    pinReferrers,
    referrersTag,
    repositoryAndDigest,
    SIGNATURE_PREDICATE,
} from "./referrersTag";
import { RegistryClient } from "./registryClient";
import {
    acceptsIdentity,
    attestArgs,
    ciIdentity,
    CosignFiles,
    EMPTY_TRUSTED_ROOT,
    oidcSource,
    PREDICATE_TYPES,
    publicKeyArgs,
    signArgs,
    syftArgs,
    usesTransparencyLog,
} from "./signing";

export interface AttestSpec {
    /** The registry host the credentials are for. */
    registry: string;
    signing: SigningConfig;
    /** Every tag's index, `<repository>:<tag>@sha256:…`. */
    indexes: string[];
    platforms: PlatformBuild[];
    build: BuildDeclaration & { dockerfileInline?: string };
}

/** Standard input: the registry's `user:password`, and with signing.mode key the private key and its password. */
export interface AttestSecrets {
    credentials: string;
    signingKey?: string;
    signingKeyPassword?: string;
}

/** What the step prints: every `<repository>@<digest>` of this image signed or attested, → the signer that did it. */
export interface AttestReport {
    signed: Record<string, string>;
}

/** Who signs: the same id means a digest signed before needs nothing again. */
export function signerId(signing: SigningConfig): string {
    const what =
        signing.mode === "key"
            ? createHash("sha256").update(signing.publicKey.trim()).digest("hex")
            : signing.mode === "kms"
              ? signing.key
              : `${signing.identity ?? signing.identityRegexp ?? ""} ${signing.issuer}`;
    return `${signing.mode}:${what}${usesTransparencyLog(signing) ? "" : ":no-tlog"}`;
}

/** The previous run's report from PULUMI_COMMAND_STDOUT; nothing when absent or unreadable. */
export function previousReport(stdout: string | undefined): AttestReport {
    try {
        const parsed = JSON.parse(stdout ?? "") as Partial<AttestReport>;
        return { signed: typeof parsed.signed === "object" && parsed.signed !== null ? parsed.signed : {} };
    } catch {
        return { signed: {} };
    }
}

/**
 * What a signature hangs on: `<repository>@sha256:…`, without the tag. The report is keyed by
 * it, not by the bare digest, so the same digest pushed to another repository or registry (a
 * new account, a renamed image) is signed there too.
 */
function subjectOf(ref: string): string {
    const at = ref.lastIndexOf("@");
    const name = ref.slice(0, at);
    const tag = name.lastIndexOf(":");
    return `${tag > name.lastIndexOf("/") ? name.slice(0, tag) : name}@${ref.slice(at + 1)}`;
}

/** Two PEM public keys are the same key when their base64 bodies are. */
export function samePublicKey(a: string, b: string): boolean {
    const body = (pem: string) => pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
    return body(a) !== "" && body(a) === body(b);
}

/** Fails with the tool's name and what to do, before any registry is touched. */
async function requireTools(env: NodeJS.ProcessEnv): Promise<void> {
    const missing: string[] = [];
    for (const [tool, args] of [
        ["cosign", ["version"]],
        ["syft", ["version"]],
    ] as const) {
        if ((await run(tool, [...args], { env })).code === 127) {
            missing.push(tool);
        }
    }
    if (missing.length > 0) {
        throw new RunnerError(
            `signing is configured, but ${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not on PATH on this machine; install cosign v3 and syft (docs/signing.md, "Verifiable releases"), or drop signing from the stack config`,
        );
    }
}

/** Writes the key source's files: the private key (0600) and, without Rekor, the offline signing config and trusted root. */
async function cosignFiles(
    spec: AttestSpec,
    secrets: AttestSecrets,
    dir: string,
    env: NodeJS.ProcessEnv,
): Promise<CosignFiles> {
    const files: CosignFiles = {};
    if (spec.signing.mode === "key") {
        files.key = path.join(dir, "cosign.key");
        fs.writeFileSync(files.key, `${(secrets.signingKey ?? "").trim()}\n`, { mode: 0o600 });
        const pub = await run("cosign", publicKeyArgs(files), { env });
        if (pub.code !== 0) {
            throw new RunnerError(
                `the cosign private key in signingKey cannot be read with signingKeyPassword: ${(pub.stderr || pub.stdout).trim().split("\n").slice(-2).join(" ")}; ` +
                    "set both again: pulumi config set --secret signingKey < cosign.key; pulumi config set --secret signingKeyPassword <password>",
            );
        }
        if (!samePublicKey(pub.stdout, spec.signing.publicKey)) {
            throw new RunnerError(
                "signingKey is not the private half of signing.publicKey, so nothing could verify its signatures; " +
                    "set signing.publicKey to the output of `cosign public-key --key cosign.key`, or set signingKey to the key that matches it",
            );
        }
    }
    if (!usesTransparencyLog(spec.signing)) {
        files.signingConfig = path.join(dir, "signing-config.json");
        const made = await run("cosign", ["signing-config", "create", "--out", files.signingConfig], { env });
        if (made.code !== 0) {
            throw new RunnerError(
                `cosign could not write an offline signing config: ${(made.stderr || made.stdout).trim()}`,
            );
        }
        files.trustedRoot = path.join(dir, "trusted-root.json");
        fs.writeFileSync(files.trustedRoot, EMPTY_TRUSTED_ROOT);
    }
    return files;
}

/** What git, the Dockerfile, the registry and buildx say about one platform's build. */
async function observe(
    spec: AttestSpec,
    platform: PlatformBuild,
    docker: NodeJS.ProcessEnv,
    now: () => number,
): Promise<Observed> {
    const { build } = spec;
    const git = async (args: string[]) => {
        const r = await run("git", args, { env: docker });
        return r.code === 0 ? r.stdout.trim() : undefined;
    };
    const commit = await git(["rev-parse", "HEAD"]);
    const status = commit === undefined ? undefined : await git(["status", "--porcelain"]);
    const text =
        build.dockerfileInline ?? fs.readFileSync(build.dockerfile ?? path.join(build.context, "Dockerfile"), "utf8");
    const bases = await Promise.all(
        baseImages(text, { ...build.buildArgs, ...platform.buildArgs }).map(async (ref) => {
            if (ref.includes("$")) {
                return { ref, why: "the reference depends on a build arg that has no value here" };
            }
            const raw = await run("docker", ["buildx", "imagetools", "inspect", "--raw", ref], { env: docker });
            return raw.code === 0
                ? { ref, digest: `sha256:${createHash("sha256").update(raw.stdout).digest("hex")}` }
                : { ref, why: reason(raw.stderr || raw.stdout) };
        }),
    );
    const inspect = await run("docker", ["buildx", "inspect", platform.node], { env: docker });
    const buildkit = /^BuildKit version:\s*(\S+)/m.exec(inspect.stdout)?.[1];
    const config = await run(
        "docker",
        ["buildx", "imagetools", "inspect", "--format", "{{json .Image}}", platform.ref],
        { env: docker },
    );
    let created: string | undefined;
    try {
        created = config.code === 0 ? (JSON.parse(config.stdout) as { created?: string }).created : undefined;
    } catch {
        created = undefined;
    }
    // With SOURCE_DATE_EPOCH BuildKit writes that time as the config's `created`
    // (moby/buildkit docs/build-repro.md), the commit's, not when the build finished.
    if ({ ...build.buildArgs, ...platform.buildArgs }.SOURCE_DATE_EPOCH !== undefined) {
        created = undefined;
    }
    return {
        commit,
        dirty: status === undefined ? undefined : status !== "",
        dockerfileSha256: createHash("sha256").update(text).digest("hex"),
        dockerfileInline: build.dockerfileInline !== undefined,
        baseImages: bases,
        buildkitVersion: buildkit,
        finishedOn: created,
        attestedOn: new Date(now()).toISOString(),
    };
}

/** The line of a failed command's output that says why: its first error line, else its first line. */
export function reason(output: string): string {
    const lines = output
        .trim()
        .split("\n")
        .filter((l) => l.trim() !== "");
    return (
        lines.find((l) => /error|unknown|denied|unauthorized|not found|failed/i.test(l)) ??
        lines[0] ??
        "no output"
    ).trim();
}

/** cosign and its output, failing with the step and the image named. */
async function cosign(args: string[], env: NodeJS.ProcessEnv, what: string): Promise<void> {
    const r = await run("cosign", args, { env });
    if (r.code !== 0) {
        throw new RunnerError(
            `cosign could not ${what}: ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" ")}`,
        );
    }
}

/** SBOM and provenance of one platform image, each attested on its digest. */
async function attestPlatform(
    spec: AttestSpec,
    platform: PlatformBuild,
    files: CosignFiles,
    dir: string,
    docker: NodeJS.ProcessEnv,
    signer: NodeJS.ProcessEnv,
    env: RunnerEnv,
): Promise<void> {
    const slug = platform.platform.replace(/\//g, "-");
    const sbom = path.join(dir, `sbom-${slug}.spdx.json`);
    const scan = await run("syft", syftArgs(platform.ref, sbom), { env: docker });
    if (scan.code !== 0 || !fs.existsSync(sbom)) {
        throw new RunnerError(
            `syft could not read ${platform.ref} (${platform.platform}) from the registry: ${(scan.stderr || scan.stdout).trim().split("\n").slice(-3).join(" ")}`,
        );
    }
    const provenance = path.join(dir, `provenance-${slug}.json`);
    const statement = provenanceStatement(spec.build, platform, await observe(spec, platform, docker, env.now));
    // cosign attest takes the predicate and wraps it in its own in-toto statement about the
    // digest, whose `_type` is Statement v0.1 (pkg/cosign/attestation GenerateStatement); its
    // `--statement` option exists only for attest-blob. The subject is the same digest.
    fs.writeFileSync(provenance, JSON.stringify(statement.predicate));
    const oidc = oidcSource(env.env);
    await cosign(
        attestArgs(spec.signing, files, oidc, platform.ref, "provenance", provenance),
        signer,
        `attest the provenance of ${platform.ref} (${platform.platform})`,
    );
    await cosign(
        attestArgs(spec.signing, files, oidc, platform.ref, "sbom", sbom),
        signer,
        `attest the SBOM of ${platform.ref} (${platform.platform})`,
    );
    env.log(`attested provenance and SBOM on ${platform.ref} (${platform.platform})`);
}

/** The predicate types a platform image carries once attested, and an index once signed. */
const ATTESTED = [PREDICATE_TYPES.provenance.uri, PREDICATE_TYPES.sbom.uri];
const SIGNED = [SIGNATURE_PREDICATE];

/**
 * Whether `subject` needs signing: not when the previous run signed it with the same signer
 * and its referrers tag still lists a bundle of each wanted type (expired, or deleted by
 * hand, it is signed again).
 */
async function needsSigning(
    client: RegistryClient,
    spec: AttestSpec,
    subject: string,
    wanted: string[],
    signedBy: string | undefined,
    who: string,
    env: RunnerEnv,
): Promise<boolean> {
    if (signedBy !== who) {
        return true;
    }
    const { repository, digest } = repositoryAndDigest(spec.registry, subject);
    const missing = missingPredicates(await attachedTo(client, spec.registry, repository, digest), wanted);
    if (missing.length > 0) {
        env.log(
            `${subject} was signed by the last update, but the registry no longer lists its ${missing.join(", ")} bundle under ${repository}:${referrersTag(digest)}: signing it again`,
        );
    }
    return missing.length > 0;
}

/** After signing: what was attached is listed under the subject's referrers tag, or the step fails. */
async function keepAttached(
    client: RegistryClient,
    spec: AttestSpec,
    subject: string,
    wanted: string[],
): Promise<void> {
    const { repository, digest } = repositoryAndDigest(spec.registry, subject);
    await pinReferrers(client, spec.registry, repository, digest);
    const missing = missingPredicates(await attachedTo(client, spec.registry, repository, digest), wanted);
    if (missing.length > 0) {
        throw new RunnerError(
            `cosign reported success, but ${spec.registry} lists no ${missing.join(", ")} bundle for ${subject} under ${repository}:${referrersTag(digest)} ` +
                "(neither cosign's tag nor the referrers API has it), so nothing could verify it; check that the registry keeps OCI artifacts (manifests with a subject) and their tags",
        );
    }
}

/**
 * Keyless: refuses, before signing, a run whose certificate identity the stack's verifiers
 * would reject (a v* tag run when `signing.identity` names the main branch), instead of
 * pushing signatures that fail every deploy.
 */
function checkIdentity(signing: SigningConfig, env: NodeJS.ProcessEnv): void {
    const identity = ciIdentity(env);
    if (signing.mode !== "keyless" || identity === undefined || acceptsIdentity(signing, identity)) {
        return;
    }
    const key =
        signing.identityRegexp !== undefined
            ? `signing.identityRegexp (${signing.identityRegexp})`
            : `signing.identity (${signing.identity ?? ""})`;
    throw new RunnerError(
        `this run's certificate identity is ${identity}, which ${key} does not accept, so the stack's verify commands would reject everything it signs; ` +
            "set signing.identityRegexp to a pattern every ref that runs `pulumi up` matches, such as " +
            '^https://github\\.com/OWNER/REPOSITORY/\\.github/workflows/fleet\\.yml@refs/(heads/main|tags/v.+)$ (README, "CI pipelines")',
    );
}

/** Signs and attests what this stack has not signed yet with this signer; returns the report to print. */
export async function attest(spec: AttestSpec, secrets: AttestSecrets, env: RunnerEnv): Promise<AttestReport> {
    await requireTools(env.env);
    if (spec.signing.mode === "keyless" && oidcSource(env.env) === "none") {
        throw new RunnerError(
            "signing.mode is keyless, but this machine has no OIDC token for Fulcio: run pulumi up in GitHub Actions with `permissions: id-token: write`, " +
                "or in GitLab CI with an `id_tokens: SIGSTORE_ID_TOKEN: {aud: sigstore}` job token; elsewhere use signing.mode key or kms",
        );
    }
    checkIdentity(spec.signing, env.env);
    const tmp = privateTempDir("nbf-attest-");
    try {
        const docker = privateDockerConfig(tmp.dir, spec.registry, secrets.credentials, env.env);
        // Only cosign sees the key's password, and only through the variable it reads (COSIGN_PASSWORD).
        const signer =
            spec.signing.mode === "key" ? { ...docker, COSIGN_PASSWORD: secrets.signingKeyPassword ?? "" } : docker;
        const files = await cosignFiles(spec, secrets, tmp.dir, signer);
        const client = new RegistryClient(spec.registry, secrets.credentials, env.env);
        const who = signerId(spec.signing);
        const before = previousReport(env.env.PULUMI_COMMAND_STDOUT).signed;
        const signed: Record<string, string> = {};
        for (const platform of spec.platforms) {
            const subject = subjectOf(platform.ref);
            if (await needsSigning(client, spec, subject, ATTESTED, before[subject], who, env)) {
                await attestPlatform(spec, platform, files, tmp.dir, docker, signer, env);
                await keepAttached(client, spec, subject, ATTESTED);
            } else {
                env.log(`${platform.ref} (${platform.platform}) is attested already`);
            }
            signed[subject] = who;
        }
        for (const ref of [...new Map(spec.indexes.map((r) => [subjectOf(r), r])).values()]) {
            const subject = subjectOf(ref);
            if (await needsSigning(client, spec, subject, SIGNED, before[subject], who, env)) {
                await cosign(signArgs(spec.signing, files, oidcSource(env.env), ref), signer, `sign ${ref}`);
                await keepAttached(client, spec, subject, SIGNED);
                env.log(`signed ${ref}`);
            } else {
                env.log(`${ref} is signed already`);
            }
            signed[subject] = who;
        }
        return { signed };
    } finally {
        tmp.remove();
    }
}
