// Which platforms each host group declares in the stack's multi-node builder.
//
// buildx sends a build for platform P to the first node, in the builder's node order,
// whose platforms match P; a later node wins only with a strictly better match (docker/buildx
// v0.35 build/resolver/driver.go, `nodeResolver.get`; tonistiigi in docker/buildx#1081).
// Node order alone cannot keep every platform native once pools emulate each other's
// platforms (an arm64 pool emulating linux/amd64 and an x86 pool emulating linux/arm64 would
// each have to come first), so in the stack's builder a group declares an emulated platform
// only when no group builds it natively. The program's own builds do not depend on this:
// each goes to a host's own builder (plan/placement.ts).

/** What routing needs of an EC2 pool or a static host. */
export interface HostGroup {
    name: string;
    /** Platforms built natively. */
    platforms: string[];
    /** Platforms built under QEMU. */
    emulate: string[];
}

/** Groups in builder node order: those that emulate nothing first, then the rest, each in config order. */
export function orderPools<T extends HostGroup>(groups: readonly T[]): T[] {
    return [...groups.filter((g) => g.emulate.length === 0), ...groups.filter((g) => g.emulate.length > 0)];
}

/** Everything a group's hosts can build: native platforms first, then emulated ones. */
export function declaredPlatforms(group: HostGroup): string[] {
    return [...group.platforms, ...group.emulate];
}

/** What a group declares in the stack's builder: its native platforms, and emulated ones no group builds natively. */
export function stackPlatforms(group: HostGroup, groups: readonly HostGroup[]): string[] {
    const native = new Set(groups.flatMap((g) => g.platforms));
    return [...group.platforms, ...group.emulate.filter((p) => !native.has(p))];
}

export interface Route {
    pool: string;
    emulated: boolean;
}

/** The group whose first node the stack's builder picks for `platform`, or undefined when none serves it. */
export function routeOf(pools: readonly HostGroup[], platform: string): Route | undefined {
    const pool = orderPools(pools).find((p) => stackPlatforms(p, pools).includes(platform));
    return pool && { pool: pool.name, emulated: !pool.platforms.includes(platform) };
}
