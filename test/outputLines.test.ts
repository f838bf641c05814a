// Lines on a logged stream stay far below the command provider's 64 KiB scanner limit (a longer
// one hangs the real provider for good): the splitting as pure functions, and the runner's entry
// point run for real (compiled) with a >64 KiB error on stderr and a >64 KiB JSON report on stdout,
// and the shell scripts whose stderr resources log.

import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { lineSplitter, MAX_LINE_CODE_POINTS, splitLongLines } from "../runner/outputLines";
import {
    REMOVE_BUILDERS_COMMAND,
    REMOVE_BUILDERS_INTERPRETER,
    removeBuildersEnvironment,
} from "../runner/removeBuilders";
import { compileModules } from "./compiled";
import { sandbox } from "./sandbox";

/** The provider's limit: bufio.MaxScanTokenSize, in bytes, newline included. */
const SCANNER_LIMIT = 64 * 1024;
const longestLineBytes = (text: string) => Math.max(...text.split("\n").map((l) => Buffer.byteLength(l)));

describe("splitting long lines", () => {
    test.each([
        ["a short line as it is", "abc\n", 4, 0, "abc\n", 0],
        ["a line of exactly the limit as it is", "abcd\nef", 4, 0, "abcd\nef", 2],
        ["a long line in pieces of the limit", "abcdefghij\n", 4, 0, "abcd\nefgh\nij\n", 0],
        ["what the current line already holds counts", "abcdef", 4, 3, "a\nbcde\nf", 1],
        ["several long lines, each on its own", "abcde\nfghij", 4, 0, "abcd\ne\nfghi\nj", 1],
        ["an astral character is one code point and never cut", "😀😀😀", 2, 0, "😀😀\n😀", 1],
        ["empty text", "", 4, 2, "", 2],
    ])("%s", (_, text, max, column, want, wantColumn) => {
        expect(splitLongLines(text, max, column)).toEqual({ text: want, column: wantColumn });
    });

    test("keeps count across chunks that cut a line anywhere, and drops nothing", () => {
        const written: string[] = [];
        const write = lineSplitter((t) => written.push(t), 5);
        ["abc", "defg", "h\nij", "klmnopq\n"].forEach(write);
        expect(written.join("")).toBe("abcde\nfgh\nijklm\nnopq\n");
    });

    test("the default limit is far below the provider's in bytes, even for 4-byte characters", () => {
        const { text } = splitLongLines("😀".repeat(70_000));
        expect(longestLineBytes(text)).toBe(MAX_LINE_CODE_POINTS * 4);
        expect(MAX_LINE_CODE_POINTS * 4).toBeLessThan(SCANNER_LIMIT / 2);
        expect(text.replace(/\n/g, "")).toBe("😀".repeat(70_000));
    });
});

describe("the runner's entry point", () => {
    const root = path.join(__dirname, "..");
    /** runner/cli.ts compiled as the resources run it (test/compiled.ts). */
    let built = "";
    beforeAll(() => {
        built = compileModules(["runner/cli.ts"]);
    });
    afterAll(() => fs.rmSync(built, { recursive: true, force: true }));
    function cli(mode: string, spec: unknown, env: NodeJS.ProcessEnv) {
        const r = spawnSync(process.execPath, [path.join(built, "runner", "cli.js"), mode], {
            cwd: root,
            input: "ci:s3cret",
            encoding: "utf8",
            maxBuffer: 16 * 1024 * 1024,
            env: { ...env, NBF_SPEC: JSON.stringify(spec) },
        });
        return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    }

    test("splits a >64 KiB error into lines the provider can read, and loses none of it", () => {
        const b = sandbox("nbf-lines-");
        const line = "x".repeat(70_000);
        // A registry that answers with one enormous line, as a proxy's error page can.
        b.stub("docker", `printf '%s\\n' '${line}' >&2; exit 1`);
        const ref = `registry.example.com/app:latest@sha256:${"a".repeat(64)}`;
        const r = cli(
            "verify-index",
            { registry: "registry.example.com", refs: [ref], platforms: { "linux/amd64": `sha256:${"b".repeat(64)}` } },
            b.env,
        );
        expect(r.code).toBe(1);
        expect(Buffer.byteLength(r.stderr)).toBeGreaterThan(SCANNER_LIMIT);
        expect(longestLineBytes(r.stderr)).toBeLessThanOrEqual(MAX_LINE_CODE_POINTS);
        expect(r.stderr.replace(/\n/g, "")).toBe(`could not read back the index ${ref}: ${line}`);
    });

    test("prints a >64 KiB JSON report whole on stdout, which no resource logs", () => {
        const b = sandbox("nbf-lines-");
        const output = "y".repeat(3_900);
        const progress = [
            { vertexes: [{ digest: "sha256:1", name: '[2/2] RUN ["uname","-m"]' }] },
            { logs: [{ vertex: "sha256:1", stream: 1, data: Buffer.from(`${output}\n`).toString("base64") }] },
        ]
            .map((e) => JSON.stringify(e))
            .join("\n");
        b.stub("docker", `printf '%s\\n' '${progress}' >&2`);
        const platforms = Array.from({ length: 20 }, (_, i) => `linux/p${i}`);
        const tests = platforms.map((platform) => ({
            builder: "b",
            platform,
            ref: `r@sha256:${"a".repeat(64)}`,
            command: ["uname", "-m"],
            expect: {},
        }));
        const r = cli("smoke-test", { registry: "registry.example.com", tests }, b.env);
        expect(r).toMatchObject({ code: 0, stderr: "" });
        expect(Buffer.byteLength(r.stdout)).toBeGreaterThan(SCANNER_LIMIT);
        expect(JSON.parse(r.stdout)).toEqual(Object.fromEntries(platforms.map((p) => [p, output])));
    });
});

describe("the shell scripts that resources run, whose stderr is logged", () => {
    const line = "z".repeat(70_000);

    // runner/read-host-key.sh is left as it was: its text is the `create` of every host's
    // console-host-key resource, so changing it would read each existing EC2 host's key from its
    // console again, and a long-running host's console may no longer hold it. Its stderr is its
    // own short messages and the AWS CLI's last error line.

    test("remove-builders.sh splits a >64 KiB line from docker", () => {
        const b = sandbox("nbf-lines-");
        b.stub("docker", `printf '%s\\n' '${line}' >&2; exit 0`);
        const dir = path.join(b.home, ".ssh", "native-build-fleet", "fleet-dev");
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "builders"), "fleet-dev\n");
        fs.mkdirSync(path.join(b.home, ".docker", "buildx", "instances"), { recursive: true });
        fs.writeFileSync(path.join(b.home, ".docker", "buildx", "instances", "fleet-dev"), "{}");
        // In the project directory, as the command provider runs the delete (runner/run-pinned.sh).
        const [shell, ...flags] = REMOVE_BUILDERS_INTERPRETER;
        const r = spawnSync(shell, [...flags, REMOVE_BUILDERS_COMMAND], {
            cwd: path.join(__dirname, ".."),
            env: { ...b.env, ...removeBuildersEnvironment("fleet-dev", ["fleet-dev"], "native-build-fleet/dev") },
            encoding: "utf8",
        });
        expect(r.status).toBe(0);
        expect(b.calls("docker")).toEqual(["buildx rm fleet-dev"]);
        expect(longestLineBytes(r.stderr)).toBeLessThanOrEqual(4096);
        expect(r.stderr.replace(/\n/g, "")).toBe(line);
    });
});
