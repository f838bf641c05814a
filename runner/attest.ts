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
import { DEFAULT_DOCKERFILE } from "../config/imageDefaults";
import { SigningConfig } from "../config/signing";
import { privateDockerConfig } from "./dockerConfig";
import { privateTempDir, run, RunnerEnv, RunnerError } from "./process";
import { oncePerKey, together } from "./together";
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

/** Fails with the tool's name and what to do, before any registry is touched; both probes at once. */
async function requireTools(env: NodeJS.ProcessEnv): Promise<void> {
    const probes = await Promise.all(
        (["cosign", "syft"] as const).map(async (tool) => ({
            tool,
            code: (await run(tool, ["version"], { env })).code,
        })),
    );
    const missing = probes.filter((p) => p.code === 127).map((p) => p.tool);
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
    // The key check and the offline signing config do not depend on each other: both at once.
    const key = async () => {
        if (spec.signing.mode !== "key") {
            return;
        }
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
    };
    const offline = async () => {
        if (usesTransparencyLog(spec.signing)) {
            return;
        }
        files.signingConfig = path.join(dir, "signing-config.json");
        const made = await run("cosign", ["signing-config", "create", "--out", files.signingConfig], { env });
        if (made.code !== 0) {
            throw new RunnerError(
                `cosign could not write an offline signing config: ${(made.stderr || made.stdout).trim()}`,
            );
        }
        files.trustedRoot = path.join(dir, "trusted-root.json");
        fs.writeFileSync(files.trustedRoot, EMPTY_TRUSTED_ROOT);
    };
    await together([key(), offline()]);
    return files;
}

/**
 * What the step asks once, however many platforms need it: the commit and the tree's state,
 * the Dockerfile, each base image's digest (per distinct reference) and each node's BuildKit
 * version (`docker buildx inspect` reaches the node over SSH, so per node, not per platform).
 */
interface Facts {
    git: () => Promise<{ commit?: string; dirty?: boolean }>;
    dockerfile: () => string;
    base: (ref: string) => Promise<{ ref: string; digest?: string; why?: string }>;
    buildkit: (node: string) => Promise<string | undefined>;
}

function facts(spec: AttestSpec, docker: NodeJS.ProcessEnv): Facts {
    const { build } = spec;
    const git = async (args: string[]) => {
        const r = await run("git", args, { env: docker });
        return r.code === 0 ? r.stdout.trim() : undefined;
    };
    const repo = oncePerKey(async () => {
        // Both at once: outside a repository both fail, and the tree's state is then unknown.
        const [commit, status] = await Promise.all([git(["rev-parse", "HEAD"]), git(["status", "--porcelain"])]);
        return { commit, dirty: commit === undefined || status === undefined ? undefined : status !== "" };
    });
    let text: string | undefined;
    return {
        git: () => repo(""),
        dockerfile: () =>
            (text ??=
                build.dockerfileInline ??
                fs.readFileSync(build.dockerfile ?? path.join(build.context, DEFAULT_DOCKERFILE), "utf8")),
        base: oncePerKey(async (ref) => {
            if (ref.includes("$")) {
                return { ref, why: "the reference depends on a build arg that has no value here" };
            }
            const raw = await run("docker", ["buildx", "imagetools", "inspect", "--raw", ref], { env: docker });
            return raw.code === 0
                ? { ref, digest: `sha256:${createHash("sha256").update(raw.stdout).digest("hex")}` }
                : { ref, why: reason(raw.stderr || raw.stdout) };
        }),
        buildkit: oncePerKey(async (node) => {
            const inspect = await run("docker", ["buildx", "inspect", node], { env: docker });
            return /^BuildKit version:\s*(\S+)/m.exec(inspect.stdout)?.[1];
        }),
    };
}

