// Which host pool builds each platform.
//
// buildx sends a build for platform P to the first node, in the builder's node order,
// whose declared platforms include P (docker/buildx build/driver.go, `nodeResolver.get`;
// tonistiigi in docker/buildx#1081). The program therefore declares exactly what each
// node serves and orders native pools ahead of emulating ones; these helpers compute
// that order and the routing that follows from it, so tests and outputs can show it.

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

/** The platforms a group's nodes declare: native ones first, then emulated ones. */
export function declaredPlatforms(group: HostGroup): string[] {
    return [...group.platforms, ...group.emulate];
}

export interface Route {
    pool: string;
    emulated: boolean;
}

/** The group whose first node buildx picks for `platform`, or undefined when none serves it. */
export function routeOf(pools: readonly HostGroup[], platform: string): Route | undefined {
    const pool = orderPools(pools).find((p) => declaredPlatforms(p).includes(platform));
    return pool && { pool: pool.name, emulated: !pool.platforms.includes(platform) };
}
