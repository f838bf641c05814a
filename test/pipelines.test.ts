// The CI pipelines users copy: GitHub Actions linted by actionlint (which shellchecks the
// run steps), GitLab CI's job scripts shellchecked, and both parsed to prove which job runs
// for which event and which of them can see which credential (issue 11, part 1).

import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runInNewContext } from "vm";
import { parse } from "yaml";

const root = path.join(__dirname, "..");
const tools =
    process.env.NBF_TOOLS_DIR ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "native-build-fleet", "bin");
const read = (file: string) => fs.readFileSync(path.join(root, file), "utf8");

function run(command: string, args: string[], input?: string) {
    const result = spawnSync(command, args, { cwd: root, encoding: "utf8", input });
    if (result.error) {
        throw new Error(
            `${command} is not installed (${result.error.message}); run the install command from README.md`,
        );
    }
    return result;
}

type Step = {
    id?: string;
    name?: string;
    uses?: string;
    run?: string;
    if?: string;
    with?: Record<string, unknown>;
    env?: Record<string, string>;
    "working-directory"?: string;
};
type Job = {
    if?: string;
    outputs?: Record<string, string>;
    needs?: string;
    "runs-on"?: string;
    environment?: string;
    permissions?: Record<string, string>;
    env?: Record<string, string>;
    steps: Step[];
};
type Workflow = {
    on: Record<string, unknown>;
    permissions: Record<string, string>;
    env?: unknown;
    jobs: Record<string, Job>;
};

/**
 * Evaluates the subset of the GitHub Actions expression language the workflow uses
 * (==, !=, &&, ||, !, parentheses, string literals, format, startsWith, always) against a
 * context, so the tests can ask what a fork's pull request would run.
 */
function evaluate(expression: string, context: Record<string, unknown>): boolean {
    const get = (dotted: string) =>
        dotted
            .split(".")
            .reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], context);
    const functions = {
        format: (template: string, ...args: unknown[]) =>
            template.replace(/\{(\d+)\}/g, (_, i: string) => String(args[Number(i)])),
        startsWith: (value: unknown, prefix: string) => String(value).startsWith(prefix),
        always: () => true,
    };
    const js = expression
        .replace(/'([^']*)'/g, (_, s: string) => JSON.stringify(s))
        .replace(/\b(github|needs|steps)((?:\.[A-Za-z_][\w-]*)+)/g, (m) => `get(${JSON.stringify(m)})`)
        .replace(/==/g, "===")
        .replace(/!===/g, "!==");
    if (/[^\w\s."'()|&!=,{}/-]/.test(js.replace(/"[^"]*"/g, ""))) {
        throw new Error(`unsupported expression ${expression}`);
    }
    return Boolean(runInNewContext(`(${js})`, { get, ...functions }));
}

/** The secrets (`secrets.X`, `github.token`) a job's definition references anywhere. */
function secretsOf(job: Job): string[] {
    const text = JSON.stringify(job);
    return [
        ...new Set(
            [...text.matchAll(/\bsecrets\.([A-Za-z0-9_]+)/g)]
                .map((m) => m[1])
                .concat(/\bgithub\.token\b/.test(text) ? ["github.token"] : []),
        ),
    ].sort();
}

