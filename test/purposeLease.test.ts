// Previews and updates of one stack never use its builders at once as one user
// (runner/purposeLease.ts): the pure parts from tables, then the real /proc.

import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { alive, claimPurpose, findCli, Lease, nextLeases, parseStat, procStat } from "../runner/purposeLease";

/** A /proc/<pid>/stat line with the given parent, name and start time. */
const statLine = (pid: number, comm: string, ppid: number, start: string) =>
    `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 4194560 100 0 0 0 1 1 0 0 20 0 1 0 ${start} 1000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0`;

/** A process table: pid → [name, parent, start]. */
function table(rows: Record<number, [string, number, string]>) {
    return (pid: number) =>
        rows[pid] === undefined ? undefined : statLine(pid, rows[pid][0], rows[pid][1], rows[pid][2]);
}

// The runner (node) ← the command provider ← the pulumi CLI ← a shell; and another CLI.
const PROCS = table({
    500: ["node", 400, "9000"],
    400: ["pulumi-resource-command", 300, "8000"],
    300: ["pulumi", 200, "7000"],
    200: ["bash", 1, "100"],
    700: ["pulumi", 200, "7500"],
});

describe("reading /proc/<pid>/stat", () => {
    test.each([
        ["a plain name", statLine(5, "pulumi", 4, "123"), { ppid: 4, comm: "pulumi", start: "123" }],
        [
            "a name with spaces and parentheses",
            statLine(5, "a (b) c", 4, "77"),
            { ppid: 4, comm: "a (b) c", start: "77" },
        ],
        ["a truncated line", "5 (x) S 4 5", undefined],
        ["nothing", "", undefined],
    ])("%s", (_label, line, expected) => {
        expect(parseStat(line)).toEqual(expected);
    });

    test("this process's own line parses, with its parent's pid", () => {
        expect(parseStat(procStat(process.pid)!)?.ppid).toBe(process.ppid);
    });
});

describe("the Pulumi CLI that runs the runner", () => {
    test.each([
        ["the nearest ancestor named pulumi", 500, { pid: 300, start: "7000" }],
        ["itself when it is the CLI", 700, { pid: 700, start: "7500" }],
        ["none above a shell", 200, undefined],
        ["none for a process that is gone", 999, undefined],
    ])("%s", (_label, pid, expected) => {
        expect(findCli(pid, PROCS)).toEqual(expected);
    });

    test("a reused pid is not the process recorded", () => {
        expect(alive({ pid: 300, start: "7000" }, PROCS)).toBe(true);
        expect(alive({ pid: 300, start: "6999" }, PROCS)).toBe(false);
        expect(alive({ pid: 999, start: "7000" }, PROCS)).toBe(false);
    });
});

describe("which runs may start", () => {
    const cli = { pid: 300, start: "7000" };
    const other = { pid: 700, start: "7500" };
    const dead = { pid: 999, start: "1" };
    test.each<[string, Lease[], "preview" | "update", boolean, Lease[]]>([
        ["nothing recorded", [], "update", true, [{ purpose: "update", cli }]],
        [
            "another live CLI previewing, and this one previews",
            [{ purpose: "preview", cli: other }],
            "preview",
            true,
            [
                { purpose: "preview", cli: other },
                { purpose: "preview", cli },
            ],
        ],
        [
            "another live CLI previewing, and this one updates",
            [{ purpose: "preview", cli: other }],
            "update",
            false,
            [{ purpose: "preview", cli: other }],
        ],
        [
            "another live CLI updating, and this one previews",
            [{ purpose: "update", cli: other }],
            "preview",
            false,
            [{ purpose: "update", cli: other }],
        ],
        ["a CLI that ended", [{ purpose: "update", cli: dead }], "preview", true, [{ purpose: "preview", cli }]],
        [
            "this CLI's own preview pass, now its update pass (pulumi up)",
            [{ purpose: "preview", cli }],
            "update",
            true,
            [{ purpose: "update", cli }],
        ],
        [
            "one live preview among ended ones, and this one updates",
            [
                { purpose: "preview", cli: dead },
                { purpose: "preview", cli: other },
            ],
            "update",
            false,
            [
                { purpose: "preview", cli: dead },
                { purpose: "preview", cli: other },
            ],
        ],
    ])("%s", (_label, recorded, purpose, starts, leases) => {
        const next = nextLeases(recorded, purpose, cli, PROCS);
        expect(next.conflict === undefined).toBe(starts);
        expect(next.leases).toEqual(leases);
    });

    test("the refusal names the other run and its process, and says nothing was changed", () => {
        expect(nextLeases([{ purpose: "update", cli: other }], "preview", cli, PROCS).conflict).toBe(
            "a pulumi update of this stack is running on this machine as this user (pulumi process 700). Previews and updates point the hosts' " +
                "builders at different BuildKit state, so they cannot run at once as one user: wait for it to end, or run this one as another user " +
                "or on another machine; nothing was changed",
        );
    });
});

