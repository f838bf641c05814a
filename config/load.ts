// The edge: reads the stack's config and the repository, and nothing else does.

import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { regionProblem } from "./awsRegion";
import { parse } from "yaml";
import { ociLabelsOf, sourceUrl } from "../plan/ociLabels";
import { checkPrivateKey } from "./privateKey";
import { ConfigError, FleetConfig, parseConfig, Problem } from "./schema";
import { RefMetadata, refMetadata, renderTags } from "../plan/tagTemplates";
import { RunnerFacts, secretConfigKeys, SecretSource } from "./buildInputs";
import { FLEET_SECRET_KEYS, secretValueProblem } from "./secretSources";
import { profilesOnlyProblem, unsetVariables } from "./composeTerms";
import { checkInsideProject } from "./projectPaths";

/** Config keys that hold secrets; they are read as secret Outputs, never parsed as values. */
const SECRET_KEYS = ["sshPrivateKey", "registryPassword", "signingKey", "signingKeyPassword"] as const;

export interface LoadedConfig {
    config: FleetConfig;
    /** The AWS region (aws:region, else AWS_REGION), for SSM sessions. */
    region?: string;
    /** Contents of builder.buildkitdConfig. */
    buildkitdConfig?: string;
    sshPrivateKey: pulumi.Output<string>;
    registryPassword?: pulumi.Output<string>;
    /** signing.mode key: cosign's encrypted private key and its password (secrets). */
    signingKey?: { key: pulumi.Output<string>; password: pulumi.Output<string> };
    /** Per image name, its OCI labels, known once its context's git log has answered. */
    labels: Record<string, pulumi.Output<Record<string, string>>>;
}

/** Every key of this project's namespace, values decoded from their JSON form. */
function rawProjectConfig(project: string): Record<string, unknown> {
    const prefix = `${project}:`;
    const all = Object.fromEntries(
        Object.entries(pulumi.runtime.allConfig())
            .filter(([key]) => key.startsWith(prefix))
            .map(([key, value]): [string, unknown] => [key.slice(prefix.length), decode(value)]),
    );
    // Keys that hold build secrets are read by the secret reader, as secrets, and only there.
    const secretKeys = [...SECRET_KEYS, ...secretConfigKeys(all.images)];
    return Object.fromEntries(Object.entries(all).filter(([key]) => !secretKeys.includes(key)));
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
                problems.push({
                    path: `images[${i}].tags`,
                    message: `no tag applies to this build (${tags.join(", ")} need values it lacks, such as a release tag v1.2.3 for {{version}}); add a tag such as {{short_sha}}`,
                });
            }
            (image as { tags: string[] }).tags = rendered;
        }
    });
    return problems;
}

/** The tag templates of each image as written, keyed by its key path, before rendering. */
function templatesOf(raw: Record<string, unknown>): Record<string, string[]> {
    const images = Array.isArray(raw.images) ? (raw.images as unknown[]) : [];
    return Object.fromEntries(
        images.flatMap((image, i) => {
            const tags = (image as { tags?: unknown } | null)?.tags;
            return Array.isArray(tags) && tags.every((t) => typeof t === "string") ? [[`images[${i}]`, [...tags]]] : [];
        }),
    );
}

