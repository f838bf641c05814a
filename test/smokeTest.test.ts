// Smoke tests: the verdict on buildx's rawjson progress as pure functions, and the entry
// point's function run for real against a stub docker that answers per platform, as BuildKit
// reports a RUN step's output and errors.

import * as fs from "fs";
import * as path from "path";
import { testOutputs } from "../components/imageBuild";
import { machinesOf } from "../plan/platforms";
import {
    failureMessage,
    judge,
    PlatformTest,
    readProgress,
    runSmokeTests,
    smokeTestArgs,
    smokeTestDockerfile,
} from "../runner/smokeTest";
import { SMOKE_OUTPUT_JSON_BYTES } from "../config/sizes";
import { sandbox } from "./sandbox";

const REF = `registry.example.com/app@sha256:${"a".repeat(64)}`;
const RUN = `sha256:${"1".repeat(64)}`;
const FROM = `sha256:${"2".repeat(64)}`;

function test_(overrides: Partial<PlatformTest> = {}): PlatformTest {
    return {
        builder: "fleet-dev-arm-0",
        platform: "linux/arm64",
        ref: REF,
        command: ["uname", "-m"],
        expect: { lines: [...machinesOf("linux/arm64")] },
        ...overrides,
    };
}

/** rawjson progress as buildx writes it: one SolveStatus per line, log data in base64. */
function progress(output: string, error?: string): string {
    const events = [
        { vertexes: [{ digest: FROM, name: `[1/2] FROM ${REF}` }] },
        { vertexes: [{ digest: RUN, name: '[2/2] RUN ["uname","-m"]', started: "2026-12-02T10:00:00Z" }] },
        { logs: [{ vertex: FROM, stream: 2, data: Buffer.from("resolve done\n").toString("base64") }] },
        ...(output ? [{ logs: [{ vertex: RUN, stream: 1, data: Buffer.from(output).toString("base64") }] }] : []),
        {
            vertexes: [
                {
                    digest: RUN,
                    name: '[2/2] RUN ["uname","-m"]',
                    ...(error ? { error } : { completed: "2026-12-02T10:00:01Z" }),
                },
            ],
        },
    ];
    return events.map((e) => JSON.stringify(e)).join("\n") + (error ? `\nERROR: failed to build: ${error}\n` : "\n");
}

const EXEC_ERROR = 'process "uname -m" did not complete successfully: exec /bin/uname: exec format error';

describe("the verdict on buildx's progress", () => {
    test.each([
        ["the expected machine", progress("aarch64\n"), 0, { lines: ["aarch64"] }, { output: "aarch64" }],
        [
            "another machine",
            progress("x86_64\n"),
            0,
            { lines: ["aarch64"] },
            { why: 'it printed "x86_64", expected aarch64' },
        ],
        [
            "one of several machines",
            progress("armv8l\n"),
            0,
            { lines: ["armv7l", "armv8l", "aarch64"] },
            { output: "armv8l" },
        ],
        [
            "a command that cannot run (a foreign binary without emulation)",
            progress("", EXEC_ERROR),
            1,
            { lines: ["aarch64"] },
            { why: `it did not run: ${EXEC_ERROR}` },
        ],
        [
            "an image that cannot be pulled (buildx's own message)",
            "ERROR: failed to build: failed to resolve source metadata: 401 Unauthorized\n",
            1,
            {},
            { why: "it did not run: ERROR: failed to build: failed to resolve source metadata: 401 Unauthorized" },
        ],
        [
            "a failed command with output",
            progress("starting\n", EXEC_ERROR),
            1,
            {},
            { why: `it did not run: ${EXEC_ERROR}; output: starting` },
        ],
        [
            "the expected text",
            progress("checking\nself-test ok (3 checks)\n"),
            0,
            { contains: "self-test ok" },
            { output: "checking\nself-test ok (3 checks)" },
        ],
        [
            "text without the expected part",
            progress("self-test FAILED\n"),
            0,
            { contains: "self-test ok" },
            { why: 'it printed "self-test FAILED", which does not contain "self-test ok"' },
        ],
        ["no expectation: the exit status alone", progress("server 1.4.0\n"), 0, {}, { output: "server 1.4.0" }],
    ])("%s", (_, text, status, expectation, verdict) => {
        expect(judge(text, status, expectation)).toEqual(verdict);
    });

    test("reads only the RUN step's output, at most 4000 characters", () => {
        expect(readProgress(progress("x".repeat(5000))).output).toBe("x".repeat(4000));
        expect(readProgress(progress("")).output).toBe("");
    });

    const jsonBytes = (text: string) => Buffer.byteLength(JSON.stringify(text), "utf8");
    test.each([
        ["4000 characters of text with a newline in every other", "x\n".repeat(2000), "kept whole"],
        ["4000 characters, every other a tab", "a\t".repeat(2000), "kept whole"],
        ["4000 control characters (six bytes each as JSON)", "\u0001".repeat(4000), "clipped"],
        ["4000 euro signs (three bytes each)", "\u20ac".repeat(4000), "clipped"],
        ["2000 emoji (two UTF-16 units and four bytes each)", "\u{1f600}".repeat(2000), "kept whole"],
    ])("keeps each platform's output within 8 KiB as JSON, for the sign step's spec: %s", (_, text, outcome) => {
        const output = readProgress(progress(`${text}.`)).output;
        expect(jsonBytes(output)).toBeLessThanOrEqual(SMOKE_OUTPUT_JSON_BYTES);
        expect(output === `${text}.`.slice(0, 4000) ? "kept whole" : "clipped").toBe(outcome);
        expect(`${text}.`.startsWith(output)).toBe(true);
    });

    test("names the command, the platform image and the platform in a failure", () => {
        expect(failureMessage(test_(), 'it printed "x86_64", expected aarch64')).toBe(
            `the smoke test ["uname","-m"] of ${REF} (linux/arm64) failed: it printed "x86_64", expected aarch64`,
        );
    });

    test("runs the command from the platform image, without a shell, on the host's builder, exporting nothing and skipping the cache", () => {
        expect(smokeTestDockerfile(test_({ command: ["/app/server", "--self-test"] }))).toBe(
            `FROM ${REF}\nRUN ["/app/server","--self-test"]\n`,
        );
        expect(smokeTestArgs(test_(), "/t/Dockerfile", "/t/context")).toEqual([
            "buildx",
            "build",
            "--builder",
            "fleet-dev-arm-0",
            "--platform",
            "linux/arm64",
            "--no-cache",
            "--provenance=false",
            "--progress=rawjson",
            "--output",
            "type=cacheonly",
            "-f",
            "/t/Dockerfile",
            "/t/context",
        ]);
    });
});

