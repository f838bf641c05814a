// The config contract: one zod schema for the shape, then the checks that span fields.
// `parseConfig` is the only way config enters the program; it returns a typed, normalised
// object or throws one ConfigError that lists every problem with its key path and the fix.

import * as path from "path";
import { z } from "zod";
import * as fs from "fs";
import { Arch, archOfInstanceType, avx512Problem, nativeArchOf, nativePlatforms, normalizePlatform, platformSlug } from "../plan/platforms";
import { checkCidr } from "./cidr";
import { checkInsideProject, Reporter } from "./projectPaths";
import { HostGroup, routeOf } from "../plan/routing";
import { movingTagProblem, PLACEHOLDERS } from "../plan/tagTemplates";
import { ComposeImage, composeImages } from "./compose";
import { composeKeyPath } from "./composeTerms";
import { issueProblems, keyPath } from "./zodMessages";
import { readPublicKey } from "./sshKeys";
import { canonicalHost, hostAddressProblem, registryAddressProblems, registryUsernameProblem } from "./hostAddress";
import { buildArgProblem } from "./buildArgs";
import { buildkitdConfigProblem, DRIVER_OPTION_NAME, ec2DriverOptionProblem } from "./builderOptions";
import { BuildInputs, buildInputsShape, checkBuildInputs, RunnerFacts } from "./buildInputs";
import { driverOptionProblems } from "./driverOptions";
import { fleetCapProblems, imageSizeProblems } from "./sizes";
import { checkSigningSecrets, SigningConfig, signingSchema, SigningSecretsSet } from "./signing";

const HOST_NAME = /^[a-z][a-z0-9-]{0,30}$/;

/** docker-container driver options (`--driver-opt key=value`): the builder's, or a pool's over them. */
const driverOptionsSchema = z.record(
    z.string().regex(DRIVER_OPTION_NAME, "must be a docker-container driver option name such as network or env.BUILDKIT_STEP_LOG_MAX_SIZE"),
    z.string().regex(/^[^,"\n]*$/, "must not contain commas, quotes or newlines"),
);
const HOST_NAME_RULE = "must be lowercase letters, digits and '-', starting with a letter, at most 31 characters";

const poolSchema = z.object({
    name: z.string().regex(HOST_NAME, HOST_NAME_RULE),
    instanceType: z.string(),
    count: z.number().int().min(1, "must be at least 1").max(100, "must be at most 100").default(1),
    platforms: z.array(z.string()).optional(),
    emulate: z.array(z.string()).default([]),
    rootVolumeGiB: z.number().int().min(20, "must be at least 20 GiB").max(16384).default(100),
    spot: z.boolean().default(false),
    idleMinutes: z.number().int().min(5, "must be at least 5 minutes").max(1440, "must be at most 1440 minutes (a day)").optional(),
    driverOptions: driverOptionsSchema.default({}),
}).strict();

const USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const STATIC_USER = /^[A-Za-z_][A-Za-z0-9_-]{0,31}$/;

const staticHostSchema = z.object({
    name: z.string().regex(HOST_NAME, HOST_NAME_RULE),
    address: z.string(),
    port: z.number().int("must be a whole number").min(1, "must be a TCP port, 1 to 65535").max(65535, "must be a TCP port, 1 to 65535").default(22),
    // Capitals: Linux and OpenSSH take them (only Debian's adduser refuses them by default).
    user: z.string().regex(STATIC_USER, "must be a Linux user name: letters, digits, '_' or '-', starting with a letter or '_', at most 32 characters"),
    platforms: z.array(z.string()).min(1, "must list the platforms this host builds natively"),
    emulate: z.array(z.string()).default([]),
    hostKey: z.string(),
    driverOptions: driverOptionsSchema.default({}),
}).strict();

const sshSchema = z.object({
    access: z.enum(["cidr", "ssm"]).default("cidr"),
    user: z.string().regex(USER, "must be a Linux user name such as ec2-user").default("ec2-user"),
    publicKey: z.string().optional(),
    allowedCidrs: z.array(z.string()).default([]),
}).strict();

const networkSchema = z.object({
    vpcId: z.string().regex(/^vpc-[0-9a-f]{8,17}$/, "must be a VPC id such as vpc-0abc1234").optional(),
    subnetIds: z.array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, "must be a subnet id such as subnet-0abc1234")).default([]),
}).strict();

const registrySchema = z.discriminatedUnion("type", [
    z.object({
        type: z.literal("ecr"),
        immutableTags: z.boolean().default(false),
        untaggedExpiryDays: z.number().int().min(1, "must be at least 1 day").max(3650).default(14),
    }).strict(),
    z.object({
        type: z.literal("external"),
        address: z.string(),
        username: z.string(),
    }).strict(),
]);

