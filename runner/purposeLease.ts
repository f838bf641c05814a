// Who is using a stack's builders on this machine, and for what: previews and updates point the
// same builder names at different BuildKit state (builderSpec.ts previewNode), and docker-build
// reads a builder from the machine's buildx store when it builds, so a preview and an update of
// one stack running at once as one user could each send builds to the other's state. The
// registration records which Pulumi CLI process uses the builders for which purpose, and a run
// for the other purpose refuses to start while that process lives.
//
// The CLI is found as the nearest ancestor named `pulumi`: the runner is started by the command
// provider, which the CLI starts (in `pulumi up`, its preview pass and update pass are one CLI
// process, which may switch). A process is named by its pid and start time, so a reused pid is
// no match. Linux only (/proc); elsewhere nothing is recorded or refused.

import * as fs from "fs";
import * as path from "path";

export type Purpose = "preview" | "update";

/** A process: its pid and its start time in clock ticks since boot (/proc/<pid>/stat field 22). */
export interface ProcessId {
    pid: number;
    start: string;
}

export interface Lease {
    purpose: Purpose;
    cli: ProcessId;
}

/** The parent pid, name and start time from a /proc/<pid>/stat line; undefined when it does not parse. */
export function parseStat(text: string): { ppid: number; comm: string; start: string } | undefined {
    // The name is in parentheses and may hold spaces and parentheses itself: it ends at the last `)`.
    const open = text.indexOf("(");
    const close = text.lastIndexOf(")");
    if (open < 0 || close < open) {
        return undefined;
    }
    // After the name: state, ppid, … starttime is field 22 of the whole line, the 20th after it.
    const rest = text
        .slice(close + 1)
        .trim()
        .split(/\s+/);
    const ppid = Number(rest[1]);
    return Number.isInteger(ppid) && rest.length >= 20
        ? { ppid, comm: text.slice(open + 1, close), start: rest[19] }
        : undefined;
}

/** The nearest ancestor of `pid` (itself included) named `pulumi`, reading stat lines with `stat`. */
export function findCli(pid: number, stat: (pid: number) => string | undefined): ProcessId | undefined {
    for (let p = pid, depth = 0; p > 1 && depth < 64; depth++) {
        const s = parseStat(stat(p) ?? "");
        if (s === undefined) {
            return undefined;
        }
        if (s.comm === "pulumi") {
            return { pid: p, start: s.start };
        }
        p = s.ppid;
    }
    return undefined;
}

/** Whether `id` still names a live process: the same pid with the same start time. */
export function alive(id: ProcessId, stat: (pid: number) => string | undefined): boolean {
    return parseStat(stat(id.pid) ?? "")?.start === id.start;
}

function same(a: ProcessId, b: ProcessId): boolean {
    return a.pid === b.pid && a.start === b.start;
}

/**
 * The leases to record once a run for `purpose` by CLI `cli` starts: the live ones of other CLIs
 * and its own. Or, as `conflict`, why it must not start: another live CLI uses the builders for
 * the other purpose.
 */
export function nextLeases(
    recorded: Lease[],
    purpose: Purpose,
    cli: ProcessId,
    stat: (pid: number) => string | undefined,
): { leases: Lease[]; conflict?: string } {
    const others = recorded.filter((l) => !same(l.cli, cli) && alive(l.cli, stat));
    const blocking = others.find((l) => l.purpose !== purpose);
    if (blocking !== undefined) {
        const other = blocking.purpose === "preview" ? "a pulumi preview" : "a pulumi update";
        return {
            leases: recorded,
            conflict:
                `${other} of this stack is running on this machine as this user (pulumi process ${blocking.cli.pid}). ` +
                "Previews and updates point the hosts' builders at different BuildKit state, so they cannot run at once " +
                "as one user: wait for it to end, or run this one as another user or on another machine; nothing was changed",
        };
    }
    return { leases: [...others, { purpose, cli }] };
}

/** Reads /proc/<pid>/stat; undefined when there is no such process or no /proc. */
export function procStat(pid: number): string | undefined {
    try {
        return fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
        return undefined;
    }
}

/**
 * Records this run's purpose in the stack's builder directory `dir`, or throws the conflict.
 * Call it holding the directory's lock, so two runs cannot both pass the check.
 */
export function claimPurpose(
    dir: string,
    purpose: Purpose,
    fail: (message: string) => Error,
    stat = procStat,
    self = process.pid,
): void {
    const cli = findCli(self, stat);
    if (cli === undefined) {
        return;
    }
    const file = path.join(dir, "purpose");
    let recorded: Lease[];
    try {
        const parsed: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
        recorded = Array.isArray(parsed) ? (parsed as Lease[]) : [];
    } catch {
        recorded = [];
    }
    const { leases, conflict } = nextLeases(recorded, purpose, cli, stat);
    if (conflict !== undefined) {
        throw fail(conflict);
    }
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(leases)}\n`, { mode: 0o600 });
    fs.renameSync(tmp, file);
}