/** What git, the Dockerfile, the registry and buildx say about one platform's build; its own questions at once. */
async function observe(
    spec: AttestSpec,
    platform: PlatformBuild,
    known: Facts,
    docker: NodeJS.ProcessEnv,
    now: () => number,
): Promise<Observed> {
    const { build } = spec;
    const text = known.dockerfile();
    const [source, bases, buildkit, config] = await Promise.all([
        known.git(),
        Promise.all(baseImages(text, { ...build.buildArgs, ...platform.buildArgs }).map(known.base)),
        known.buildkit(platform.node),
        run("docker", ["buildx", "imagetools", "inspect", "--format", "{{json .Image}}", platform.ref], {
            env: docker,
        }),
    ]);
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
        commit: source.commit,
        dirty: source.dirty,
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

/**
 * SBOM and provenance of one platform image, each attested on its digest. The scan and the
 * observation run at once, and the provenance is attested while syft may still be scanning;
 * the two attests stay one after the other: without the referrers API cosign appends each
 * bundle to the one `sha256-<hex>` tag of the digest by read-modify-write
 * (go-containerregistry#2205), so two at once could drop one.
 */
async function attestPlatform(
    spec: AttestSpec,
    platform: PlatformBuild,
    files: CosignFiles,
    dir: string,
    known: Facts,
    docker: NodeJS.ProcessEnv,
    signer: NodeJS.ProcessEnv,
    env: RunnerEnv,
): Promise<void> {
    const slug = platform.platform.replace(/\//g, "-");
    const sbom = path.join(dir, `sbom-${slug}.spdx.json`);
    const scanning = run("syft", syftArgs(platform.ref, sbom), { env: docker });
    const oidc = oidcSource(env.env);
    try {
        const provenance = path.join(dir, `provenance-${slug}.json`);
        const statement = provenanceStatement(
            spec.build,
            platform,
            await observe(spec, platform, known, docker, env.now),
        );
        // cosign attest takes the predicate and wraps it in its own in-toto statement about the
        // digest, whose `_type` is Statement v0.1 (pkg/cosign/attestation GenerateStatement); its
        // `--statement` option exists only for attest-blob. The subject is the same digest.
        fs.writeFileSync(provenance, JSON.stringify(statement.predicate));
        await cosign(
            attestArgs(spec.signing, files, oidc, platform.ref, "provenance", provenance),
            signer,
            `attest the provenance of ${platform.ref} (${platform.platform})`,
        );
    } finally {
        // Whatever failed, syft has ended before the step goes on (or removes its directory).
        await scanning;
    }
    const scan = await scanning;
    if (scan.code !== 0 || !fs.existsSync(sbom)) {
        throw new RunnerError(
            `syft could not read ${platform.ref} (${platform.platform}) from the registry: ${(scan.stderr || scan.stdout).trim().split("\n").slice(-3).join(" ")}`,
        );
    }
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
        // The tool probes and the key check at once; a missing tool is the error that explains
        // the other's, so it wins. Neither touches the registry.
        const [tools, written] = await Promise.allSettled([
            requireTools(env.env),
            cosignFiles(spec, secrets, tmp.dir, signer),
        ]);
        if (tools.status === "rejected") {
            throw tools.reason;
        }
        if (written.status === "rejected") {
            throw written.reason;
        }
        const files = written.value;
        const client = new RegistryClient(spec.registry, secrets.credentials, env.env);
        const who = signerId(spec.signing);
        const before = previousReport(env.env.PULUMI_COMMAND_STDOUT).signed;
        const known = facts(spec, docker);
        // Every platform digest and every index digest is its own subject with its own tag, so
        // they are signed at once; within one subject its pushes and then its pinning stay in order.
        const platforms = spec.platforms.map(async (platform) => {
            const subject = subjectOf(platform.ref);
            if (await needsSigning(client, spec, subject, ATTESTED, before[subject], who, env)) {
                await attestPlatform(spec, platform, files, tmp.dir, known, docker, signer, env);
                await keepAttached(client, spec, subject, ATTESTED);
            } else {
                env.log(`${platform.ref} (${platform.platform}) is attested already`);
            }
            return subject;
        });
        // Two tags of one image may name one index digest: it is signed once.
        const indexes = [...new Map(spec.indexes.map((r) => [subjectOf(r), r])).values()].map(async (ref) => {
            const subject = subjectOf(ref);
            if (await needsSigning(client, spec, subject, SIGNED, before[subject], who, env)) {
                await cosign(signArgs(spec.signing, files, oidcSource(env.env), ref), signer, `sign ${ref}`);
                await keepAttached(client, spec, subject, SIGNED);
                env.log(`signed ${ref}`);
            } else {
                env.log(`${ref} is signed already`);
            }
            return subject;
        });
        // The report lists subjects in the spec's order, whichever finished first.
        const signed: Record<string, string> = {};
        for (const subject of await together([...platforms, ...indexes])) {
            signed[subject] = who;
        }
        return { signed };
    } finally {
        tmp.remove();
    }
}
