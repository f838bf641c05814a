// What the runner's entry points share: commands run as argument arrays (no shell, no
// quoting), and a private temporary directory that is removed however the process ends,
// SIGKILL included: a watchdog (runner/watchdog.sh) removes it and ends the runner's children
// when the runner dies, and every run sweeps what a dead run's watchdog could not.

import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { privateRoot } from "../config/privateRoot";
import { scriptFile } from "./scriptFiles";

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
        // Its own process group (detached: setsid), so the watchdog can end it and whatever it
        // started (ssh's ProxyCommand); execFile would drop the option.
        const child = spawn(file, args, { env: opts.env, stdio: ["pipe", "pipe", "pipe"], detached: true });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on("data", (d: Buffer) => out.push(d));
        child.stderr.on("data", (d: Buffer) => err.push(d));
        let failed: Error | undefined;
        child.on("error", (e) => {
            failed = e;
        });
        child.on("close", (code, signal) => {
            const stderr = Buffer.concat(err).toString();
            resolve(
                failed !== undefined
                    ? { code: 127, stdout: "", stderr: stderr || failed.message }
                    : {
                          code: code ?? 128 + (signal ? os.constants.signals[signal] : 0),
                          stdout: Buffer.concat(out).toString(),
                          stderr,
                      },
            );
        });
        guard(child);
        // A command that never reads its input must not fail the call.
        child.stdin.on("error", () => undefined);
        child.stdin.end(opts.input ?? "");
    });
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

let watchdog: ChildProcess | undefined;

/** Tells the watchdog one line, starting it first: a shell detached into its own session, so no signal to the runner reaches it. */
function tellWatchdog(line: string): void {
    if (watchdog === undefined) {
        watchdog = spawn("/bin/bash", ["-c", scriptFile("runner/watchdog.sh"), "watchdog.sh"], {
            detached: true,
            stdio: ["pipe", "ignore", "ignore"],
        });
        watchdog.on("error", () => undefined);
        watchdog.stdin?.on("error", () => undefined);
        // Neither the watchdog nor its pipe keeps the runner alive.
        watchdog.unref();
        (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    }
    watchdog.stdin?.write(`${line}\n`);
}

/** Puts a child under the watchdog: its process group is ended if the runner dies before it does. */
export function guard(child: ChildProcess): void {
    if (child.pid === undefined) {
        return;
    }
    const pid = child.pid;
    tellWatchdog(`pid ${pid}`);
    child.once("exit", () => tellWatchdog(`exit ${pid}`));
}

// The root is shared with the config check of sshPrivateKey (config/privateRoot.ts).
export { privateRoot };

/** Removes the private directories of runs whose process is gone (each is named `<prefix><pid>-…`). */
export function sweepDead(root: string): void {
    for (const name of fs.readdirSync(root)) {
        const pid = /^nbf-[a-z]+-(\d+)-/.exec(name)?.[1];
        if (pid !== undefined && !alive(Number(pid))) {
            fs.rmSync(path.join(root, name), { recursive: true, force: true });
        }
    }
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

/**
 * A directory only this user can read (mkdtemp makes it 0700), since it holds a key or
 * registry credentials; removed when the process exits, also on a signal (Pulumi cancelling
 * the update), and by the watchdog when the process is killed outright.
 */
export function privateTempDir(prefix: string): { dir: string; remove: () => void } {
    const root = privateRoot();
    sweepDead(root);
    const dir = fs.mkdtempSync(path.join(root, `${prefix}${process.pid}-`));
    tellWatchdog(`dir ${dir}`);
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
    return (
        text
            .split("\n")
            .filter((l) => l !== "")
            .pop() ?? ""
    );
}
