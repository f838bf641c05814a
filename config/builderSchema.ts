// The `builder` section: the buildx builder's name, the BuildKit and binfmt images every host
// runs (pinned by digest), driver options and the build timeout.

import { z } from "zod";
import { DRIVER_OPTION_NAME, ec2DriverOptionProblem } from "./builderOptions";
import { driverOptionProblems } from "./driverOptions";
import { Reporter } from "./projectPaths";
import { keyPath } from "./zodMessages";

/** docker-container driver options (`--driver-opt key=value`): the builder's, or a pool's over them. */
export const driverOptionsSchema = z.record(
    z
        .string()
        .regex(
            DRIVER_OPTION_NAME,
            "must be a docker-container driver option name such as network or env.BUILDKIT_STEP_LOG_MAX_SIZE",
        ),
    z.string().regex(/^[^,"\n]*$/, "must not contain commas, quotes or newlines"),
);

const IMAGE_REFERENCE =
    /^[a-z0-9][a-z0-9._-]*(:[0-9]{1,5})?(\/[a-z0-9._-]+)*(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

/**
 * What runs privileged on every host, pinned by digest (issue 20): BuildKit v0.33.1, the first
 * release that verifies blob digests before caching them (a fix for shared caches), and the
 * binfmt installer. The digests are the multi-platform index digests on Docker Hub, as
 * several unrelated projects pin them (no registry is reachable from this checkout).
 */
export const DEFAULT_BUILDKIT_IMAGE =
    "moby/buildkit:v0.33.1@sha256:cec9f139f45e93c5c69c60f8b07cfad9f43f4ef6b6a6cd917527fea5ff2e3dea";
export const DEFAULT_BINFMT_IMAGE =
    "tonistiigi/binfmt:qemu-v10.2.3@sha256:400a4873b838d1b89194d982c45e5fb3cda4593fbfd7e08a02e76b03b21166f0";

/**
 * builder.buildSlots: the most solves of this stack one host runs at once (plan/buildSlots.ts).
 * Unset, nothing is queued: no default is measured yet (docs/benchmarks.md, "Many images on few hosts").
 */
const BUILD_SLOTS_RANGE =
    "must be a whole number from 1 to 64: how many builds one host runs at once (each platform image and its cache-only build count one each); " +
    "raise it for hosts with many cores, lower it if builds on a host stall";

export const builderSchema = z
    .object({
        name: z
            .string()
            .regex(/^[a-z0-9][a-z0-9_.-]{0,62}$/, "must be lowercase letters, digits, '.', '_' or '-'")
            .optional(),
        buildOnPreview: z.boolean().default(true),
        buildTimeoutMinutes: z.number().int().min(1, "must be at least 1 minute").max(1440).default(60),
        buildSlots: z.number().int(BUILD_SLOTS_RANGE).min(1, BUILD_SLOTS_RANGE).max(64, BUILD_SLOTS_RANGE).optional(),
        buildkitImage: z
            .string()
            .regex(IMAGE_REFERENCE, "must be an image reference such as moby/buildkit:v0.31.0")
            .optional(),
        driverOptions: driverOptionsSchema.default({}),
        buildkitdConfig: z.string().optional(),
        binfmtImage: z
            .string()
            .regex(IMAGE_REFERENCE, "must be an image reference such as tonistiigi/binfmt:latest")
            .default(DEFAULT_BINFMT_IMAGE),
    })
    .strict();

/** `<project>-<stack>`, reduced to what buildx accepts as a builder name. */
export function defaultBuilderName(project: string, stack: string): string {
    return `${project}-${stack}`
        .toLowerCase()
        .replace(/[^a-z0-9_.-]+/g, "-")
        .slice(0, 63);
}

export function checkBuilder(builder: z.infer<typeof builderSchema>, ec2Pools: boolean, report: Reporter): void {
    if (builder.name === "default") {
        report(
            "builder.name",
            '"default" is the name buildx gives the Docker engine\'s own builder, which this stack did not create and must never replace or remove; choose another name, or leave builder.name unset for <project>-<stack>',
        );
    }
    if (builder.buildkitImage !== undefined && builder.driverOptions.image !== undefined) {
        report("builder.driverOptions.image", "repeats builder.buildkitImage; set the BuildKit image in one place");
    }
    const hostNetwork = ec2Pools ? ec2DriverOptionProblem(builder.driverOptions) : undefined;
    if (hostNetwork) {
        report(keyPath([hostNetwork.key], "builder.driverOptions"), hostNetwork.message);
    }
    driverOptionProblems(builder.driverOptions).forEach((p) =>
        report(keyPath([p.key], "builder.driverOptions"), p.message),
    );
}
