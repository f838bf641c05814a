// npm run bench: the program's own cost at fleet scale, under Pulumi's mocks (issue 6,
// target 1). Each size runs RUNS times in a fresh process; medians go to a table and to
// bench/results/scale.json. A benchmark, not a test: nothing here fails on a number.

import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const SIZES = [1, 10, 25, 50];
const RUNS = Number(process.env.BENCH_RUNS ?? "3");
const TARGETS = { registerSeconds: 3, peakRssMB: 400 };

interface Sample { images: number; resources: number; invokes: number; dependencyDepth: number; registerSeconds: number; peakRssMB: number }

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function sample(images: number): Sample {
    const out = execFileSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", path.join(__dirname, "scaleRun.ts"), String(images)],
        { encoding: "utf8", cwd: path.join(__dirname, "..") });
    return JSON.parse(out.trim().split("\n").pop() ?? "{}") as Sample;
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
