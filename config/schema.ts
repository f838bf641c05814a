// The config contract: one zod schema for the shape, then the checks that span fields.
// `parseConfig` is the only way config enters the program; it returns a typed, normalised
// object or throws one ConfigError that lists every problem with its key path and the fix.

import * as path from "path";
import { z } from "zod";
import * as fs from "fs";
import { checkInsideProject, Reporter } from "./projectPaths";
import { ComposeImage, composeImages } from "./compose";
import { composeKeyPath } from "./composeTerms";
import { issueProblems } from "./zodMessages";
import { ConfigContext } from "./context";
import { buildkitdConfigProblem } from "./builderOptions";
import { fleetCapProblems } from "./sizes";
import { checkSigningSecrets, SigningConfig, signingSchema } from "./signing";
import { checkUnique } from "./listChecks";
import {
    builderSchema,
    checkBuilder,
    DEFAULT_BINFMT_IMAGE,
    DEFAULT_BUILDKIT_IMAGE,
    defaultBuilderName,
} from "./builderSchema";
import {
    checkPools,
    checkStaticHosts,
    PoolConfig,
    poolSchema,
    StaticHostConfig,
    staticHostSchema,
} from "./hostsSchema";
import { checkNetwork, checkSsh, networkSchema, sshSchema } from "./accessSchema";
import { checkRegistry, registrySchema } from "./registrySchema";
import { checkImage, checkResourceNames, checkSignSize, ImageConfig, imageSchema } from "./imagesSchema";

// Each section's schema and checks are a file of their own (config/*Schema.ts); the rest of the
// program imports the contract from here.
export { DEFAULT_BINFMT_IMAGE, DEFAULT_BUILDKIT_IMAGE, defaultBuilderName } from "./builderSchema";
export { DEFAULT_DOCKERFILE, DEFAULT_SMOKE_TEST_COMMAND } from "./imageDefaults";
export { cacheTag, expectationFor, platformTag } from "./imagesSchema";
export type { ConfigContext } from "./context";
export type { ImageConfig } from "./imagesSchema";
export type { PoolConfig, StaticHostConfig } from "./hostsSchema";

export const rawSchema = z
    .object({
        hosts: z.array(poolSchema).default([]),
        staticHosts: z.array(staticHostSchema).default([]),
        ssh: sshSchema.default({ access: "cidr", user: "ec2-user", allowedCidrs: [] }),
        network: networkSchema.default({ subnetIds: [] }),
        registry: registrySchema,
        images: z.array(imageSchema).default([]),
        compose: z.string().optional(),
        builder: builderSchema.default({
            buildOnPreview: true,
            buildTimeoutMinutes: 60,
            binfmtImage: DEFAULT_BINFMT_IMAGE,
            driverOptions: {},
        }),
        // Pulumi.yaml declares an empty default: no signing.
        signing: z.preprocess((v) => (v === "" ? undefined : v), signingSchema.optional()),
    })
    .strict();

type RawConfig = z.infer<typeof rawSchema>;

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
        /** The most solves of this stack one host runs at once; unlimited when absent. */
        buildSlots?: number;
        /** docker-container driver options, with buildkitImage as `image`. */
        driverOptions: Record<string, string>;
        /** A buildkitd.toml for every node, relative to the project root. */
        buildkitdConfig?: string;
        binfmtImage: string;
    };
    /** How pushed images are signed and attested (config/signing.ts); nothing is signed when absent. */
    signing?: SigningConfig;
}

export interface Problem {
    path: string;
    message: string;
}

