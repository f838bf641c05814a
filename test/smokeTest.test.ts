// Smoke tests: the script runs for real against a stub docker that answers with buildx's
// rawjson progress, as BuildKit reports a RUN step's output and errors.

import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { SmokeTest, smokeTestScript } from "../shell/smokeTest";
import { machinesOf } from "../config/platforms";

const REF = `registry.example.com/app@sha256:${"a".repeat(64)}`;
const RUN = `sha256:${"1".repeat(64)}`;
const FROM = `sha256:${"2".repeat(64)}`;

function test_(overrides: Partial<SmokeTest> = {}): SmokeTest {
    return {
        builder: "fleet-dev", platform: "linux/arm64", ref: REF, registry: "registry.example.com",
        command: ["uname", "-m"], expect: { lines: [...machinesOf("linux/arm64")] }, ...overrides,
    };
}

/** rawjson progress as buildx writes it: one SolveStatus per line, log data in base64. */
function progress(output: string, error?: string): string {
    const events = [
        { vertexes: [{ digest: FROM, name: `[1/2] FROM ${REF}` }] },
        { vertexes: [{ digest: RUN, name: "[2/2] RUN [\"uname\",\"-m\"]", started: "2026-12-02T10:00:00Z" }] },
        { logs: [{ vertex: FROM, stream: 2, data: Buffer.from("resolve done\n").toString("base64") }] },
        ...(output ? [{ logs: [{ vertex: RUN, stream: 1, data: Buffer.from(output).toString("base64") }] }] : []),
        { vertexes: [{ digest: RUN, name: "[2/2] RUN [\"uname\",\"-m\"]", ...(error ? { error } : { completed: "2026-12-02T10:00:01Z" }) }] },
    ];
    return events.map((e) => JSON.stringify(e)).join("\n") + (error ? `\nERROR: failed to build: ${error}\n` : "\n");
}

/** Runs the script with a docker stub that writes `stderr` and exits `status`, recording what it was given. */
function run(script: string, stderr: string, status = 0) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-smoke-"));
    fs.writeFileSync(path.join(dir, "progress"), stderr);
    fs.writeFileSync(path.join(dir, "docker"), [
        "#!/bin/bash",
        `printf '%s\\n' "$*" > ${dir}/args`,
        `cp "$DOCKER_CONFIG/config.json" ${dir}/config.json`,
        `printf '%s\\n' "$BUILDX_CONFIG" > ${dir}/buildx-config`,
        "while [ $# -gt 0 ]; do [ \"$1\" = -f ] && cp \"$2\" " + `${dir}/Dockerfile; shift; done`,
        `cat ${dir}/progress >&2`,
        `exit ${status}`,
    ].join("\n"), { mode: 0o755 });
    const result = spawnSync("bash", ["-c", script], {
        input: "ci:s3cret", encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ""}`, HOME: path.join(dir, "home"), DOCKER_CONFIG: "", BUILDX_CONFIG: "" },
    });
    return { ...result, dir, read: (f: string) => fs.readFileSync(path.join(dir, f), "utf8") };
}

test("passes shellcheck", () => {
    expect(spawnSync("shellcheck", ["--shell", "bash", "-"], { input: smokeTestScript(test_()), encoding: "utf8" }).stdout).toBe("");
});

test("runs the command from the platform image on the fleet builder and prints its output", () => {
    const result = run(smokeTestScript(test_()), progress("aarch64\n"));
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toBe("aarch64\n");
    expect(result.read("args")).toContain("buildx build --builder fleet-dev --platform linux/arm64 --no-cache");
    expect(result.read("Dockerfile")).toBe(`FROM ${REF}\nRUN ["uname","-m"]\n`);
    // BuildKit pulls with the stack's registry credentials; the builder is found where the user's buildx keeps it.
    expect(JSON.parse(result.read("config.json"))).toEqual({ auths: { "registry.example.com": { auth: Buffer.from("ci:s3cret").toString("base64") } } });
    expect(result.read("buildx-config").trim()).toBe(path.join(result.dir, "home", ".docker", "buildx"));
});

test("fails when the image reports another machine, naming what it printed and what was expected", () => {
    const result = run(smokeTestScript(test_()), progress("x86_64\n"));
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(`the smoke test ["uname","-m"] of ${REF} (linux/arm64) failed: it printed "x86_64", expected aarch64`);
});

test("fails with BuildKit's error when the command cannot run, as a foreign binary without emulation", () => {
    const error = "process \"uname -m\" did not complete successfully: exec /bin/uname: exec format error";
    const result = run(smokeTestScript(test_()), progress("", error), 1);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`failed: it did not run: ${error}`);
});

test("fails when the image cannot be pulled, with buildx's own message", () => {
    const result = run(smokeTestScript(test_()), "ERROR: failed to build: failed to resolve source metadata: 401 Unauthorized\n", 1);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("it did not run: ERROR: failed to build: failed to resolve source metadata: 401 Unauthorized");
});

test("checks a custom command's output for the expected text", () => {
    const custom = test_({ command: ["/app/server", "--self-test"], expect: { contains: "self-test ok" } });
    expect(run(smokeTestScript(custom), progress("checking\nself-test ok (3 checks)\n")).status).toBe(0);
    const failed = run(smokeTestScript(custom), progress("self-test FAILED\n"));
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain('it printed "self-test FAILED", which does not contain "self-test ok"');
});

test("without an expectation, a custom command passes on its exit status alone", () => {
    const custom = test_({ command: ["/app/server", "--version"], expect: {} });
    const result = run(smokeTestScript(custom), progress("server 1.4.0\n"));
    expect(result.status).toBe(0);
    expect(result.stdout).toBe("server 1.4.0\n");
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
