// Which host builds each platform build (one image × one platform).
//
// buildx gives a builder's platform to its first node that serves it, so several hosts of
// one platform in one builder build nothing in parallel (docker/buildx v0.35
// build/resolver/driver.go, `nodeResolver.get`, and its test TestSelectNodePreferStart).
// The program therefore gives every host a builder of its own and decides here which
// host, and so which builder, each platform build uses.
//
// The placement is a pure function of the configuration, so a build lands on the same host
// run after run and keeps that host's BuildKit cache. For the builds that share a set of
// candidate hosts it is built up one host at a time, in a fixed host order (index within the
// pool first, then a hash of the pool's name): each host that joins takes ⌊M/n⌋ builds from
// the most loaded hosts before it. So loads differ by at most one (no host gets more than
// ⌈M/N⌉), a host appended to that order takes exactly its share and moves nothing else, and
// removing the last one gives back exactly its builds. Hosts that do not answer are taken
// out afterwards: only their builds move, to the least loaded live hosts, and come back
// when they answer again. Orders come from hashes of names, never from list positions, so
// reordering pools or images moves nothing.

import { createHash } from "crypto";

/** A host as placement sees it. */
export interface PlacementHost {
    /** Unique host name (`<pool>-<index>`, or a static host's name). */
    name: string;
    /** The pool, or the static host's own name. */
    pool: string;
    /** Position in its pool; 0 for static hosts. */
    index: number;
    /** Platforms built natively. */
    platforms: string[];
    /** Platforms built under QEMU. */
    emulate: string[];
}

/** One platform build to place. */
export interface PlacementBuild {
    image: string;
    platform: string;
    /** The pools the image may use; every pool when absent. */
    pools?: string[];
}

/** The key a build is known by in a placement: `<image> <platform>`. */
export function buildKey(build: { image: string; platform: string }): string {
    return `${build.image} ${build.platform}`;
}

/** A number from a hash of the parts; the same everywhere and in every run. */
function score(...parts: string[]): bigint {
    return createHash("sha256").update(parts.join("\0")).digest().readBigUInt64BE(0);
}

function byScore(a: bigint, b: bigint): number {
    return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The hosts that may build `build`: those of its pools that run its platform natively, or,
 * when none does, those that emulate it.
 */
export function candidatesFor(build: PlacementBuild, hosts: readonly PlacementHost[]): PlacementHost[] {
    const allowed = hosts.filter((h) => build.pools === undefined || build.pools.includes(h.pool));
    const native = allowed.filter((h) => h.platforms.includes(build.platform));
    return native.length > 0 ? native : allowed.filter((h) => h.emulate.includes(build.platform));
}

/** The fixed order hosts join in: index first, so growing any pool appends to it. */
function joinOrder(hosts: readonly PlacementHost[]): PlacementHost[] {
    return [...hosts].sort(
        (a, b) =>
            a.index - b.index || byScore(score("pool", a.pool), score("pool", b.pool)) || (a.name < b.name ? -1 : 1),
    );
}

/** Places keys on hosts in join order; see the file comment. */
function spread(keys: readonly string[], order: readonly string[]): Map<string, string> {
    const on = new Map<string, string[]>(order.map((h) => [h, []]));
    on.set(order[0], [...keys]);
    order.slice(1).forEach((host, j) => {
        const before = order.slice(0, j + 1);
        const share = Math.floor(keys.length / (j + 2));
        const taken: string[] = [];
        for (let i = 0; i < share; i++) {
            const fullest = before.reduce((a, b) => (on.get(b)!.length > on.get(a)!.length ? b : a));
            const from = on.get(fullest)!;
            const key = from.reduce((a, b) => (byScore(score(b, host), score(a, host)) > 0 ? b : a));
            from.splice(from.indexOf(key), 1);
            taken.push(key);
        }
        on.set(host, taken);
    });
    return new Map([...on].flatMap(([host, ks]) => ks.map((k) => [k, host] as [string, string])));
}

export interface Placement {
    /** Host per build key. */
    hostOf: Record<string, string>;
    /** Down hosts whose builds moved, with the builds they would have had. */
    movedFrom: Record<string, string[]>;
    /** Platforms whose every candidate host is down, with those hosts. */
    unserved: { platform: string; hosts: string[] }[];
}

/**
 * Places every build on a host. `down` lists hosts that did not answer: their builds go to
 * the least loaded live candidates; a build none of whose candidates is live is unserved.
 */
export function placeBuilds(
    builds: readonly PlacementBuild[],
    hosts: readonly PlacementHost[],
    down: readonly string[] = [],
): Placement {
    const groups = new Map<string, { keys: string[]; candidates: PlacementHost[] }>();
    for (const build of builds) {
        const candidates = candidatesFor(build, hosts);
        const id = candidates
            .map((h) => h.name)
            .sort()
            .join(" ");
        const group = groups.get(id) ?? { keys: [], candidates };
        group.keys.push(buildKey(build));
        groups.set(id, group);
    }
    const hostOf: Record<string, string> = {};
    const movedFrom: Record<string, string[]> = {};
    const unserved = new Map<string, string[]>();
    for (const { keys, candidates } of groups.values()) {
        if (candidates.length === 0) {
            continue;
        }
        const home = spread(
            [...keys].sort((a, b) => byScore(score(a), score(b)) || (a < b ? -1 : 1)),
            joinOrder(candidates).map((h) => h.name),
        );
        const live = candidates.map((h) => h.name).filter((h) => !down.includes(h));
        const load = new Map(live.map((h) => [h, [...home.values()].filter((x) => x === h).length]));
        for (const [key, host] of [...home].sort(([a], [b]) => byScore(score(a), score(b)) || (a < b ? -1 : 1))) {
            if (!down.includes(host)) {
                hostOf[key] = host;
                continue;
            }
            (movedFrom[host] ??= []).push(key);
            if (live.length === 0) {
                const platform = key.slice(key.lastIndexOf(" ") + 1);
                unserved.set(
                    platform,
                    candidates.map((h) => h.name),
                );
                continue;
            }
            const to = live.reduce((a, b) =>
                load.get(b)! < load.get(a)! ||
                (load.get(b) === load.get(a) && byScore(score(key, b), score(key, a)) > 0)
                    ? b
                    : a,
            );
            load.set(to, load.get(to)! + 1);
            hostOf[key] = to;
        }
    }
    return { hostOf, movedFrom, unserved: [...unserved].map(([platform, h]) => ({ platform, hosts: h })) };
}