describe("GitHub Actions", () => {
    const text = read(".github/workflows/fleet.yml");
    const workflow = parse(text) as Workflow;
    const repo = { full_name: "acme/fleet", default_branch: "main" };
    const events = {
        "a pull request from a fork": {
            event_name: "pull_request",
            ref: "refs/pull/7/merge",
            repository: "acme/fleet",
            event: { repository: repo, pull_request: { number: 7, head: { repo: { full_name: "mallory/fleet" } } } },
        },
        "a pull request from a branch of the repository": {
            event_name: "pull_request",
            ref: "refs/pull/8/merge",
            repository: "acme/fleet",
            event: { repository: repo, pull_request: { number: 8, head: { repo: { full_name: "acme/fleet" } } } },
        },
        "a push to main": {
            event_name: "push",
            ref: "refs/heads/main",
            repository: "acme/fleet",
            event: { repository: repo },
        },
        "a push of tag v1.2.0": {
            event_name: "push",
            ref: "refs/tags/v1.2.0",
            repository: "acme/fleet",
            event: { repository: repo },
        },
    };
    /**
     * Jobs that would run, every job that runs succeeding. As GitHub does, a job whose
     * `needs` did not succeed is skipped unless its `if` calls a status function.
     */
    const jobsFor = (github: object) => {
        // A job that runs writes every output it declares (its steps succeed).
        const results: Record<string, { result: string; outputs: Record<string, string> }> = {};
        for (const [name, job] of Object.entries(workflow.jobs)) {
            const needed = job.needs === undefined ? "success" : results[job.needs].result;
            const statusFunction = /\b(always|success|failure|cancelled)\(\)/.test(job.if ?? "");
            const runs =
                (needed === "success" || statusFunction) &&
                (job.if === undefined || evaluate(job.if, { github, needs: results }));
            const outputs = Object.fromEntries(Object.keys(job.outputs ?? {}).map((k) => [k, runs ? "true" : ""]));
            results[name] = { result: runs ? "success" : "skipped", outputs };
        }
        return Object.keys(results).filter((name) => results[name].result === "success");
    };

    test("passes actionlint", () => {
        const result = run(path.join(tools, "actionlint"), [".github/workflows/fleet.yml"]);
        expect(result.stdout + result.stderr).toBe("");
        expect(result.status).toBe(0);
    });

    test.each([
        ["a pull request from a fork", ["test"]],
        ["a pull request from a branch of the repository", ["test", "preview", "comment"]],
        ["a push to main", ["test", "up"]],
        ["a push of tag v1.2.0", ["test", "up"]],
    ] as const)("%s runs %j", (event, jobs) => {
        expect(jobsFor(events[event])).toEqual(jobs);
    });

    test("the only push refs are main and v* tags, and up runs only on the default branch and v* tags", () => {
        expect(workflow.on.push).toEqual({ branches: ["main"], tags: ["v*"] });
        const github = { event_name: "push", event: { repository: repo } };
        expect(evaluate(workflow.jobs.up.if ?? "", { github: { ...github, ref: "refs/heads/feature" } })).toBe(false);
        expect(evaluate(workflow.jobs.up.if ?? "", { github: { ...github, ref: "refs/tags/nightly" } })).toBe(false);
        expect(
            evaluate(workflow.jobs.up.if ?? "", {
                github: { ...github, ref: "refs/heads/trunk", event: { repository: { default_branch: "trunk" } } },
            }),
        ).toBe(true);
    });

    test("no credential is set for the whole workflow, and the default token may do nothing", () => {
        expect(workflow.env).toBeUndefined();
        expect(workflow.permissions).toEqual({});
    });

    test.each([
        ["test", []],
        ["preview", ["PULUMI_PREVIEW_TOKEN"]],
        ["comment", ["github.token"]],
        ["up", ["PULUMI_ACCESS_TOKEN"]],
    ] as const)("the %s job can read exactly %j", (name, secrets) => {
        expect(secretsOf(workflow.jobs[name])).toEqual(secrets);
    });

    test("the job that runs the pull request's install and tests holds no secret and no OIDC token", () => {
        const job = workflow.jobs.test;
        expect(job.steps.map((s) => s.run).filter(Boolean)).toEqual(["bash scripts/install.sh", "npm test"]);
        expect(job.permissions).toEqual({ contents: "read" });
        expect(job.environment).toBeUndefined();
        expect(JSON.stringify(job)).not.toMatch(/secrets\.|vars\.|github\.token/);
    });

    test("previews with the read-only role, the read-only token and the policy pack, in the preview environment", () => {
        const preview = workflow.jobs.preview;
        expect(preview.environment).toBe("preview");
        // The token reaches only the step that runs Pulumi.
        const withToken = preview.steps.filter((s) => s.env?.PULUMI_ACCESS_TOKEN !== undefined);
        expect(withToken.map((s) => [s.env?.PULUMI_ACCESS_TOKEN, s.run?.includes("pulumi preview")])).toEqual([
            ["${{ secrets.PULUMI_PREVIEW_TOKEN }}", true],
        ]);
        expect(preview.env?.PULUMI_ACCESS_TOKEN).toBeUndefined();
        expect(preview.permissions).toEqual({ contents: "read", "id-token": "write" });
        expect(preview.steps.find((s) => s.with?.["role-to-assume"])?.with?.["role-to-assume"]).toBe(
            "${{ vars.AWS_PREVIEW_ROLE_ARN }}",
        );
        expect(preview.steps.map((s) => s.run ?? "").join("\n")).toMatch(
            /pulumi preview .*--policy-pack \.trusted\/policy/,
        );
        expect(preview.steps.map((s) => s.run ?? "").join("\n")).not.toMatch(/pulumi up/);
    });

    test("the job that may write to pull requests checks out and runs none of their code", () => {
        const comment = workflow.jobs.comment;
        expect(comment.permissions).toEqual({ "pull-requests": "write" });
        expect(comment.steps.map((s) => s.uses?.split("@")[0]).filter(Boolean)).toEqual(["actions/download-artifact"]);
        expect(comment.steps.map((s) => s.run).filter(Boolean)).toEqual([
            'gh pr comment "$PR" --repo "$GITHUB_REPOSITORY" --body-file comment.md',
        ]);
        // Every other job's token is read-only at most.
        for (const [name, job] of Object.entries(workflow.jobs).filter(([n]) => n !== "comment")) {
            expect([name, Object.values(job.permissions ?? {}).filter((p) => p === "write")]).toEqual([
                name,
                name === "test" ? [] : ["write"],
            ]);
            expect([name, job.permissions?.["id-token"] ?? "none"]).toEqual([name, name === "test" ? "none" : "write"]);
        }
    });

    test("runs pulumi up with the deploy role through the protected production environment only", () => {
        const up = workflow.jobs.up;
        expect(up.environment).toBe("production");
        const withToken = up.steps.filter((s) => s.env?.PULUMI_ACCESS_TOKEN !== undefined);
        expect(withToken.map((s) => [s.env?.PULUMI_ACCESS_TOKEN, s.run?.startsWith("pulumi up")])).toEqual([
            ["${{ secrets.PULUMI_ACCESS_TOKEN }}", true],
        ]);
        expect(up.needs).toBe("test");
        expect(up.steps.find((s) => s.with?.["role-to-assume"])?.with?.["role-to-assume"]).toBe(
            "${{ vars.AWS_DEPLOY_ROLE_ARN }}",
        );
        expect(up.steps.map((s) => s.run ?? "").join("\n")).toMatch(/pulumi up .*--yes/);
        for (const [name, job] of Object.entries(workflow.jobs).filter(([n]) => n !== "up")) {
            expect([name, JSON.stringify(job)]).not.toEqual([
                name,
                expect.stringMatching(/PULUMI_ACCESS_TOKEN \}\}|AWS_DEPLOY_ROLE_ARN|pulumi up/),
            ]);
        }
    });

    test("pins every action to a full commit SHA with the release in a comment", () => {
        const uses = [...text.matchAll(/^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/gm)];
        expect(uses.length).toBe(
            Object.values(workflow.jobs)
                .flatMap((j) => j.steps)
                .filter((s) => s.uses).length,
        );
        for (const [, ref, rest] of uses) {
            expect(ref).toMatch(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/);
            expect(rest).toMatch(/^ # v\d+\.\d+\.\d+$/);
        }
    });

    test("checkout never leaves the job's token in .git/config", () => {
        const checkouts = Object.values(workflow.jobs)
            .flatMap((j) => j.steps)
            .filter((s) => s.uses?.startsWith("actions/checkout@"));
        expect(checkouts.length).toBe(4);
        expect(checkouts.every((s) => s.with?.["persist-credentials"] === false)).toBe(true);
    });

    test("up checks, before any credential, that the commit is on the default branch, from a full-history checkout", () => {
        const steps = workflow.jobs.up.steps;
        const check = steps.findIndex((s) => s.run === 'bash scripts/ci-check-release-ref.sh "$DEFAULT_BRANCH"');
        expect(check).toBeGreaterThan(0);
        expect(steps[check].env).toEqual({
            DEFAULT_BRANCH: "${{ github.event.repository.default_branch }}",
            FETCH: "0",
        });
        expect(steps[0].with).toEqual({ "fetch-depth": 0, "persist-credentials": false });
        const firstCredential = steps.findIndex((s) => JSON.stringify(s).match(/secrets\.|role-to-assume|npm ci/));
        expect(check).toBeLessThan(firstCredential);
    });

    test("previews with the policy pack of the default branch, never the pull request's", () => {
        const steps = workflow.jobs.preview.steps;
        const trusted = steps.find((s) => s.with?.path === ".trusted");
        expect(trusted?.uses).toMatch(/^actions\/checkout@/);
        expect(trusted?.with).toMatchObject({
            ref: "${{ github.event.repository.default_branch }}",
            "persist-credentials": false,
        });
        expect(String(trusted?.with?.["sparse-checkout"]).split("\n").filter(Boolean)).toEqual(["policy", "config"]);
        const runs = steps.map((s) => s.run ?? "").join("\n");
        expect(runs).toMatch(/pulumi preview .*--policy-pack \.trusted\/policy /);
        expect(runs).not.toMatch(/--policy-pack policy\b/);
    });

    test("previews PULUMI_PREVIEW_STACK, never PULUMI_STACK, and checks the two differ before any other step", () => {
        const preview = workflow.jobs.preview;
        expect(preview.env).toMatchObject({
            PULUMI_PREVIEW_STACK: "${{ vars.PULUMI_PREVIEW_STACK }}",
            PULUMI_STACK: "${{ vars.PULUMI_STACK }}",
        });
        const runs = preview.steps.map((s) => s.run ?? "");
        expect(runs[1]).toBe('bash scripts/ci-check-preview-stack.sh "$PULUMI_PREVIEW_STACK" "$PULUMI_STACK"');
        expect(preview.steps[0].uses).toMatch(/^actions\/checkout@/);
        const pulumi = runs.join("\n").match(/pulumi [a-z]+ .*/g) ?? [];
        expect(pulumi).toEqual([expect.stringContaining('pulumi preview --stack "$PULUMI_PREVIEW_STACK" ')]);
        expect(runs.filter((r) => r.includes("ci-preview-comment.sh"))).toEqual([
            'bash scripts/ci-preview-comment.sh "$PULUMI_PREVIEW_STACK" preview.txt "$JOB_LOG" > comment.md\necho "written=true" >> "$GITHUB_OUTPUT"\n',
        ]);
        // The clean-up removes the preview stack's builder.
        expect(preview.steps.at(-1)?.env).toEqual({
            NBF_BUILDER: "${{ vars.NBF_PREVIEW_BUILDER }}",
            PULUMI_STACK: "${{ vars.PULUMI_PREVIEW_STACK }}",
        });
    });

    test.each([
        [{ PULUMI_STACK: "acme/prod" }, 2],
        [{ PULUMI_STACK: "acme/prod", PULUMI_PREVIEW_STACK: "acme/prod" }, 1],
        [{ PULUMI_STACK: "acme/prod", PULUMI_PREVIEW_STACK: "prod" }, 1],
        [{ PULUMI_STACK: "acme/prod", PULUMI_PREVIEW_STACK: "acme/pr" }, 0],
    ])("the preview job's check, run for real with repository variables %j, exits %d", (variables, status) => {
        const preview = workflow.jobs.preview;
        // As GitHub does: each env entry is its variable's value, or "" when the variable is unset.
        const env = Object.fromEntries(
            Object.entries(preview.env ?? {}).map(([key, value]) => [
                key,
                value.replace(
                    /\$\{\{ vars\.(\w+) \}\}/,
                    (_, name: string) => (variables as Record<string, string>)[name] ?? "",
                ),
            ]),
        );
        const result = spawnSync("bash", ["-c", preview.steps[1].run ?? ""], {
            cwd: root,
            encoding: "utf8",
            env: { PATH: process.env.PATH, ...env },
        });
        expect(result.status).toBe(status);
    });

    test("the trusted pack installs its own dependencies from the default branch's lockfile, scripts off, before the pull request's install", () => {
        const steps = workflow.jobs.preview.steps;
        const trusted = steps.findIndex((s) => s.with?.path === ".trusted");
        // Cone mode brings the top-level package.json and package-lock.json along.
        expect(steps[trusted].with?.["sparse-checkout-cone-mode"]).toBeUndefined();
        const installs = steps.filter((s) => s.run?.startsWith("npm "));
        expect(installs.map((s) => [s["working-directory"], s.run])).toEqual([
            [".trusted", "npm ci --ignore-scripts"],
            [undefined, "npm ci --ignore-scripts"],
        ]);
        expect(steps.indexOf(installs[0])).toBeGreaterThan(trusted);
        expect(steps.indexOf(installs[0])).toBeLessThan(steps.indexOf(installs[1]));
    });

    test("the comment is the preview's summary and diff, written by the comment script, not the raw output", () => {
        const writes = workflow.jobs.preview.steps.filter((s) => s.run?.includes("comment.md"));
        expect(writes.map((s) => s.run)).toEqual([
            'bash scripts/ci-preview-comment.sh "$PULUMI_PREVIEW_STACK" preview.txt "$JOB_LOG" > comment.md\necho "written=true" >> "$GITHUB_OUTPUT"\n',
        ]);
    });

    /**
     * Runs the preview job's steps as GitHub does when the step named `failing` fails: a step
     * without `if` runs only while nothing failed; the comment step writes its output. Returns
     * whether the comment job would then run.
     */
    const commentPostedWhen = (failing: string) => {
        const preview = workflow.jobs.preview;
        const steps: Record<string, { outcome: string; outputs: Record<string, string> }> = {};
        let failed = false;
        for (const step of preview.steps) {
            const runs: boolean = step.if === undefined ? !failed : evaluate(step.if, { steps });
            const fails: boolean = runs && step.name === failing;
            failed ||= fails;
            const outputs: Record<string, string> =
                runs && !fails && step.run?.includes("GITHUB_OUTPUT") ? { written: "true" } : {};
            if (step.id) steps[step.id] = { outcome: runs ? (fails ? "failure" : "success") : "skipped", outputs };
        }
        const comment = evaluate(preview.outputs?.comment?.replace(/^\$\{\{\s*|\s*\}\}$/g, "") ?? "", { steps });
        const needs = { preview: { result: "failure", outputs: { comment: comment ? "true" : "" } } };
        return evaluate(workflow.jobs.comment.if ?? "", { needs });
    };

    test("posts no comment when the stack check fails (nothing was previewed), but one when the preview fails", () => {
        expect(commentPostedWhen("Preview a stack of its own, never the production stack")).toBe(false);
        expect(commentPostedWhen("Preview")).toBe(true);
    });

    test("up alone may run on a dedicated runner; test and preview stay on GitHub-hosted VMs", () => {
        expect(workflow.jobs.up["runs-on"]).toBe("${{ vars.NBF_UP_RUNNER || 'ubuntu-latest' }}");
        for (const name of ["test", "preview", "comment"]) {
            expect([name, workflow.jobs[name]["runs-on"]]).toEqual([name, "ubuntu-latest"]);
        }
    });

    test.each(["preview", "up"])(
        "the %s job ends by removing the builder's SSH files and buildx entry, whatever happened",
        (name) => {
            const last = workflow.jobs[name].steps.at(-1);
            expect(last?.if).toBe("always()");
            expect(last?.run).toBe('bash scripts/ci-remove-builder.sh "$NBF_BUILDER"');
        },
    );
});

