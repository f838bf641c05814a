// The CI pipelines users copy: GitHub Actions linted by actionlint (which shellchecks the
// run steps), GitLab CI's job scripts shellchecked, and both wired as the README says.

import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";

const root = path.join(__dirname, "..");
const tools = process.env.NBF_TOOLS_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "native-build-fleet", "bin");

function run(command: string, args: string[], input?: string) {
    const result = spawnSync(command, args, { cwd: root, encoding: "utf8", input });
    if (result.error) {
        throw new Error(`${command} is not installed (${result.error.message}); run the install command from README.md`);
    }
    return result;
}

describe("GitHub Actions", () => {
    const workflow = parse(fs.readFileSync(path.join(root, ".github/workflows/fleet.yml"), "utf8")) as {
        on: Record<string, unknown>; permissions: Record<string, string>; jobs: Record<string, { if?: string; permissions?: Record<string, string>; steps: { run?: string; with?: Record<string, string> }[] }>;
    };

    test("passes actionlint", () => {
        const result = run(path.join(tools, "actionlint"), [".github/workflows/fleet.yml"]);
        expect(result.stdout + result.stderr).toBe("");
        expect(result.status).toBe(0);
    });

    test("previews pull requests with the read-only role and the policy pack, and posts the result", () => {
        const preview = workflow.jobs.preview;
        expect(preview.if).toBe("github.event_name == 'pull_request'");
        expect(preview.permissions).toEqual({ contents: "read", "id-token": "write", "pull-requests": "write" });
        expect(preview.steps.find((s) => s.with?.["role-to-assume"])?.with?.["role-to-assume"]).toBe("${{ vars.AWS_PREVIEW_ROLE_ARN }}");
        expect(preview.steps.map((s) => s.run ?? "").join("\n")).toMatch(/pulumi preview .*--policy-pack policy/);
        expect(preview.steps.map((s) => s.run ?? "").join("\n")).toContain("gh pr comment");
    });

    test("runs pulumi up on main and release tags only, with the deploy role", () => {
        expect(workflow.on.push).toEqual({ branches: ["main"], tags: ["v*"] });
        const up = workflow.jobs.up;
        expect(up.if).toBe("github.event_name == 'push'");
        expect(up.steps.find((s) => s.with?.["role-to-assume"])?.with?.["role-to-assume"]).toBe("${{ vars.AWS_DEPLOY_ROLE_ARN }}");
        expect(up.steps.map((s) => s.run ?? "").join("\n")).toMatch(/pulumi up .*--yes/);
        expect(workflow.permissions).toEqual({ contents: "read" });
    });
});

describe("GitLab CI", () => {
    const pipeline = parse(fs.readFileSync(path.join(root, ".gitlab-ci.yml"), "utf8"), { merge: true }) as Record<string, {
        rules?: { if: string }[]; variables?: Record<string, string>; script?: unknown[];
    }>;
    const script = (job: string) => (pipeline[job].script ?? []).flat(2).join("\n");

    test.each(["test", "preview", "up"])("the %s job's script passes shellcheck as POSIX sh", (job) => {
        const result = run("shellcheck", ["--shell", "sh", "-"], `#!/bin/sh\n${script(job)}\n`);
        expect(result.stdout).toBe("");
    });

    test("previews merge requests with the read-only role and runs up on the default branch and release tags", () => {
        expect(pipeline.preview.rules).toEqual([{ if: '$CI_PIPELINE_SOURCE == "merge_request_event"' }]);
        expect(pipeline.preview.variables).toEqual({ ROLE_ARN: "$AWS_PREVIEW_ROLE_ARN" });
        expect(script("preview")).toMatch(/pulumi preview .*--policy-pack policy/);
        expect(pipeline.up.rules).toEqual([{ if: "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" }, { if: "$CI_COMMIT_TAG =~ /^v/" }]);
        expect(pipeline.up.variables).toEqual({ ROLE_ARN: "$AWS_DEPLOY_ROLE_ARN" });
        expect(script("up")).toMatch(/pulumi up .*--yes/);
    });
});
