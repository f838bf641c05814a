// The program's entry point for `pulumi` (Pulumi.yaml main): compiles the TypeScript sources
// to bin/ when any is newer than the last compilation, then runs the compiled program.
// Plain JavaScript avoids ts-node, whose source-map hooks made every resource registration
// slow (docs/benchmarks.md).
"use strict";

const { execFileSync } = require("child_process");
const fs = require("fs");
const path = require("path");

const SOURCES = [
    "index.ts",
    "config",
    "plan",
    "components",
    "runner",
    "host",
    "startup",
    "tsconfig.json",
    "tsconfig.build.json",
];
const stamp = path.join(__dirname, "bin", ".compiled");

function newest(entry) {
    const stat = fs.statSync(entry);
    if (!stat.isDirectory()) {
        return stat.mtimeMs;
    }
    return Math.max(stat.mtimeMs, ...fs.readdirSync(entry).map((name) => newest(path.join(entry, name))));
}

const compiledAt = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
if (Math.max(...SOURCES.map((s) => newest(path.join(__dirname, s)))) > compiledAt) {
    execFileSync(
        process.execPath,
        [require.resolve("typescript/bin/tsc"), "-p", path.join(__dirname, "tsconfig.build.json")],
        { stdio: "inherit" },
    );
    fs.writeFileSync(stamp, "");
}

// Before the program: the SDK's stack trace per tracked promise made large fleets slow
// (startup/promiseStacks.ts), and the TypeScript compiler it loads is never used here
// (startup/deferredModule.ts). The AWS service modules load only for stacks with EC2 pools,
// and `yaml` only for Compose and EC2 user data: together about 0.1 s of every other run's
// start (issue 22).
require("./bin/startup/promiseStacks.js").withoutPromiseStacks(
    require("@pulumi/pulumi/runtime/debuggable"),
    process.env,
);
const { deferModule } = require("./bin/startup/deferredModule.js");
deferModule(require.resolve("@pulumi/pulumi/typescript-shim"));
deferModule(require.resolve("yaml"));
for (const aws of ["@pulumi/aws/ec2", "@pulumi/aws/iam", "@pulumi/aws/ssm", "@pulumi/aws/getCallerIdentity"]) {
    deferModule(require.resolve(aws), require.cache, true);
}

module.exports = require("./bin/index.js");
