// Which host pool builds each platform.
//
// buildx sends a build for platform P to the first node, in the builder's node order,
// whose declared platforms include P (docker/buildx build/driver.go, `nodeResolver.get`;
// tonistiigi in docker/buildx#1081). The program therefore declares exactly what each
// node serves and orders native pools ahead of emulating ones; these helpers compute
// that order and the routing that follows from it, so tests and outputs can show it.

import { PoolConfig } from "./schema";

/** Pools in builder node order: pools that emulate nothing first, then the rest. */
export function orderPools(pools: readonly PoolConfig[]): PoolConfig[] {
    return [...pools.filter((p) => p.emulate.length === 0), ...pools.filter((p) => p.emulate.length > 0)];
}

/** The platforms a pool's nodes declare: native ones first, then emulated ones. */
export function declaredPlatforms(pool: PoolConfig): string[] {
    return [...pool.platforms, ...pool.emulate];
}

export interface Route {
    pool: string;
    emulated: boolean;
}

/** The pool whose first node buildx picks for `platform`, or undefined when none serves it. */
export function routeOf(pools: readonly PoolConfig[], platform: string): Route | undefined {
    const pool = orderPools(pools).find((p) => declaredPlatforms(p).includes(platform));
    return pool && { pool: pool.name, emulated: !pool.platforms.includes(platform) };
}
