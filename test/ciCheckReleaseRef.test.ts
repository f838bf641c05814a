// scripts/ci-check-release-ref.sh, run for real against real git repositories: a release tag
// deploys only a commit of the protected default branch (issue 20, item 1). The clones are
// shallow, as CI checkouts are, so the test also proves the script fetches what it needs.

import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const script = path.join(__dirname, "..", "scripts", "ci-check-release-ref.sh");
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

const gitEnv = {
    ...process.env,
    GIT_AUTHOR_NAME: "t",
    GIT_AUTHOR_EMAIL: "t@example.com",
    GIT_COMMITTER_NAME: "t",
    GIT_COMMITTER_EMAIL: "t@example.com",
    GIT_CONFIG_NOSYSTEM: "1",
    HOME: os.tmpdir(),
};
function git(cwd: string, ...args: string[]): string {
    const result = spawnSync("git", args, { cwd, encoding: "utf8", env: gitEnv });
    if (result.status !== 0) {
        throw new Error(`git ${args.join(" ")}: ${result.stderr}`);
    }
    return result.stdout.trim();
}

/** An "origin" with main (two commits, v1.0.0 on the second) and a side branch with v6.6.6. */
function origin() {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-release-"));
    dirs.push(root);
    const work = path.join(root, "work");
    fs.mkdirSync(work);
    git(work, "init", "-q", "-b", "main");
    const commit = (message: string) => {
        fs.writeFileSync(path.join(work, "file"), message);
        git(work, "add", "file");
        git(work, "commit", "-q", "-m", message);
        return git(work, "rev-parse", "HEAD");
    };
    commit("one");
    const reviewed = commit("two");
    git(work, "tag", "v1.0.0");
    git(work, "checkout", "-q", "-b", "side");
    const unreviewed = commit("unreviewed");
    git(work, "tag", "v6.6.6");
    git(work, "checkout", "-q", "main");
    commit("three");
    const bare = path.join(root, "origin.git");
    git(root, "clone", "-q", "--bare", work, bare);
    /** A one-commit checkout of REF, as actions/checkout and GitLab's fetch depth make. */
    let checkouts = 0;
    const checkout = (ref: string, depth: string[] = ["--depth", "1"]) => {
        const dir = path.join(root, `checkout-${(checkouts += 1)}`);
        git(root, "clone", "-q", ...depth, "--branch", ref, `file://${bare}`, dir);
        return dir;
    };
    return { reviewed, unreviewed, checkout };
}

const run = (cwd: string, args: string[], env: Record<string, string> = {}) =>
    spawnSync("bash", [script, ...args], { cwd, encoding: "utf8", env: { ...gitEnv, ...env } });

describe("ci-check-release-ref.sh", () => {
    const repo = origin();

    test("passes a tag whose commit is on main, in a shallow checkout", () => {
        const dir = repo.checkout("v1.0.0");
        expect(git(dir, "rev-parse", "--is-shallow-repository")).toBe("true");
        const result = run(dir, ["main"]);
        expect(result.stderr).toBe("");
        expect(result.stdout).toContain(`${repo.reviewed} is on main`);
        expect(result.status).toBe(0);
    });

    test("refuses a tag whose commit is only on a side branch", () => {
        const dir = repo.checkout("v6.6.6");
        const result = run(dir, ["main"]);
        expect(result.stderr).toContain(`refusing to deploy ${repo.unreviewed}: it is not on main`);
        expect(result.status).toBe(1);
    });

    test("checks the commit given, not the checkout's HEAD", () => {
        const dir = repo.checkout("v1.0.0");
        expect(run(dir, ["main", repo.reviewed]).status).toBe(0);
        git(dir, "fetch", "-q", "origin", "refs/tags/v6.6.6:refs/tags/v6.6.6");
        expect(run(dir, ["main", "v6.6.6"]).status).toBe(1);
    });

    test("with FETCH=0, decides from a full-history checkout's own refs and fetches nothing", () => {
        const good = repo.checkout("v1.0.0", []);
        const bad = repo.checkout("v6.6.6", []);
        // The remote is gone: any fetch would fail.
        git(good, "remote", "set-url", "origin", "file:///nonexistent");
        git(bad, "remote", "set-url", "origin", "file:///nonexistent");
        expect(run(good, ["main"], { FETCH: "0" }).status).toBe(0);
        expect(run(bad, ["main"], { FETCH: "0" }).status).toBe(1);
        const shallow = run(repo.checkout("v1.0.0"), ["main"], { FETCH: "0" });
        expect([shallow.status, shallow.stderr]).toEqual([2, expect.stringContaining("needs a full-history checkout")]);
    });

    test.each([
        [["-main"], "is not a branch name"],
        [["main", "no-such-ref"], "is not a commit"],
        [["gone"], "could not fetch gone"],
    ])("fails closed (exit 2) on %j", (args, message) => {
        const result = run(repo.checkout("v1.0.0"), args);
        expect(result.stderr).toContain(message);
        expect(result.status).toBe(2);
    });
});
