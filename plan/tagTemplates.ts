// Tags from the build's git metadata, as the tutorial's CI examples make them: branch,
// commit (long and short) and semver parts of a release tag, sanitised to valid OCI tags.

import { createHash } from "crypto";
import { Env, git } from "./git";

export interface RefMetadata {
    branch?: string;
    sha?: string;
    /** The release tag the commit is built for (v1.2.3), if any. */
    tag?: string;
}

const PLACEHOLDER = /\{\{\s*([a-z_]+)\s*\}\}/g;
export const PLACEHOLDERS = ["branch", "sha", "short_sha", "version", "major", "minor", "patch"];
const SEMVER = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.-]+)?$/;

/** Branch, commit and release tag: from GitHub Actions or GitLab CI variables, else from git. */
export function refMetadata(root: string, env: Env): RefMetadata {
    if (env.GITHUB_SHA) {
        const isTag = env.GITHUB_REF_TYPE === "tag";
        return {
            sha: env.GITHUB_SHA,
            tag: isTag ? env.GITHUB_REF_NAME : undefined,
            branch: isTag ? undefined : env.GITHUB_HEAD_REF || env.GITHUB_REF_NAME,
        };
    }
    if (env.CI_COMMIT_SHA) {
        return {
            sha: env.CI_COMMIT_SHA,
            tag: env.CI_COMMIT_TAG,
            branch: env.CI_COMMIT_TAG ? undefined : env.CI_COMMIT_REF_NAME,
        };
    }
    const branch = git(root, ["rev-parse", "--abbrev-ref", "HEAD"]);
    return {
        sha: git(root, ["rev-parse", "HEAD"]),
        branch: branch === "HEAD" ? undefined : branch,
        tag: git(root, ["describe", "--tags", "--exact-match", "HEAD"]),
    };
}

/** A string made into a valid tag: invalid characters become '-', no leading '.' or '-'. */
export function sanitizeTag(value: string): string {
    return value
        .replace(/[^A-Za-z0-9_.-]/g, "-")
        .replace(/^[.-]+/, "")
        .slice(0, 128);
}

function values(meta: RefMetadata): Record<string, string | undefined> {
    const semver = meta.tag ? SEMVER.exec(meta.tag) : null;
    return {
        branch: meta.branch,
        sha: meta.sha,
        short_sha: meta.sha?.slice(0, 7),
        version: semver ? meta.tag?.replace(/^v/, "") : undefined,
        major: semver?.[1],
        minor: semver?.[2],
        patch: semver?.[3],
    };
}

/**
 * Longest tag a template may render to: OCI tags have at most 128 characters, and every
 * platform image is tagged `<tag>-<platform>`, at most 15 more (`-linux-amd64-v2`).
 */
export const MAX_RENDERED_TAG = 128 - "-linux-amd64-v2".length;

/** Characters of the hash that keeps two shortened branch names apart. */
const HASH_LENGTH = 8;

/**
 * A branch name cut to `budget` characters, ending in `-` and a short hash of the whole
 * name, so the same branch always gives the same tag and two long branches that share a
 * prefix (dependabot/npm_and_yarn/…) never give the same one.
 */
export function shortenBranch(branch: string, budget: number): string {
    const hash = createHash("sha256").update(branch).digest("hex").slice(0, HASH_LENGTH);
    const keep = Math.max(0, budget - HASH_LENGTH - 1);
    return `${sanitizeTag(branch).slice(0, keep)}-${hash}`.replace(/^[.-]+/, "");
}

function fill(template: string, known: Record<string, string | undefined>): { text: string; missing: boolean } {
    let missing = false;
    const text = template.replace(PLACEHOLDER, (whole, name: string) => {
        if (!PLACEHOLDERS.includes(name)) {
            return whole;
        }
        const value = known[name];
        missing ||= value === undefined;
        return value ?? "";
    });
    return { text, missing };
}

/**
 * Renders one tag template. Returns undefined when the build lacks a value it names (a
 * {{version}} tag on a branch build), so that tag is left out, as docker/metadata-action does.
 * Unknown placeholders are left in place for validation to report. A {{branch}} too long
 * for the tag is shortened with shortenBranch.
 */
export function renderTag(template: string, meta: RefMetadata): string | undefined {
    if (!template.includes("{{")) {
        return template;
    }
    const known = values(meta);
    const { text, missing } = fill(template, known);
    if (missing) {
        return undefined;
    }
    if (text.includes("{{")) {
        return text;
    }
    const branchUses = (template.match(/\{\{\s*branch\s*\}\}/g) ?? []).length;
    if (branchUses === 0 || sanitizeTag(text).length <= MAX_RENDERED_TAG || meta.branch === undefined) {
        return sanitizeTag(text);
    }
    const rest = sanitizeTag(fill(template, { ...known, branch: "" }).text).length;
    const budget = Math.max(HASH_LENGTH + 1, Math.floor((MAX_RENDERED_TAG - rest) / branchUses));
    return sanitizeTag(fill(template, { ...known, branch: shortenBranch(meta.branch, budget) }).text);
}

/** Renders every template, leaving out those this build has no value for, without repeats. */
export function renderTags(templates: string[], meta: RefMetadata): string[] {
    return [...new Set(templates.map((t) => renderTag(t, meta)).filter((t): t is string => t !== undefined))];
}

/**
 * Why a tag template names a tag that moves from image to image, which immutable tags
 * refuse to push twice, or undefined: `latest` and {{branch}} move with every build,
 * {{major}} and {{major}}.{{minor}} with every release.
 */
export function movingTagProblem(template: string): string | undefined {
    const names = [...template.matchAll(PLACEHOLDER)].map((m) => m[1]);
    const pinned = names.some((n) => ["sha", "short_sha", "version", "patch"].includes(n));
    if (template === "latest") {
        return '"latest" moves with every build';
    }
    if (names.includes("branch") && !pinned) {
        return `"${template}" moves with every build of the branch`;
    }
    if ((names.includes("major") || names.includes("minor")) && !pinned) {
        return `"${template}" moves with every release of that version line`;
    }
    return undefined;
}
