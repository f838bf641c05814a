// npm run bench: the program's own cost at fleet scale, under Pulumi's mocks (issue 6,
// target 1). Each size runs RUNS times in a fresh process; medians go to a table and to
// bench/results/scale.json. A benchmark, not a test: nothing here fails on a number.

import { execFileSync } from "child_process";
import { ENTRY_POINTS, moduleClosure, SCRIPT_FILES } from "../shell/scriptFiles";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const SIZES = [1, 10, 25, 50];
const RUNS = Number(process.env.BENCH_RUNS ?? "3");
const TARGETS = { registerSeconds: 3, peakRssMB: 400 };

interface Sample { images: number; resources: number; invokes: number; dependencyDepth: number; registerSeconds: number; peakRssMB: number }

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// The program runs as compiled JavaScript, as run.js runs it under pulumi.
const root = path.join(__dirname, "..");
const out = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-bench-js-"));
execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", path.join(root, "tsconfig.json"),
    "--noEmit", "false", "--noCheck", "--outDir", out, "--rootDir", root], { stdio: "inherit" });
fs.symlinkSync(path.join(root, "node_modules"), path.join(out, "node_modules"));
// The script files and entry-point sources the program reads beside its modules (shell/scriptFiles.ts).
const read = (f: string) => fs.readFileSync(path.join(root, f), "utf8");
for (const file of new Set([...SCRIPT_FILES, "runner/cli.ts", ...Object.values(ENTRY_POINTS).flatMap((m) => moduleClosure(m, read))])) {
    fs.mkdirSync(path.dirname(path.join(out, file)), { recursive: true });
    fs.copyFileSync(path.join(root, file), path.join(out, file));
}

function sample(images: number): Sample {
    const result = execFileSync(process.execPath, [path.join(out, "bench", "scaleRun.js"), String(images)], { encoding: "utf8", cwd: root });
    return JSON.parse(result.trim().split("\n").pop() ?? "{}") as Sample;
}

const rows = SIZES.map((images) => {
    const runs = Array.from({ length: RUNS }, () => sample(images));
    return {
        images,
        resources: runs[0].resources,
        invokes: runs[0].invokes,
        dependencyDepth: runs[0].dependencyDepth,
        registerSeconds: median(runs.map((r) => r.registerSeconds)),
        peakRssMB: median(runs.map((r) => r.peakRssMB)),
    };
});

console.log("32 hosts in 4 pools, 4 platforms per image; medians of %d runs (targets: <= %ds, <= %d MB, flat invokes and depth)", RUNS, TARGETS.registerSeconds, TARGETS.peakRssMB);
console.log("images  resources  invokes  depth  register s  peak RSS MB");
for (const r of rows) {
    console.log(`${String(r.images).padStart(6)}  ${String(r.resources).padStart(9)}  ${String(r.invokes).padStart(7)}  ${String(r.dependencyDepth).padStart(5)}  ${r.registerSeconds.toFixed(2).padStart(10)}  ${String(r.peakRssMB).padStart(11)}`);
}
const results = path.join(__dirname, "results");
fs.mkdirSync(results, { recursive: true });
fs.writeFileSync(path.join(results, "scale.json"), `${JSON.stringify({ runs: RUNS, targets: TARGETS, rows }, null, 2)}\n`);
console.log(`-> ${path.join(results, "scale.json")}`);
