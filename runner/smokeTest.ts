// An image's smoke tests: for each platform, one command run from the pushed platform image
// on the builder of the host that builds that platform, and its output checked. Runs as
// `node bin/runner/cli.js smoke-test` (runner/cli.ts) with a SmokeTestSpec as JSON in
// NBF_SPEC and the registry's `user:password` on standard input.

import * as fs from "fs";
import * as path from "path";
import { SMOKE_OUTPUT_JSON_BYTES } from "../config/sizes";
import { privateDockerConfig } from "./dockerConfig";
import { privateTempDir, run, RunnerEnv, RunnerError } from "./process";

/** What one platform image must print. One of `lines` must be a whole line of the output, and `contains` a part of it. */
export interface Expectation {
    lines?: string[];
    contains?: string;
}

export interface PlatformTest {
    /** The builder of the host that builds the platform. */
    builder: string;
    platform: string;
    /** `<repository>@sha256:…` of the platform image. */
    ref: string;
    /** Exec form: runs without a shell in the image. */
    command: string[];
    expect: Expectation;
}

export interface SmokeTestSpec {
    /** The registry host the credentials are for. */
    registry: string;
    tests: PlatformTest[];
}

/** A Dockerfile that runs the command from the image, without a shell. */
export function smokeTestDockerfile(test: PlatformTest): string {
    return `FROM ${test.ref}\nRUN ${JSON.stringify(test.command)}\n`;
}

/** The buildx call: exports nothing and skips BuildKit's cache, so the command runs every time. */
export function smokeTestArgs(test: PlatformTest, dockerfile: string, context: string): string[] {
    return [
        "buildx",
        "build",
        "--builder",
        test.builder,
        "--platform",
        test.platform,
        "--no-cache",
        "--provenance=false",
        "--progress=rawjson",
        "--output",
        "type=cacheonly",
        "-f",
        dockerfile,
        context,
    ];
}

interface Vertex {
    digest: string;
    name?: string;
    error?: string;
}
interface Log {
    vertex: string;
    data: string;
}

/**
 * Reads buildx's rawjson progress (one SolveStatus per line, log data in base64): the RUN
 * step's output (at most 4000 characters), the steps' errors, and lines that are not JSON
 * (buildx's own messages, such as a pull that failed).
 */
export function readProgress(progress: string): { output: string; errors: string[]; other: string[] } {
    const names: Record<string, string> = {};
    const errors: string[] = [];
    const logs: Log[] = [];
    const other: string[] = [];
    for (const line of progress.split("\n").filter((l) => l.trim())) {
        let event: { vertexes?: Vertex[]; logs?: Log[] };
        try {
            event = JSON.parse(line) as typeof event;
        } catch {
            other.push(line);
            continue;
        }
        for (const v of event.vertexes ?? []) {
            names[v.digest] = v.name ?? "";
            if (v.error) {
                errors.push(v.error);
            }
        }
        logs.push(...(event.logs ?? []));
    }
    const output = logs
        .filter((l) => /(^|\] )RUN /.test(names[l.vertex] ?? ""))
        .map((l) => Buffer.from(l.data, "base64").toString())
        .join("")
        .trim();
    return { output: clipOutput(output), errors, other };
}

/**
 * The output at most 4000 characters long and SMOKE_OUTPUT_JSON_BYTES as JSON: the sign step's
 * spec carries each platform's output, and config/sizes.ts counts on that bound to keep the spec
 * under what exec accepts. Control characters take six bytes each as JSON, so the bytes clip too.
 */
export function clipOutput(text: string): string {
    let clipped = text.slice(0, 4000);
    for (;;) {
        const size = Buffer.byteLength(JSON.stringify(clipped), "utf8");
        if (size <= SMOKE_OUTPUT_JSON_BYTES) {
            return clipped;
        }
        clipped = clipped.slice(0, Math.floor((clipped.length * SMOKE_OUTPUT_JSON_BYTES) / size) - 1);
    }
}

/** The test's verdict from buildx's exit status and progress: the output, or why it failed. */
export function judge(progress: string, status: number, expect: Expectation): { output: string } | { why: string } {
    const { output, errors, other } = readProgress(progress);
    if (status !== 0) {
        const why = [...new Set(errors)].join("; ") || other.slice(-3).join(" ");
        return { why: `it did not run: ${why}${output ? `; output: ${output}` : ""}` };
    }
    if (expect.lines && !output.split("\n").some((l) => expect.lines?.includes(l.trim()))) {
        return { why: `it printed ${JSON.stringify(output)}, expected ${expect.lines.join(" or ")}` };
    }
    if (expect.contains !== undefined && !output.includes(expect.contains)) {
        return {
            why: `it printed ${JSON.stringify(output)}, which does not contain ${JSON.stringify(expect.contains)}`,
        };
    }
    return { output };
}

/** The failure line: it names the command, the platform image and the platform. */
export function failureMessage(test: PlatformTest, why: string): string {
    return `the smoke test ${JSON.stringify(test.command)} of ${test.ref} (${test.platform}) failed: ${why}`;
}

/**
 * Runs every platform's test at once, each on its own host's builder; BuildKit pulls the
 * image with the stack's registry credentials. Returns platform → output; fails naming every
 * platform whose test failed.
 */
export async function runSmokeTests(
    spec: SmokeTestSpec,
    credentials: string,
    env: RunnerEnv,
): Promise<Record<string, string>> {
    const tmp = privateTempDir("nbf-smoke-");
    try {
        const docker = privateDockerConfig(tmp.dir, spec.registry, credentials, env.env);
        const verdicts = await Promise.all(
            spec.tests.map(async (test, i) => {
                const dir = path.join(tmp.dir, `test-${i}`);
                fs.mkdirSync(path.join(dir, "context"), { recursive: true });
                fs.writeFileSync(path.join(dir, "Dockerfile"), smokeTestDockerfile(test));
                const result = await run(
                    "docker",
                    smokeTestArgs(test, path.join(dir, "Dockerfile"), path.join(dir, "context")),
                    { env: docker },
                );
                return judge(result.stderr, result.code, test.expect);
            }),
        );
        const failures = spec.tests.flatMap((test, i) => {
            const v = verdicts[i];
            return "why" in v ? [failureMessage(test, v.why)] : [];
        });
        if (failures.length > 0) {
            throw new RunnerError(failures.join("\n"));
        }
        return Object.fromEntries(
            spec.tests.map((test, i) => [test.platform, (verdicts[i] as { output: string }).output]),
        );
    } finally {
        tmp.remove();
    }
}