const smokeTestSchema = z.object({
    command: z.array(z.string().min(1, "must not be empty")).min(1, "must name a program, such as [/app/server, --version]").optional(),
    expect: z.string().min(1, "must not be empty").optional(),
}).strict();

const imageSchema = z.object({
    name: z.string(),
    context: z.string(),
    dockerfile: z.string().optional(),
    platforms: z.array(z.string()).min(1, "must list at least one platform, such as [linux/amd64, linux/arm64]"),
    tags: z.array(z.string()).min(1, "must list at least one tag").default(["latest"]),
    buildArgs: z.record(z.string(), z.string()).default({}),
    platformBuildArgs: z.record(z.string(), z.record(z.string(), z.string())).default({}),
    target: z.string().regex(/^[A-Za-z0-9_.-]+$/, "must be a Dockerfile stage name").optional(),
    test: smokeTestSchema.optional(),
    pools: z.array(z.string()).min(1, "must name at least one pool; omit it to use every pool").optional(),
    ...buildInputsShape,
}).strict();

const IMAGE_REFERENCE = /^[a-z0-9][a-z0-9._-]*(:[0-9]{1,5})?(\/[a-z0-9._-]+)*(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

/**
 * What runs privileged on every host, pinned by digest (issue 20): BuildKit v0.33.1, the first
 * release that verifies blob digests before caching them (a fix for shared caches), and the
 * binfmt installer. The digests are the multi-platform index digests on Docker Hub, as
 * several unrelated projects pin them (no registry is reachable from this checkout).
 */
export const DEFAULT_BUILDKIT_IMAGE = "moby/buildkit:v0.33.1@sha256:cec9f139f45e93c5c69c60f8b07cfad9f43f4ef6b6a6cd917527fea5ff2e3dea";
export const DEFAULT_BINFMT_IMAGE = "tonistiigi/binfmt:qemu-v10.2.3@sha256:400a4873b838d1b89194d982c45e5fb3cda4593fbfd7e08a02e76b03b21166f0";

const builderSchema = z.object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, "must be lowercase letters, digits, '.', '_' or '-'").optional(),
    buildOnPreview: z.boolean().default(true),
    buildTimeoutMinutes: z.number().int().min(1, "must be at least 1 minute").max(1440).default(60),
    buildkitImage: z.string().regex(IMAGE_REFERENCE, "must be an image reference such as moby/buildkit:v0.31.0").optional(),
    driverOptions: driverOptionsSchema.default({}),
    buildkitdConfig: z.string().optional(),
    binfmtImage: z.string().regex(IMAGE_REFERENCE, "must be an image reference such as tonistiigi/binfmt:latest").default(DEFAULT_BINFMT_IMAGE),
}).strict();

export const rawSchema = z.object({
    hosts: z.array(poolSchema).default([]),
    staticHosts: z.array(staticHostSchema).default([]),
    ssh: sshSchema.default({ access: "cidr", user: "ec2-user", allowedCidrs: [] }),
    network: networkSchema.default({ subnetIds: [] }),
    registry: registrySchema,
    images: z.array(imageSchema).default([]),
    compose: z.string().optional(),
    builder: builderSchema.default({ buildOnPreview: true, buildTimeoutMinutes: 60, binfmtImage: DEFAULT_BINFMT_IMAGE, driverOptions: {} }),
    // Pulumi.yaml declares an empty default: no signing.
    signing: z.preprocess((v) => (v === "" ? undefined : v), signingSchema.optional()),
}).strict();

type RawConfig = z.infer<typeof rawSchema>;

/** A pool of identical EC2 build hosts. */
export interface PoolConfig {
    name: string;
    instanceType: string;
    arch: Arch;
    count: number;
    /** Platforms the pool builds natively. */
    platforms: string[];
    /** Platforms the pool builds under QEMU; only these pools get binfmt handlers. */
    emulate: string[];
    rootVolumeGiB: number;
    spot: boolean;
    /** Hosts power off after this many minutes without a build; `pulumi up` starts them. */
    idleMinutes?: number;
    /** docker-container driver options for this pool's nodes, over builder.driverOptions. */
    driverOptions: Record<string, string>;
}

/** A machine the team already runs, joined to the builder over SSH. */
export interface StaticHostConfig {
    name: string;
    address: string;
    port: number;
    user: string;
    /** Platforms the host builds natively, as declared (its CPU is not probed). */
    platforms: string[];
    emulate: string[];
    /** The host's public key line, pinned in known_hosts. */
    hostKey: string;
    /** docker-container driver options for this host's node, over builder.driverOptions. */
    driverOptions: Record<string, string>;
}