describe("claiming the builders (real files)", () => {
    const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), "nbf-lease-"));
    const fail = (m: string) => new Error(m);

    test("records the purpose 0600, refuses the other purpose while that CLI lives, allows it once it ended", () => {
        const d = dir();
        claimPurpose(d, "update", fail, PROCS, 700);
        expect(fs.statSync(path.join(d, "purpose")).mode & 0o777).toBe(0o600);
        expect(() => claimPurpose(d, "preview", fail, PROCS, 500)).toThrow("a pulumi update of this stack is running");
        const ended = table({
            500: ["node", 400, "9000"],
            400: ["pulumi-resource-command", 300, "8000"],
            300: ["pulumi", 200, "7000"],
            200: ["bash", 1, "100"],
        });
        claimPurpose(d, "preview", fail, ended, 500);
        expect(JSON.parse(fs.readFileSync(path.join(d, "purpose"), "utf8"))).toEqual([
            { purpose: "preview", cli: { pid: 300, start: "7000" } },
        ]);
    });

    test("records and refuses nothing without a Pulumi CLI above the runner (no /proc, or run by hand)", () => {
        const d = dir();
        claimPurpose(d, "update", fail, PROCS, 200);
        expect(fs.existsSync(path.join(d, "purpose"))).toBe(false);
    });

    test("an unreadable record is no lease", () => {
        const d = dir();
        fs.writeFileSync(path.join(d, "purpose"), "{not json");
        claimPurpose(d, "preview", fail, PROCS, 500);
        expect(JSON.parse(fs.readFileSync(path.join(d, "purpose"), "utf8"))).toEqual([
            { purpose: "preview", cli: { pid: 300, start: "7000" } },
        ]);
    });

    test("finds a real process named pulumi above its child in /proc, and sees it end", async () => {
        const d = dir();
        // A script's process takes the script's name; `sleep` is its child, as the runner is the CLI's grandchild.
        fs.writeFileSync(path.join(d, "pulumi"), "#!/bin/bash\nsleep 30\n", { mode: 0o755 });
        const cli = spawn(path.join(d, "pulumi"), [], { stdio: "ignore" });
        let child: number | undefined;
        for (let i = 0; i < 100 && child === undefined; i++) {
            await new Promise((r) => setTimeout(r, 50));
            // Until it has exec'd sleep, the forked child still bears the script's name, pulumi.
            child = fs
                .readdirSync("/proc")
                .filter((p) => /^\d+$/.test(p))
                .map(Number)
                .find((p) => {
                    const stat = parseStat(procStat(p) ?? "");
                    return stat !== undefined && stat.ppid === cli.pid && stat.comm === "sleep";
                });
        }
        const found = findCli(child!, procStat);
        expect(found?.pid).toBe(cli.pid);
        expect(alive(found!, procStat)).toBe(true);
        const exited = new Promise((r) => cli.on("exit", r));
        process.kill(child!, "SIGTERM");
        cli.kill("SIGTERM");
        await exited;
        expect(alive(found!, procStat)).toBe(false);
    });
});
