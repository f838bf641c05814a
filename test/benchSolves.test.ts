// bench/slots/solves.ts: what BuildKit's build history says about a run's solves on a host.

import { longestSilence, peakConcurrency, Solve, solvesOf, summarize } from "../bench/slots/solves";

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
// A record as buildx v0.35.0 prints it (commands/history/ls.go:185-198, lsContext.MarshalJSON):
// the ref is builder/node/ref, the step counts come with it, and completed_at only once it ended.
const line = (ref: string, start: number, end?: number, status = end === undefined ? "Running" : "Completed") =>
    JSON.stringify({
        ref: `nbf-slbench-amd/nbf-slbench-amd0/${ref}`,
        name: "app",
        status,
        created_at: at(start),
        total_steps: 6,
        completed_steps: end === undefined ? 3 : 6,
        cached_steps: 1,
        ...(end === undefined ? {} : { completed_at: at(end) }),
    });
const ms = (s: number) => Date.UTC(2026, 0, 1, 0, 0, s);
const solve = (start: number, end?: number): Solve => ({
    startMs: ms(start),
    endMs: end === undefined ? undefined : ms(end),
    status: end === undefined ? "Running" : "Completed",
});

describe("bench/slots/solves.ts", () => {
    test("reads buildx history ls --format json lines and keeps the solves started since the run began", () => {
        const text = `${line("old", 1, 3)}\n${line("a", 10, 12)}\n\n${line("b", 11)}\n`;
        expect(solvesOf(text, ms(10))).toEqual([solve(10, 12), solve(11)]);
    });

    test("reads the nanosecond times buildx prints (time.RFC3339Nano) to the millisecond", () => {
        const text = JSON.stringify({
            ref: "b/n/a",
            status: "Completed",
            created_at: "2026-01-01T00:00:10.123456789Z",
            completed_at: "2026-01-01T00:00:12.5Z",
        });
        expect(solvesOf(text, ms(10))).toEqual([{ startMs: ms(10) + 123, endMs: ms(12) + 500, status: "Completed" }]);
    });

    test("counts a solve that ended with an error as failed, not unfinished", () => {
        const summary = summarize(solvesOf(`${line("a", 0, 2)}\n${line("b", 1, 3, "Error")}\n`, ms(0)), ms(10));
        expect(summary).toMatchObject({ solves: 2, unfinished: 0, failed: 1 });
    });

    test.each([
        ["none", [], 0],
        ["one after the other", [solve(0, 2), solve(2, 4), solve(4, 6)], 1],
        ["three overlapping, then one", [solve(0, 5), solve(1, 4), solve(2, 3), solve(6, 7)], 3],
        ["two pairs", [solve(0, 2), solve(1, 3), solve(5, 7), solve(6, 8)], 2],
        ["an unfinished solve counts until now", [solve(0), solve(50, 60)], 2],
    ])("peak concurrency: %s", (_name, solves, peak) => {
        expect(peakConcurrency(solves, ms(100))).toBe(peak);
    });

    test.each([
        ["solves ending steadily", [solve(0, 2), solve(0, 4), solve(0, 6)], 2000],
        ["a gap with nothing running does not count", [solve(0, 1), solve(30, 32)], 2000],
        ["one solve hanging while the others end", [solve(0, 1), solve(0, 2), solve(1)], 98000],
    ])("longest silence: %s", (_name, solves, silence) => {
        expect(longestSilence(solves, ms(100))).toBe(silence);
    });

    test("summarizes a host: counts, peak, longest and median solve, unfinished and failed solves", () => {
        const solves = [solve(0, 4), solve(1, 3), { ...solve(2, 12), status: "Error" }, solve(5)];
        expect(summarize(solves, ms(20))).toEqual({
            solves: 4,
            unfinished: 1,
            failed: 1,
            peakConcurrency: 3,
            longestSolveSeconds: 15,
            medianSolveSeconds: 10,
            longestSilenceSeconds: 8,
        });
    });
});
