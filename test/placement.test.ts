// Placement of platform builds on hosts: balance, affinity, movement, failover, pools.

import { buildKey, candidatesFor, placeBuilds, PlacementBuild, PlacementHost } from "../plan/placement";

const pool = (name: string, count: number, platforms: string[], emulate: string[] = []): PlacementHost[] =>
    Array.from({ length: count }, (_, index) => ({ name: `${name}-${index}`, pool: name, index, platforms, emulate }));
const images = (m: number, platforms = ["linux/amd64"], prefix = "team/svc"): PlacementBuild[] =>
    Array.from({ length: m }, (_, i) => platforms.map((platform) => ({ image: `${prefix}-${i}`, platform }))).flat();
const loads = (hostOf: Record<string, string>) =>
    Object.values(hostOf).reduce<Record<string, number>>((acc, h) => ({ ...acc, [h]: (acc[h] ?? 0) + 1 }), {});
const moved = (a: Record<string, string>, b: Record<string, string>) => Object.keys(a).filter((k) => a[k] !== b[k]);

/** Every pool size from 1 to 9 against build counts from 1 to 40 (every count to 13, then a few). */
const COUNTS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 20, 25, 31, 40];
const sizes = Array.from({ length: 9 }, (_, n) => COUNTS.map((m) => [n + 1, m] as [number, number])).flat();

describe("balance", () => {
    test.each(sizes)("%i hosts, %i builds: no host gets more than ⌈M/N⌉ and every build is placed", (n, m) => {
        const { hostOf } = placeBuilds(images(m), pool("x86", n, ["linux/amd64"]));
        expect(Object.keys(hostOf)).toHaveLength(m);
        expect(Math.max(...Object.values(loads(hostOf)))).toBeLessThanOrEqual(Math.ceil(m / n));
    });

    test("a pool of 8 hosts with 8 builds gives every host one", () => {
        expect(Object.values(loads(placeBuilds(images(8), pool("x86", 8, ["linux/amd64"])).hostOf))).toEqual(
            Array(8).fill(1),
        );
    });
});

describe("affinity", () => {
    test("places every build on the same host run after run", () => {
        const hosts = pool("x86", 5, ["linux/amd64"]);
        expect(placeBuilds(images(23), hosts).hostOf).toEqual(placeBuilds(images(23), hosts).hostOf);
    });

    test("reordering pools, hosts or images moves nothing", () => {
        const hosts = [
            ...pool("x86", 3, ["linux/amd64"]),
            ...pool("arm", 2, ["linux/arm64"]),
            ...pool("c6i", 2, ["linux/amd64"]),
        ];
        const builds = images(17, ["linux/amd64", "linux/arm64"]);
        const first = placeBuilds(builds, hosts).hostOf;
        expect(placeBuilds([...builds].reverse(), [...hosts].reverse()).hostOf).toEqual(first);
    });
});

describe("movement", () => {
    test.each(sizes)(
        "%i hosts, %i builds: adding a host moves only what the new host takes, at most ⌈M/(N+1)⌉",
        (n, m) => {
            const before = placeBuilds(images(m), pool("x86", n, ["linux/amd64"])).hostOf;
            const after = placeBuilds(images(m), pool("x86", n + 1, ["linux/amd64"])).hostOf;
            const changed = moved(before, after);
            expect(changed.length).toBeLessThanOrEqual(Math.ceil(m / (n + 1)));
            expect(changed.every((k) => after[k] === `x86-${n}`)).toBe(true);
        },
    );

    test.each(sizes.filter(([n]) => n > 1))(
        "%i hosts, %i builds: removing a host moves only the builds it had",
        (n, m) => {
            const before = placeBuilds(images(m), pool("x86", n, ["linux/amd64"])).hostOf;
            const after = placeBuilds(images(m), pool("x86", n - 1, ["linux/amd64"])).hostOf;
            expect(moved(before, after).every((k) => before[k] === `x86-${n - 1}`)).toBe(true);
        },
    );

    test("growing one of two pools that build a platform appends its host and moves only what that host takes", () => {
        const builds = images(30);
        const before = placeBuilds(builds, [...pool("a", 2, ["linux/amd64"]), ...pool("b", 2, ["linux/amd64"])]).hostOf;
        const after = placeBuilds(builds, [...pool("a", 3, ["linux/amd64"]), ...pool("b", 2, ["linux/amd64"])]).hostOf;
        expect(moved(before, after).every((k) => after[k] === "a-2")).toBe(true);
        expect(moved(before, after).length).toBeLessThanOrEqual(Math.ceil(30 / 5));
    });

    test("adding an image leaves almost every other build where it was", () => {
        const hosts = pool("x86", 4, ["linux/amd64"]);
        const before = placeBuilds(images(20), hosts).hostOf;
        const after = placeBuilds(images(21), hosts).hostOf;
        expect(moved(before, after).filter((k) => k in before).length).toBeLessThanOrEqual(4);
    });
});

