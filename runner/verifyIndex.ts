// Reads an image's indexes back from the registry after they are written, and checks each
// lists exactly the platforms built, each with the digest its build produced. Runs as
// `node bin/runner/cli.js verify-index` (runner/cli.ts) with an IndexExpectation as JSON in
// NBF_SPEC and the registry's `user:password` on standard input.

import { privateDockerConfig } from "./dockerConfig";
import { privateTempDir, run, RunnerEnv, RunnerError } from "./process";

export interface IndexExpectation {
    /** The registry host the credentials are for. */
    registry: string;
    /** Every tag's index, `<repository>:<tag>@sha256:…` as the Index resource reports it. */
    refs: string[];
    /** platform (`linux/arm/v7`) → digest of its image; every tag joins the same images. */
    platforms: Record<string, string>;
}

interface Descriptor {
    digest: string;
    platform?: { os?: string; architecture?: string; variant?: string };
}

/**
 * Compares an index document with the expected platforms. Attestation entries (platform
 * unknown/unknown) are not platforms. Returns every difference, and the listing
 * (`<platform> <digest>` per entry) when there is none.
 */
export function compareIndex(
    document: string,
    expected: Record<string, string>,
): { problems: string[]; listing: string[] } {
    let index: { manifests?: Descriptor[] };
    try {
        index = JSON.parse(document) as typeof index;
    } catch (e) {
        return { problems: [`it is not a JSON document (${(e as Error).message})`], listing: [] };
    }
    const name = (p: NonNullable<Descriptor["platform"]>) =>
        [p.os, p.architecture, p.variant].filter(Boolean).join("/");
    const listed = (index.manifests ?? []).filter((m) => m.platform && m.platform.architecture !== "unknown");
    const problems: string[] = [];
    for (const [platform, digest] of Object.entries(expected)) {
        const entry = listed.find((m) => name(m.platform!) === platform);
        if (!entry) {
            problems.push(`it does not list ${platform}`);
        } else if (entry.digest !== digest) {
            problems.push(`${platform} is ${entry.digest}, but its build produced ${digest}`);
        }
    }
    for (const m of listed) {
        if (!(name(m.platform!) in expected)) {
            problems.push(`it also lists ${name(m.platform!)}`);
        }
    }
    return { problems, listing: problems.length > 0 ? [] : listed.map((m) => `${name(m.platform!)} ${m.digest}`) };
}

/** Reads every index back; returns the listing they share, or fails naming each index that differs. */
export async function verifyIndexes(expect: IndexExpectation, credentials: string, env: RunnerEnv): Promise<string[]> {
    const tmp = privateTempDir("nbf-verify-");
    try {
        const docker = privateDockerConfig(tmp.dir, expect.registry, credentials, env.env);
        const results = await Promise.all(
            expect.refs.map(async (ref) => {
                const raw = await run("docker", ["buildx", "imagetools", "inspect", "--raw", ref], { env: docker });
                if (raw.code !== 0) {
                    return {
                        error: `could not read back the index ${ref}: ${(raw.stdout + raw.stderr).trimEnd()}`,
                        listing: [],
                    };
                }
                const { problems, listing } = compareIndex(raw.stdout, expect.platforms);
                return {
                    error:
                        problems.length > 0
                            ? `the index ${ref} in the registry is not what was built: ${problems.join("; ")}`
                            : undefined,
                    listing,
                };
            }),
        );
        const errors = results.flatMap((r) => (r.error === undefined ? [] : [r.error]));
        if (errors.length > 0) {
            throw new RunnerError(errors.join("\n"));
        }
        return results[0]?.listing ?? [];
    } finally {
        tmp.remove();
    }
}
