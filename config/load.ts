// The edge: reads the stack's config and the repository, and nothing else does.

import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ociLabels, sourceUrl } from "./ociLabels";
import { checkPrivateKey } from "./privateKey";
import { ConfigError, FleetConfig, parseConfig, Problem } from "./schema";
import { RefMetadata, refMetadata, renderTags } from "./tagTemplates";

/** Config keys that hold secrets; they are read as secret Outputs, never parsed as values. */
const SECRET_KEYS = ["sshPrivateKey", "registryPassword"] as const;

export interface LoadedConfig {
    config: FleetConfig;
    /** The AWS region (aws:region, else AWS_REGION), for SSM sessions. */
    region?: string;
    /** Contents of builder.buildkitdConfig. */
    buildkitdConfig?: string;
    sshPrivateKey: pulumi.Output<string>;
    registryPassword?: pulumi.Output<string>;
    labels: Record<string, Record<string, string>>;
}

/** Every key of this project's namespace, values decoded from their JSON form. */
function rawProjectConfig(project: string): Record<string, unknown> {
    const prefix = `${project}:`;
    return Object.fromEntries(Object.entries(pulumi.runtime.allConfig())
        .filter(([key]) => key.startsWith(prefix))
        .map(([key, value]): [string, unknown] => [key.slice(prefix.length), decode(value)])
        .filter(([key]) => !(SECRET_KEYS as readonly string[]).includes(key)));
}

function decode(value: string): unknown {
    try {
        return JSON.parse(value) as unknown;
    } catch {
        return value;
    }
}

/**
 * Renders the tag templates of every image for this build. An image whose templates all
 * need values this build lacks gets a problem here, naming the templates.
 */
function renderImageTags(raw: Record<string, unknown>, meta: RefMetadata): Problem[] {
    const images = raw.images;
    if (!Array.isArray(images)) {
        return [];
    }
    const problems: Problem[] = [];
    images.forEach((image: unknown, i) => {
        const tags = (image as { tags?: unknown }).tags;
        if (Array.isArray(tags) && tags.every((t) => typeof t === "string") && tags.length > 0) {
            const rendered = renderTags(tags, meta);
            if (rendered.length === 0) {
                problems.push({ path: `images[${i}].tags`, message: `no tag applies to this build (${tags.join(", ")} need values it lacks, such as a release tag v1.2.3 for {{version}}); add a tag such as {{short_sha}}` });
            }
            (image as { tags: string[] }).tags = rendered;
        }
    });
    return problems;
}

/**
 * Parses the stack config (throwing one ConfigError that lists every problem before any
 * resource exists) and gathers the OCI labels of each image.
 */
export function loadConfig(projectRoot: string, env: Record<string, string | undefined>): LoadedConfig {
    const project = pulumi.getProject();
    const stack = pulumi.getStack();
    const cfg = new pulumi.Config();
    const raw = rawProjectConfig(project);
    const tagProblems = renderImageTags(raw, refMetadata(projectRoot, env));
    if (tagProblems.length > 0) {
        throw new ConfigError(tagProblems);
    }
    const config = parseConfig(raw, {
        projectRoot, project, stack,
        secretsSet: { sshPrivateKey: isSet(cfg, "sshPrivateKey"), registryPassword: isSet(cfg, "registryPassword") },
    });
    checkPrivateKey(cfg.get("sshPrivateKey"), config.ssh.publicKey);
    const missingTools = config.hosts.length > 0 && config.ssh.access === "ssm"
        ? ["aws", "session-manager-plugin"].filter((tool) => !onPath(tool, env.PATH)) : [];
    if (missingTools.length > 0) {
        throw new ConfigError([{
            path: "ssh.access",
            message: `is ssm, but ${missingTools.join(" and ")} ${missingTools.length > 1 ? "are" : "is"} not on PATH; install the AWS CLI and its Session Manager plugin on this machine, or use ssh.access cidr`,
        }]);
    }
    const idlePool = config.hosts.findIndex((pool) => pool.idleMinutes !== undefined);
    if (idlePool >= 0 && !onPath("aws", env.PATH)) {
        throw new ConfigError([{
            path: `hosts[${idlePool}].idleMinutes`,
            message: "is set, but aws is not on PATH: pulumi up starts stopped hosts with the AWS CLI; install it on this machine, or drop idleMinutes",
        }]);
    }
    const plaintext = SECRET_KEYS.filter((key) => isSet(cfg, key) && !isSecret(`${project}:${key}`));
    if (plaintext.length > 0) {
        throw new ConfigError(plaintext.map((key) => ({
            path: key, message: `is stored in plain text in the stack file; set it again with \`pulumi config set --secret ${key}\``,
        })));
    }
    for (const pool of config.hosts.filter((p) => p.count > 1)) {
        void pulumi.log.warn(`hosts: pool "${pool.name}" has ${pool.count} hosts, but buildx sends every build of ${pool.platforms.join(", ")} ` +
            `to the first node that declares it (README, "Design choices"); ${pool.name}-1 and later join the builder without receiving this program's builds`);
    }
    const source = sourceUrl(projectRoot, env);
    return {
        config,
        region: new pulumi.Config("aws").get("region") ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
        buildkitdConfig: config.builder.buildkitdConfig && fs.readFileSync(path.join(projectRoot, config.builder.buildkitdConfig), "utf8"),
        // `pulumi config set --secret sshPrivateKey < key` drops the final newline, and
        // OpenSSH rejects a key file without it ("error in libcrypto").
        sshPrivateKey: cfg.requireSecret("sshPrivateKey").apply((key) => `${key.trim()}\n`),
        registryPassword: config.registry.type === "external" ? cfg.requireSecret("registryPassword") : undefined,
        labels: Object.fromEntries(config.images.map((image) => [image.name, ociLabels(projectRoot, image.context, source)])),
    };
}

/** Whether an executable named `tool` is in one of PATH's directories. */
export function onPath(tool: string, pathVariable: string | undefined): boolean {
    return (pathVariable ?? "").split(path.delimiter).filter(Boolean).some((dir) => {
        try {
            fs.accessSync(path.join(dir, tool), fs.constants.X_OK);
            return true;
        } catch {
            return false;
        }
    });
}

/** Set and not empty: Pulumi.yaml declares an empty default for optional secrets. */
function isSet(cfg: pulumi.Config, key: string): boolean {
    return (cfg.get(key) ?? "") !== "";
}

/**
 * Whether Pulumi holds a config key as a secret. The SDK's check is internal, so this
 * treats a missing check as "secret" rather than failing every stack.
 */
function isSecret(key: string): boolean {
    const check = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
    return typeof check !== "function" || check(key);
}