/** aws:region, else AWS_REGION, else AWS_DEFAULT_REGION; checked, as it reaches command lines. */
function regionOf(env: Record<string, string | undefined>): string | undefined {
    const configured = new pulumi.Config("aws").get("region");
    const [region, source] =
        configured !== undefined
            ? [configured, "aws:region"]
            : env.AWS_REGION
              ? [env.AWS_REGION, "the AWS_REGION environment variable"]
              : env.AWS_DEFAULT_REGION
                ? [env.AWS_DEFAULT_REGION, "the AWS_DEFAULT_REGION environment variable"]
                : [undefined, ""];
    const problem = region === undefined ? undefined : regionProblem(region, source);
    if (problem) {
        throw new ConfigError([{ path: "aws:region", message: problem }]);
    }
    return region;
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
    const tagTemplates = templatesOf(raw);
    const tagProblems = renderImageTags(raw, refMetadata(projectRoot, env));
    if (tagProblems.length > 0) {
        throw new ConfigError(tagProblems);
    }
    const config = parseConfig(raw, {
        projectRoot,
        project,
        stack,
        tagTemplates,
        secretsSet: {
            sshPrivateKey: isSet(cfg, "sshPrivateKey"),
            registryPassword: isSet(cfg, "registryPassword"),
            signingKey: isSet(cfg, "signingKey"),
            signingKeyPassword: isSet(cfg, "signingKeyPassword"),
        },
        runner: {
            readSecret: secretReader(cfg, project, projectRoot, env),
            sshAgent: (env.SSH_AUTH_SOCK ?? "") !== "",
            ownSecret: ownSecretOf(cfg),
        },
        compose:
            typeof raw.compose === "string" && raw.compose !== ""
                ? readCompose(raw.compose, projectRoot, env)
                : undefined,
    });
    checkPrivateKey(cfg.get("sshPrivateKey"), config.ssh.publicKey);
    const missingTools =
        config.hosts.length > 0 && config.ssh.access === "ssm"
            ? ["aws", "session-manager-plugin"].filter((tool) => !onPath(tool, env.PATH))
            : [];
    if (missingTools.length > 0) {
        throw new ConfigError([
            {
                path: "ssh.access",
                message: `is ssm, but ${missingTools.join(" and ")} ${missingTools.length > 1 ? "are" : "is"} not on PATH; install the AWS CLI and its Session Manager plugin on this machine, or use ssh.access cidr`,
            },
        ]);
    }
    // The sign step runs them on this machine (runner/attest.ts); without them an update would
    // fail only after every image was built and pushed. Previews sign nothing, so they need neither.
    const signingTools =
        config.signing && !pulumi.runtime.isDryRun()
            ? ["cosign", "syft"].filter((tool) => !onPath(tool, env.PATH))
            : [];
    if (signingTools.length > 0) {
        throw new ConfigError([
            {
                path: "signing",
                message: `is set, but ${signingTools.join(" and ")} ${signingTools.length > 1 ? "are" : "is"} not on PATH: pulumi up signs with cosign and writes SBOMs with syft on this machine; install cosign v3 and syft (docs/signing.md, "Verifiable releases"), or drop signing`,
            },
        ]);
    }
    const idlePool = config.hosts.findIndex((pool) => pool.idleMinutes !== undefined);
    if (idlePool >= 0 && !onPath("aws", env.PATH)) {
        throw new ConfigError([
            {
                path: `hosts[${idlePool}].idleMinutes`,
                message:
                    "is set, but aws is not on PATH: pulumi up starts stopped hosts with the AWS CLI; install it on this machine, or drop idleMinutes",
            },
        ]);
    }
    if (config.hosts.length > 0 && !onPath("aws", env.PATH)) {
        throw new ConfigError([
            {
                path: "hosts",
                message:
                    "lists EC2 pools, but aws is not on PATH: pulumi up reads each new host's SSH host key from its console output with the AWS CLI (ec2:GetConsoleOutput); install it on this machine",
            },
        ]);
    }
    const plaintext = SECRET_KEYS.filter((key) => isSet(cfg, key) && !isSecret(`${project}:${key}`));
    if (plaintext.length > 0) {
        throw new ConfigError(
            plaintext.map((key) => ({
                path: key,
                message: `is stored in plain text in the stack file; set it again with \`pulumi config set --secret ${key}\``,
            })),
        );
    }
    const region = regionOf(env);
    const source = sourceUrl(projectRoot, env);
    return {
        config,
        region,
        buildkitdConfig:
            config.builder.buildkitdConfig &&
            fs.readFileSync(path.join(projectRoot, config.builder.buildkitdConfig), "utf8"),
        // `pulumi config set --secret sshPrivateKey < key` drops the final newline, and
        // OpenSSH rejects a key file without it ("error in libcrypto").
        sshPrivateKey: cfg.requireSecret("sshPrivateKey").apply((key) => `${key.trim()}\n`),
        registryPassword: config.registry.type === "external" ? cfg.requireSecret("registryPassword") : undefined,
        signingKey:
            config.signing?.mode === "key"
                ? { key: cfg.requireSecret("signingKey"), password: cfg.requireSecret("signingKeyPassword") }
                : undefined,
        labels: imageLabels(config, projectRoot, source),
    };
}

