import { archOfInstanceType, nativeArchOf, normalizePlatform, platformSlug } from "../plan/platforms";
import { orderPools, routeOf } from "../plan/routing";
import { PoolConfig } from "../config/schema";

describe("normalizePlatform", () => {
    test.each([
        ["linux/amd64", "linux/amd64"],
        ["linux/x86_64", "linux/amd64"],
        ["LINUX/AMD64", "linux/amd64"],
        ["linux/aarch64", "linux/arm64"],
        ["linux/arm64/v8", "linux/arm64"],
        ["linux/arm", "linux/arm/v7"],
        ["linux/armhf", "linux/arm/v7"],
        ["linux/arm/v7", "linux/arm/v7"],
        ["linux/ppc64le", "linux/ppc64le"],
        ["linux/s390x", "linux/s390x"],
        ["linux/386", "linux/386"],
        ["linux/i386", "linux/386"],
    ])("folds %s onto %s", (input, expected) => {
        expect(normalizePlatform(input)).toEqual({ ok: true, platform: expected });
    });

    test.each([
        ["amd64", "not shaped os/arch"],
        ["linux/", "not shaped os/arch"],
        ["linux/arm/v7/extra", "not shaped os/arch"],
        ["linux/amd 64", "not shaped os/arch"],
        ["windows/amd64", "only linux platforms"],
        ["linux/sparc", "not a platform this fleet builds"],
    ])("refuses %s", (input, reason) => {
        const result = normalizePlatform(input);
        expect(result.ok).toBe(false);
        expect(!result.ok && result.reason).toContain(reason);
    });

    test("slugs keep tags and resource names valid", () => {
        expect(platformSlug("linux/arm/v7")).toBe("linux-arm-v7");
    });
});

describe("archOfInstanceType", () => {
    test.each([
        ["c7g.large", "arm64"],
        ["m7gd.xlarge", "arm64"],
        ["c7gn.16xlarge", "arm64"],
        ["t4g.micro", "arm64"],
        ["r8g.metal-24xl", "arm64"],
        ["im4gn.large", "arm64"],
        ["is4gen.medium", "arm64"],
        ["x2gd.large", "arm64"],
        ["g5g.xlarge", "arm64"],
        ["a1.large", "arm64"],
        ["hpc7g.4xlarge", "arm64"],
        ["c7i.large", "amd64"],
        ["m7a.2xlarge", "amd64"],
        ["t3.micro", "amd64"],
        ["g5.xlarge", "amd64"],
        ["g4dn.xlarge", "amd64"],
        ["m6idn.large", "amd64"],
        ["c5.metal", "amd64"],
        ["m7i-flex.large", "amd64"],
    ])("%s is %s", (instanceType, arch) => {
        expect(archOfInstanceType(instanceType)).toEqual({ ok: true, arch });
    });

    test.each(["c7g", "c7g.huge", "mac2.metal", "banana.large", "c7g.large.extra", ""])(
        "refuses %p",
        (instanceType) => {
            expect(archOfInstanceType(instanceType).ok).toBe(false);
        },
    );

    test("knows which architecture runs a platform natively", () => {
        expect(nativeArchOf("linux/386")).toBe("amd64");
        expect(nativeArchOf("linux/arm64")).toBe("arm64");
        expect(nativeArchOf("linux/arm/v7")).toBeUndefined();
    });
});

describe("routing", () => {
    const pool = (name: string, platforms: string[], emulate: string[] = []): PoolConfig => ({
        name,
        instanceType: "x",
        arch: "amd64",
        count: 1,
        platforms,
        emulate,
        rootVolumeGiB: 100,
        spot: false,
        driverOptions: {},
    });
    const emulating = pool("qemu", ["linux/amd64"], ["linux/arm/v7", "linux/s390x"]);
    const x86 = pool("x86", ["linux/amd64", "linux/386"]);
    const arm = pool("arm", ["linux/arm64"]);

    test("orders native pools ahead of emulating ones whatever the config order", () => {
        expect(orderPools([emulating, x86, arm]).map((p) => p.name)).toEqual(["x86", "arm", "qemu"]);
    });

    test("routes linux/amd64 to the native pool even when an emulating pool also declares it", () => {
        expect(routeOf([emulating, x86, arm], "linux/amd64")).toEqual({ pool: "x86", emulated: false });
    });

    test("routes linux/arm64 to the Graviton pool only", () => {
        expect(routeOf([emulating, x86, arm], "linux/arm64")).toEqual({ pool: "arm", emulated: false });
    });

    test("routes emulated platforms to the emulating pool", () => {
        expect(routeOf([emulating, x86, arm], "linux/s390x")).toEqual({ pool: "qemu", emulated: true });
    });

    test("finds no route for a platform nobody serves", () => {
        expect(routeOf([x86, arm], "linux/ppc64le")).toBeUndefined();
    });
});