/** An image to build; the build inputs (secrets, ssh, contexts, dockerfileInline, pull) are config/buildInputs.ts. */
export interface ImageConfig extends BuildInputs {
    name: string;
    /** Build context, relative to the project root, in POSIX form. */
    context: string;
    /** Dockerfile, relative to the project root, in POSIX form. */
    dockerfile: string;
    platforms: string[];
    tags: string[];
    buildArgs: Record<string, string>;
    /** Build args for one platform only, keyed by normalised platform; they win over buildArgs. */
    platformBuildArgs: Record<string, Record<string, string>>;
    target?: string;
    /**
     * The smoke test run from each platform image on the node that builds it; absent: none.
     * Without a command it runs `uname -m` and expects the platform's machine name.
     */
    test?: { command?: string[]; expect?: string };
    /** The pools (EC2 pool or static host names) the image's builds may use; every pool when absent. */
    pools?: string[];
}

export interface FleetConfig {
    hosts: PoolConfig[];
    staticHosts: StaticHostConfig[];
    /** cidr: SSH from allowedCidrs; ssm: no inbound rule at all, SSH through an SSM session. */
    ssh: { access: "cidr" | "ssm"; user: string; publicKey: string; allowedCidrs: string[] };
    network: RawConfig["network"];
    registry: RawConfig["registry"];
    images: ImageConfig[];
    builder: {
        name: string;
        buildOnPreview: boolean;
        /** How long one platform build may take before it fails. */
        buildTimeoutMinutes: number;
        /** docker-container driver options, with buildkitImage as `image`. */
        driverOptions: Record<string, string>;
        /** A buildkitd.toml for every node, relative to the project root. */
        buildkitdConfig?: string;
        binfmtImage: string;
    };
    /** How pushed images are signed and attested (config/signing.ts); nothing is signed when absent. */
    signing?: SigningConfig;
}

/** What parseConfig needs to know besides the raw values. */
export interface ConfigContext {
    /** The directory that holds Pulumi.yaml; contexts must stay inside it. */
    projectRoot: string;
    project: string;
    stack: string;
    /** Which secret config keys are set (their values never pass through here). */
    secretsSet: { sshPrivateKey: boolean; registryPassword: boolean } & SigningSecretsSet;
    /**
     * The tag templates of `images[i]` as written, when the tags passed in are already
     * rendered for this build (config/load.ts), so rules about templates can see them.
     */
    tagTemplates?: Record<string, string[]>;
    /** Build-secret reading and the SSH agent, from loadConfig; without them an image's secrets are refused. */
    runner?: RunnerFacts;
    /** The Compose file as `docker compose config` prints it, read by loadConfig. */
    compose?: unknown;
}

export interface Problem {
    path: string;
    message: string;
}

/** Every problem found in a config, as one error. */
export class ConfigError extends Error {
    constructor(readonly problems: Problem[]) {
        super([
            `native-build-fleet: the stack configuration has ${problems.length} problem${problems.length === 1 ? "" : "s"}; nothing was created:`,
            ...problems.map((p) => `  - ${p.path}: ${p.message}`),
        ].join("\n"));
        this.name = "ConfigError";
    }
}

/** Longest registry host ECR uses (`<12 digits>.dkr.ecr.<region>.amazonaws.com/`). */
const ECR_HOST_LENGTH = 64;
const REPOSITORY = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
/**
 * Accounts the hosts' AMI (Amazon Linux 2023) has for itself: root, whom the hosts' sshd
 * refuses (PermitRootLogin no, host/userData.ts), and system accounts without a login
 * shell, so readiness would wait for a login that never succeeds.
 */
const SYSTEM_USERS = new Set([
    "root", "bin", "daemon", "adm", "lp", "sync", "shutdown", "halt", "mail", "operator", "games", "ftp", "nobody",
    "sshd", "dbus", "messagebus", "polkitd", "chrony", "rpc", "rpcuser", "tss", "libstoragemgmt", "unbound",
    "ec2-instance-connect", "postfix", "tcpdump",
]);

function systemUserProblem(user: string): string | undefined {
    if (user === "root") {
        return "is root, whom the hosts' sshd refuses (PermitRootLogin no), so readiness would wait until it timed out; use a login user such as ec2-user (it joins the docker group)";
    }
    if (SYSTEM_USERS.has(user) || user.startsWith("systemd-")) {
        return `"${user}" is a Linux system account without a login shell, so SSH logins as it fail; use a login user such as ec2-user`;
    }
    return undefined;
}

/** Placeholders a smoke test's expectation may use, filled in per platform. */
const EXPECT_PLACEHOLDERS = ["{{platform}}", "{{arch}}"];

/** A smoke test's expectation for one platform: linux/arm/v7 gives {{platform}} linux/arm/v7, {{arch}} arm. */
export function expectationFor(expect: string, platform: string): string {
    return expect.replace(/\{\{platform\}\}/g, platform).replace(/\{\{arch\}\}/g, platform.split("/")[1]);
}

