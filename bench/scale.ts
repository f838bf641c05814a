// npm run bench: the program's own cost at fleet scale, as whole processes under Pulumi's
// mocks (issue 15, target 3). Each run is a fresh `node` process (bench/scaleRun.ts: the
// runner's set-up, then run.js inside the root stack), timed here from its start to its exit;
// its peak RSS is its own, and its CPU seconds (with the git it starts) are counted beside the
// wall time, which other work on a shared machine stretches. The baseline is 2 hosts and 1 image of 2 platforms; the growth rows
// are 32 hosts in 4 pools and 1 to 50 images of 4 platforms, every image with 2 tags. The
// sizes run side by side, in turn, RUNS rounds (the order reversed every other round), after
// one warm-up round; medians go to a table and to bench/results/scale.json. One more run per
// size, with counting hooks, reports Outputs, promises and stack traces; it is never timed.
// A benchmark, not a test: nothing here fails on a number.

import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";

const RUNS = Number(process.env.BENCH_RUNS ?? "3");
const TARGETS = { wallRatio: 3, peakRssMB: 400 };
const PROJECT = "native-build-fleet";
const STACK = "bench";
const root = path.join(__dirname, "..");

interface Case {
    label: string;
    hosts: number;
    images: number;
    platforms: string[];
    pools: Record<string, unknown>[];
}
const FOUR = ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x"];
const FLEET_POOLS = [
    { name: "graviton", instanceType: "c7g.2xlarge", count: 8 },
    { name: "graviton-big", instanceType: "c7g.8xlarge", count: 8 },
    { name: "x86", instanceType: "c7i.2xlarge", count: 8 },
    { name: "qemu", instanceType: "c7i.2xlarge", count: 8, emulate: ["linux/arm/v7", "linux/s390x"] },
];
const BASELINE: Case = {
    label: "baseline",
    hosts: 2,
    images: 1,
    platforms: ["linux/amd64", "linux/arm64"],
    pools: [
        { name: "arm", instanceType: "c7g.2xlarge" },
        { name: "x86", instanceType: "c7i.2xlarge" },
    ],
};
const CASES: Case[] = [
    BASELINE,
    ...[1, 10, 25, 50].map((images) => ({
        label: `${images} images`,
        hosts: 32,
        images,
        platforms: FOUR,
        pools: FLEET_POOLS,
    })),
];

