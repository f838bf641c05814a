// OCI labels (source, revision, created) for each image, read from git and CI variables.
//
// Revision and created come from the last commit that touched the image's build
// context, not from HEAD or the clock: labels are part of the image config, so
// anything that changed on every run would rebuild every image and move every digest.

import { Env, git, lastCommits } from "./git";

/** Removes credentials from a remote URL (`https://user:token@host/…`). */
export function redactRemote(url: string): string {
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1");
}

/** The repository's web address: from GitHub Actions or GitLab CI, else the origin remote. */
export function sourceUrl(root: string, env: Env): string | undefined {
    if (env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY) {
        return `${env.GITHUB_SERVER_URL}/${env.GITHUB_REPOSITORY}`;
    }
    if (env.CI_PROJECT_URL) {
        return env.CI_PROJECT_URL;
    }
    const origin = git(root, ["remote", "get-url", "origin"]);
    return origin && redactRemote(origin);
}

/** Labels for an image whose context is `context` (relative to the project root `root`). */
export function ociLabels(root: string, context: string, source: string | undefined): Record<string, string> {
    return labelsOf(git(root, ["log", "-1", "--format=%H %cI", "--", context]), source);
}

/** ociLabels of each context, from git processes that run while the program goes on. */
export function ociLabelsOf(
    root: string,
    contexts: string[],
    source: string | undefined,
): Promise<Record<string, Record<string, string>>> {
    return lastCommits(root, contexts).then((commits) =>
        Object.fromEntries(contexts.map((context, i) => [context, labelsOf(commits[i], source)])),
    );
}

function labelsOf(lastCommit: string | undefined, source: string | undefined): Record<string, string> {
    const [revision, created] = (lastCommit ?? "").split(" ");
    return Object.fromEntries(
        Object.entries({
            "org.opencontainers.image.source": source,
            "org.opencontainers.image.revision": revision || undefined,
            "org.opencontainers.image.created": created,
        }).filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
}

/** The tutorial's BUILD_DATE and VCS_REF build args, from the same commit as the labels. */
export function metadataBuildArgs(labels: Record<string, string>): Record<string, string> {
    return Object.fromEntries(
        Object.entries({
            BUILD_DATE: labels["org.opencontainers.image.created"],
            VCS_REF: labels["org.opencontainers.image.revision"],
        }).filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
}

/**
 * SOURCE_DATE_EPOCH for reproducible builds: the commit date of the last commit that touched
 * the image's context (the created label), in Unix seconds, so it moves only when the context
 * does. BuildKit stamps the image config and history with it, and with the registry export's
 * `rewrite-timestamp=true` clamps every file in the new layers to it
 * (docs.docker.com/build/ci/github-actions/reproducible-builds, moby/buildkit
 * docs/build-repro.md). Empty outside a git checkout: nothing then to derive it from.
 */
export function sourceDateEpochArg(labels: Record<string, string>): Record<string, string> {
    const seconds = Date.parse(labels["org.opencontainers.image.created"] ?? "") / 1000;
    return Number.isFinite(seconds) ? { SOURCE_DATE_EPOCH: String(Math.floor(seconds)) } : {};
}
