// The `images` section (and each image a Compose file adds): repository names, platforms and
// the pools that build them, tags, build args and the smoke test.

import * as path from "path";
import { z } from "zod";
import { nativeArchOf, normalizePlatform, platformSlug } from "../plan/platforms";
import { HostGroup, routeOf } from "../plan/routing";
import { movingTagProblem, PLACEHOLDERS } from "../plan/tagTemplates";
import { buildArgProblem } from "./buildArgs";
import { BuildInputs, buildInputsShape, checkBuildInputs } from "./buildInputs";
import { DEFAULT_DOCKERFILE, DEFAULT_SMOKE_TEST_COMMAND } from "./imageDefaults";
import { ConfigContext } from "./context";
import { checkUnique, normalizeList } from "./listChecks";
import { checkInsideProject, Reporter } from "./projectPaths";
import { registrySchema } from "./registrySchema";
import { imageSizeProblems, SignContext, signSizeProblems } from "./sizes";
import { keyPath } from "./zodMessages";

const smokeTestSchema = z
    .object({
        command: z
            .array(z.string().min(1, "must not be empty"))
            .min(1, "must name a program, such as [/app/server, --version]")
            .optional(),
        expect: z.string().min(1, "must not be empty").optional(),
    })
    .strict();

export const imageSchema = z
    .object({
        name: z.string(),
        context: z.string(),
        dockerfile: z.string().optional(),
        platforms: z.array(z.string()).min(1, "must list at least one platform, such as [linux/amd64, linux/arm64]"),
        tags: z.array(z.string()).min(1, "must list at least one tag").default(["latest"]),
        buildArgs: z.record(z.string(), z.string()).default({}),
        platformBuildArgs: z.record(z.string(), z.record(z.string(), z.string())).default({}),
        target: z
            .string()
            .regex(/^[A-Za-z0-9_.-]+$/, "must be a Dockerfile stage name")
            .optional(),
        test: smokeTestSchema.optional(),
        pools: z.array(z.string()).min(1, "must name at least one pool; omit it to use every pool").optional(),
        ...buildInputsShape,
    })
    .strict();

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

/** Longest registry host ECR uses (`<12 digits>.dkr.ecr.<region>.amazonaws.com/`). */
const ECR_HOST_LENGTH = 64;
const REPOSITORY = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

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

/**
 * Image names that give the same resource name: components/fleet.ts names each image's
 * build `<fleet>-<name with '/' as '-'>`, so team/web and team-web would be one resource.
 */
export function checkResourceNames(names: string[], report: Reporter): void {
    const resource = names.map((n) => n.replace(/\//g, "-"));
    resource.forEach((r, i) => {
        const first = resource.indexOf(r);
        if (first !== i && names[first] !== names[i]) {
            report(
                `images[${i}].name`,
                `"${names[i]}" and images[${first}].name "${names[first]}" give the same resource name (${r}: '/' becomes '-'); rename one`,
            );
        }
    });
}

export function checkImage(
    image: z.infer<typeof imageSchema>,
    at: string,
    pools: HostGroup[],
    registry: z.infer<typeof registrySchema>,
    ctx: ConfigContext,
    report: Reporter,
    templates: string[] = image.tags,
): ImageConfig {
    const hostLength = registry.type === "ecr" ? ECR_HOST_LENGTH : registry.address.length + 1;
    const first = image.name.split("/")[0];
    if (image.name.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")) {
        // Docker reads a first component with '.' or ':', or localhost, as a registry host
        // (https://github.com/distribution/reference/blob/main/normalize.go).
        report(
            `${at}.name`,
            `"${image.name}" starts with a registry host (${first}); give the repository name only, such as "${image.name.split("/").slice(1).join("/")}": the registry comes from ${registry.type === "ecr" ? "registry (the stack's own ECR repositories)" : "registry.address"}`,
        );
    } else if (!REPOSITORY.test(image.name)) {
        report(
            `${at}.name`,
            `"${image.name}" is not a valid repository name: lowercase letters and digits separated by '.', '_', '__', '-' or '/'`,
        );
    } else if (hostLength + image.name.length > 255) {
        report(
            `${at}.name`,
            `"${image.name}" is too long: with the registry host an image name may have at most 255 characters`,
        );
    }
    const platforms = normalizeList(image.platforms, `${at}.platforms`, report);
    const allowed = checkImagePools(image.pools, `${at}.pools`, pools, report);
    platforms
        .filter((p) => routeOf(allowed ?? pools, p) === undefined)
        .forEach((p) =>
            report(
                allowed ? `${at}.pools` : `${at}.platforms`,
                allowed
                    ? `none of the pools ${allowed.map((g) => g.name).join(", ")} builds ${p}; add a pool that does to ${at}.pools, or remove ${p} from ${at}.platforms`
                    : `no host serves ${p}; add a pool or static host whose platforms include it${nativeArchOf(p) ? ` (a ${nativeArchOf(p)} machine)` : ""}, or list it under one's emulate`,
            ),
        );
    checkTags(image.tags, platforms, `${at}.tags`, report);
    const { repository, registryHost } = longestRepository(registry, image.name);
    imageSizeProblems({ ...image, platforms }, at, repository, registryHost).forEach((p) => report(p.key, p.message));
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
            report(
                keyAt,
                `"${key}" and "${givenAs[result.platform]}" are both ${result.platform}, so one set of args would silently replace the other; merge them under ${result.platform}`,
            );
        } else {
            checkBuildArgs(args, keyAt, report);
            platformBuildArgs[result.platform] = args;
            givenAs[result.platform] = key;
        }
    });
    if (image.test?.expect !== undefined && image.test.command === undefined) {
        report(
            `${at}.test.expect`,
            `needs test.command; the default command (${DEFAULT_SMOKE_TEST_COMMAND.join(" ")}) is checked against each platform's machine name on its own`,
        );
    }
    for (const placeholder of image.test?.expect?.match(/\{\{[^}]*\}\}/g) ?? []) {
        if (!EXPECT_PLACEHOLDERS.includes(placeholder)) {
            report(
                `${at}.test.expect`,
                `uses ${placeholder}; the expectation knows ${EXPECT_PLACEHOLDERS.join(" and ")}`,
            );
        }
    }
    const context =
        image.context.trim() === ""
            ? void report(
                  `${at}.context`,
                  'is empty, which would send the whole checkout (.git, node_modules, the stack files) to every build; name the image\'s directory, or "." if the project root really is its context',
              )
            : checkInsideProject(image.context, ctx.projectRoot, `${at}.context`, "directory", report);
    const inputs = checkBuildInputs(image, image.dockerfile !== undefined, at, ctx.projectRoot, ctx.runner, report);
    const dockerfilePath = image.dockerfile ?? DEFAULT_DOCKERFILE;
    const dockerfile =
        context === undefined || inputs.dockerfileInline !== undefined
            ? undefined
            : checkInsideProject(
                  path.posix.join(context, dockerfilePath.replace(/\\/g, "/")),
                  ctx.projectRoot,
                  `${at}.dockerfile`,
                  "file",
                  report,
              );
    return {
        name: image.name,
        context: context ?? image.context,
        dockerfile: dockerfile ?? dockerfilePath,
        platforms,
        tags: image.tags,
        buildArgs: image.buildArgs,
        platformBuildArgs,
        target: image.target,
        test: image.test,
        ...inputs,
        ...(image.pools ? { pools: image.pools } : {}),
    };
}

