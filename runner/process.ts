// What the runner's entry points share: commands run as argument arrays (no shell, no
// quoting), and a private temporary directory that is removed however the process ends.

import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** What the runner needs of its surroundings; tests give stub commands on PATH and no sleep. */
export interface RunnerEnv {
    env: NodeJS.ProcessEnv;
    log: (line: string) => void;
    sleep: (seconds: number) => Promise<void>;
    now: () => number;
}

/** A failure whose message is the whole story: printed as it is, without a stack. */
export class RunnerError extends Error {}

export interface Result {
    code: number;
    stdout: string;
    stderr: string;
}

/** Runs `file` with `args` and `input` on standard input; never rejects (a missing command is code 127). */
export function run(file: string, args: string[], opts: { env: NodeJS.ProcessEnv; input?: string }): Promise<Result> {
    return new Promise((resolve) => {
        const child = execFile(file, args, { env: opts.env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === "number" ? error.code : 127;
            resolve({ code, stdout: String(stdout), stderr: error !== null && code === 127 && !stderr ? error.message : String(stderr) });
        });
        // A command that never reads its input must not fail the call.
        child.stdin?.on("error", () => undefined);
        child.stdin?.end(opts.input ?? "");
    });
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * A directory only this user can read (mkdtemp makes it 0700), removed when the process exits,
 * also on a signal (Pulumi cancelling the update), since it holds a key or registry credentials.
 */
export function privateTempDir(prefix: string): { dir: string; remove: () => void } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    const remove = () => fs.rmSync(dir, { recursive: true, force: true });
    process.on("exit", remove);
    for (const signal of SIGNALS) {
        if (process.listenerCount(signal) === 0) {
            // process.exit runs the exit listeners, which remove every such directory.
            process.on(signal, () => process.exit(128 + os.constants.signals[signal]));
        }
    }
    return {
        dir,
        remove: () => {
            process.removeListener("exit", remove);
            remove();
        },
    };
}

/** The last non-empty line of `text`, as `tail -n 1` inside `$(…)` printed it. */
export function lastLine(text: string): string {
    return text.split("\n").filter((l) => l !== "").pop() ?? "";
}
