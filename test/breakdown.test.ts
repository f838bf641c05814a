// bench/overhead/breakdown.ts: resource steps and the critical path read from a stamped event log.

import { criticalPath, dependenciesOf, median, StampedEvent, stepsOf, summarize } from "../bench/overhead/breakdown";

const T0 = 1_000_000;
const urn = (type: string, name: string) => `urn:pulumi:bench::native-build-fleet::${type}::${name}`;
const STACK = urn("pulumi:pulumi:Stack", "native-build-fleet-bench");
const FLEET = urn("native-build-fleet:index:Fleet", "fleet");
const PROVIDER = urn("pulumi:providers:docker-build", "default_0_0_22");
const REG = urn("native-build-fleet:index:Fleet$command:local:Command", "fleet-builder-registration");
const AMD = urn("native-build-fleet:index:Fleet$docker-build:index:Image", "app-linux-amd64");
const ARM = urn("native-build-fleet:index:Fleet$docker-build:index:Image", "app-linux-arm64");
const CACHE = urn("native-build-fleet:index:Fleet$docker-build:index:Image", "app-linux-amd64-cache");
const INDEX = urn("native-build-fleet:index:Fleet$docker-build:index:Index", "app-latest");

const typeOf = (u: string) => u.split("::")[2].split("$").pop()!;
const pre = (ms: number, u: string, op = "same", custom = true): StampedEvent => ({
    nbfMs: T0 + ms,
    resourcePreEvent: { metadata: { op, urn: u, type: typeOf(u), new: custom ? { custom: true } : {} } },
});
const out = (ms: number, u: string, op = "same"): StampedEvent => ({
    nbfMs: T0 + ms,
    resOutputsEvent: { metadata: { op, urn: u, type: typeOf(u) } },
});

/** A one-file rebuild: registration, two builds, a cache build after one of them, the index. */
const events: StampedEvent[] = [
    { nbfMs: T0 + 300, preludeEvent: {} },
    pre(800, STACK, "same", false),
    pre(2000, FLEET, "same", false),
    pre(2900, REG),
    out(2910, REG),
    pre(3000, PROVIDER),
    out(3100, PROVIDER),
    pre(3150, AMD, "update"),
    pre(3160, ARM, "update"),
    out(5000, AMD, "update"),
    pre(5050, CACHE, "update"),
    out(5500, ARM, "update"),
    pre(5600, INDEX, "update"),
    out(6000, INDEX, "update"),
    out(6400, CACHE, "update"),
    out(6450, FLEET, "same"),
    { nbfMs: T0 + 6500, summaryEvent: {} },
];
const deps = new Map<string, string[]>([
    [REG, []],
    [PROVIDER, []],
    [AMD, [REG, PROVIDER]],
    [ARM, [REG, PROVIDER]],
    [CACHE, [AMD, PROVIDER]],
    [INDEX, [AMD, ARM, PROVIDER]],
]);

describe("stepsOf", () => {
    test("times each custom resource and provider from its pre event to its outputs, and leaves components and the stack out", () => {
        const steps = stepsOf(events, T0);
        expect(steps.map((s) => [s.name, s.op, s.start, s.end])).toEqual([
            ["fleet-builder-registration", "same", 2900, 2910],
            ["default_0_0_22", "same", 3000, 3100],
            ["app-linux-amd64", "update", 3150, 5000],
            ["app-linux-arm64", "update", 3160, 5500],
            ["app-latest", "update", 5600, 6000],
            ["app-linux-amd64-cache", "update", 5050, 6400],
        ]);
    });

    test("a failed step ends at its failure", () => {
        const failed: StampedEvent[] = [
            pre(100, AMD, "update"),
            {
                nbfMs: T0 + 900,
                resOpFailedEvent: { metadata: { op: "update", urn: AMD, type: "docker-build:index:Image" } },
            },
        ];
        expect(stepsOf(failed, T0).map((s) => [s.name, s.end])).toEqual([["app-linux-amd64", 900]]);
    });
});

