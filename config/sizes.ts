// Sizes the OS or the stack's shape puts a ceiling on, checked before any resource exists.
//
// The smoke test and the index read-back get their spec in one environment variable, NBF_SPEC
// (components/imageBuild.ts). Linux refuses to exec a program with any one argument or
// environment string longer than MAX_ARG_STRLEN, 32 pages = 131072 bytes with 4 KiB pages,
// "NBF_SPEC=" and the final NUL included (include/uapi/linux/binfmts.h; execve(2), "Limits on
// size of arguments and environment"), with E2BIG. Those commands run after every build of the
// image, so the failure would come at the end of an update. Here the largest spec an image can
// produce is computed from its config, with every value the program fills in at its longest.
// The sign step (runner/attest.ts) gets its AttestSpec the same way, and runs last of all.

import { machinesOf } from "../plan/platforms";
import { DEFAULT_SMOKE_TEST_COMMAND } from "./imageDefaults";
import type { SigningConfig } from "./signing";

/** Linux's MAX_ARG_STRLEN with 4 KiB pages. */
export const MAX_ARG_STRLEN = 32 * 4096;
/** The longest builder name (config/schema.ts builder.name) plus '-' and the longest host name, with room for a longer node naming. */
const BUILDER_FIELD = 63 + 1 + 31 + 64;
const DIGEST = `sha256:${"0".repeat(64)}`;
/** The longest host a build runs on: a DNS name (RFC 1035) or an address. */
const HOST_FIELD = 253;
/**
 * The repository's web address the sign step records (plan/ociLabels.ts sourceUrl): it comes
 * from CI variables or git at run time, so it is allowed for, not known; 2 KiB is above any
 * forge's project URL.
 */
const SOURCE_URL = 2048;
/**
 * A platform's smoke-test output as JSON, at most (runner/smokeTest.ts readProgress clips it):
 * 4000 characters of ASCII with any of JSON's two-byte escapes fit, so only output with control
 * characters or non-ASCII text is ever clipped further.
 */
export const SMOKE_OUTPUT_JSON_BYTES = 8192;

/** Caps on fleet-wide totals the schema leaves open; each is far above a real fleet (docs/configuration.md). */
export const CAPS = { buildHosts: 200, images: 200, tagsPerImage: 100 };

interface SizedImage {
    name: string;
    platforms: string[];
    tags: string[];
    test?: { command?: string[]; expect?: string };
}

/** What else the sign step's spec carries of an image (config/imagesSchema.ts ImageConfig). */
interface SignedImage extends SizedImage {
    context: string;
    dockerfile?: string;
    dockerfileInline?: string;
    target?: string;
    buildArgs: Record<string, string>;
    platformBuildArgs: Record<string, Record<string, string>>;
    secrets: Record<string, unknown>;
    ssh: { id: string }[];
}

/** What the sign step's spec takes from outside the image: the stack, builder and signer as configured, the registry at its longest. */
export interface SignContext {
    signing: SigningConfig;
    /** `<project>/<stack>`. */
    stack: string;
    builderName: string;
    repository: string;
    registryHost: string;
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), "utf8");
/** The environment string `NBF_SPEC=<json>` and its NUL. */
const envBytes = (spec: unknown) => "NBF_SPEC=".length + bytes(spec) + 1;

/** The largest smoke-test spec of the image (runner/smokeTest.ts SmokeTestSpec), in the shape imageBuild.ts writes. */
export function smokeTestSpecBytes(image: SizedImage, repository: string, registryHost: string): number {
    const test = image.test ?? {};
    return envBytes({
        registry: registryHost,
        tests: image.platforms.map((platform) => ({
            builder: "b".repeat(BUILDER_FIELD),
            platform,
            ref: `${repository}@${DIGEST}`,
            command: test.command ?? DEFAULT_SMOKE_TEST_COMMAND,
            expect:
                test.command === undefined
                    ? { lines: [...machinesOf(platform)] }
                    : {
                          contains: test.expect
                              ?.replace(/\{\{platform\}\}/g, platform)
                              .replace(/\{\{arch\}\}/g, platform.split("/")[1]),
                      },
        })),
    });
}

/** The largest index read-back spec of the image (runner/verifyIndex.ts IndexExpectation). */
export function indexSpecBytes(image: SizedImage, repository: string, registryHost: string): number {
    return envBytes({
        registry: registryHost,
        refs: image.tags.map((tag) => `${repository}:${tag}@${DIGEST}`),
        platforms: Object.fromEntries(image.platforms.map((p) => [p, DIGEST])),
    });
}

/**
 * The largest sign-step spec of the image (runner/attest.ts AttestSpec), in the shape
 * components/imageBuild.ts `sign` writes: each tag's index, each platform's image, host, node,
 * own build args and smoke-test output, and the build's declaration with its labels' build args.
 */
export function attestSpecBytes(image: SignedImage, sign: SignContext): number {
    const { repository } = sign;
    const commit = "c".repeat(64);
    return envBytes({
        registry: sign.registryHost,
        signing: sign.signing,
        indexes: image.tags.map((tag) => `${repository}:${tag}@${DIGEST}`),
        platforms: image.platforms.map((platform) => ({
            platform,
            ref: `${repository}@${DIGEST}`,
            host: "h".repeat(HOST_FIELD),
            node: "b".repeat(BUILDER_FIELD),
            ...(image.platformBuildArgs[platform] ? { buildArgs: image.platformBuildArgs[platform] } : {}),
            ...(image.test === undefined
                ? {}
                : {
                      test: {
                          command: image.test.command ?? DEFAULT_SMOKE_TEST_COMMAND,
                          // Two bytes fewer than the bound: the bound counts the quotes JSON adds.
                          output: "o".repeat(SMOKE_OUTPUT_JSON_BYTES - 2),
                      },
                  }),
        })),
        build: {
            stack: sign.stack,
            builderName: sign.builderName,
            context: image.context,
            ...(image.dockerfileInline === undefined
                ? { dockerfile: image.dockerfile }
                : { dockerfileInline: image.dockerfileInline }),
            ...(image.target === undefined ? {} : { target: image.target }),
            buildArgs: {
                BUILD_DATE: "2006-01-02T15:04:05+07:00",
                VCS_REF: commit,
                SOURCE_DATE_EPOCH: "99999999999",
                ...image.buildArgs,
            },
            secrets: Object.keys(image.secrets),
            ssh: image.ssh.map((s) => s.id),
            source: "s".repeat(SOURCE_URL),
            contextRevision: commit,
        },
    });
}