/** Every problem found in a config, as one error. */
export class ConfigError extends Error {
    constructor(readonly problems: Problem[]) {
        super(
            [
                `native-build-fleet: the stack configuration has ${problems.length} problem${problems.length === 1 ? "" : "s"}; nothing was created:`,
                ...problems.map((p) => `  - ${p.path}: ${p.message}`),
            ].join("\n"),
        );
        this.name = "ConfigError";
    }
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
    staticHosts
        .filter((h) => ec2Hosts.includes(h.name))
        .forEach((h) =>
            report(
                `staticHosts[${staticHosts.indexOf(h)}].name`,
                `"${h.name}" is also the name of an EC2 host (pool hosts are named <pool>-<index>); choose another name`,
            ),
        );
    if (hosts.length > 0) {
        checkSsh(shaped.data.ssh, shaped.data.network, report);
    }
    if (!ctx.secretsSet.sshPrivateKey) {
        report(
            "sshPrivateKey",
            "the private key that logs in to the build hosts is needed for the readiness checks and buildx; run `pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519`",
        );
    }
    checkNetwork(shaped.data.network, report);
    const groups = [...hosts, ...staticHosts];
    // An empty string is Pulumi.yaml's default: no Compose file.
    const fromCompose = shaped.data.compose ? composeSources(shaped.data.compose, ctx, report) : [];
    const composeNameAt = new Map<ImageConfig, string>();
    const { signing } = shaped.data;
    const builderName = shaped.data.builder.name ?? defaultBuilderName(ctx.project, ctx.stack);
    const signed = (image: ImageConfig, at: string, to: Reporter): ImageConfig => {
        if (signing !== undefined) {
            const sign = { signing, stack: `${ctx.project}/${ctx.stack}`, builderName };
            checkSignSize(image, at, shaped.data.registry, sign, to);
        }
        return image;
    };
    const images = [
        ...shaped.data.images.map((image, i) =>
            signed(
                checkImage(
                    image,
                    `images[${i}]`,
                    groups,
                    shaped.data.registry,
                    ctx,
                    report,
                    ctx.tagTemplates?.[`images[${i}]`],
                ),
                `images[${i}]`,
                report,
            ),
        ),
        ...fromCompose.flatMap(({ at, image, origin }) => {
            // Problems name the Compose file's keys, not the stack keys the service became.
            const composeReport: Reporter = (p, message) => report(composeKeyPath(p, origin), message);
            const parsed = imageSchema.safeParse(image, { reportInput: true });
            if (!parsed.success) {
                parsed.error.issues
                    .flatMap((issue) => issueProblems(issue, imageSchema, image, at, "compose"))
                    .forEach((p) => composeReport(p.path, p.message));
                return [];
            }
            const checked = signed(
                checkImage(parsed.data, at, groups, shaped.data.registry, ctx, composeReport),
                at,
                composeReport,
            );
            composeNameAt.set(checked, composeKeyPath(`${at}.name`, origin));
            return [checked];
        }),
    ];
    if (images.length === 0 && problems.length === 0) {
        report("images", "no image to build: list images, or point compose at a Compose file with build sections");
    }
    checkUnique(
        images.map((im) => im.name),
        (i) => composeNameAt.get(images[i]) ?? `images[${i}].name`,
        report,
    );
    fleetCapProblems(ec2Hosts.length + staticHosts.length, images.length).forEach((p) => report(p.key, p.message));
    checkResourceNames(
        images.map((im) => im.name),
        report,
    );
    checkRegistry(shaped.data.registry, report);
    const { builder } = shaped.data;
    checkBuilder(builder, hosts.length > 0, report);
    const buildkitdConfig =
        builder.buildkitdConfig === undefined
            ? undefined
            : checkInsideProject(builder.buildkitdConfig, ctx.projectRoot, "builder.buildkitdConfig", "file", report);
    const buildkitdProblem =
        buildkitdConfig === undefined
            ? undefined
            : buildkitdConfigProblem(fs.readFileSync(path.join(ctx.projectRoot, buildkitdConfig)));
    if (buildkitdProblem) {
        report("builder.buildkitdConfig", `"${builder.buildkitdConfig}" ${buildkitdProblem}`);
    }
    if (shaped.data.registry.type === "external" && !ctx.secretsSet.registryPassword) {
        report(
            "registryPassword",
            "the external registry needs its password; run `pulumi config set --secret registryPassword <token>`",
        );
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
            ...(builder.buildSlots === undefined ? {} : { buildSlots: builder.buildSlots }),
            // driverOptions.image, when set, replaces the pinned default (it may not repeat buildkitImage).
            driverOptions: { image: builder.buildkitImage ?? DEFAULT_BUILDKIT_IMAGE, ...builder.driverOptions },
            buildkitdConfig,
            binfmtImage: builder.binfmtImage,
        },
        ...(shaped.data.signing ? { signing: shaped.data.signing } : {}),
    };
}

/** The Compose file's buildable services, once the file itself is checked to be in the project. */
function composeSources(file: string, ctx: ConfigContext, report: Reporter): ComposeImage[] {
    const checked = checkInsideProject(file, ctx.projectRoot, "compose", "file", report);
    return checked === undefined ? [] : composeImages(ctx.compose, checked, ctx.projectRoot, report);
}