/** The longest registry host and repository the runner's specs can name (ECR: the longest account host). */
function longestRepository(
    registry: z.infer<typeof registrySchema>,
    name: string,
): { repository: string; registryHost: string } {
    const registryHost = registry.type === "ecr" ? "r".repeat(ECR_HOST_LENGTH - 1) : registry.address.split("/")[0];
    return { repository: `${registry.type === "ecr" ? registryHost : registry.address}/${name}`, registryHost };
}

/**
 * Refuses a checked image whose sign step (runner/attest.ts) would get a spec over what exec
 * accepts: it runs after every build, index and read-back of the image (config/sizes.ts).
 */
export function checkSignSize(
    image: ImageConfig,
    at: string,
    registry: z.infer<typeof registrySchema>,
    sign: Omit<SignContext, "repository" | "registryHost">,
    report: Reporter,
): void {
    signSizeProblems(image, at, { ...sign, ...longestRepository(registry, image.name) }).forEach((p) =>
        report(p.key, p.message),
    );
}

/** The groups an image's `pools` names, reporting names that are no pool or static host; undefined when unset. */
function checkImagePools(
    names: string[] | undefined,
    at: string,
    groups: HostGroup[],
    report: Reporter,
): HostGroup[] | undefined {
    if (names === undefined) {
        return undefined;
    }
    names.forEach((n, i) => {
        if (!groups.some((g) => g.name === n)) {
            report(
                `${at}[${i}]`,
                `"${n}" is no pool under hosts and no host under staticHosts (known: ${groups.map((g) => g.name).join(", ")})`,
            );
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
            report(
                `${at}[${i}]`,
                `${moving}, which registry.immutableTags forbids (ECR refuses to push it again); tag with versions or commits instead, such as {{version}} or {{short_sha}}`,
            );
        } else if (template.startsWith("cache-")) {
            report(
                `${at}[${i}]`,
                `"${template}" starts with cache-, which registry.immutableTags leaves mutable for the build cache (the exclusion filter cache-*); choose a tag without that prefix`,
            );
        }
    });
    rendered
        .filter((tag) => tag.startsWith("cache-") && !templates.includes(tag))
        .forEach((tag) =>
            report(
                at,
                `renders "${tag}", which starts with cache-, the prefix registry.immutableTags leaves mutable for the build cache; change the template`,
            ),
        );
}

function checkTags(tags: string[], platforms: string[], at: string, report: Reporter): void {
    const longestSuffix = Math.max(0, ...platforms.map((p) => platformTag("", p).length));
    const derived = new Set([
        ...platforms.map(cacheTag),
        ...tags.flatMap((t) => platforms.map((p) => platformTag(t, p))),
    ]);
    tags.forEach((tag, i) => {
        if (tag.includes("{{")) {
            report(
                `${at}[${i}]`,
                `"${tag}" uses an unknown placeholder; tag templates know ${PLACEHOLDERS.map((p) => `{{${p}}}`).join(", ")}`,
            );
        } else if (!TAG.test(tag)) {
            report(
                `${at}[${i}]`,
                `"${tag}" is not a valid tag: letters, digits, '_', '.' and '-', not starting with '.' or '-', at most 128 characters`,
            );
        } else if (tag.length + longestSuffix > 128) {
            report(
                `${at}[${i}]`,
                `"${tag}" is too long: platform images are tagged "${platformTag(tag, platforms[0] ?? "")}…", which must fit in 128 characters; shorten it to ${128 - longestSuffix}`,
            );
        } else if (derived.has(tag)) {
            report(
                `${at}[${i}]`,
                `"${tag}" collides with a tag this program writes for platform images or the registry cache; choose another tag`,
            );
        }
    });
    checkUnique(tags, (i) => `${at}[${i}]`, report);
}