/** Each image's labels; images that share a context share its git query. */
function imageLabels(
    config: FleetConfig,
    projectRoot: string,
    source: string | undefined,
): Record<string, pulumi.Output<Record<string, string>>> {
    if (config.images.length === 0) {
        return {};
    }
    const contexts = [...new Set(config.images.map((image) => image.context))];
    const all = ociLabelsOf(projectRoot, contexts, source);
    const byContext = Object.fromEntries(
        contexts.map((context) => [context, pulumi.output(all.then((labels) => labels[context]))]),
    );
    return Object.fromEntries(config.images.map((image) => [image.name, byContext[image.context]]));
}

/** Whether an executable named `tool` is in one of PATH's directories. */
export function onPath(tool: string, pathVariable: string | undefined): boolean {
    return (pathVariable ?? "")
        .split(path.delimiter)
        .filter(Boolean)
        .some((dir) => {
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

/** Which of the fleet's own secrets a value is (compared trimmed), so no build source hands one over. */
function ownSecretOf(cfg: pulumi.Config): (value: string) => string | undefined {
    const own = FLEET_SECRET_KEYS.map((key) => [key, (cfg.get(key) ?? "").trim()]).filter(([, value]) => value !== "");
    return (value) => own.find(([, secret]) => secret === value.trim())?.[0];
}

/**
 * Reads a build secret's value as a Pulumi secret, so the state keeps it encrypted: a
 * config key must be stored with --secret, an environment variable must be set and not
 * empty, a file must be readable.
 */
function secretReader(
    cfg: pulumi.Config,
    project: string,
    projectRoot: string,
    env: Record<string, string | undefined>,
): RunnerFacts["readSecret"] {
    const ownSecret = ownSecretOf(cfg);
    /** The value as a Pulumi secret, unless it is one of the fleet's own secrets. */
    const asSecret = (
        value: string,
        at: string,
        report: (p: string, m: string) => void,
    ): pulumi.Output<string> | undefined => {
        const own = ownSecret(value);
        if (own !== undefined) {
            report(
                at,
                `holds the same value as ${own}, the fleet's own credential; a build would be handed it. Give the build a credential made for it`,
            );
            return undefined;
        }
        return pulumi.secret(value);
    };
    return (source: SecretSource, at, report) => {
        if ("config" in source) {
            if (!isSet(cfg, source.config)) {
                report(
                    at,
                    `reads the stack's config key ${source.config}, which is not set; run \`pulumi config set --secret ${source.config} <value>\``,
                );
                return undefined;
            }
            if (!isSecret(`${project}:${source.config}`)) {
                report(
                    at,
                    `reads ${source.config}, which is stored in plain text in the stack file; set it again with \`pulumi config set --secret ${source.config} <value>\``,
                );
                return undefined;
            }
            return cfg.requireSecret(source.config);
        }
        if ("env" in source) {
            const value = env[source.env];
            if (value === undefined || value === "") {
                report(
                    at,
                    `reads the environment variable ${source.env}, which is not set on this machine; export it before pulumi runs (a CI secret variable)`,
                );
                return undefined;
            }
            const problem = secretValueProblem(value, env, source.env);
            if (problem !== undefined) {
                report(at, problem);
                return undefined;
            }
            return asSecret(value, at, report);
        }
        try {
            const content = fs.readFileSync(path.resolve(projectRoot, source.file), "utf8");
            // A file can hold a runner credential as well as a variable can: a .git-credentials
            // or .netrc line with the job token, a copy of CI_REPOSITORY_URL.
            const problem = secretValueProblem(content, env);
            if (problem !== undefined) {
                report(at, problem);
                return undefined;
            }
            return asSecret(content, at, report);
        } catch (e) {
            report(
                at,
                `reads the file ${source.file}, which cannot be read on this machine (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
            );
            return undefined;
        }
    };
}

/** The Compose CLI: the docker CLI plugin, else a standalone docker-compose of v2 or later. */
function composeCommand(env: Record<string, string | undefined>): string[] | undefined {
    for (const command of [["docker", "compose"], ["docker-compose"]]) {
        try {
            const version = execFileSync(command[0], [...command.slice(1), "version", "--short"], {
                env,
                encoding: "utf8",
                stdio: ["ignore", "pipe", "ignore"],
            });
            if (/^v?([2-9]|\d{2,})\./.test(version.trim())) {
                return command;
            }
        } catch {
            // not installed, or not Compose v2+: try the next form
        }
    }
    return undefined;
}

/**
 * The Compose file as `docker compose config` normalises it (interpolation from this environment and
 * the file's `.env`, merge keys, extends, profiles, defaults), run from the project root.
 */
export function readCompose(file: string, projectRoot: string, env: Record<string, string | undefined>): unknown {
    const problems: Problem[] = [];
    const inside = checkInsideProject(file, projectRoot, "compose", "file", (p, message) =>
        problems.push({ path: p, message }),
    );
    if (inside === undefined) {
        throw new ConfigError(problems);
    }
    const command = composeCommand(env);
    if (command === undefined) {
        throw new ConfigError([
            {
                path: "compose",
                message:
                    "is set, but the Compose CLI is missing: neither `docker compose` (Compose v2 or later) nor a standalone docker-compose v2+ runs on this machine; install the Docker Compose plugin, or drop compose and list images",
            },
        ]);
    }
    // YAML, not --format json: compose-go v2.16.1's SSHKey.MarshalJSON writes `"id": path`
    // inside the ssh list, which is not JSON, so any `ssh: [id=path]` fails (types/ssh.go).
    const result = spawnSync(command[0], [...command.slice(1), "-f", inside, "config", "--format", "yaml"], {
        cwd: projectRoot,
        env,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        maxBuffer: 64 * 1024 * 1024,
    });
    if (result.error !== undefined || result.status !== 0) {
        const detail = (result.stderr || result.error?.message || `exit status ${result.status}`)
            .trim()
            .split("\n")
            .slice(0, 5)
            .join("; ");
        throw new ConfigError([
            { path: "compose", message: `${command.join(" ")} config could not read ${inside}: ${detail}` },
        ]);
    }
    const unset = unsetVariables(result.stderr);
    if (unset.length > 0) {
        throw new ConfigError([
            {
                path: "compose",
                message: `${inside} uses ${unset.map((v) => `\${${v}}`).join(", ")}, which ${unset.length > 1 ? "are" : "is"} not set on this machine; docker compose reads an unset variable as an empty string, so the image, tags, context or args it builds are not the ones written. Export ${unset.join(", ")} before pulumi runs, or give a default in the file, such as \${${unset[0]}:-value}`,
            },
        ]);
    }
    const model = parse(result.stdout) as unknown;
    const services = (model as { services?: Record<string, { build?: unknown } | null> } | null)?.services ?? {};
    if (!Object.values(services).some((service) => service?.build !== undefined)) {
        const problem = profilesOnlyProblem(
            parse(fs.readFileSync(path.join(projectRoot, inside), "utf8")) as unknown,
            inside,
        );
        if (problem) {
            throw new ConfigError([{ path: "compose", message: problem }]);
        }
    }
    return model;
}
