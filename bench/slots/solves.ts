// bench/slots.sh: what BuildKit itself recorded of a run's solves on each host. Every solve a
// BuildKit daemon runs leaves a build-history record with its start and end
// (moby/buildkit api/services/control BuildHistoryRecord: CreatedAt, CompletedAt), which
// `docker buildx history ls --format json` prints as created_at and completed_at (docker/buildx
// v0.35.0 commands/history/ls.go, lsContext.MarshalJSON). From them: how many solves ran at once
// at the peak, the longest solve, and the longest spell in which solves were running but none
// finished, which is what a wedged daemon looks like from outside (cozystack/cozystack#2937: a
// hung build showed no CPU and no registry traffic while goroutines waited on BuildKit's cache
// metadata and exporter locks).
//
// Usage: node solves.js SINCE_MS HOST=HISTORY.json... prints one JSON object, host -> summary.

import * as fs from "fs";

/** One record of `docker buildx history ls --format json` (one JSON object a line). */
export interface HistoryRecord {
    ref: string;
    name?: string;
    status?: string;
    created_at: string;
    completed_at?: string;
}

export interface Solve {
    startMs: number;
    endMs?: number;
    status: string;
}

export interface SolveSummary {
    /** Solves this host ran in the window. */
    solves: number;
    /** Solves that had not completed when the history was read, or did not complete successfully. */
    unfinished: number;
    failed: number;
    /** The most solves running at one moment. */
    peakConcurrency: number;
    longestSolveSeconds: number;
    medianSolveSeconds: number;
    /** The longest time during which at least one solve ran and none finished. */
    longestSilenceSeconds: number;
}

/** The records of `history ls --format json` output, one object a line, started at or after `sinceMs`. */
export function solvesOf(jsonLines: string, sinceMs: number): Solve[] {
    return jsonLines
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as HistoryRecord)
        .map((r) => ({
            startMs: Date.parse(r.created_at),
            endMs: r.completed_at === undefined ? undefined : Date.parse(r.completed_at),
            status: r.status ?? "",
        }))
        .filter((s) => s.startMs >= sinceMs);
}

/** The most intervals open at once; an interval's end frees its place before a start at the same instant. */
export function peakConcurrency(solves: Solve[], nowMs: number): number {
    const edges = solves
        .flatMap((s) => [
            { at: s.startMs, d: 1 },
            { at: s.endMs ?? nowMs, d: -1 },
        ])
        .sort((a, b) => a.at - b.at || a.d - b.d);
    let open = 0;
    let peak = 0;
    for (const e of edges) {
        open += e.d;
        peak = Math.max(peak, open);
    }
    return peak;
}

/** The longest span in which some solve was running and none ended (an unfinished solve runs to `nowMs`). */
export function longestSilence(solves: Solve[], nowMs: number): number {
    const ends = [...new Set(solves.map((s) => s.endMs ?? nowMs))].sort((a, b) => a - b);
    let longest = 0;
    ends.forEach((end, i) => {
        // Before this end: from the previous end, or from the first start of the solves then running.
        const running = solves.filter((s) => s.startMs < end && (s.endMs ?? nowMs) >= end).map((s) => s.startMs);
        const from = Math.max(i === 0 ? -Infinity : ends[i - 1], Math.min(...running));
        longest = Math.max(longest, end - from);
    });
    return longest;
}

export function summarize(solves: Solve[], nowMs: number): SolveSummary {
    const durations = solves.map((s) => ((s.endMs ?? nowMs) - s.startMs) / 1000).sort((a, b) => a - b);
    const round = (n: number) => Math.round(n * 100) / 100;
    return {
        solves: solves.length,
        unfinished: solves.filter((s) => s.endMs === undefined).length,
        failed: solves.filter((s) => s.endMs !== undefined && s.status !== "" && s.status !== "Completed").length,
        peakConcurrency: peakConcurrency(solves, nowMs),
        longestSolveSeconds: round(durations.at(-1) ?? 0),
        medianSolveSeconds: round(durations.length === 0 ? 0 : durations[Math.floor(durations.length / 2)]),
        longestSilenceSeconds: round(longestSilence(solves, nowMs) / 1000),
    };
}

if (require.main === module) {
    const [since, ...hosts] = process.argv.slice(2);
    const now = Date.now();
    process.stdout.write(
        `${JSON.stringify(
            Object.fromEntries(
                hosts.map((arg) => {
                    const [host, file] = arg.split("=");
                    return [host, summarize(solvesOf(fs.readFileSync(file, "utf8"), Number(since)), now)];
                }),
            ),
        )}\n`,
    );
}
