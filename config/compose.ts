// Images from a Compose file, as docker compose itself reads it: loadConfig runs
// `docker compose config` (interpolation from the environment and `.env`,
// merge keys, `extends`, profiles and defaults, all done by compose-go), and this module maps
// the normalised build sections onto image entries. Build keys the fleet cannot honour are
// refused by name (https://github.com/compose-spec/compose-spec/blob/main/build.md).

import * as path from "path";
import { Reporter } from "./projectPaths";
import { MOUNT_ID, SecretSource } from "./buildInputs";
import { ComposeOrigin } from "./composeTerms";

/** An image entry as the stack's `images` list would spell it. */
export interface ComposeImage {
    /** Where it came from, for error messages: `compose(docker-compose.yml).services.web`. */
    at: string;
    /** Where each of its keys came from, so problems name the Compose file's keys (config/composeTerms.ts). */
    origin: ComposeOrigin;
    image: {
        name: string;
        context: string;
        dockerfile?: string;
        dockerfileInline?: string;
        platforms: string[];
        tags?: string[];
        buildArgs: Record<string, string>;
        target?: string;
        secrets: Record<string, SecretSource>;
        ssh: { id: string; paths?: string[] }[];
        contexts: Record<string, string>;
        pull: boolean;
    };
}

/** The parts of compose-go's normalised model (types.Project) this reads. */
interface Build {
    context?: string;
    dockerfile?: string;
    dockerfile_inline?: string;
    args?: Record<string, string | null>;
    target?: string;
    platforms?: string[];
    secrets?: { source: string; target?: string }[];
    ssh?: unknown[];
    additional_contexts?: Record<string, string>;
    tags?: string[];
    pull?: boolean;
    [key: string]: unknown;
}
interface Model {
    services?: Record<string, { build?: Build; image?: string; platform?: string }>;
    secrets?: Record<string, { file?: string; environment?: string; external?: unknown; content?: string }>;
}

/** Build keys mapped onto image inputs. */
const HONOURED = [
    "context",
    "dockerfile",
    "dockerfile_inline",
    "args",
    "target",
    "platforms",
    "secrets",
    "ssh",
    "additional_contexts",
    "tags",
    "pull",
];

/** Why the other build keys are refused, for the error message. */
const REFUSED: Record<string, string> = {
    cache_from: 'the fleet gives every platform its own registry cache (docs/architecture.md, "Design choices")',
    cache_to: 'the fleet gives every platform its own registry cache (docs/architecture.md, "Design choices")',
    no_cache: "a build without cache would run on every pulumi up; to force one rebuild, change a build arg",
    no_cache_filter: "the fleet's builds always use their cache",
    network: "builds run in BuildKit on the build hosts, whose network is builder.driverOptions.network",
    extra_hosts: "builds run on the build hosts, whose name resolution is theirs; docker-build has no such input",
    shm_size: "docker-build has no such input",
    ulimits: "docker-build has no such input",
    isolation: "only Windows containers have isolation modes; the fleet builds Linux images",
    privileged: "the fleet grants no build entitlements",
    entitlements: "the fleet grants no build entitlements",
    labels: 'the fleet sets the images\' OCI labels itself (docs/architecture.md, "OCI labels")',
    provenance: "the fleet pushes plain platform manifests and joins them into one index",
    sbom: "the fleet pushes plain platform manifests and joins them into one index",
};

/** `registry.example.com/team/web:1.2` → name `team/web`, tag `1.2`; the registry is this stack's. */
export function splitImage(image: string): { name: string; tag?: string } {
    const withoutDigest = image.split("@")[0];
    const parts = withoutDigest.split("/");
    if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0])) {
        parts.shift();
    }
    const last = parts.pop() ?? "";
    const colon = last.indexOf(":");
    return colon < 0
        ? { name: [...parts, last].join("/") }
        : { name: [...parts, last.slice(0, colon)].join("/"), tag: last.slice(colon + 1) };
}

/** A path compose made absolute, relative to the project root again (the stack's rule for contexts). */
function projectRelative(location: string, projectRoot: string): string {
    return path.isAbsolute(location) ? path.relative(projectRoot, location).split(path.sep).join("/") || "." : location;
}

/** compose-go prints an SSH entry as `"default"`, `"id=path"` or `{ "id": "path" }`. */
export function sshEntry(entry: unknown): { id: string; paths?: string[] } | undefined {
    if (typeof entry === "string") {
        const at = entry.search(/[=:]/);
        return at < 0 ? { id: entry } : { id: entry.slice(0, at).trim(), paths: [entry.slice(at + 1).trim()] };
    }
    if (entry !== null && typeof entry === "object" && Object.keys(entry).length === 1) {
        const [[id, p]] = Object.entries(entry);
        return typeof p === "string" && p !== "" ? { id, paths: [p] } : { id };
    }
    return undefined;
}

