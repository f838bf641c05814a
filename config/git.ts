// Reads the repository the stack lives in; every git fact the program uses comes through here.

import { execFile, execFileSync } from "child_process";

/** Environment variables, as CI systems set them. */
export type Env = Record<string, string | undefined>;

/** `git <args>` in `root`, trimmed; undefined outside a repository or on any failure. */
export function git(root: string, args: string[]): string | undefined {
    try {
        return execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() || undefined;
    } catch {
        return undefined;
    }
}

/**
 * `git <args>` as `git` above, without waiting for it: a stack's images each read their
 * context's last commit, so their git processes run side by side while the program
 * declares its resources, instead of one after another before it.
 */
export function gitLater(root: string, args: string[]): Promise<string | undefined> {
    return new Promise((resolve) => {
        execFile("git", args, { cwd: root, encoding: "utf8" }, (error, stdout) => resolve(error ? undefined : stdout.trim() || undefined));
    });
}
