// Where a `pulumi up` or `pulumi preview` spends its wall time, from the engine's event log
// (`--event-log`, each event stamped on arrival by stamp-events.js) and the stack's resource
// graph (`pulumi stack export`): every resource step's duration (its resourcePre event to its
// outputs event), and the critical path from the process's start to its exit, as contiguous
// segments that add up to the wall time.
//
//   ts-node --transpile-only bench/overhead/breakdown.ts STATE.json KEY=DIR/KEY-1,DIR/KEY-2 ...
// Each DIR/KEY-N names one run's DIR/KEY-N.events and DIR/KEY-N.span ("startMs endMs", the
// process's). Prints JSON: per KEY, the median run's critical path, each segment's median over
// the runs, and each step's median duration.

import * as fs from "fs";

interface StepMetadata {
    op: string;
    urn: string;
    type: string;
    /** The resource's state; `custom` is set for custom resources and providers, never for components. */
    old?: { custom?: boolean };
    new?: { custom?: boolean };
}

/** One line of the stamped event log; only the fields read here. */
export interface StampedEvent {
    nbfMs: number;
    preludeEvent?: unknown;
    summaryEvent?: unknown;
    resourcePreEvent?: { metadata: StepMetadata; planning?: boolean };
    resOutputsEvent?: { metadata: StepMetadata; planning?: boolean };
    resOpFailedEvent?: { metadata: StepMetadata };
}

/** A resource's step: milliseconds from the process's start. */
export interface Step {
    urn: string;
    name: string;
    type: string;
    op: string;
    start: number;
    end: number;
}

/** One segment of the critical path. */
export interface Segment {
    /** A stable label (the same across runs), for medians. */
    label: string;
    ms: number;
}

export interface RunBreakdown {
    wallMs: number;
    /** Process start to the first engine event. */
    firstEventMs: number;
    path: Segment[];
    steps: Step[];
}

/** The resource's name: the last part of its URN. */
export function urnName(urn: string): string {
    return urn.slice(urn.lastIndexOf("::") + 2);
}

/** Every custom resource's and provider's step (components' steps only wrap their children's), from its pre event to its outputs or failure. */
export function stepsOf(events: StampedEvent[], startMs: number): Step[] {
    const open = new Map<string, { meta: StepMetadata; start: number }>();
    const steps: Step[] = [];
    for (const e of events) {
        const pre = e.resourcePreEvent?.metadata;
        if (pre !== undefined) {
            open.set(pre.urn, { meta: pre, start: e.nbfMs - startMs });
            continue;
        }
        const done = e.resOutputsEvent?.metadata ?? e.resOpFailedEvent?.metadata;
        const begun = done === undefined ? undefined : open.get(done.urn);
        if (done !== undefined && begun !== undefined) {
            open.delete(done.urn);
            if (begun.meta.new?.custom === true || begun.meta.old?.custom === true) {
                steps.push({
                    urn: done.urn,
                    name: urnName(done.urn),
                    type: begun.meta.type,
                    op: begun.meta.op,
                    start: begun.start,
                    end: e.nbfMs - startMs,
                });
            }
        }
    }
    return steps;
}

/** What each resource waits for, from a `pulumi stack export`: its dependencies and its provider. */
export function dependenciesOf(state: {
    deployment?: {
        resources?: {
            urn: string;
            dependencies?: string[];
            propertyDependencies?: Record<string, string[]>;
            provider?: string;
        }[];
    };
}): Map<string, string[]> {
    const deps = new Map<string, string[]>();
    for (const r of state.deployment?.resources ?? []) {
        const all = new Set([...(r.dependencies ?? []), ...Object.values(r.propertyDependencies ?? {}).flat()]);
        if (r.provider) {
            all.add(r.provider.slice(0, r.provider.lastIndexOf("::")));
        }
        deps.set(r.urn, [...all]);
    }
    return deps;
}

/**
 * The critical path: from the step that ended last, back through the dependency that ended
 * last before it started, to the program's start. Between two steps, the time the second
 * waited after the first ended (the program resolving its inputs, invokes, the engine) is its
 * own segment. Steps whose dependencies are unknown fall back to the step that ended last
 * before they began.
 */