/** The service's build secrets: the id is the reference's target, else its source (as compose's bake mapping does). */
function secrets(
    build: Build,
    model: Model,
    at: string,
    report: Reporter,
    origins: ComposeOrigin["secrets"],
): Record<string, SecretSource> {
    const out: Record<string, SecretSource> = {};
    (build.secrets ?? []).forEach((ref, i) => {
        const def = model.secrets?.[ref.source];
        const id = ref.target || ref.source;
        if (!MOUNT_ID.test(id)) {
            report(
                `${at}.build.secrets[${i}]`,
                `"${id}" must be a secret id: letters, digits, '_', '.' or '-', as RUN --mount=type=secret,id=<id> names it; change ${ref.target ? "its target" : "the secret's name"}`,
            );
        } else if (def?.environment) {
            out[id] = { env: def.environment };
            origins[id] = { name: ref.source, kind: "environment" };
        } else if (def?.file) {
            out[id] = { file: def.file };
            origins[id] = { name: ref.source, kind: "file" };
        } else {
            report(
                `${at}.build.secrets[${i}]`,
                `secret "${ref.source}" is ${def === undefined ? "not defined under the top-level secrets" : "neither a file nor an environment secret"}; the fleet reads build secrets from a file or an environment variable of this machine`,
            );
        }
    });
    return out;
}

/** The named contexts: directories (made project-relative) and docker-image:// references. */
function contexts(build: Build, projectRoot: string, at: string, report: Reporter): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, location] of Object.entries(build.additional_contexts ?? {})) {
        if (/^(service|target):/.test(location)) {
            report(
                `${at}.build.additional_contexts.${name}`,
                `"${location}" builds from another service or stage, which the fleet cannot order across images; use a directory or docker-image://<ref>`,
            );
        } else {
            out[name] = projectRelative(location, projectRoot);
        }
    }
    return out;
}

/** Extra tags of the service's own repository; another repository cannot be pushed from one build. */
function tags(build: Build, name: string, own: string | undefined, at: string, report: Reporter): string[] | undefined {
    const out = own === undefined ? [] : [own];
    (build.tags ?? []).forEach((ref, i) => {
        const split = splitImage(ref);
        if (split.name !== name) {
            report(
                `${at}.build.tags[${i}]`,
                `"${ref}" names repository ${split.name}, but the service's image is ${name}; the fleet pushes each service to one repository`,
            );
        } else if (split.tag !== undefined && !out.includes(split.tag)) {
            out.push(split.tag);
        }
    });
    return out.length > 0 ? out : undefined;
}

/**
 * Maps `docker compose config` output onto images: every service with a
 * build section becomes one. `file` is the Compose file relative to the project root.
 */
export function composeImages(model: unknown, file: string, projectRoot: string, report: Reporter): ComposeImage[] {
    if (model === null || typeof model !== "object") {
        report("compose", `${file} was not read through docker compose config; loadConfig reads it`);
        return [];
    }
    const doc = model as Model;
    const base = `compose(${file})`;
    return Object.entries(doc.services ?? {})
        .filter(([, service]) => service?.build !== undefined)
        .map(([service, { build = {}, image, platform }]) => {
            const at = `${base}.services.${service}`;
            Object.keys(build)
                .filter((key) => !HONOURED.includes(key) && !key.startsWith("x-"))
                .forEach((key) =>
                    report(
                        `${at}.build.${key}`,
                        `is not honoured by the fleet: ${REFUSED[key] ?? "it has no docker-build input"}; remove it from the build section`,
                    ),
                );
            const platforms = build.platforms ?? (platform ? [platform] : []);
            if (platforms.length === 0) {
                report(at, "names no platform; set build.platforms (or platform) on the service");
            }
            const ssh = (build.ssh ?? [])
                .flatMap((entry, i) => {
                    const parsed = sshEntry(entry);
                    if (parsed === undefined) {
                        report(`${at}.build.ssh[${i}]`, "is not an SSH entry such as default or id=/path/to/key");
                    }
                    return parsed === undefined ? [] : [parsed];
                    // compose-go keeps ssh as a map and prints it in random order; sorted, the input stays
                    // the same across runs (an ssh change is an update of both builds).
                })
                .sort((a, b) => a.id.localeCompare(b.id));
            const named = image ? splitImage(image) : { name: service };
            const context = projectRelative(build.context ?? ".", projectRoot);
            const inline = build.dockerfile_inline;
            const secretOrigins: ComposeOrigin["secrets"] = {};
            return {
                at,
                origin: {
                    base,
                    at,
                    hasImage: image !== undefined,
                    imageTagged: named.tag !== undefined,
                    platformKey: build.platforms === undefined && platform ? "platform" : "build.platforms",
                    secrets: secretOrigins,
                    sshIds: ssh.map((e) => e.id),
                },
                image: {
                    name: named.name,
                    context,
                    // compose-go fills in dockerfile: Dockerfile even when the build gives it inline.
                    dockerfile:
                        inline !== undefined || build.dockerfile === undefined
                            ? undefined
                            : path.isAbsolute(build.dockerfile)
                              ? path
                                    .relative(path.join(projectRoot, context), build.dockerfile)
                                    .split(path.sep)
                                    .join("/")
                              : build.dockerfile,
                    dockerfileInline: inline,
                    platforms,
                    tags: tags(build, named.name, named.tag, at, report),
                    buildArgs: Object.fromEntries(
                        Object.entries(build.args ?? {})
                            .filter(([, v]) => v !== null && v !== undefined)
                            .map(([k, v]) => [k, String(v)]),
                    ),
                    target: build.target,
                    secrets: secrets(build, doc, at, report, secretOrigins),
                    ssh,
                    contexts: contexts(build, projectRoot, at, report),
                    pull: build.pull ?? false,
                },
            };
        });
}
