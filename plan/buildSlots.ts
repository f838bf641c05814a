// How many solves of this stack each host runs at once (builder.buildSlots).
//
// BuildKit starts every solve it is sent at once; nothing in buildx or docker-build queues them
// (docker-build's Image names only a builder, and the engine runs up to --parallel resource
// operations, 4 per CPU of the machine running Pulumi). Users of shared daemons report builds
// wedging on BuildKit's cache-metadata (bbolt) and exporter locks when many run together
// (cozystack/cozystack#2937). So the program queues them itself: on each host, the solves it
// was given (each platform image and the cache-only build beside it) form `slots` lanes, and a
// solve waits, through a Pulumi dependency, for the solve `slots` places before it on the same
// host. A host then never runs more than `slots` of this stack's solves at once, and a solve
// whose inputs did not change ends at once, so unchanged builds hold no one up.

/** One solve: a platform build (by its key, plan/placement.ts buildKey) and which of its two. */
export interface SlotSolve {
    key: string;
    kind: "image" | "cache";
}

/**
 * For each solve, in the order given, the index of the solve it waits for (the one `slots`
 * places earlier among those on the same host), or undefined when it may start at once.
 * `hostOf` is the placement actually used, failover included, so moved builds queue on the
 * host that runs them.
 */
export function slotWaits(solves: SlotSolve[], hostOf: Record<string, string>, slots: number): (number | undefined)[] {
    const onHost = new Map<string, number[]>();
    return solves.map((solve, i) => {
        const host = hostOf[solve.key];
        if (host === undefined) {
            throw new Error(`no host was placed for ${solve.key}`);
        }
        const queue = onHost.get(host) ?? onHost.set(host, []).get(host)!;
        const wait = queue.length >= slots ? queue[queue.length - slots] : undefined;
        queue.push(i);
        return wait;
    });
}
