// Problems of images that came from a Compose file, in Compose's own terms: the file, the
// service and the key as the user wrote them (`build.args`, `build.ssh`, the top-level
// `secrets`), not the stack keys they were mapped onto (`buildArgs`, `ssh[1].paths[0]`). And
// the two ways a Compose file silently builds nothing or the wrong thing: an unset `${VAR}`,
// which `docker compose config` reads as an empty string, and services left out by profiles.

/** Where each image key of a Compose service came from. */
export interface ComposeOrigin {
    /** `compose(<file>)`. */
    base: string;
    /** `compose(<file>).services.<service>`. */
    at: string;
    /** The service has an `image:` (else its name is the image name). */
    hasImage: boolean;
    /** The `image:` has a tag, which is the image's first tag. */
    imageTagged: boolean;
    /** `build.platforms`, or the service's `platform`. */
    platformKey: "build.platforms" | "platform";
    /** Build secret id → the top-level secret it reads, and how (`file`, `environment`). */
    secrets: Record<string, { name: string; kind: "file" | "environment" }>;
    /** The SSH ids in the order of the image's `ssh` list. */
    sshIds: string[];
}

const BUILD_KEYS: Record<string, string> = {
    context: "build.context",
    dockerfile: "build.dockerfile",
    dockerfileInline: "build.dockerfile_inline",
    tags: "build.tags",
    buildArgs: "build.args",
    target: "build.target",
    contexts: "build.additional_contexts",
    pull: "build.pull",
};

/** The first key of a key path's tail (`.a`, `["a.b"]` or `[3]`) and the rest. */
function firstSegment(tail: string): [string, string] | undefined {
    const m = /^(?:\.([^.[]+)|\["((?:[^"\\]|\\.)*)"\]|\[(\d+)\])(.*)$/s.exec(tail);
    return m ? [m[1] ?? m[2] ?? m[3], m[4]] : undefined;
}

/** A stack key path under a Compose service, as the Compose file spells it. */
export function composeKeyPath(stackPath: string, origin: ComposeOrigin): string {
    if (!stackPath.startsWith(origin.at)) {
        return stackPath;
    }
    const first = firstSegment(stackPath.slice(origin.at.length));
    if (first === undefined) {
        return stackPath;
    }
    const [key, rest] = first;
    if (key === "name") {
        return origin.hasImage ? `${origin.at}.image` : origin.at;
    }
    if (key === "platforms") {
        return origin.platformKey === "platform" ? `${origin.at}.platform` : `${origin.at}.build.platforms${rest}`;
    }
    if (key === "secrets") {
        const id = firstSegment(rest);
        const secret = id && origin.secrets[id[0]];
        return secret ? `${origin.base}.secrets.${secret.name}.${secret.kind}` : `${origin.at}.build.secrets`;
    }
    if (key === "ssh") {
        // Compose gives one path per id (`id=path`), so the id is the whole entry.
        const index = firstSegment(rest);
        const id = index && origin.sshIds[Number(index[0])];
        return id === undefined ? `${origin.at}.build.ssh` : `${origin.at}.build.ssh.${id}`;
    }
    if (key === "tags" && origin.imageTagged && /^\[0\]/.test(rest)) {
        return `${origin.at}.image`;
    }
    const mapped = BUILD_KEYS[key];
    if (mapped === undefined) {
        return stackPath;
    }
    // Tags: the first may come from `image:`, so an index into the list is not the file's.
    return `${origin.at}.${mapped}${key === "tags" ? "" : rest}`;
}

/**
 * The variables `docker compose config` warned are not set (it reads each as an empty string),
 * sorted: Compose prints its warnings in no fixed order, and the message should not change
 * from one run to the next.
 */
export function unsetVariables(stderr: string): string[] {
    const names = [...stderr.matchAll(/The \\?"([A-Za-z_][A-Za-z0-9_]*)\\?" variable is not set/g)].map((m) => m[1]);
    return [...new Set(names)].sort();
}

/**
 * Why a Compose file yields no image although it has build sections, if profiles are why:
 * `docker compose config` leaves out services whose profiles are not active. `raw` is the
 * file as YAML, before Compose read it.
 */
export function profilesOnlyProblem(raw: unknown, file: string): string | undefined {
    const services =
        (raw as { services?: Record<string, { build?: unknown; profiles?: unknown }> } | null)?.services ?? {};
    const built = Object.entries(services).filter(
        ([, s]) => s !== null && typeof s === "object" && s.build !== undefined,
    );
    if (built.length === 0) {
        return `${file} has no service with a build section, so it builds nothing; add build: to the services to build, or drop compose`;
    }
    const profiles = [...new Set(built.flatMap(([, s]) => (Array.isArray(s.profiles) ? s.profiles : []).map(String)))];
    if (built.every(([, s]) => Array.isArray(s.profiles) && s.profiles.length > 0)) {
        return `${file} builds nothing: its services with a build section (${built.map(([n]) => n).join(", ")}) all belong to profiles (${profiles.join(", ")}), and docker compose config leaves out services whose profiles are not active; set COMPOSE_PROFILES=${profiles.join(",")} before pulumi runs, or remove profiles from the services to build`;
    }
    return undefined;
}