/** The image key that makes the sign step's spec biggest, and what to do about it. */
function signSpecBlame(image: SignedImage, at: string, repository: string): { key: string; fix: string } {
    const args = "pass long values in a file of the build context or as a build secret (secrets), not as build args";
    const candidates = [
        {
            key: `${at}.dockerfileInline`,
            size: bytes(image.dockerfileInline ?? ""),
            fix: "keep the Dockerfile in a file of the project and name it in dockerfile (the provenance records a file's path and digest, an inline Dockerfile whole)",
        },
        { key: `${at}.buildArgs`, size: bytes(image.buildArgs), fix: args },
        { key: `${at}.platformBuildArgs`, size: bytes(image.platformBuildArgs), fix: args },
        {
            key: `${at}.test.command`,
            size: bytes(image.test?.command ?? []) * image.platforms.length,
            fix: "shorten it (a script in the image can hold a long check)",
        },
        {
            key: `${at}.tags`,
            size: image.tags.reduce((n, tag) => n + repository.length + tag.length + DIGEST.length + 4, 0),
            fix: "keep the tags deployments use",
        },
        {
            // Each platform carries its image, host, node and smoke-test output.
            key: `${at}.platforms`,
            size: image.platforms.length * (repository.length + HOST_FIELD + BUILDER_FIELD + SMOKE_OUTPUT_JSON_BYTES),
            fix: "split the platforms between two images",
        },
    ];
    return candidates.reduce((a, b) => (b.size > a.size ? b : a));
}

const kib = (n: number) => `${Math.ceil(n / 1024)} KiB (${n} bytes)`;
const LIMIT = `the ${kib(MAX_ARG_STRLEN)} Linux allows one environment variable (MAX_ARG_STRLEN), so it would fail to start, after every build of the image ran`;

/** The sign step's spec over MAX_ARG_STRLEN, blamed on the image key that makes it biggest. */
export function signSizeProblems(
    image: SignedImage,
    at: string,
    sign: SignContext,
): { key: string; message: string }[] {
    const size = attestSpecBytes(image, sign);
    if (size <= MAX_ARG_STRLEN) {
        return [];
    }
    const { key, fix } = signSpecBlame(image, at, sign.repository);
    const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
    return [
        {
            key,
            message: `makes the sign step's NBF_SPEC (the provenance's inputs) up to ${kib(size)} with ${count(image.platforms.length, "platform")} and ${count(image.tags.length, "tag")}, over ${LIMIT}; ${fix}`,
        },
    ];
}

/**
 * Problems of the image whose key path is `at`: a spec over MAX_ARG_STRLEN, blamed on the key
 * that makes it big, and more tags than the cap. `repository` is the longest it can be.
 */
export function imageSizeProblems(
    image: SizedImage,
    at: string,
    repository: string,
    registryHost: string,
): { key: string; message: string }[] {
    const problems: { key: string; message: string }[] = [];
    // The tag cap also bounds the index read-back's spec: 100 refs of the longest repository
    // (255) and tag (128) stay under 50 KiB (test/configInputs.test.ts checks it).
    if (image.tags.length > CAPS.tagsPerImage) {
        problems.push({
            key: `${at}.tags`,
            message: `lists ${image.tags.length} tags, over the cap of ${CAPS.tagsPerImage} (each tag is an index of its own, written and read back on every change); keep the tags deployments use`,
        });
    }
    const smoke = image.test === undefined ? 0 : smokeTestSpecBytes(image, repository, registryHost);
    if (smoke > MAX_ARG_STRLEN) {
        const commandBytes = bytes(image.test?.command ?? []);
        const key =
            commandBytes >= Buffer.byteLength(image.test?.expect ?? "", "utf8")
                ? `${at}.test.command`
                : `${at}.test.expect`;
        problems.push({
            key,
            message: `makes the smoke test's NBF_SPEC ${kib(smoke)} with ${image.platforms.length} platform${image.platforms.length === 1 ? "" : "s"}, over ${LIMIT}; shorten it (a script in the image can hold a long check)`,
        });
    }
    return problems;
}

/** Problems of fleet-wide totals over their caps. */
export function fleetCapProblems(buildHosts: number, images: number): { key: string; message: string }[] {
    return [
        ...(buildHosts > CAPS.buildHosts
            ? [
                  {
                      key: "hosts",
                      message: `the stack has ${buildHosts} build hosts in all (the pools' counts plus staticHosts), over the cap of ${CAPS.buildHosts}: every host is a node of one buildx builder, registered and checked on every update; split the fleet into stacks`,
                  },
              ]
            : []),
        ...(images > CAPS.images
            ? [
                  {
                      key: "images",
                      message: `the stack builds ${images} images (images plus the Compose file's), over the cap of ${CAPS.images}; split them into stacks`,
                  },
              ]
            : []),
    ];
}