describe("failover", () => {
    test.each(sizes.filter(([n]) => n > 1))(
        "%i hosts, %i builds: a host that does not answer gets none; only its builds move, evenly",
        (n, m) => {
            const hosts = pool("x86", n, ["linux/amd64"]);
            const home = placeBuilds(images(m), hosts).hostOf;
            const { hostOf, movedFrom } = placeBuilds(images(m), hosts, ["x86-0"]);
            expect(Object.values(hostOf)).not.toContain("x86-0");
            expect(moved(home, hostOf).sort()).toEqual(
                Object.keys(home)
                    .filter((k) => home[k] === "x86-0")
                    .sort(),
            );
            expect(movedFrom["x86-0"]?.length ?? 0).toBe(Object.values(home).filter((h) => h === "x86-0").length);
            expect(Math.max(...Object.values(loads(hostOf)))).toBeLessThanOrEqual(Math.ceil(m / (n - 1)) + 1);
        },
    );

    test("when the host answers again its builds return to it", () => {
        const hosts = pool("x86", 3, ["linux/amd64"]);
        placeBuilds(images(9), hosts, ["x86-1"]);
        expect(placeBuilds(images(9), hosts).hostOf).toEqual(placeBuilds(images(9), hosts, []).hostOf);
    });

    test("a platform whose every host is down is unserved, naming the hosts; other platforms still place", () => {
        const hosts = [...pool("x86", 2, ["linux/amd64"]), ...pool("arm", 1, ["linux/arm64"])];
        const placed = placeBuilds(images(3, ["linux/amd64", "linux/arm64"]), hosts, ["arm-0"]);
        expect(placed.unserved).toEqual([{ platform: "linux/arm64", hosts: ["arm-0"] }]);
        expect(Object.keys(placed.hostOf).filter((k) => k.endsWith("linux/amd64"))).toHaveLength(3);
    });

    test("never fails over to an emulating host while a native one is down", () => {
        const hosts = [...pool("arm", 1, ["linux/arm64"], ["linux/amd64"]), ...pool("x86", 1, ["linux/amd64"])];
        expect(placeBuilds(images(2), hosts, ["x86-0"]).unserved).toEqual([
            { platform: "linux/amd64", hosts: ["x86-0"] },
        ]);
    });
});

describe("native first and pools", () => {
    test.each([
        [
            "arm64 pool emulating amd64 listed first",
            [...pool("arm", 1, ["linux/arm64"], ["linux/amd64"]), ...pool("x86", 2, ["linux/amd64"], ["linux/arm/v7"])],
        ],
        [
            "x86 pool listed first",
            [...pool("x86", 2, ["linux/amd64"], ["linux/arm/v7"]), ...pool("arm", 1, ["linux/arm64"], ["linux/amd64"])],
        ],
    ])("%s: amd64 builds go only to native amd64 hosts, arm/v7 to the emulating ones", (_label, hosts) => {
        const { hostOf } = placeBuilds(images(6, ["linux/amd64", "linux/arm/v7"]), hosts);
        for (const [key, host] of Object.entries(hostOf)) {
            expect(host).toMatch(/^x86-/);
            expect(key).toMatch(/linux\/(amd64|arm\/v7)$/);
        }
    });

    test("an image restricted to pools uses only their hosts, and the others balance among the rest", () => {
        const hosts = [...pool("big", 2, ["linux/amd64"]), ...pool("x86", 2, ["linux/amd64"])];
        const heavy = images(4, ["linux/amd64"], "heavy").map((b) => ({ ...b, pools: ["big"] }));
        const { hostOf } = placeBuilds([...heavy, ...images(4)], hosts);
        for (const b of heavy) {
            expect(hostOf[buildKey(b)]).toMatch(/^big-/);
        }
        expect(Object.keys(loads(hostOf)).sort()).toEqual(["big-0", "big-1", "x86-0", "x86-1"]);
    });

    test("candidates are the native hosts of the image's pools, else those that emulate the platform", () => {
        const hosts = [
            ...pool("x86", 1, ["linux/amd64"], ["linux/s390x"]),
            ...pool("arm", 1, ["linux/arm64"], ["linux/amd64"]),
        ];
        expect(candidatesFor({ image: "a", platform: "linux/amd64" }, hosts).map((h) => h.name)).toEqual(["x86-0"]);
        expect(
            candidatesFor({ image: "a", platform: "linux/amd64", pools: ["arm"] }, hosts).map((h) => h.name),
        ).toEqual(["arm-0"]);
        expect(candidatesFor({ image: "a", platform: "linux/s390x" }, hosts).map((h) => h.name)).toEqual(["x86-0"]);
        expect(candidatesFor({ image: "a", platform: "linux/ppc64le" }, hosts)).toEqual([]);
    });
});
