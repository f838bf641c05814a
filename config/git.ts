// Reads the repository the stack lives in; every git fact the program uses comes through here.

import { execFileSync } from "child_process";

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