interface Report {
    exitCode: number;
    peakRssMB: number;
    resources: number;
    invokes: number;
    outputs?: number;
    promises?: number;
    sdkPromises?: number;
    stackTraces?: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const work = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-bench-"));

// The harness as JavaScript; it imports only Node and the SDK.
const harnessDir = path.join(work, "harness");
execFileSync(
    process.execPath,
    [
        require.resolve("typescript/bin/tsc"),
        path.join(__dirname, "scaleRun.ts"),
        "--outDir",
        harnessDir,
        "--module",
        "commonjs",
        "--target",
        "ES2022",
        "--esModuleInterop",
        "--skipLibCheck",
        "--noCheck",
        "--types",
        "node",
    ],
    { stdio: "inherit" },
);
fs.symlinkSync(path.join(root, "node_modules"), path.join(harnessDir, "node_modules"));
const harness = path.join(harnessDir, "scaleRun.js");

// loadConfig checks that the AWS CLI is on PATH for EC2 pools; under mocks nothing runs it.
const tools = path.join(work, "tools");
fs.mkdirSync(tools);
fs.writeFileSync(path.join(tools, "aws"), "#!/bin/sh\necho 'bench: the AWS CLI is not run under mocks' >&2\nexit 1\n", {
    mode: 0o755,
});

// The operator's key pair: loadConfig checks that the private key belongs to ssh.publicKey.
execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", path.join(work, "key")]);
const privateKey = fs.readFileSync(path.join(work, "key"), "utf8");
const publicKey = fs.readFileSync(path.join(work, "key.pub"), "utf8").trim();

/** A git repository with one build context per image, and the stack config of `c`. */
function project(c: Case): string {
    const dir = path.join(work, c.label.replace(/ /g, "-"));
    fs.mkdirSync(dir);
    const names = Array.from({ length: c.images }, (_, i) => `app-${i}`);
    for (const name of names) {
        fs.mkdirSync(path.join(dir, name));
        fs.writeFileSync(path.join(dir, name, "Dockerfile"), `FROM scratch\nLABEL image=${name}\n`);
    }
    const git = (...args: string[]) =>
        execFileSync("git", ["-c", "user.name=bench", "-c", "user.email=bench@example.com", ...args], {
            cwd: dir,
            stdio: "ignore",
        });
    git("init", "-q");
    git("add", ".");
    git("commit", "-q", "-m", "bench");
    const raw = {
        hosts: c.pools,
        ssh: { publicKey, allowedCidrs: ["203.0.113.0/24"] },
        registry: { type: "ecr" },
        images: names.map((name) => ({ name, context: name, platforms: c.platforms, tags: ["latest", "stable"] })),
    };
    const config = {
        ...Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${PROJECT}:${k}`, JSON.stringify(v)])),
        [`${PROJECT}:sshPrivateKey`]: privateKey,
    };
    const file = path.join(dir, "bench-config.json");
    fs.writeFileSync(
        file,
        JSON.stringify({
            project: PROJECT,
            stack: STACK,
            projectRoot: dir,
            config,
            secretKeys: [`${PROJECT}:sshPrivateKey`],
        }),
    );
    return file;
}

const configs = CASES.map(project);
// The node arguments Pulumi.yaml gives the language host (runtime.options.nodeargs), which
// starts the program's node process with them, as here.
const runtime = (
    YAML.parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as {
        runtime?: { options?: { nodeargs?: string } };
    }
).runtime;
const nodeArgs = (runtime?.options?.nodeargs ?? "").split(/\s+/).filter((a) => a !== "");
// Leak debugging would bring back a stack trace per promise (run.js): a different program.
const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => key !== "PULUMI_DEBUG_PROMISE_LEAKS")),
    PATH: `${tools}${path.delimiter}${process.env.PATH ?? ""}`,
};

/**
 * CPU seconds (user and system) of every child process this one has waited for, and of theirs
 * in turn (proc(5), /proc/self/stat fields 16 and 17, cutime and cstime). Around one run, the
 * CPU time of the program and of what it started (git): less sensitive than wall time to other
 * work on a shared machine, which takes CPUs away but adds no CPU time of ours.
 */
function childCpuSeconds(): number {
    const stat = fs.readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields from the 3rd on: cutime and cstime are the 16th and 17th, clock ticks of 1/100 s (sysconf(_SC_CLK_TCK) on Linux).
    return (Number(fields[16 - 3]) + Number(fields[17 - 3])) / 100;
}

/** One whole process: seconds from its start to its exit, CPU seconds, and what it reported. */
function run(i: number, count = false): { wallSeconds: number; cpuSeconds: number; report: Report } {
    const cpuBefore = childCpuSeconds();
    const started = process.hrtime.bigint();
    const result = spawnSync(process.execPath, [...nodeArgs, harness, path.join(root, "run.js"), configs[i]], {
        encoding: "utf8",
        env: { ...env, NBF_BENCH_COUNT: count ? "1" : "0" },
        maxBuffer: 64 * 1024 * 1024,
    });
    const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpuSeconds = childCpuSeconds() - cpuBefore;
    const report = JSON.parse(result.stdout.trim().split("\n").pop() || "{}") as Report;
    if (result.status !== 0 || report.exitCode !== 0) {
        throw new Error(
            `${CASES[i].label}: the program failed (exit ${String(result.status)}):\n${result.stdout}\n${result.stderr}`,
        );
    }
    return { wallSeconds, cpuSeconds, report };
}

// A warm-up round (it also compiles bin/ through run.js when a source changed), then the counts.
CASES.forEach((_, i) => run(i));
const counted = CASES.map((_, i) => run(i, true).report);

const samples: { wallSeconds: number; cpuSeconds: number; peakRssMB: number }[][] = CASES.map(() => []);
for (let round = 0; round < RUNS; round++) {
    const order = CASES.map((_, i) => i);
    for (const i of round % 2 === 0 ? order : order.reverse()) {
        const { wallSeconds, cpuSeconds, report } = run(i);
        samples[i].push({ wallSeconds, cpuSeconds, peakRssMB: report.peakRssMB });
    }
}

const rows = CASES.map((c, i) => ({
    case: c.label,
    hosts: c.hosts,
    images: c.images,
    platforms: c.platforms.length,
    tags: 2,
    resources: counted[i].resources,
    invokes: counted[i].invokes,
    outputs: counted[i].outputs,
    promises: counted[i].promises,
    sdkPromises: counted[i].sdkPromises,
    stackTraces: counted[i].stackTraces,
    wallSeconds: median(samples[i].map((s) => s.wallSeconds)),
    cpuSeconds: median(samples[i].map((s) => s.cpuSeconds)),
    peakRssMB: median(samples[i].map((s) => s.peakRssMB)),
    runs: samples[i],
}));
// Pair by pair, as the sizes ran side by side in each round.
const largest = rows.length - 1;
const ratio = median(samples[largest].map((s, r) => s.wallSeconds / samples[0][r].wallSeconds));
const cpuRatio = median(samples[largest].map((s, r) => s.cpuSeconds / samples[0][r].cpuSeconds));

console.log(
    `whole processes under mocks, medians of ${RUNS} rounds; load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
);
console.log(
    "case          hosts  images  resources  invokes  Outputs  promises  SDK promises  stack traces  wall s  CPU s  peak RSS MB",
);
for (const r of rows) {
    console.log(
        [
            r.case.padEnd(12),
            String(r.hosts).padStart(5),
            String(r.images).padStart(6),
            String(r.resources).padStart(9),
            String(r.invokes).padStart(7),
            String(r.outputs).padStart(7),
            String(r.promises).padStart(8),
            String(r.sdkPromises).padStart(12),
            String(r.stackTraces).padStart(12),
            r.wallSeconds.toFixed(2).padStart(6),
            r.cpuSeconds.toFixed(2).padStart(5),
            String(r.peakRssMB).padStart(11),
        ].join("  "),
    );
}
// What one more image costs, from the 1-image row to the largest (same hosts).
const first = rows[1];
const perImage = Object.fromEntries(
    (
        [
            "resources",
            "outputs",
            "promises",
            "sdkPromises",
            "stackTraces",
            "wallSeconds",
            "cpuSeconds",
            "peakRssMB",
        ] as const
    ).map((key) => [key, (Number(rows[largest][key]) - Number(first[key])) / (rows[largest].images - first.images)]),
);
console.log(
    `per image (${first.images} to ${rows[largest].images}): ${perImage.resources.toFixed(1)} resources, ${perImage.outputs.toFixed(0)} Outputs, ` +
        `${perImage.promises.toFixed(0)} promises (${perImage.sdkPromises.toFixed(0)} tracked by the SDK), ${perImage.stackTraces.toFixed(1)} stack traces, ` +
        `${(perImage.wallSeconds * 1000).toFixed(0)} ms (${(perImage.cpuSeconds * 1000).toFixed(0)} ms of CPU), ${perImage.peakRssMB.toFixed(1)} MB`,
);
console.log(
    `${rows[largest].case} against the baseline: ${ratio.toFixed(2)}x the wall time (target <= ${TARGETS.wallRatio}x), ${cpuRatio.toFixed(2)}x the CPU time, ` +
        `${rows[largest].peakRssMB} MB peak RSS (target <= ${TARGETS.peakRssMB} MB)`,
);

const results = path.join(__dirname, "results");
fs.mkdirSync(results, { recursive: true });
fs.writeFileSync(
    path.join(results, "scale.json"),
    `${JSON.stringify({ runs: RUNS, targets: TARGETS, ratio, cpuRatio, perImage, loadAverage: os.loadavg(), rows }, null, 2)}\n`,
);
fs.rmSync(work, { recursive: true, force: true });
console.log(`-> ${path.join(results, "scale.json")}`);
