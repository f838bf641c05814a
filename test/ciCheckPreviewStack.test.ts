// scripts/ci-check-preview-stack.sh, run for real: the preview jobs preview a stack of their
// own, never the production stack whose secrets the pull request's code would decrypt
// (issue 20, fix20 item 1).

import { spawnSync } from "child_process";
import * as path from "path";

const script = path.join(__dirname, "..", "scripts", "ci-check-preview-stack.sh");
const run = (preview: string, production: string) =>
    spawnSync("bash", [script, preview, production], { encoding: "utf8", env: { PATH: process.env.PATH } });

test.each([
    ["acme/pr", "acme/prod"],
    ["acme/fleet/pr", "acme/fleet/prod"],
    ["pr", "prod"],
    ["other/prod", "acme/prod"],
])("previews %s when production is %s", (preview, production) => {
    const result = run(preview, production);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`previewing ${preview} (production is ${production})\n`);
});

test.each([
    ["acme/prod", "acme/prod"],
    ["prod", "acme/prod"],
    ["acme/prod", "prod"],
    ["acme/fleet/prod", "acme/prod"],
    ["Acme/Prod", "acme/prod"],
])("refuses to preview %s when production is %s: it may be the same stack", (preview, production) => {
    const result = run(preview, production);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(`refusing to preview ${preview}: it is (or may be) the production stack`);
    expect(result.stderr).toContain("set the CI variable PULUMI_PREVIEW_STACK");
});

test.each([
    ["", "acme/prod", "PULUMI_PREVIEW_STACK is not set"],
    ["acme/pr", "", "PULUMI_STACK (the production stack) is not set"],
    ["acme/p r", "acme/prod", '"acme/p r" is not a stack name'],
    ["a/b/c/d", "acme/prod", '"a/b/c/d" is not a stack name'],
])("refuses preview stack %j with production %j: %s", (preview, production, message) => {
    const result = run(preview, production);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
});
