// Tags from the build's git metadata, as the tutorial's CI examples make them: branch,
// commit (long and short) and semver parts of a release tag, sanitised to valid OCI tags.

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
        return { sha: env.GITHUB_SHA, tag: isTag ? env.GITHUB_REF_NAME : undefined, branch: isTag ? undefined : (env.GITHUB_HEAD_REF || env.GITHUB_REF_NAME) };
    }
    if (env.CI_COMMIT_SHA) {
        return { sha: env.CI_COMMIT_SHA, tag: env.CI_COMMIT_TAG, branch: env.CI_COMMIT_TAG ? undefined : env.CI_COMMIT_REF_NAME };
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
    return value.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[.-]+/, "").slice(0, 128);
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
 * Renders one tag template. Returns undefined when the build lacks a value it names (a
 * {{version}} tag on a branch build), so that tag is left out, as docker/metadata-action does.
 * Unknown placeholders are left in place for validation to report.
 */
export function renderTag(template: string, meta: RefMetadata): string | undefined {
    if (!template.includes("{{")) {
        return template;
    }
    const known = values(meta);
    let missing = false;
    const rendered = template.replace(PLACEHOLDER, (whole, name: string) => {
        if (!PLACEHOLDERS.includes(name)) {
            return whole;
        }
        const value = known[name];
        missing ||= value === undefined;
        return value ?? "";
    });
    return missing ? undefined : rendered.includes("{{") ? rendered : sanitizeTag(rendered);
}

/** Renders every template, leaving out those this build has no value for, without repeats. */
export function renderTags(templates: string[], meta: RefMetadata): string[] {
    return [...new Set(templates.map((t) => renderTag(t, meta)).filter((t): t is string => t !== undefined))];
}
