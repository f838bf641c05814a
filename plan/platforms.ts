// Platform names, their aliases, and the CPU architecture of EC2 instance types.
//
// Everything here is pure and table-tested (test/platforms.test.ts).

/** CPU architectures of build hosts. */
export type Arch = "amd64" | "arm64";

/**
 * Aliases folded onto the canonical OCI platform, following containerd's
 * `platforms.Normalize` (https://github.com/containerd/platforms/blob/main/database.go):
 * `aarch64` and `arm64/v8` are arm64, `x86_64` is amd64, bare `arm` is `arm/v7`.
 */
const ARCH_ALIASES: Record<string, string> = {
    "aarch64": "arm64",
    "arm64/v8": "arm64",
    "x86_64": "amd64",
    "x86-64": "amd64",
    "amd64/v1": "amd64",
    "i386": "386",
    "i686": "386",
    "armhf": "arm/v7",
    "arm": "arm/v7",
    "armel": "arm/v6",
};

/**
 * Platforms a Linux build host can build for. The multi-architecture tutorial names
 * amd64, arm64, arm/v7, ppc64le, s390x and 386; the rest are what BuildKit's QEMU
 * handlers (tonistiigi/binfmt) also serve.
 */
export const KNOWN_PLATFORMS: readonly string[] = [
    "linux/amd64",
    "linux/amd64/v2",
    "linux/amd64/v3",
    "linux/amd64/v4",
    "linux/386",
    "linux/arm64",
    "linux/arm/v7",
    "linux/arm/v6",
    "linux/ppc64le",
    "linux/s390x",
    "linux/riscv64",
    "linux/mips64le",
    "linux/loong64",
];

/**
 * What a host of each architecture runs without emulation. x86-64 CPUs execute 386
 * code natively. Graviton3 and later have no AArch32 support, so arm/v7 and arm/v6
 * always need a pool with `emulate`.
 */
const NATIVE: Record<Arch, readonly string[]> = {
    amd64: ["linux/amd64", "linux/amd64/v2", "linux/amd64/v3", "linux/amd64/v4", "linux/386"],
    arm64: ["linux/arm64"],
};

export type PlatformResult = { ok: true; platform: string } | { ok: false; reason: string };

/** Lower-cases a platform, folds its aliases, and checks it is one this fleet can build. */
export function normalizePlatform(input: string): PlatformResult {
    const trimmed = input.trim().toLowerCase();
    const parts = trimmed.split("/");
    if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_-]+$/.test(p))) {
        return { ok: false, reason: `"${input}" is not shaped os/arch[/variant], for example linux/arm64` };
    }
    const [os, ...rest] = parts;
    if (os !== "linux") {
        return { ok: false, reason: `"${input}": only linux platforms can be built on Linux build hosts` };
    }
    const arch = rest.join("/");
    const platform = `linux/${ARCH_ALIASES[arch] ?? arch}`;
    if (platform === "linux/arm/v8") {
        return {
            ok: false,
            reason: `"${input}" is a platform BuildKit knows (32-bit ARM code for ARMv8 CPUs), but this fleet cannot build it: Graviton CPUs have no 32-bit (AArch32) mode and the QEMU handlers it installs run arm/v7 and arm/v6; build linux/arm/v7, which ARMv8 CPUs run in 32-bit mode, or linux/arm64`,
        };
    }
    if (!KNOWN_PLATFORMS.includes(platform)) {
        return {
            ok: false,
            reason: `"${input}" is not a platform this fleet builds; use one of ${KNOWN_PLATFORMS.join(", ")}`,
        };
    }
    return { ok: true, platform };
}

/** The platforms a host of `arch` builds natively; its first entry is its default. */
export function nativePlatforms(arch: Arch): readonly string[] {
    return NATIVE[arch];
}

/** The architecture that runs `platform` natively, or undefined when only emulation can. */
export function nativeArchOf(platform: string): Arch | undefined {
    return (Object.keys(NATIVE) as Arch[]).find((arch) => NATIVE[arch].includes(platform));
}

/** The kernel's binfmt_misc entry (`/proc/sys/fs/binfmt_misc/qemu-<name>`) QEMU registers for a platform. */
const QEMU_HANDLER: Record<string, string> = {
    amd64: "x86_64",
    "386": "i386",
    arm64: "aarch64",
    arm: "arm",
    ppc64le: "ppc64le",
    s390x: "s390x",
    riscv64: "riscv64",
    mips64le: "mips64el",
    loong64: "loongarch64",
};

export function qemuHandler(platform: string): string {
    const arch = platform.split("/")[1];
    return QEMU_HANDLER[arch] ?? arch;
}

/**
 * What `uname -m` may print in a container of each platform: the kernel's machine name,
 * or QEMU's for an emulated one. A 32-bit container on a 64-bit kernel reports the
 * kernel's name (x86_64, aarch64) unless the runtime sets the linux32 personality
 * (then i686, armv8l); qemu-arm reports armv7l whatever the variant.
 */