export function criticalPath(
    events: StampedEvent[],
    startMs: number,
    endMs: number,
    deps: Map<string, string[]>,
): RunBreakdown {
    const wallMs = endMs - startMs;
    const at = (pick: (e: StampedEvent) => unknown) => {
        const e = events.find((x) => pick(x) !== undefined);
        return e === undefined ? undefined : e.nbfMs - startMs;
    };
    const firstEventMs = events.length > 0 ? events[0].nbfMs - startMs : wallMs;
    const stackAt =
        at((e) => (e.resourcePreEvent?.metadata.type === "pulumi:pulumi:Stack" ? e : undefined)) ?? firstEventMs;
    const programAt =
        at((e) =>
            e.resourcePreEvent !== undefined && e.resourcePreEvent.metadata.type !== "pulumi:pulumi:Stack"
                ? e
                : undefined,
        ) ?? stackAt;
    const summaryAt = at((e) => e.summaryEvent) ?? events.reduce((m, e) => Math.max(m, e.nbfMs - startMs), 0);
    const steps = stepsOf(events, startMs);

    const chain: Step[] = [];
    let current = steps.reduce<Step | undefined>(
        (last, s) => (last === undefined || s.end > last.end ? s : last),
        undefined,
    );
    while (current !== undefined) {
        chain.unshift(current);
        const c: Step = current;
        // A default provider depends on nothing in the state, but the engine starts it only when
        // the program registers the first resource that uses it: it waits for what that waited for.
        const known = c.type.startsWith("pulumi:providers:") ? undefined : deps.get(c.urn);
        // Not a step already on the path: steps that take no time can end when the other begins.
        const candidates = steps.filter(
            (s) => !chain.includes(s) && s.end <= c.start + 1 && (known === undefined || known.includes(s.urn)),
        );
        current = candidates.reduce<Step | undefined>(
            (last, s) => (last === undefined || s.end > last.end ? s : last),
            undefined,
        );
    }

    const path: Segment[] = [
        { label: "CLI start to its first event (CLI, backend, stack, plugins)", ms: firstEventMs },
        { label: "to the stack's registration (language host, Node.js, SDK)", ms: stackAt - firstEventMs },
        { label: "to the program's first resource (loading the program)", ms: programAt - stackAt },
    ];
    let t = programAt;
    for (const s of chain) {
        path.push({ label: `waiting for the inputs of ${s.name}`, ms: Math.max(0, s.start - t) });
        path.push({ label: `${s.name} (${s.op})`, ms: s.end - Math.max(t, s.start) });
        t = s.end;
    }
    path.push({ label: "to the summary (program exit, stack outputs)", ms: Math.max(0, summaryAt - t) });
    path.push({ label: "to the process's exit (state, plugins shut down)", ms: wallMs - Math.max(t, summaryAt) });
    return { wallMs, firstEventMs, path: path.map((p) => ({ ...p, ms: Math.max(0, p.ms) })), steps };
}

export function median(values: number[]): number {
    const s = [...values].sort((a, b) => a - b);
    const n = s.length;
    return n === 0 ? NaN : n % 2 === 1 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

const seconds = (ms: number) => Math.round(ms) / 1000;

/** Over runs of one measurement: the median run's path, and per label and per step, the median over the runs that have it. */
export function summarize(runs: RunBreakdown[]) {
    const byWall = [...runs].sort((a, b) => a.wallMs - b.wallMs);
    const mid = byWall[Math.floor((byWall.length - 1) / 2)];
    const collect = <T>(items: (r: RunBreakdown) => T[], key: (t: T) => string, value: (t: T) => number) => {
        const m = new Map<string, number[]>();
        runs.forEach((r) => items(r).forEach((t) => m.set(key(t), [...(m.get(key(t)) ?? []), value(t)])));
        return m;
    };
    const segments = collect(
        (r) => r.path,
        (p) => p.label,
        (p) => p.ms,
    );
    const steps = collect(
        (r) => r.steps,
        (s) => `${s.name} (${s.op})`,
        (s) => s.end - s.start,
    );
    return {
        runs: runs.length,
        medianRunWallSeconds: seconds(mid.wallMs),
        medianRunPath: mid.path.map((p) => ({
            segment: p.label,
            seconds: seconds(p.ms),
            medianSeconds: seconds(median(segments.get(p.label) ?? [])),
            inRuns: (segments.get(p.label) ?? []).length,
        })),
        steps: [...steps.entries()]
            .map(([step, ms]) => ({ step, medianSeconds: seconds(median(ms)), inRuns: ms.length }))
            .sort((a, b) => b.medianSeconds - a.medianSeconds),
    };
}

function readRun(base: string, deps: Map<string, string[]>): RunBreakdown {
    const events = fs
        .readFileSync(`${base}.events`, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as StampedEvent);
    const [start, end] = fs.readFileSync(`${base}.span`, "utf8").trim().split(/\s+/).map(Number);
    return criticalPath(events, start, end, deps);
}

if (require.main === module) {
    const [stateFile, ...keys] = process.argv.slice(2);
    const deps = dependenciesOf(JSON.parse(fs.readFileSync(stateFile, "utf8")) as Parameters<typeof dependenciesOf>[0]);
    const out: Record<string, ReturnType<typeof summarize>> = {};
    for (const arg of keys) {
        const [key, list] = arg.split("=");
        out[key] = summarize(
            list
                .split(",")
                .filter(Boolean)
                .map((base) => readRun(base, deps)),
        );
    }
    process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
}
