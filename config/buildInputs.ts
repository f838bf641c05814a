// What a real Dockerfile needs besides a context: build secrets, SSH forwarding, named
// contexts, an inline Dockerfile and fresh bases. Each is one docker-build `Image` input
// (`secrets`, `ssh`, `context.named`, `dockerfile.inline`, `pull`; @pulumi/docker-build 0.0.22
// image.d.ts), so the keys here are that input in the stack's own words.

import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { checkInsideProject, Reporter } from "./projectPaths";
import {
    configSourceProblem,
    envSourceProblem,
    fileSourceProblem,
    PROGRAM_KEYS,
    readHead,
    sshPathProblem,
} from "./secretSources";

/** BuildKit's secret and SSH ids: what `RUN --mount=type=secret,id=…` names. */
export const MOUNT_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const CONTEXT_NAME = /^[a-z0-9][a-z0-9_.-]{0,127}$/;
const CONFIG_KEY = /^[A-Za-z][A-Za-z0-9_-]*$/;
const ENV_VAR = /^[A-Za-z_][A-Za-z0-9_]*$/;
const IMAGE_PREFIX = "docker-image://";
/** An image reference; builder.buildkitImage and the `image` driver option follow the same rule. */
export const IMAGE_REF =
    /^[a-z0-9][a-z0-9._-]*(:[0-9]{1,5})?(\/[a-z0-9._-]+)*(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

/** Where a build secret's value comes from: a secret config key, the runner's environment, or a file on the runner. */
export type SecretSource = { config: string } | { env: string } | { file: string; outsideProject?: boolean };

const secretSource = z.union(
    [
        z
            .object({ config: z.string().regex(CONFIG_KEY, "must be a config key of this project, such as npmToken") })
            .strict(),
        z
            .object({ env: z.string().regex(ENV_VAR, "must be an environment variable name, such as NPM_TOKEN") })
            .strict(),
        z.object({ file: z.string().min(1, "must not be empty"), outsideProject: z.boolean().optional() }).strict(),
    ],
    {
        error: "must be { config: <secret config key> }, { env: <environment variable> } or { file: <path on the runner>, outsideProject?: true }",
    },
);

/** The image keys, spread into the image schema. */
export const buildInputsShape = {
    // Record keys are checked in checkBuildInputs: zod reports a bad key only as "Invalid key in record".
    secrets: z.record(z.string(), secretSource).default({}),
    ssh: z
        .array(
            z
                .object({
                    id: z
                        .string()
                        .regex(MOUNT_ID, "must be an SSH id such as default: letters, digits, '_', '.' or '-'"),
                    paths: z.array(z.string().min(1, "must not be empty")).optional(),
                })
                .strict(),
        )
        .default([]),
    contexts: z.record(z.string(), z.string().min(1, "must not be empty")).default({}),
    dockerfileInline: z.string().min(1, "must not be empty").optional(),
    pull: z.boolean().default(false),
};

type RawBuildInputs = z.infer<z.ZodObject<typeof buildInputsShape>>;

export interface BuildInputs {
    /** Build secrets by id, each a Pulumi secret; none by default. */
    secrets: Record<string, pulumi.Output<string>>;
    /** SSH forwarding by id: without paths the runner's agent (SSH_AUTH_SOCK), else those keys or sockets. */
    ssh: { id: string; paths?: string[] }[];
    /** Named contexts: a project-relative directory in POSIX form, or `docker-image://<ref>`. */
    contexts: Record<string, string>;
    /** The Dockerfile as text; when set, `dockerfile` is not read. */
    dockerfileInline?: string;
    /** Always resolve base images again; with push the provider then rebuilds on every run. */
    pull: boolean;
}

/** Reads one secret's value at the edge, or reports why it cannot. */
export type SecretReader = (source: SecretSource, at: string, report: Reporter) => pulumi.Output<string> | undefined;

/** What only the edge knows: how to read secrets, and whether the runner has an SSH agent. */
export interface RunnerFacts {
    readSecret: SecretReader;
    sshAgent: boolean;
    /** Which of the fleet's own secrets (sshPrivateKey, …) `value` is, if it is one. */
    ownSecret?: (value: string) => string | undefined;
}

/** The config keys images read secrets from; they are not config of this program's own. */
export function secretConfigKeys(images: unknown): string[] {
    if (!Array.isArray(images)) {
        return [];
    }
    const sources: unknown[] = images.flatMap(
        (image: unknown) => Object.values((image as { secrets?: object } | null)?.secrets ?? {}) as unknown[],
    );
    // The program's own keys stay in its config, where checkBuildInputs refuses them as sources.
    return sources
        .flatMap((source) =>
            typeof (source as { config?: unknown } | null)?.config === "string"
                ? [(source as { config: string }).config]
                : [],
        )
        .filter((key) => !PROGRAM_KEYS.includes(key));
}

/** Checks the build inputs of the image at `at`. `dockerfileSet`: the image names a Dockerfile too. */
export function checkBuildInputs(
    raw: RawBuildInputs,
    dockerfileSet: boolean,
    at: string,
    projectRoot: string,
    runner: RunnerFacts | undefined,
    report: Reporter,
): BuildInputs {
    const secrets: Record<string, pulumi.Output<string>> = {};
    for (const [id, source] of Object.entries(raw.secrets)) {
        if (!MOUNT_ID.test(id)) {
            report(
                `${at}.secrets.${id}`,
                "must be a secret id: letters, digits, '_', '.' or '-', as RUN --mount=type=secret,id=<id> names it",
            );
            continue;
        }
        const sourceProblem =
            "config" in source
                ? configSourceProblem(source.config)
                : "env" in source
                  ? envSourceProblem(source.env)
                  : fileSourceProblem(source.file, projectRoot, source.outsideProject === true);
        if (sourceProblem) {
            report(`${at}.secrets.${id}.${Object.keys(source)[0]}`, sourceProblem);
            continue;
        }
        if (runner === undefined) {
            report(
                `${at}.secrets.${id}`,
                "build secrets are read by loadConfig (config/load.ts), which this caller bypassed",
            );
            continue;
        }
        const value = runner.readSecret(source, `${at}.secrets.${id}`, report);
        if (value !== undefined) {
            secrets[id] = value;
        }
    }
    raw.ssh.forEach((entry, i) => checkSsh(entry, `${at}.ssh[${i}]`, projectRoot, runner, report));
    raw.ssh.forEach((entry, i) => {
        if (raw.ssh.findIndex((e) => e.id === entry.id) !== i) {
            report(`${at}.ssh[${i}].id`, `"${entry.id}" repeats an earlier entry; list each SSH id once`);
        }
    });
    const contexts: Record<string, string> = {};
    for (const [name, location] of Object.entries(raw.contexts)) {
        if (!CONTEXT_NAME.test(name)) {
            report(
                `${at}.contexts.${name}`,
                "must be a context name: lowercase letters, digits, '_', '.' or '-', as FROM or COPY --from=<name> names it",
            );
            continue;
        }
        const checked = checkContext(location, `${at}.contexts.${name}`, projectRoot, report);
        if (checked !== undefined) {
            contexts[name] = checked;
        }
    }
    if (raw.dockerfileInline !== undefined && dockerfileSet) {
        report(
            `${at}.dockerfileInline`,
            "is set together with dockerfile; give the Dockerfile as a file or as text, not both",
        );
    }
    return { secrets, ssh: raw.ssh, contexts, dockerfileInline: raw.dockerfileInline, pull: raw.pull };
}

function checkSsh(
    entry: { id: string; paths?: string[] },
    at: string,
    projectRoot: string,
    runner: RunnerFacts | undefined,
    report: Reporter,
): void {
    if (entry.paths !== undefined && entry.paths.length === 0) {
        report(
            `${at}.paths`,
            `is empty; omit paths to forward the runner's SSH agent as "${entry.id}", or list the key files or agent sockets to forward`,
        );
        return;
    }
    if (entry.paths === undefined) {
        if (!(runner?.sshAgent ?? false)) {
            report(
                at,
                `forwards the runner's SSH agent as "${entry.id}", but SSH_AUTH_SOCK is not set; start ssh-agent and ssh-add the key, or list the key files under paths`,
            );
        }
        return;
    }
    entry.paths.forEach((p, j) => {
        const problem = sshPathProblem(p, projectRoot);
        const own =
            problem === undefined && fs.statSync(path.resolve(projectRoot, p)).isFile()
                ? runner?.ownSecret?.(readHead(path.resolve(projectRoot, p), 64 * 1024))
                : undefined;
        if (problem || own) {
            report(
                `${at}.paths[${j}]`,
                problem ??
                    `"${p}" holds ${own}, the fleet's own credential; a build would be handed it. Forward a deploy key made for the build`,
            );
        }
    });
}

/** A named context: `docker-image://<ref>`, or a directory with the same rules as `context`. */
export function checkContext(location: string, at: string, projectRoot: string, report: Reporter): string | undefined {
    if (location.startsWith(IMAGE_PREFIX)) {
        if (!IMAGE_REF.test(location.slice(IMAGE_PREFIX.length))) {
            report(at, `"${location}" is not docker-image://<image reference>, such as docker-image://alpine:3.20`);
            return undefined;
        }
        return location;
    }
    if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(location)) {
        report(
            at,
            `"${location}" is neither a directory inside the project nor docker-image://<image reference>; other sources (URLs, oci-layout://, service:, target:) are not supported`,
        );
        return undefined;
    }
    return checkInsideProject(location, projectRoot, at, "directory", report)?.replace(/(.)\/+$/, "$1");
}