describe("criticalPath", () => {
    const run = criticalPath(events, T0, T0 + 7000, deps);

    test("follows the dependency that ended last back from the step that ended last", () => {
        expect(run.path.map((p) => [p.label, p.ms])).toEqual([
            ["CLI start to its first event (CLI, backend, stack, plugins)", 300],
            ["to the stack's registration (language host, Node.js, SDK)", 500],
            ["to the program's first resource (loading the program)", 1200],
            ["waiting for the inputs of fleet-builder-registration", 900],
            ["fleet-builder-registration (same)", 10],
            // The builds waited for the registration and the provider, which ended last; the
            // default provider started when the first build was registered, after the registration.
            ["waiting for the inputs of default_0_0_22", 90],
            ["default_0_0_22 (same)", 100],
            ["waiting for the inputs of app-linux-amd64", 50],
            ["app-linux-amd64 (update)", 1850],
            ["waiting for the inputs of app-linux-amd64-cache", 50],
            ["app-linux-amd64-cache (update)", 1350],
            ["to the summary (program exit, stack outputs)", 100],
            ["to the process's exit (state, plugins shut down)", 500],
        ]);
    });

    test("its segments add up to the wall time", () => {
        expect(run.path.reduce((sum, p) => sum + p.ms, 0)).toBe(7000);
        expect(run.wallMs).toBe(7000);
    });

    test("without the graph, a step waits for whichever step ended last before it began", () => {
        const blind = criticalPath(events, T0, T0 + 7000, new Map());
        // The cache build began after the amd64 build ended and before arm64's did.
        expect(blind.path.map((p) => p.label).filter((l) => / \((same|update)\)$/.test(l))).toEqual([
            "fleet-builder-registration (same)",
            "default_0_0_22 (same)",
            "app-linux-amd64 (update)",
            "app-linux-amd64-cache (update)",
        ]);
    });

    test("the index path when the cache build ends first", () => {
        const early = events.map((e) => (e.resOutputsEvent?.metadata.urn === CACHE ? out(5400, CACHE, "update") : e));
        const path = criticalPath(early, T0, T0 + 7000, deps)
            .path.map((p) => p.label)
            .filter((l) => / \((same|update)\)$/.test(l));
        expect(path).toEqual([
            "fleet-builder-registration (same)",
            "default_0_0_22 (same)",
            "app-linux-arm64 (update)",
            "app-latest (update)",
        ]);
    });

    test("ends on steps that take no time and begin as the other ends", () => {
        const instant = [
            pre(0, STACK, "same", false),
            pre(10, FLEET, "same", false),
            pre(100, REG),
            out(100, REG),
            pre(100, PROVIDER),
            out(100, PROVIDER),
        ];
        const path = criticalPath(instant, T0, T0 + 200, new Map())
            .path.map((p) => p.label)
            .filter((l) => / \(same\)$/.test(l));
        expect(path.sort()).toEqual(["default_0_0_22 (same)", "fleet-builder-registration (same)"]);
    });
});

describe("dependenciesOf", () => {
    test("a resource waits for its dependencies, its property dependencies and its provider", () => {
        const deps = dependenciesOf({
            deployment: {
                resources: [
                    {
                        urn: CACHE,
                        dependencies: [AMD],
                        propertyDependencies: { builder: [REG] },
                        provider: `${PROVIDER}::0123-abc`,
                    },
                ],
            },
        });
        expect(deps.get(CACHE)?.sort()).toEqual([AMD, PROVIDER, REG].sort());
    });
});

describe("summarize", () => {
    test("reports the median run's path with each segment's median over the runs, and steps by median duration", () => {
        const runs = [7000, 9000, 8000].map((wall, i) =>
            criticalPath(
                events.map((e) => ({ ...e, nbfMs: e.nbfMs + (e.summaryEvent ? i * 100 : 0) })),
                T0,
                T0 + wall,
                deps,
            ),
        );
        const s = summarize(runs);
        expect(s.runs).toBe(3);
        expect(s.medianRunWallSeconds).toBe(8);
        const exit = s.medianRunPath.find((p) => p.segment.startsWith("to the process's exit"))!;
        // Runs: 7000-6500, 9000-6600, 8000-6700.
        expect([exit.seconds, exit.medianSeconds]).toEqual([1.3, 1.3]);
        expect(s.steps[0]).toEqual({ step: "app-linux-arm64 (update)", medianSeconds: 2.34, inRuns: 3 });
    });

    test("median", () => {
        expect([median([3, 1, 2]), median([4, 1, 3, 2])]).toEqual([2, 2.5]);
    });
});