/** A docker stub: per platform, prints progress-<slug> on stderr and exits status-<slug>; records what it was given. */
function box() {
    const b = sandbox("nbf-smoke-");
    b.stub(
        "docker",
        [
            "while [ $# -gt 0 ]; do case $1 in --platform) slug=${2//\\//-} ;; -f) df=$2 ;; esac; shift; done",
            `cp "$df" '${b.dir}'/Dockerfile-"$slug"`,
            `cp "$DOCKER_CONFIG/config.json" '${b.dir}'/config.json`,
            `printf '%s\\n' "$DOCKER_CONFIG" > '${b.dir}'/docker-config`,
            `printf '%s\\n' "$BUILDX_CONFIG" > '${b.dir}'/buildx-config`,
            `cat '${b.dir}'/progress-"$slug" >&2`,
            `exit "$(cat '${b.dir}'/status-"$slug" 2>/dev/null || echo 0)"`,
        ].join("\n"),
    );
    const answer = (slug: string, text: string, status = 0) => {
        fs.writeFileSync(path.join(b.dir, `progress-${slug}`), text);
        fs.writeFileSync(path.join(b.dir, `status-${slug}`), String(status));
    };
    return { ...b, answer };
}

const AMD = test_({
    builder: "fleet-dev-x86-0",
    platform: "linux/amd64",
    ref: `registry.example.com/app@sha256:${"b".repeat(64)}`,
    expect: { lines: ["x86_64"] },
});

describe("the smoke-test entry point", () => {
    test("tests every platform on its own host's builder, with the stack's registry credentials, and returns each output", async () => {
        const b = box();
        b.answer("linux-arm64", progress("aarch64\n"));
        b.answer("linux-amd64", progress("x86_64\n"));
        const outputs = await runSmokeTests(
            { registry: "registry.example.com", tests: [test_(), AMD] },
            "ci:s3cret",
            b.runner({ DOCKER_CONFIG: "", BUILDX_CONFIG: "" }),
        );
        expect(outputs).toEqual({ "linux/arm64": "aarch64", "linux/amd64": "x86_64" });
        expect(
            b
                .calls("docker")
                .map((c) => c.split(" ").slice(0, 6).join(" "))
                .sort(),
        ).toEqual([
            "buildx build --builder fleet-dev-arm-0 --platform linux/arm64",
            "buildx build --builder fleet-dev-x86-0 --platform linux/amd64",
        ]);
        expect(b.read("Dockerfile-linux-arm64")).toBe(`FROM ${REF}\nRUN ["uname","-m"]\n`);
        // BuildKit pulls with the stack's registry credentials; the builder is found where the user's buildx keeps it.
        expect(JSON.parse(b.read("config.json"))).toEqual({
            auths: { "registry.example.com": { auth: Buffer.from("ci:s3cret").toString("base64") } },
        });
        expect(b.read("buildx-config").trim()).toBe(path.join(b.home, ".docker", "buildx"));
        // The credentials do not outlive the test.
        expect(fs.existsSync(b.read("docker-config").trim())).toBe(false);
    });

    test("fails naming each platform whose test failed, after running them all", async () => {
        const b = box();
        b.answer("linux-arm64", progress("x86_64\n"));
        b.answer("linux-amd64", progress("", EXEC_ERROR), 1);
        const run = runSmokeTests({ registry: "registry.example.com", tests: [test_(), AMD] }, "ci:s3cret", b.runner());
        await expect(run).rejects.toThrow(
            [
                `the smoke test ["uname","-m"] of ${REF} (linux/arm64) failed: it printed "x86_64", expected aarch64`,
                `the smoke test ["uname","-m"] of ${AMD.ref} (linux/amd64) failed: it did not run: ${EXEC_ERROR}`,
            ].join("\n"),
        );
        expect(fs.existsSync(b.read("docker-config").trim())).toBe(false);
    });
});

test.each([
    ["", {}],
    ['{"linux/amd64":"x86_64","linux/arm64":"aarch64"}\n', { "linux/amd64": "x86_64", "linux/arm64": "aarch64" }],
])("ImageBuild.tests reads each platform's output from the entry point's %j", (stdout, outputs) => {
    expect(testOutputs(stdout)).toEqual(outputs);
});

test.each([
    ["linux/amd64", ["x86_64"]],
    ["linux/amd64/v3", ["x86_64"]],
    ["linux/arm64", ["aarch64"]],
    ["linux/arm/v7", ["armv7l", "armv8l", "aarch64"]],
    ["linux/s390x", ["s390x"]],
    ["linux/ppc64le", ["ppc64le"]],
    ["linux/riscv64", ["riscv64"]],
])("%s may report %j", (platform, machines) => {
    expect(machinesOf(platform)).toEqual(machines);
});
