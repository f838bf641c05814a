// Sizes the OS or the stack's shape puts a ceiling on, checked before any resource exists.
//
// The smoke test and the index read-back get their spec in one environment variable, NBF_SPEC
// (components/imageBuild.ts). Linux refuses to exec a program with any one argument or
// environment string longer than MAX_ARG_STRLEN, 32 pages = 131072 bytes with 4 KiB pages,
// "NBF_SPEC=" and the final NUL included (include/uapi/linux/binfmts.h; execve(2), "Limits on
// size of arguments and environment"), with E2BIG. Those commands run after every build of the
// image, so the failure would come at the end of an update. Here the largest spec an image can
// produce is computed from its config, with every value the program fills in at its longest.

import { machinesOf } from "../plan/platforms";

/** Linux's MAX_ARG_STRLEN with 4 KiB pages. */
export const MAX_ARG_STRLEN = 32 * 4096;
/** The longest builder name (config/schema.ts builder.name) plus '-' and the longest host name, with room for a longer node naming. */
const BUILDER_FIELD = 63 + 1 + 31 + 64;
const DIGEST = `sha256:${"0".repeat(64)}`;

/** Caps on fleet-wide totals the schema leaves open; each is far above a real fleet (docs/configuration.md). */
export const CAPS = { buildHosts: 200, images: 200, tagsPerImage: 100 };

interface SizedImage {
    name: string;
    platforms: string[];
    tags: string[];
    test?: { command?: string[]; expect?: string };
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
            command: test.command ?? ["uname", "-m"],
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

const kib = (n: number) => `${Math.ceil(n / 1024)} KiB (${n} bytes)`;

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
    const limit = `the ${kib(MAX_ARG_STRLEN)} Linux allows one environment variable (MAX_ARG_STRLEN), so it would fail to start, after every build of the image ran`;
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
            message: `makes the smoke test's NBF_SPEC ${kib(smoke)} with ${image.platforms.length} platform${image.platforms.length === 1 ? "" : "s"}, over ${limit}; shorten it (a script in the image can hold a long check)`,
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
