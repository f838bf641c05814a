// Reads the repository the stack lives in; every git fact the program uses comes through here.

import { execFile, execFileSync } from "child_process";

/** Environment variables, as CI systems set them. */
export type Env = Record<string, string | undefined>;

/** `git <args>` in `root`, trimmed; undefined outside a repository or on any failure. */
export function git(root: string, args: string[]): string | undefined {
    try {
        return (
            execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() ||
            undefined
        );
    } catch {
        return undefined;
    }
}

/** For each path, in order: `git log -1 --format="%H %cI" -- <path>`, each answer followed by a NUL. */
const LAST_COMMITS = `for p do git log -1 --format='%H %cI' -- "$p"; printf '\\0'; done`;

/**
 * The last commit (`<sha> <committer date>`) that touched each of `paths`, undefined where git
 * printed nothing or failed. One `sh` runs the git processes, one after another, while the
 * program goes on declaring resources: a fork of the program itself costs 5 to 25 ms at fleet
 * size, and one per image's context was a second at 50 images (docs/benchmarks.md).
 */
export function lastCommits(root: string, paths: string[]): Promise<(string | undefined)[]> {
    return new Promise((resolve) => {
        execFile(
            "sh",
            ["-c", LAST_COMMITS, "sh", ...paths],
            { cwd: root, encoding: "utf8", maxBuffer: 16 * 1024 * 1024 },
            (error, stdout) => {
                const answers = error ? [] : stdout.split("\0");
                resolve(paths.map((_, i) => answers[i]?.trim() || undefined));
            },
        );
    });
}