/** The cache tag of a platform; user tags may not take it. */
export function cacheTag(platform: string): string {
    return `cache-${platformSlug(platform)}`;
}

/** The tag a platform image is pushed under before the index joins them. */
export function platformTag(tag: string, platform: string): string {
    return `${tag}-${platformSlug(platform)}`;
}

/** Parses and validates raw stack config. Throws ConfigError listing every problem. */
export function parseConfig(raw: unknown, ctx: ConfigContext): FleetConfig {
    // reportInput: zod 4 leaves issue.input unset otherwise, and a wrong type reads as a missing key.
    const shaped = rawSchema.safeParse(raw, { reportInput: true });
    if (!shaped.success) {
        throw new ConfigError(shaped.error.issues.flatMap((issue) => issueProblems(issue, rawSchema, raw)));
    }
    const problems: Problem[] = [];
    const report: Reporter = (p, message) => problems.push({ path: p, message });
    const hosts = checkPools(shaped.data.hosts, report);
    const staticHosts = checkStaticHosts(shaped.data.staticHosts, report);
    if (hosts.length + staticHosts.length === 0) {
        report("hosts", "no build hosts: list EC2 pools under hosts, machines you run under staticHosts, or both");
    }
    const ec2Hosts = hosts.flatMap((p) => Array.from({ length: p.count }, (_, i) => `${p.name}-${i}`));
    staticHosts.filter((h) => ec2Hosts.includes(h.name)).forEach((h) => report(`staticHosts[${staticHosts.indexOf(h)}].name`,
        `"${h.name}" is also the name of an EC2 host (pool hosts are named <pool>-<index>); choose another name`));
    if (hosts.length > 0) {
        checkSsh(shaped.data.ssh, shaped.data.network, report);
    }
    if (!ctx.secretsSet.sshPrivateKey) {
        report("sshPrivateKey", "the private key that logs in to the build hosts is needed for the readiness checks and buildx; run `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`");
    }
    checkNetwork(shaped.data.network, report);
    const groups = [...hosts, ...staticHosts];
    // An empty string is Pulumi.yaml's default: no Compose file.
    const fromCompose = shaped.data.compose ? composeSources(shaped.data.compose, ctx, report) : [];
    const composeNameAt = new Map<ImageConfig, string>();
    const images = [
        ...shaped.data.images.map((image, i) => checkImage(image, `images[${i}]`, groups, shaped.data.registry, ctx, report, ctx.tagTemplates?.[`images[${i}]`])),
        ...fromCompose.flatMap(({ at, image, origin }) => {
            // Problems name the Compose file's keys, not the stack keys the service became.
            const composeReport: Reporter = (p, message) => report(composeKeyPath(p, origin), message);
            const parsed = imageSchema.safeParse(image, { reportInput: true });
            if (!parsed.success) {
                parsed.error.issues.flatMap((issue) => issueProblems(issue, imageSchema, image, at, "compose")).forEach((p) => composeReport(p.path, p.message));
                return [];
            }
            const checked = checkImage(parsed.data, at, groups, shaped.data.registry, ctx, composeReport);
            composeNameAt.set(checked, composeKeyPath(`${at}.name`, origin));
            return [checked];
        }),
    ];
    if (images.length === 0 && problems.length === 0) {
        report("images", "no image to build: list images, or point compose at a Compose file with build sections");
    }
    checkUnique(images.map((im) => im.name), (i) => composeNameAt.get(images[i]) ?? `images[${i}].name`, report);
    fleetCapProblems(ec2Hosts.length + staticHosts.length, images.length).forEach((p) => report(p.key, p.message));
    checkResourceNames(images.map((im) => im.name), report);
    checkRegistry(shaped.data.registry, report);
    const { builder } = shaped.data;
    checkBuilder(builder, hosts.length > 0, report);
    const buildkitdConfig = builder.buildkitdConfig === undefined ? undefined
        : checkInsideProject(builder.buildkitdConfig, ctx.projectRoot, "builder.buildkitdConfig", "file", report);
    const buildkitdProblem = buildkitdConfig === undefined ? undefined : buildkitdConfigProblem(fs.readFileSync(path.join(ctx.projectRoot, buildkitdConfig)));
    if (buildkitdProblem) {
        report("builder.buildkitdConfig", `"${builder.buildkitdConfig}" ${buildkitdProblem}`);
    }
    if (shaped.data.registry.type === "external" && !ctx.secretsSet.registryPassword) {
        report("registryPassword", "the external registry needs its password; run `pulumi config set --secret registryPassword <token>`");
    }
    checkSigningSecrets(shaped.data.signing, ctx.secretsSet, report);
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
    return {
        hosts,
        staticHosts,
        ssh: { ...shaped.data.ssh, publicKey: shaped.data.ssh.publicKey?.trim() ?? "" },
        network: shaped.data.network,
        registry: shaped.data.registry,
        images,
        builder: {
            name: builder.name ?? defaultBuilderName(ctx.project, ctx.stack),
            buildOnPreview: builder.buildOnPreview,
            buildTimeoutMinutes: builder.buildTimeoutMinutes,
            // driverOptions.image, when set, replaces the pinned default (it may not repeat buildkitImage).
            driverOptions: { image: builder.buildkitImage ?? DEFAULT_BUILDKIT_IMAGE, ...builder.driverOptions },
            buildkitdConfig,
            binfmtImage: builder.binfmtImage,
        },
        ...(shaped.data.signing ? { signing: shaped.data.signing } : {}),
    };
}

