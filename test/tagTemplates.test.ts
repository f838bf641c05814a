import { execFileSync } from "child_process";
import {
    MAX_RENDERED_TAG,
    movingTagProblem,
    refMetadata,
    renderTag,
    renderTags,
    sanitizeTag,
    shortenBranch,
} from "../plan/tagTemplates";
import { makeProject } from "./fixtures";

const SHA = "4f6c1e2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d";

describe("renderTag", () => {
    test.each<[string, { branch?: string; sha?: string; tag?: string }, string | undefined]>([
        ["latest", {}, "latest"],
        ["{{branch}}", { branch: "main" }, "main"],
        ["{{branch}}", { branch: "feature/Add login!" }, "feature-Add-login-"],
        ["{{ branch }}-{{short_sha}}", { branch: "main", sha: SHA }, "main-4f6c1e2"],
        ["sha-{{sha}}", { sha: SHA }, `sha-${SHA}`],
        ["{{version}}", { tag: "v1.4.2" }, "1.4.2"],
        ["{{major}}.{{minor}}", { tag: "v1.4.2" }, "1.4"],
        ["{{major}}", { tag: "2.0.0-rc.1" }, "2"],
        ["{{version}}", { tag: "v2.0.0-rc.1" }, "2.0.0-rc.1"],
        ["{{version}}", { branch: "main" }, undefined],
        ["{{version}}", { tag: "nightly" }, undefined],
        ["{{unknown}}", { branch: "main" }, "{{unknown}}"],
    ])("%s with %j renders %p", (template, meta, expected) => {
        expect(renderTag(template, meta)).toBe(expected);
    });

    test("drops tags this build has no value for, and repeats", () => {
        expect(
            renderTags(["{{version}}", "{{major}}", "latest", "{{branch}}", "main"], { branch: "main", sha: SHA }),
        ).toEqual(["latest", "main"]);
    });

    test("sanitises to the OCI tag alphabet, never starting with '.' or '-'", () => {
        expect(sanitizeTag("-.release/2024 Q1")).toBe("release-2024-Q1");
    });
});

describe("refMetadata", () => {
    test("reads GitHub Actions branch and tag builds", () => {
        expect(refMetadata("/", { GITHUB_SHA: SHA, GITHUB_REF_TYPE: "branch", GITHUB_REF_NAME: "main" })).toEqual({
            sha: SHA,
            branch: "main",
            tag: undefined,
        });
        expect(refMetadata("/", { GITHUB_SHA: SHA, GITHUB_REF_TYPE: "tag", GITHUB_REF_NAME: "v1.2.3" })).toEqual({
            sha: SHA,
            tag: "v1.2.3",
            branch: undefined,
        });
        expect(
            refMetadata("/", {
                GITHUB_SHA: SHA,
                GITHUB_REF_TYPE: "branch",
                GITHUB_REF_NAME: "42/merge",
                GITHUB_HEAD_REF: "feature",
            }).branch,
        ).toBe("feature");
    });

    test("reads GitLab CI", () => {
        expect(refMetadata("/", { CI_COMMIT_SHA: SHA, CI_COMMIT_REF_NAME: "main" })).toEqual({
            sha: SHA,
            branch: "main",
            tag: undefined,
        });
        expect(refMetadata("/", { CI_COMMIT_SHA: SHA, CI_COMMIT_TAG: "v3.0.0", CI_COMMIT_REF_NAME: "v3.0.0" })).toEqual(
            { sha: SHA, tag: "v3.0.0", branch: undefined },
        );
    });

    test("falls back to the repository: branch, commit and an exact release tag", () => {
        const root = makeProject();
        const git = (...args: string[]) =>
            execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
                cwd: root,
                encoding: "utf8",
            }).trim();
        git("init", "-q", "-b", "trunk");
        git("add", ".");
        git("commit", "-qm", "first");
        git("tag", "v0.9.1");
        expect(refMetadata(root, {})).toEqual({ sha: git("rev-parse", "HEAD"), branch: "trunk", tag: "v0.9.1" });
    });
});

describe("long branches", () => {
    const dependabot =
        "dependabot/npm_and_yarn/packages/web/eslint-plugin-react-hooks-and-typescript-eslint/parser-8.46.2-and-more";
    const sibling = `${dependabot}-other`;

    test("a branch too long for a tag is shortened to fit, with a hash of the whole name", () => {
        const tag = renderTag("{{branch}}", { branch: `${dependabot}${"x".repeat(40)}` })!;
        expect(tag.length).toBeLessThanOrEqual(MAX_RENDERED_TAG);
        expect(tag).toMatch(/^dependabot-npm_and_yarn-.*-[0-9a-f]{8}$/);
    });

    test("shortening is deterministic and keeps two long branches apart", () => {
        const long = `${dependabot}${"x".repeat(40)}`;
        expect(renderTag("{{branch}}-{{short_sha}}", { branch: long, sha: SHA })).toBe(
            renderTag("{{branch}}-{{short_sha}}", { branch: long, sha: SHA }),
        );
        expect(renderTag("{{branch}}", { branch: `${long}-a` })).not.toBe(
            renderTag("{{branch}}", { branch: `${long}-b` }),
        );
        expect(shortenBranch(dependabot, 40)).not.toBe(shortenBranch(sibling, 40));
        expect(shortenBranch(dependabot, 40)).toHaveLength(40);
    });

    test("leaves room for the rest of the template and the platform suffix", () => {
        const tag = renderTag("pr-{{branch}}-{{short_sha}}", { branch: "b".repeat(200), sha: SHA })!;
        expect(tag.length).toBeLessThanOrEqual(MAX_RENDERED_TAG);
        expect(tag).toMatch(/^pr-b+-[0-9a-f]{8}-4f6c1e2$/);
    });

    test("a branch that fits is left as it is", () => {
        expect(renderTag("{{branch}}", { branch: dependabot })).toBe(sanitizeTag(dependabot));
    });
});

describe("movingTagProblem", () => {
    test.each<[string, string | undefined]>([
        ["latest", "moves with every build"],
        ["{{branch}}", "moves with every build of the branch"],
        ["{{major}}", "moves with every release"],
        ["v{{major}}.{{minor}}", "moves with every release"],
        ["{{major}}.{{minor}}.{{patch}}", undefined],
        ["{{version}}", undefined],
        ["{{branch}}-{{short_sha}}", undefined],
        ["sha-{{sha}}", undefined],
        ["v1.2.3", undefined],
    ])("%s", (template, reason) => {
        const problem = movingTagProblem(template);
        if (reason === undefined) {
            expect(problem).toBeUndefined();
        } else {
            expect(problem).toContain(reason);
        }
    });
});