const MACHINES: Record<string, readonly string[]> = {
    amd64: ["x86_64"],
    "386": ["i686", "i386", "x86_64"],
    arm64: ["aarch64"],
    "arm/v7": ["armv7l", "armv8l", "aarch64"],
    "arm/v6": ["armv6l", "armv7l", "armv8l", "aarch64"],
    ppc64le: ["ppc64le"],
    s390x: ["s390x"],
    riscv64: ["riscv64"],
    mips64le: ["mips64"],
    loong64: ["loongarch64"],
};

/** The machine names a platform's container may report, for the default smoke test. */
export function machinesOf(platform: string): readonly string[] {
    const [, arch, variant] = platform.split("/");
    return MACHINES[arch === "arm" ? `arm/${variant}` : arch] ?? [arch];
}

/** A platform as a tag- and name-safe suffix: linux/arm/v7 → linux-arm-v7. */
export function platformSlug(platform: string): string {
    return platform.replace(/\//g, "-");
}

/**
 * Instance families (https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html):
 * series letters, generation, processor and capability letters, and optionally a hyphenated
 * part: m7i-flex, u7i-12tb, p6-b200, p6e-gb200. The first-generation high-memory families
 * have none of a generation: u-6tb1.
 */
const FAMILY = /^(a|c|d|dl|f|g|gr|h|hpc|i|im|inf|is|m|p|r|t|trn|u|vt|x|z)(\d+)([a-z]*)(?:-([a-z0-9]+))?$/;
const HIGH_MEMORY = /^u-\d+tb\d+$/;
const SIZE = /^(nano|micro|small|medium|large|\d*xlarge|metal(-\d+xl)?)$/;

export type ArchResult = { ok: true; arch: Arch } | { ok: false; reason: string };

/**
 * The CPU architecture of an EC2 instance type, from its name: a `g` right after the
 * generation digit marks Graviton (c7g, m7gd, c7gn, im4gn, is4gen, x2gd, g5g, r8g),
 * a1 is the first-generation Graviton, and a `-gb…` part is NVIDIA Grace (p6e-gb200).
 * Everything else in a known family is x86-64. Mac instances are refused: they run macOS.
 */
export function archOfInstanceType(instanceType: string): ArchResult {
    const [family, size, ...extra] = instanceType.split(".");
    if (/^mac/.test(family ?? "") && size !== undefined) {
        return {
            ok: false,
            reason: `"${instanceType}" is an EC2 Mac instance type: a Mac mini on a dedicated host that runs macOS, so it cannot be a Linux build host; use a Graviton type such as m7g.large for arm64 or an x86 type such as m7i.large`,
        };
    }
    const match = FAMILY.exec(family ?? "");
    if ((!match && !HIGH_MEMORY.test(family ?? "")) || size === undefined || extra.length > 0 || !SIZE.test(size)) {
        return { ok: false, reason: `"${instanceType}" is not an EC2 instance type such as m7g.large or c7i.xlarge` };
    }
    if (!match) {
        return { ok: true, arch: "amd64" };
    }
    const [, letters, generation, attributes, part] = match;
    const graviton =
        (letters === "a" && generation === "1") || attributes.startsWith("g") || (part ?? "").startsWith("gb");
    return { ok: true, arch: graviton ? "arm64" : "amd64" };
}

/**
 * x86 families whose CPUs lack AVX-512, which x86-64-v4 requires (the psABI's
 * microarchitecture levels): AMD EPYC before Zen 4 (the `a` families of generation 6 and
 * earlier, and the AMD-based accelerated families listed), and Intel before Skylake.
 * Processors per family: https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-type-specifications.html
 */
const AMD_WITHOUT_AVX512 = new Set(["g5", "g6", "g6e", "g6f", "gr6", "gr6f", "p5", "p5e", "inf2", "f2"]);
const INTEL_BEFORE_SKYLAKE = new Set([
    "t2",
    "m4",
    "c4",
    "r4",
    "x1",
    "x1e",
    "d2",
    "h1",
    "i3",
    "f1",
    "p2",
    "p3",
    "g3",
    "g3s",
]);

/** Why `instanceType` cannot run linux/amd64/v4 code, or undefined when it can. */
export function avx512Problem(instanceType: string): string | undefined {
    const family = instanceType.split(".")[0];
    const match = FAMILY.exec(family);
    const amdBeforeZen4 = match !== null && match[3].startsWith("a") && Number(match[2]) <= 6;
    if (amdBeforeZen4 || AMD_WITHOUT_AVX512.has(family)) {
        return `${instanceType} has AMD EPYC CPUs from before Zen 4, without the AVX-512 that linux/amd64/v4 (x86-64-v4) code needs, so its binaries would stop with an illegal instruction; use a family with AVX-512 (Intel c7i, m7i; AMD c7a, m7a) or build linux/amd64/v3`;
    }
    if (INTEL_BEFORE_SKYLAKE.has(family)) {
        return `${instanceType} has Intel CPUs from before Skylake, without the AVX-512 that linux/amd64/v4 (x86-64-v4) code needs, so its binaries would stop with an illegal instruction; use a family with AVX-512 (Intel c7i, m7i; AMD c7a, m7a) or build linux/amd64/v3`;
    }
    return undefined;
}