/** `<project>-<stack>`, reduced to what buildx accepts as a builder name. */
export function defaultBuilderName(project: string, stack: string): string {
    return `${project}-${stack}`.toLowerCase().replace(/[^a-z0-9_.-]+/g, "-").slice(0, 63);
}

/**
 * Image names that give the same resource name: components/fleet.ts names each image's
 * build `<fleet>-<name with '/' as '-'>`, so team/web and team-web would be one resource.
 */
function checkResourceNames(names: string[], report: Reporter): void {
    const resource = names.map((n) => n.replace(/\//g, "-"));
    resource.forEach((r, i) => {
        const first = resource.indexOf(r);
        if (first !== i && names[first] !== names[i]) {
            report(`images[${i}].name`, `"${names[i]}" and images[${first}].name "${names[first]}" give the same resource name (${r}: '/' becomes '-'); rename one`);
        }
    });
}

function checkRegistry(registry: RawConfig["registry"], report: Reporter): void {
    if (registry.type !== "external") {
        return;
    }
    registryAddressProblems(registry.address).forEach((problem) => report("registry.address", problem));
    const username = registryUsernameProblem(registry.username);
    if (username) {
        report("registry.username", username);
    }
}

function checkBuilder(builder: RawConfig["builder"], ec2Pools: boolean, report: Reporter): void {
    if (builder.name === "default") {
        report("builder.name", "\"default\" is the name buildx gives the Docker engine's own builder, which this stack did not create and must never replace or remove; choose another name, or leave builder.name unset for <project>-<stack>");
    }
    if (builder.buildkitImage !== undefined && builder.driverOptions.image !== undefined) {
        report("builder.driverOptions.image", "repeats builder.buildkitImage; set the BuildKit image in one place");
    }
    const hostNetwork = ec2Pools ? ec2DriverOptionProblem(builder.driverOptions) : undefined;
    if (hostNetwork) {
        report(keyPath([hostNetwork.key], "builder.driverOptions"), hostNetwork.message);
    }
    driverOptionProblems(builder.driverOptions).forEach((p) => report(keyPath([p.key], "builder.driverOptions"), p.message));
}

/** Reports every repeat in `values`; `at(i)` is the key path of entry i. */
function checkUnique(values: string[], at: (i: number) => string, report: Reporter): void {
    values.forEach((v, i) => {
        const first = values.indexOf(v);
        if (first !== i) {
            report(at(i), `"${v}" repeats ${at(first)}; each entry must be unique`);
        }
    });
}

/** Normalises a platform list, reporting malformed entries and duplicates after aliasing. */
function normalizeList(list: string[], at: string, report: Reporter): string[] {
    const out: string[] = [];
    list.forEach((p, i) => {
        const result = normalizePlatform(p);
        if (!result.ok) {
            report(`${at}[${i}]`, result.reason);
        } else if (out.includes(result.platform)) {
            report(`${at}[${i}]`, `"${p}" repeats ${result.platform}; list each platform once`);
        } else {
            out.push(result.platform);
        }
    });
    return out;
}

function checkPools(pools: RawConfig["hosts"], report: Reporter): PoolConfig[] {
    checkUnique(pools.map((p) => p.name), (i) => `hosts[${i}].name`, report);
    return pools.map((pool, i) => {
        const at = `hosts[${i}]`;
        const archResult = archOfInstanceType(pool.instanceType);
        if (!archResult.ok) {
            report(`${at}.instanceType`, archResult.reason);
        }
        const arch: Arch = archResult.ok ? archResult.arch : "amd64";
        const platforms = pool.platforms === undefined ? [nativePlatforms(arch)[0]] : normalizeList(pool.platforms, `${at}.platforms`, report);
        const emulate = normalizeList(pool.emulate, `${at}.emulate`, report);
        if (pool.platforms !== undefined && pool.platforms.length === 0) {
            report(`${at}.platforms`, "is empty; omit it to build the instance's native platform, or list the platforms");
        }
        if (archResult.ok) {
            platforms.filter((p) => !nativePlatforms(arch).includes(p)).forEach((p) => report(`${at}.platforms`,
                `${pool.instanceType} is ${arch} and cannot build ${p} natively; move ${p} to ${at}.emulate or use ${nativeArchOf(p) === "arm64" ? "a Graviton instance type such as m7g.large" : nativeArchOf(p) === "amd64" ? "an x86 instance type such as m7i.large" : "an emulating pool"}`));
            emulate.filter((p) => nativePlatforms(arch).includes(p)).forEach((p) => report(`${at}.emulate`,
                `${pool.instanceType} builds ${p} natively; list it under ${at}.platforms instead of emulating it`));
        }
        const avx512 = archResult.ok && platforms.includes("linux/amd64/v4") ? avx512Problem(pool.instanceType) : undefined;
        if (avx512) {
            report(`${at}.platforms`, avx512);
        }
        const hostNetwork = ec2DriverOptionProblem(pool.driverOptions);
        if (hostNetwork) {
            report(keyPath([hostNetwork.key], `${at}.driverOptions`), hostNetwork.message);
        }
        driverOptionProblems(pool.driverOptions).forEach((p) => report(keyPath([p.key], `${at}.driverOptions`), p.message));
        if (pool.spot && pool.idleMinutes !== undefined) {
            report(`${at}.idleMinutes`, "cannot be combined with spot: a one-time spot instance cannot be stopped and started again; drop idleMinutes or spot");
        }
        return {
            name: pool.name, instanceType: pool.instanceType, arch, count: pool.count, platforms, emulate,
            rootVolumeGiB: pool.rootVolumeGiB, spot: pool.spot, idleMinutes: pool.idleMinutes, driverOptions: pool.driverOptions,
        };
    });
}

function checkStaticHosts(statics: RawConfig["staticHosts"], report: Reporter): StaticHostConfig[] {
    checkUnique(statics.map((h) => h.name), (i) => `staticHosts[${i}].name`, report);
    const endpoints = statics.map((h) => `${canonicalHost(h.address)} port ${h.port}`);
    return statics.map((host, i) => {
        const at = `staticHosts[${i}]`;
        const key = readPublicKey(host.hostKey, "the host's public key line, as in its /etc/ssh/ssh_host_ed25519_key.pub (read it on the host, not from a network scan)");
        if (!key.ok) {
            report(`${at}.hostKey`, key.reason);
        }
        const addressProblem = hostAddressProblem(host.address, `${at}.port`);
        if (addressProblem) {
            report(`${at}.address`, addressProblem);
        } else if (endpoints.indexOf(endpoints[i]) !== i) {
            report(`${at}.address`, `${host.address} port ${host.port} is also staticHosts[${endpoints.indexOf(endpoints[i])}]: one machine would join the builder twice under two names; remove one, or give the right address or port`);
        }
        const platforms = normalizeList(host.platforms, `${at}.platforms`, report);
        const emulate = normalizeList(host.emulate, `${at}.emulate`, report);
        driverOptionProblems(host.driverOptions).forEach((p) => report(keyPath([p.key], `${at}.driverOptions`), p.message));
        emulate.filter((p) => platforms.includes(p)).forEach((p) => report(`${at}.emulate`, `${p} is also listed under ${at}.platforms; list it once`));
        return { ...host, hostKey: host.hostKey.trim(), platforms, emulate };
    });
}

function checkSsh(ssh: RawConfig["ssh"], network: RawConfig["network"], report: Reporter): void {
    if (ssh.publicKey === undefined) {
        report("ssh.publicKey", "is required for EC2 pools; give the operator's public key, such as the contents of ~/.ssh/id_ed25519.pub");
    } else {
        const key = readPublicKey(ssh.publicKey, "the operator's public key (such as ~/.ssh/id_ed25519.pub)");
        if (!key.ok) {
            report("ssh.publicKey", key.reason);
        }
    }
    const userProblem = systemUserProblem(ssh.user);
    if (userProblem) {
        report("ssh.user", userProblem);
    }
    if (ssh.access === "ssm") {
        if (ssh.allowedCidrs.length > 0) {
            report("ssh.allowedCidrs", "must be empty with ssh.access ssm: the hosts get no inbound rule at all; remove the CIDRs");
        }
        if (network.subnetIds.length === 0) {
            report("network.subnetIds", "are required with ssh.access ssm: hosts get no public address, so give private subnets that reach SSM through a NAT gateway or VPC endpoints");
        }
        return;
    }
    if (ssh.allowedCidrs.length === 0) {
        report("ssh.allowedCidrs", "is empty, so nothing could reach the hosts over SSH; list the CIDRs of your workstation or CI runners, such as [203.0.113.7/32], or use ssh.access ssm");
    }
    ssh.allowedCidrs.forEach((cidr, i) => {
        const problem = checkCidr(cidr);
        if (problem) {
            report(`ssh.allowedCidrs[${i}]`, problem);
        }
    });
    checkUnique(ssh.allowedCidrs, (i) => `ssh.allowedCidrs[${i}]`, report);
}

/** The Compose file's buildable services, once the file itself is checked to be in the project. */
function composeSources(file: string, ctx: ConfigContext, report: Reporter): ComposeImage[] {
    const checked = checkInsideProject(file, ctx.projectRoot, "compose", "file", report);
    return checked === undefined ? [] : composeImages(ctx.compose, checked, ctx.projectRoot, report);
}

function checkNetwork(network: RawConfig["network"], report: Reporter): void {
    if (network.vpcId !== undefined && network.subnetIds.length === 0) {
        report("network.subnetIds", `is empty while network.vpcId is set; list the subnets of ${network.vpcId} the hosts may use`);
    }
    if (network.vpcId === undefined && network.subnetIds.length > 0) {
        report("network.vpcId", "is missing while network.subnetIds is set; give the VPC those subnets belong to");
    }
    checkUnique(network.subnetIds, (i) => `network.subnetIds[${i}]`, report);
}

function checkImage(
    image: RawConfig["images"][number], at: string, pools: HostGroup[],
    registry: RawConfig["registry"], ctx: ConfigContext, report: Reporter, templates: string[] = image.tags,
): ImageConfig {
    const hostLength = registry.type === "ecr" ? ECR_HOST_LENGTH : registry.address.length + 1;
    const first = image.name.split("/")[0];
    if (image.name.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")) {
        // Docker reads a first component with '.' or ':', or localhost, as a registry host
        // (https://github.com/distribution/reference/blob/main/normalize.go).
        report(`${at}.name`, `"${image.name}" starts with a registry host (${first}); give the repository name only, such as "${image.name.split("/").slice(1).join("/")}": the registry comes from ${registry.type === "ecr" ? "registry (the stack's own ECR repositories)" : "registry.address"}`);
    } else if (!REPOSITORY.test(image.name)) {
        report(`${at}.name`, `"${image.name}" is not a valid repository name: lowercase letters and digits separated by '.', '_', '__', '-' or '/'`);
    } else if (hostLength + image.name.length > 255) {
        report(`${at}.name`, `"${image.name}" is too long: with the registry host an image name may have at most 255 characters`);
    }
    const platforms = normalizeList(image.platforms, `${at}.platforms`, report);
    const allowed = checkImagePools(image.pools, `${at}.pools`, pools, report);
    platforms.filter((p) => routeOf(allowed ?? pools, p) === undefined).forEach((p) => report(allowed ? `${at}.pools` : `${at}.platforms`, allowed
        ? `none of the pools ${allowed.map((g) => g.name).join(", ")} builds ${p}; add a pool that does to ${at}.pools, or remove ${p} from ${at}.platforms`
        : `no host serves ${p}; add a pool or static host whose platforms include it${nativeArchOf(p) ? ` (a ${nativeArchOf(p)} machine)` : ""}, or list it under one's emulate`));
    checkTags(image.tags, platforms, `${at}.tags`, report);
    // The longest registry host and repository the specs can name (ECR: the longest account host).
    const registryHost = registry.type === "ecr" ? "r".repeat(ECR_HOST_LENGTH - 1) : registry.address.split("/")[0];
    imageSizeProblems({ ...image, platforms }, at, `${registry.type === "ecr" ? registryHost : registry.address}/${image.name}`, registryHost)
        .forEach((p) => report(p.key, p.message));
    if (registry.type === "ecr" && registry.immutableTags) {
        checkImmutableTags(templates, image.tags, `${at}.tags`, report);
    }
    checkBuildArgs(image.buildArgs, `${at}.buildArgs`, report);
    const platformBuildArgs: Record<string, Record<string, string>> = {};
    const givenAs: Record<string, string> = {};
    Object.entries(image.platformBuildArgs).forEach(([key, args]) => {
        const keyAt = keyPath([key], `${at}.platformBuildArgs`);
        const result = normalizePlatform(key);
        if (!result.ok) {
            report(keyAt, result.reason);
        } else if (!platforms.includes(result.platform)) {
            report(keyAt, `${result.platform} is not one of this image's platforms (${platforms.join(", ")})`);
        } else if (givenAs[result.platform] !== undefined) {
            report(keyAt, `"${key}" and "${givenAs[result.platform]}" are both ${result.platform}, so one set of args would silently replace the other; merge them under ${result.platform}`);
        } else {
            checkBuildArgs(args, keyAt, report);
            platformBuildArgs[result.platform] = args;
            givenAs[result.platform] = key;
        }
    });
    if (image.test?.expect !== undefined && image.test.command === undefined) {
        report(`${at}.test.expect`, "needs test.command; the default command (uname -m) is checked against each platform's machine name on its own");
    }
    for (const placeholder of image.test?.expect?.match(/\{\{[^}]*\}\}/g) ?? []) {
        if (!EXPECT_PLACEHOLDERS.includes(placeholder)) {
            report(`${at}.test.expect`, `uses ${placeholder}; the expectation knows ${EXPECT_PLACEHOLDERS.join(" and ")}`);
        }
    }
    const context = image.context.trim() === ""
        ? void report(`${at}.context`, "is empty, which would send the whole checkout (.git, node_modules, the stack files) to every build; name the image's directory, or \".\" if the project root really is its context")
        : checkInsideProject(image.context, ctx.projectRoot, `${at}.context`, "directory", report);
    const inputs = checkBuildInputs(image, image.dockerfile !== undefined, at, ctx.projectRoot, ctx.runner, report);
    const dockerfilePath = image.dockerfile ?? "Dockerfile";
    const dockerfile = context === undefined || inputs.dockerfileInline !== undefined ? undefined
        : checkInsideProject(path.posix.join(context, dockerfilePath.replace(/\\/g, "/")), ctx.projectRoot, `${at}.dockerfile`, "file", report);
    return {
        name: image.name, context: context ?? image.context, dockerfile: dockerfile ?? dockerfilePath, platforms, tags: image.tags,
        buildArgs: image.buildArgs, platformBuildArgs, target: image.target, test: image.test, ...inputs,
        ...(image.pools ? { pools: image.pools } : {}),
    };
}

/** The groups an image's `pools` names, reporting names that are no pool or static host; undefined when unset. */
function checkImagePools(names: string[] | undefined, at: string, groups: HostGroup[], report: Reporter): HostGroup[] | undefined {
    if (names === undefined) {
        return undefined;
    }
    names.forEach((n, i) => {
        if (!groups.some((g) => g.name === n)) {
            report(`${at}[${i}]`, `"${n}" is no pool under hosts and no host under staticHosts (known: ${groups.map((g) => g.name).join(", ")})`);
        }
    });
    checkUnique(names, (i) => `${at}[${i}]`, report);
    return groups.filter((g) => names.includes(g.name));
}

function checkBuildArgs(args: Record<string, string>, at: string, report: Reporter): void {
    Object.entries(args).forEach(([arg, value]) => {
        const problem = buildArgProblem(arg, value);
        if (problem) {
            report(keyPath([arg], at), problem);
        }
    });
}

/**
 * With registry.immutableTags, ECR refuses to push a tag twice, except tags matching the
 * exclusion filter cache-* the cache needs (components/registry.ts). So no tag may move
 * (latest, {{branch}}, {{major}}), and no user tag may fall under the exclusion.
 */
function checkImmutableTags(templates: string[], rendered: string[], at: string, report: Reporter): void {
    templates.forEach((template, i) => {
        const moving = movingTagProblem(template);
        if (moving) {
            report(`${at}[${i}]`, `${moving}, which registry.immutableTags forbids (ECR refuses to push it again); tag with versions or commits instead, such as {{version}} or {{short_sha}}`);
        } else if (template.startsWith("cache-")) {
            report(`${at}[${i}]`, `"${template}" starts with cache-, which registry.immutableTags leaves mutable for the build cache (the exclusion filter cache-*); choose a tag without that prefix`);
        }
    });
    rendered.filter((tag) => tag.startsWith("cache-") && !templates.includes(tag)).forEach((tag) => report(at,
        `renders "${tag}", which starts with cache-, the prefix registry.immutableTags leaves mutable for the build cache; change the template`));
}

function checkTags(tags: string[], platforms: string[], at: string, report: Reporter): void {
    const longestSuffix = Math.max(0, ...platforms.map((p) => platformTag("", p).length));
    const derived = new Set([...platforms.map(cacheTag), ...tags.flatMap((t) => platforms.map((p) => platformTag(t, p)))]);
    tags.forEach((tag, i) => {
        if (tag.includes("{{")) {
            report(`${at}[${i}]`, `"${tag}" uses an unknown placeholder; tag templates know ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(", ")}`);
        } else if (!TAG.test(tag)) {
            report(`${at}[${i}]`, `"${tag}" is not a valid tag: letters, digits, '_', '.' and '-', not starting with '.' or '-', at most 128 characters`);
        } else if (tag.length + longestSuffix > 128) {
            report(`${at}[${i}]`, `"${tag}" is too long: platform images are tagged "${platformTag(tag, platforms[0] ?? "")}…", which must fit in 128 characters; shorten it to ${128 - longestSuffix}`);
        } else if (derived.has(tag)) {
            report(`${at}[${i}]`, `"${tag}" collides with a tag this program writes for platform images or the registry cache; choose another tag`);
        }
    });
    checkUnique(tags, (i) => `${at}[${i}]`, report);
}