describe("the Pulumi CLI the pipelines install", () => {
    const installer = read("scripts/install-pulumi-cli.sh");

    test("is one pinned release, the version of @pulumi/pulumi, checked against a SHA-256", () => {
        const pkg = JSON.parse(read("package.json")) as { dependencies: Record<string, string> };
        expect(installer).toMatch(
            new RegExp(`^PULUMI_VERSION=${pkg.dependencies["@pulumi/pulumi"].replace(/\./g, "\\.")}$`, "m"),
        );
        expect(installer).toMatch(/sha256sum/);
    });

    test.each([".github/workflows/fleet.yml", ".gitlab-ci.yml"])(
        "%s pipes no installer into a shell and uses the pinned one",
        (file) => {
            const pipeline = read(file);
            expect(pipeline).not.toMatch(/curl[^\n|]*\|\s*(ba)?sh|get\.pulumi\.com/);
            const lines = pipeline.split("\n").filter((line) => !/^\s*#/.test(line));
            expect(lines.filter((line) => line.includes("bash scripts/install-pulumi-cli.sh")).length).toBe(
                file.endsWith("fleet.yml") ? 2 : 1,
            );
        },
    );

    test("passes shellcheck, like the runner-cleanup script", () => {
        const result = run("shellcheck", [
            "scripts/install-pulumi-cli.sh",
            "scripts/ci-remove-builder.sh",
            "scripts/ci-check-release-ref.sh",
            "scripts/ci-check-preview-stack.sh",
            "scripts/ci-preview-comment.sh",
            "scripts/install-pulumi-plugins.sh",
            "scripts/install-signing-tools.sh",
        ]);
        expect(result.stdout).toBe("");
        expect(result.status).toBe(0);
    });
});

type GitLabJob = {
    rules?: { if: string }[];
    variables?: Record<string, string>;
    script?: unknown[];
    after_script?: unknown[];
    environment?: { name: string; action?: string };
    id_tokens?: Record<string, unknown>;
    image?: string;
    tags?: string[];
};

/** Evaluates a GitLab `rules:if` expression (==, =~, &&, ||, variables, strings, /regex/). */
function evaluateRule(expression: string, variables: Record<string, string>): boolean {
    const value = (name: string) => variables[name] ?? null;
    const js = expression
        .replace(
            /(\$\w+)\s*=~\s*\/((?:[^/\\]|\\.)*)\//g,
            (_, v: string, re: string) =>
                `new RegExp(${JSON.stringify(re)}).test(value(${JSON.stringify(v.slice(1))}) ?? "")`,
        )
        .replace(/\$(\w+)/g, (_, v: string) => `value(${JSON.stringify(v)})`)
        .replace(/==/g, "===")
        .replace(/!===/g, "!==");
    return Boolean(runInNewContext(`(${js})`, { value }));
}

describe("GitLab CI", () => {
    const pipeline = parse(read(".gitlab-ci.yml"), { merge: true }) as Record<string, GitLabJob>;
    const script = (job: string, key: "script" | "after_script" = "script") =>
        (pipeline[job][key] ?? []).flat(2).join("\n");
    const project = { CI_PROJECT_ID: "100", CI_DEFAULT_BRANCH: "main" };
    const pipelines = {
        "a merge request from a fork": {
            ...project,
            CI_PIPELINE_SOURCE: "merge_request_event",
            CI_MERGE_REQUEST_SOURCE_PROJECT_ID: "666",
            CI_COMMIT_REF_PROTECTED: "false",
        },
        "a merge request from a branch of the project": {
            ...project,
            CI_PIPELINE_SOURCE: "merge_request_event",
            CI_MERGE_REQUEST_SOURCE_PROJECT_ID: "100",
            CI_COMMIT_REF_PROTECTED: "true",
        },
        "a merge request from an unprotected branch of the project": {
            ...project,
            CI_PIPELINE_SOURCE: "merge_request_event",
            CI_MERGE_REQUEST_SOURCE_PROJECT_ID: "100",
            CI_COMMIT_REF_PROTECTED: "false",
        },
        "a push to the default branch": {
            ...project,
            CI_PIPELINE_SOURCE: "push",
            CI_COMMIT_BRANCH: "main",
            CI_COMMIT_REF_PROTECTED: "true",
        },
        "a push to another branch": {
            ...project,
            CI_PIPELINE_SOURCE: "push",
            CI_COMMIT_BRANCH: "feature",
            CI_COMMIT_REF_PROTECTED: "false",
        },
        "a push of tag v1.2.0": {
            ...project,
            CI_PIPELINE_SOURCE: "push",
            CI_COMMIT_TAG: "v1.2.0",
            CI_COMMIT_REF_PROTECTED: "true",
        },
        "a push of an unprotected tag v6.6.6": {
            ...project,
            CI_PIPELINE_SOURCE: "push",
            CI_COMMIT_TAG: "v6.6.6",
            CI_COMMIT_REF_PROTECTED: "false",
        },
    };
    const jobs = ["test", "preview", "up"];
    const jobsFor = (variables: Record<string, string>) =>
        jobs.filter((name) => {
            const rules = pipeline[name].rules;
            return rules === undefined || rules.some((rule) => evaluateRule(rule.if, variables));
        });

    test.each([
        ["a merge request from a fork", ["test"]],
        ["a merge request from a branch of the project", ["test", "preview"]],
        ["a merge request from an unprotected branch of the project", ["test"]],
        ["a push to the default branch", ["test", "up"]],
        ["a push to another branch", ["test"]],
        ["a push of tag v1.2.0", ["test", "up"]],
        ["a push of an unprotected tag v6.6.6", ["test"]],
    ] as const)("%s runs %j", (name, expected) => {
        expect(jobsFor(pipelines[name])).toEqual(expected);
    });

    test.each(["test", "preview", "up"])("the %s job's scripts pass shellcheck as POSIX sh", (job) => {
        for (const key of ["script", "after_script"] as const) {
            const result = run("shellcheck", ["--shell", "sh", "-"], `#!/bin/sh\n${script(job, key)}\n`);
            expect(result.stdout).toBe("");
        }
    });

    test("the job that runs the merge request's install and tests is in no environment and gets no id token", () => {
        // Environment-scoped and protected variables (both Pulumi tokens) reach only jobs
        // that name the environment, on protected refs for the protected one.
        expect(pipeline.test.environment).toBeUndefined();
        expect(pipeline.test.id_tokens).toBeUndefined();
        expect(pipeline.test.variables).toBeUndefined();
        expect(script("test")).toBe("bash scripts/install.sh\nnpm test");
    });

    test("previews in the preview environment with the read-only token and role, and never deploys", () => {
        expect(pipeline.preview.environment).toEqual({ name: "preview", action: "prepare" });
        expect(pipeline.preview.variables).toEqual({
            ROLE_ARN: "$AWS_PREVIEW_ROLE_ARN",
            PULUMI_ACCESS_TOKEN: "$PULUMI_PREVIEW_TOKEN",
        });
        expect(script("preview")).toMatch(/pulumi preview .*--policy-pack \.trusted\/policy/);
        expect(script("preview")).not.toMatch(/pulumi up/);
    });

    test("runs up only in the production environment, with the deploy role", () => {
        expect(pipeline.up.environment).toEqual({ name: "production" });
        expect(pipeline.up.variables).toEqual({ ROLE_ARN: "$AWS_DEPLOY_ROLE_ARN" });
        expect(script("up")).toMatch(/pulumi up .*--yes/);
        for (const name of jobs.filter((j) => j !== "up")) {
            expect([name, JSON.stringify(pipeline[name])]).not.toEqual([
                name,
                expect.stringMatching(/AWS_DEPLOY_ROLE_ARN|production|pulumi up/),
            ]);
        }
    });

    test.each(["preview", "up"])(
        "the %s job never puts the ID token on a command line: a 0600 file the AWS SDKs read",
        (job) => {
            const text = script(job);
            expect(text).not.toMatch(/--web-identity-token|assume-role-with-web-identity/);
            // Only the shell builtin printf sees the token's value.
            expect(text.split("\n").filter((line) => line.includes("AWS_ID_TOKEN"))).toEqual([
                `printf '%s' "$AWS_ID_TOKEN" > "$AWS_WEB_IDENTITY_TOKEN_FILE"`,
                "unset AWS_ID_TOKEN",
            ]);
            // Run the job's credential lines for real in POSIX sh, the token file then inspected.
            const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-gitlab-aws-"));
            try {
                const lines = text.split("\n");
                const start = lines.findIndex((l) => l.startsWith("AWS_WEB_IDENTITY_TOKEN_FILE="));
                const end = lines.indexOf("unset AWS_ID_TOKEN");
                const probe = `${lines.slice(start, end + 1).join("\n")}\nstat -c '%a' "$AWS_WEB_IDENTITY_TOKEN_FILE"; cat "$AWS_WEB_IDENTITY_TOKEN_FILE"; echo; env | grep -E '^AWS_(ROLE_ARN|ID_TOKEN|WEB_IDENTITY_TOKEN_FILE)=' | sort\n`;
                const result = spawnSync("sh", ["-c", probe], {
                    encoding: "utf8",
                    env: {
                        PATH: process.env.PATH,
                        TMPDIR: tmp,
                        AWS_ID_TOKEN: "eyJ.token.sig",
                        ROLE_ARN: "arn:aws:iam::1:role/deploy",
                        CI_PIPELINE_ID: "9",
                        AWS_REGION: "eu-west-1",
                    },
                });
                const [mode, token, ...env] = result.stdout.trim().split("\n");
                expect([mode, token]).toEqual(["600", "eyJ.token.sig"]);
                expect(env).toEqual([
                    "AWS_ROLE_ARN=arn:aws:iam::1:role/deploy",
                    expect.stringMatching(new RegExp(`^AWS_WEB_IDENTITY_TOKEN_FILE=${tmp}/nbf-web-identity\\.`)),
                ]);
            } finally {
                fs.rmSync(tmp, { recursive: true, force: true });
            }
        },
    );

    test("the docs cite GitLab's ID token documentation for the ref, ref_protected and pipeline_source claims the trust rests on", () => {
        const docs = read("docs/previews-and-ci.md");
        const start = docs.indexOf("- **The AWS roles trust this project's path.**");
        const trust = docs.slice(start, docs.indexOf("\n- **", start + 1)).replace(/\s+/g, " ");
        expect(start).toBeGreaterThan(0);
        expect(trust).toContain("https://docs.gitlab.com/ci/secrets/id_token_authentication/");
        expect(trust).toContain('"Token payload"');
        for (const claim of [
            '`ref` ("Git ref for the job")',
            '`ref_protected` ("`true` if the Git ref is protected, `false` otherwise")',
            "`pipeline_source` (the pipeline's source",
            "`merge_request_event` in a merge request pipeline",
            "`project_path:{group}/{project}:ref_type:{type}:ref:{branch_name}`",
        ]) {
            expect(trust).toContain(claim);
        }
    });

    test("up runs on its own runner (tag nbf-deploy); no other job can land there", () => {
        expect(pipeline.up.tags).toEqual(["nbf-deploy"]);
        expect(pipeline.test.tags).toBeUndefined();
        expect(pipeline.preview.tags).toBeUndefined();
    });

    test("up checks the commit is on the default branch before it takes any credential", () => {
        const lines = script("up").split("\n");
        const check = lines.indexOf('bash scripts/ci-check-release-ref.sh "$CI_DEFAULT_BRANCH" "$CI_COMMIT_SHA"');
        expect(check).toBeGreaterThan(0);
        expect(check).toBeLessThan(lines.findIndex((l) => l.includes("AWS_WEB_IDENTITY_TOKEN_FILE")));
        // and before the commit's own scripts and packages run with the job's tokens in their environment
        expect(check).toBeLessThan(lines.findIndex((l) => l.includes("install-pulumi-cli.sh")));
        expect(check).toBeLessThan(lines.findIndex((l) => l.startsWith("npm ci")));
    });

    test("only up gets the sigstore ID token for keyless signing", () => {
        expect(pipeline.up.id_tokens?.SIGSTORE_ID_TOKEN).toEqual({ aud: "sigstore" });
        expect(pipeline.preview.id_tokens?.SIGSTORE_ID_TOKEN).toBeUndefined();
        expect(pipeline.test.id_tokens).toBeUndefined();
    });

    test("the trusted pack installs its own dependencies from the default branch's lockfile, scripts off, before the merge request's install", () => {
        const lines = script("preview").split("\n");
        const archive = lines.indexOf(
            "git archive refs/nbf/trusted policy config package.json package-lock.json tsconfig.json | tar -x -C .trusted",
        );
        const trustedInstall = lines.indexOf("(cd .trusted && npm ci --ignore-scripts)");
        expect(archive).toBeGreaterThan(0);
        expect(lines[archive - 1]).toBe("rm -rf .trusted && mkdir .trusted");
        expect(trustedInstall).toBeGreaterThan(archive);
        expect(trustedInstall).toBeLessThan(lines.indexOf("npm ci --ignore-scripts"));
        expect(trustedInstall).toBeLessThan(lines.findIndex((l) => l.startsWith("pulumi preview")));
    });

    test("the trusted pack's ts-node finds the default branch's tsconfig.json, never the merge request's", () => {
        // ts-node takes the first tsconfig.json from the pack's directory upwards; .trusted sits
        // in the merge request's checkout, whose root tsconfig.json ("ts-node": {"require": …})
        // would otherwise be the one.
        const archive = script("preview")
            .split("\n")
            .find((l) => l.startsWith("git archive refs/nbf/trusted "));
        const extracted = archive!.split("|")[0].trim().split(/\s+/).slice(3);
        const found = ["policy/tsconfig.json", "tsconfig.json"].find(
            (f) => fs.existsSync(path.join(root, f)) && extracted.some((p) => f === p || f.startsWith(`${p}/`)),
        );
        expect(found).toBeDefined();
        // Nothing it extends lies outside what is extracted.
        expect(JSON.parse(read(found!)).extends).toBeUndefined();
    });

    test("previews with the default branch's policy pack, never the merge request's", () => {
        expect(script("preview")).toContain(
            'git fetch --quiet --depth 1 origin "+refs/heads/$CI_DEFAULT_BRANCH:refs/nbf/trusted"',
        );
        expect(script("preview")).toMatch(/pulumi preview .*--policy-pack \.trusted\/policy /);
    });

    test("the image that holds the deploy token is pinned by digest", () => {
        expect((pipeline as unknown as { default: { image: string } }).default.image).toMatch(
            /^docker:27-cli@sha256:[0-9a-f]{64}$/,
        );
        expect(pipeline.up.image).toBeUndefined();
    });

    test.each([
        [
            "preview",
            'PULUMI_STACK="${PULUMI_PREVIEW_STACK:-}" bash scripts/ci-remove-builder.sh "${NBF_PREVIEW_BUILDER:-}"',
        ],
        ["up", 'bash scripts/ci-remove-builder.sh "${NBF_BUILDER:-}"'],
    ])("the %s job removes its stack's builder's SSH files in after_script, which runs on failure too", (job, line) => {
        expect(script(job, "after_script")).toContain(line);
    });

    test("previews PULUMI_PREVIEW_STACK, never PULUMI_STACK, checked before the tools, the token's use and the role", () => {
        const lines = script("preview").split("\n");
        const check = lines.indexOf(
            'bash scripts/ci-check-preview-stack.sh "${PULUMI_PREVIEW_STACK:-}" "${PULUMI_STACK:-}"',
        );
        expect(lines.slice(0, check)).toEqual(["apk add --no-cache bash"]);
        expect(lines.filter((l) => /^pulumi [a-z]+ /.test(l))).toEqual([
            'pulumi preview --stack "$PULUMI_PREVIEW_STACK" --policy-pack .trusted/policy --diff --non-interactive',
        ]);
    });

    test.each([
        [{ PULUMI_STACK: "acme/prod" }, 2],
        [{ PULUMI_STACK: "acme/prod", PULUMI_PREVIEW_STACK: "acme/prod" }, 1],
        [{ PULUMI_STACK: "acme/prod", PULUMI_PREVIEW_STACK: "acme/pr" }, 0],
    ])("the preview job's check, run for real in sh with CI/CD variables %j, exits %d", (variables, status) => {
        const line = script("preview").split("\n")[1];
        const result = spawnSync("sh", ["-c", line], {
            cwd: root,
            encoding: "utf8",
            env: { PATH: process.env.PATH, ...variables },
        });
        expect(result.status).toBe(status);
    });
});

describe("the provider plugins the pipelines run", () => {
    test("GitHub: preview and up install them checked, and forbid Pulumi to fetch any itself", () => {
        const workflow = parse(read(".github/workflows/fleet.yml")) as Workflow;
        for (const name of ["preview", "up"]) {
            const job = workflow.jobs[name];
            expect([name, job.env?.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION]).toEqual([name, "true"]);
            const steps = job.steps.map((s) => s.run ?? "");
            const plugins = steps.indexOf("bash scripts/install-pulumi-plugins.sh");
            expect(plugins).toBeGreaterThan(steps.findIndex((r) => r.includes("install-pulumi-cli.sh")));
            expect(plugins).toBeLessThan(steps.findIndex((r) => /pulumi (preview|up) /.test(r)));
        }
    });

    test("GitHub: preview and up give Pulumi a new, empty PULUMI_HOME before any plugin is installed", () => {
        const workflow = parse(read(".github/workflows/fleet.yml")) as Workflow;
        for (const name of ["preview", "up"]) {
            const steps = workflow.jobs[name].steps.map((s) => s.run ?? "");
            const home = steps.findIndex((r) => r.includes("PULUMI_HOME="));
            expect([name, steps[home]]).toEqual([
                name,
                'echo "PULUMI_HOME=$(mktemp -d "$RUNNER_TEMP/pulumi-home.XXXXXX")" >> "$GITHUB_ENV"',
            ]);
            expect(home).toBeLessThan(steps.indexOf("bash scripts/install-pulumi-plugins.sh"));
            expect(home).toBeLessThan(steps.findIndex((r) => r.includes("install-pulumi-cli.sh")));
        }
        // Run for real: a new directory each time, empty, in RUNNER_TEMP.
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-runner-temp-"));
        try {
            const step = workflow.jobs.up.steps.find((s) => s.run?.includes("PULUMI_HOME="))?.run ?? "";
            const env = { PATH: process.env.PATH, RUNNER_TEMP: tmp, GITHUB_ENV: path.join(tmp, "env") };
            for (let i = 0; i < 2; i++) {
                expect(spawnSync("bash", ["-c", step], { encoding: "utf8", env }).status).toBe(0);
            }
            const homes = fs.readFileSync(path.join(tmp, "env"), "utf8").trim().split("\n");
            expect(homes).toHaveLength(2);
            expect(new Set(homes).size).toBe(2);
            for (const line of homes) {
                const dir = line.replace(/^PULUMI_HOME=/, "");
                expect(path.dirname(dir)).toBe(tmp);
                expect(fs.readdirSync(dir)).toEqual([]);
            }
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    });

    test("GitLab: every job that runs Pulumi gets a new, empty PULUMI_HOME in TMPDIR (nbf-*, removed in after_script) before the plugins", () => {
        const text = parse(read(".gitlab-ci.yml"), { merge: true }) as Record<string, GitLabJob>;
        let assignment: string[] = [];
        for (const name of ["preview", "up"]) {
            const lines = (text[name].script ?? []).flat(2).map(String);
            const home = lines.indexOf('PULUMI_HOME=$(mktemp -d "${TMPDIR:-/tmp}/nbf-pulumi-home.XXXXXX")');
            expect([name, lines[home + 1]]).toEqual([name, "export PULUMI_HOME"]);
            expect(home).toBeLessThan(lines.indexOf("bash scripts/install-pulumi-plugins.sh"));
            expect(home).toBeGreaterThan(0);
            assignment = lines.slice(home, home + 2);
        }
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-gitlab-tmp-"));
        try {
            const result = spawnSync("sh", ["-c", `${assignment.join("\n")}\nenv | grep ^PULUMI_HOME=`], {
                encoding: "utf8",
                env: { PATH: process.env.PATH, TMPDIR: tmp },
            });
            const dir = result.stdout.trim().replace(/^PULUMI_HOME=/, "");
            expect(path.dirname(dir)).toBe(tmp);
            expect(path.basename(dir)).toMatch(/^nbf-/);
            expect(fs.readdirSync(dir)).toEqual([]);
        } finally {
            fs.rmSync(tmp, { recursive: true, force: true });
        }
    });

    test("GitLab: every job that runs Pulumi installs them checked, and Pulumi fetches none itself", () => {
        const text = parse(read(".gitlab-ci.yml"), { merge: true }) as Record<string, GitLabJob> & {
            variables: Record<string, string>;
        };
        expect(text.variables.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION).toBe("true");
        for (const name of ["preview", "up"]) {
            const lines = (text[name].script ?? []).flat(2).map(String);
            expect(lines.indexOf("bash scripts/install-pulumi-plugins.sh")).toBeGreaterThan(
                lines.findIndex((l) => l.includes("install-pulumi-cli.sh")),
            );
        }
    });
});

describe("cosign and syft in the pipelines", () => {
    const install = "install-signing-tools.sh";

    test("GitHub: only up installs them, from the pinned script, before the deploy role and before pulumi up, and puts them on PATH", () => {
        const workflow = parse(read(".github/workflows/fleet.yml")) as Workflow;
        for (const [name, job] of Object.entries(workflow.jobs)) {
            expect([name, JSON.stringify(job).includes(install)]).toEqual([name, name === "up"]);
        }
        const steps = workflow.jobs.up.steps;
        const at = steps.findIndex((s) => s.run?.includes(install));
        expect(steps[at].run?.trim().split("\n")).toEqual([
            `bash scripts/${install} "$RUNNER_TEMP/signing-tools"`,
            'echo "$RUNNER_TEMP/signing-tools" >> "$GITHUB_PATH"',
        ]);
        expect(steps[at].env).toBeUndefined();
        expect(at).toBeLessThan(steps.findIndex((s) => s.with?.["role-to-assume"]));
        expect(at).toBeLessThan(steps.findIndex((s) => s.run?.startsWith("pulumi up")));
        expect(at).toBeGreaterThan(steps.findIndex((s) => s.run?.startsWith("bash scripts/ci-check-release-ref.sh")));
    });

    test("GitLab: only up installs them, fresh (the project directory persists on a shell runner), after the release-ref check and before the AWS role, and puts them on PATH", () => {
        const pipeline = parse(read(".gitlab-ci.yml"), { merge: true }) as Record<string, GitLabJob>;
        for (const name of ["test", "preview", "up"]) {
            expect([name, JSON.stringify(pipeline[name]).includes(install)]).toEqual([name, name === "up"]);
        }
        const lines = (pipeline.up.script ?? []).flat(2).map(String);
        const at = lines.indexOf(`bash scripts/${install} "$CI_PROJECT_DIR/.signing-tools"`);
        expect(lines.slice(at - 2, at + 2)).toEqual([
            "apk add --no-cache go",
            'rm -rf "$CI_PROJECT_DIR/.signing-tools"',
            `bash scripts/${install} "$CI_PROJECT_DIR/.signing-tools"`,
            'export PATH="$CI_PROJECT_DIR/.signing-tools:$PATH"',
        ]);
        expect(at).toBeGreaterThan(lines.findIndex((l) => l.startsWith("bash scripts/ci-check-release-ref.sh")));
        expect(at).toBeLessThan(lines.findIndex((l) => l.includes("AWS_WEB_IDENTITY_TOKEN_FILE")));
        expect(at).toBeLessThan(lines.findIndex((l) => l.startsWith("pulumi up")));
    });

    test("the script pins the versions the acceptance run builds and verifies", () => {
        const toolchain = read("e2e/toolchain.sh");
        const script = read(`scripts/${install}`);
        for (const [tool, variable] of [
            ["cosign", "COSIGN_VERSION"],
            ["syft", "SYFT_VERSION"],
        ]) {
            const version = new RegExp(`^${variable}=(v[0-9.]+)$`, "m").exec(toolchain)?.[1];
            expect([tool, new RegExp(`"${tool} \\S+ ${version!.replace(/\./g, "\\.")} h1:`).test(script)]).toEqual([
                tool,
                true,
            ]);
        }
    });
});

describe("the preview comment (scripts/ci-preview-comment.sh)", () => {
    // What `pulumi preview --diff` prints: diagnostics come inline at column 0 as each event
    // arrives (pulumi/pulumi pkg/backend/display/diff.go renderDiffDiagEvent writes Prefix +
    // Message), docker-build's build log among them (pulumi-docker-build#738), and a
    // multi-line error's continuation lines are indented.
    const output = [
        "Previewing update (acme/pr):",
        "  pulumi:pulumi:Stack: (same)",
        "    [urn=urn:pulumi:pr::fleet::pulumi:pulumi:Stack::fleet-pr]",
        "    + docker-build:index:Image: (create)",
        "        [urn=urn:pulumi:pr::fleet::docker-build:index:Image::app-arm64]",
        "        context   : {",
        '            location  : "."',
        "        }",
        "        platforms : [",
        '            [0]: "linux/arm64"',
        "        ]",
        "        push      : true",
        // The program's own stdout arrives at column 0 (an info diagnostic has no prefix): a
        // line that looks like a property but sits left of the step's properties is not one.
        "    token: PROGRAM_STDOUT_token_value",
        "#1 [internal] load build definition from Dockerfile",
        "#5 [2/3] RUN echo $NPM_TOKEN",
        "#5 0.2 npm_SECRET_ECHOED",
        'error: failed to solve: process "/bin/sh -c echo $NPM_TOKEN" did not complete successfully: exit code: 1',
        "    token: npm_SECRET_IN_CONTINUATION",
        "    ]",
        "",
        "    path: /home/runner/work/fleet CONTINUATION_AFTER_BLANK",
        "    \u001b[33m~ command:local:Command: (update)\u001b[0m",
        "        [id=nbf-builder]",
        '      ~ create: "old" => "new"',
        // A changed multi-line string (NBF_BUILDERS is one builder a line): printTextDiff
        // writes the title ending in ": ", then the line diff one level deeper, each line
        // prefixed "+ "/"- " or unprefixed (pulumi/pulumi pkg/backend/display/object_diff.go).
        "      ~ environment: {",
        "          ~ NBF_BUILDERS: ",
        "                nbf-builder-amd64",
        "              - nbf-builder-arm64",
        "              + nbf-builder-arm64-2",
        "        }",
        '      ~ update: "old-delete" => "new-delete"',
        "warning: WARNING_FROM_BUILD",
        "    PROGRAM_CONSOLE_LOG a value the program printed",
        // A violation, inline where it happens: the pack, level, policy and resource, then
        // the policy's message (renderDiffPolicyViolationEvent, pkg/backend/display/diff.go).
        "    native-build-fleet-policy@v0.1.0 [mandatory]  no-public-ssh  (aws:ec2/securityGroup:SecurityGroup: web-sg)POLICY_MESSAGE a value",
        "POLICY_MESSAGE_CONTINUATION",
        "",
        "\u001b[1mResources:\u001b[0m",
        "    + 1 to create",
        "    ~ 1 to update",
        "    2 changes. 4 unchanged",
        "",
        "Policy Packs run:",
        "    Name                       Version",
        "    native-build-fleet-policy  0.1.0",
        "",
        // The progress display's summary of violations.
        "Policies:",
        "    \u274c native-build-fleet-policy@v0.1.0 (local: .trusted/policy)",
        "        - [advisory]  tags-set  (aws:ec2/instance:Instance: host-0)",
        "          POLICY_MESSAGE_UNDER_POLICIES",
        "        - [mandatory]  no-public-ssh  (aws:ec2/securityGroup:SecurityGroup: web-sg)",
        "          POLICY_MESSAGE_UNDER_POLICIES",
        "",
        "error: TOP_LEVEL_ERROR an unhandled error echoed npm_SECRET_AT_TOP",
        "    npm_SECRET_TOP_CONTINUATION",
        "",
    ].join("\n");
    const comment = (...args: string[]) => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-comment-"));
        try {
            fs.writeFileSync(path.join(dir, "preview.txt"), output);
            return run("bash", ["scripts/ci-preview-comment.sh", "acme/pr", path.join(dir, "preview.txt"), ...args]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    };

    test("keeps the steps, their property diffs, the summary and the policy packs", () => {
        const result = comment();
        expect(result.status).toBe(0);
        for (const kept of [
            "### pulumi preview (acme/pr)",
            "Previewing update (acme/pr):",
            "    + docker-build:index:Image: (create)",
            "[urn=urn:pulumi:pr::fleet::docker-build:index:Image::app-arm64]",
            '            [0]: "linux/arm64"',
            "        push      : true",
            "    ~ command:local:Command: (update)",
            '      ~ create: "old" => "new"',
            "          ~ NBF_BUILDERS: \n                nbf-builder-amd64\n              - nbf-builder-arm64\n              + nbf-builder-arm64-2\n        }\n",
            '      ~ update: "old-delete" => "new-delete"',
            "    + 1 to create",
            "    2 changes. 4 unchanged",
            "    native-build-fleet-policy  0.1.0",
            "    native-build-fleet-policy@v0.1.0 [mandatory]  no-public-ssh  (aws:ec2/securityGroup:SecurityGroup: web-sg)\n",
            "        - [advisory]  tags-set  (aws:ec2/instance:Instance: host-0)\n",
            "        - [mandatory]  no-public-ssh  (aws:ec2/securityGroup:SecurityGroup: web-sg)\n",
            "(15 lines of messages and build logs omitted, 2 of them errors)",
        ]) {
            expect(result.stdout).toContain(kept);
        }
    });

    test.each([
        "#1 [internal]",
        "#5",
        "$NPM_TOKEN",
        "npm_SECRET",
        "CONTINUATION",
        "WARNING_FROM_BUILD",
        "PROGRAM_CONSOLE_LOG",
        "PROGRAM_STDOUT",
        "POLICY_MESSAGE",
        "TOP_LEVEL_ERROR",
        "error:",
        "warning:",
    ])("keeps only the lines it knows are safe: no %s", (text) => {
        expect(comment().stdout).not.toContain(text);
    });

    test("points to the job log for the messages it drops", () => {
        expect(comment("https://github.com/acme/fleet/actions/runs/42").stdout).toMatch(
            /\nBuild logs, errors and warnings: \[the job log\]\(https:\/\/github\.com\/acme\/fleet\/actions\/runs\/42\)\.\n$/,
        );
        expect(comment().stdout).toMatch(/\nBuild logs, errors and warnings: see the job log\.\n$/);
    });

    test("the workflow passes the run's URL as the job log", () => {
        const workflow = parse(read(".github/workflows/fleet.yml")) as Workflow;
        const step = workflow.jobs.preview.steps.find((s) => s.run?.includes("ci-preview-comment.sh"));
        expect(step?.env).toEqual({
            JOB_LOG: "${{ github.server_url }}/${{ github.repository }}/actions/runs/${{ github.run_id }}",
        });
    });

    test("says so when the preview wrote nothing", () => {
        const result = run("bash", ["scripts/ci-preview-comment.sh", "acme/prod", "/nonexistent/preview.txt"]);
        expect(result.stdout).toBe("### pulumi preview (acme/prod)\n(no preview output)\n");
    });
});

describe("the upgrade notes for previews of their own stack", () => {
    const notes = read("docs/upgrading.md");

    test.each(["PULUMI_PREVIEW_STACK", "NBF_PREVIEW_BUILDER"])(
        "tell an existing pipeline to set %s, which the preview jobs now need",
        (variable) => {
            expect(read(".github/workflows/fleet.yml")).toContain(`vars.${variable}`);
            expect(read(".gitlab-ci.yml")).toContain(variable);
            expect(notes).toContain(`\`${variable}\``);
        },
    );

    test("say to revoke the old preview token, which may read production, and issue one for the preview stack", () => {
        expect(notes).toMatch(
            /revoke the old `PULUMI_PREVIEW_TOKEN`\*\* and issue a new one that can read only the preview\s+stack/,
        );
        expect(notes).toMatch(/every preview fails until you set it up/);
    });
});
