// The `hosts` (EC2 pools) and `staticHosts` sections: names, instance types and the platforms
// each builds natively or under QEMU, checked against the instance's architecture.

import { z } from "zod";
import { Arch, archOfInstanceType, avx512Problem, nativeArchOf, nativePlatforms } from "../plan/platforms";
import { ec2DriverOptionProblem } from "./builderOptions";
import { driverOptionsSchema } from "./builderSchema";
import { driverOptionProblems } from "./driverOptions";
import { canonicalHost, hostAddressProblem } from "./hostAddress";
import { checkUnique, normalizeList } from "./listChecks";
import { Reporter } from "./projectPaths";
import { readPublicKey } from "./sshKeys";
import { keyPath } from "./zodMessages";

const HOST_NAME = /^[a-z][a-z0-9-]{0,30}$/;
const HOST_NAME_RULE = "must be lowercase letters, digits and '-', starting with a letter, at most 31 characters";

export const poolSchema = z
    .object({
        name: z.string().regex(HOST_NAME, HOST_NAME_RULE),
        instanceType: z.string(),
        count: z.number().int().min(1, "must be at least 1").max(100, "must be at most 100").default(1),
        platforms: z.array(z.string()).optional(),
        emulate: z.array(z.string()).default([]),
        rootVolumeGiB: z.number().int().min(20, "must be at least 20 GiB").max(16384).default(100),
        spot: z.boolean().default(false),
        idleMinutes: z
            .number()
            .int()
            .min(5, "must be at least 5 minutes")
            .max(1440, "must be at most 1440 minutes (a day)")
            .optional(),
        driverOptions: driverOptionsSchema.default({}),
    })
    .strict();

const STATIC_USER = /^[A-Za-z_][A-Za-z0-9_-]{0,31}$/;

export const staticHostSchema = z
    .object({
        name: z.string().regex(HOST_NAME, HOST_NAME_RULE),
        address: z.string(),
        port: z
            .number()
            .int("must be a whole number")
            .min(1, "must be a TCP port, 1 to 65535")
            .max(65535, "must be a TCP port, 1 to 65535")
            .default(22),
        // Capitals: Linux and OpenSSH take them (only Debian's adduser refuses them by default).
        user: z
            .string()
            .regex(
                STATIC_USER,
                "must be a Linux user name: letters, digits, '_' or '-', starting with a letter or '_', at most 32 characters",
            ),
        platforms: z.array(z.string()).min(1, "must list the platforms this host builds natively"),
        emulate: z.array(z.string()).default([]),
        hostKey: z.string(),
        driverOptions: driverOptionsSchema.default({}),
    })
    .strict();

/** A pool of identical EC2 build hosts. */
export interface PoolConfig {
    name: string;
    instanceType: string;
    arch: Arch;
    count: number;
    /** Platforms the pool builds natively. */
    platforms: string[];
    /** Platforms the pool builds under QEMU; only these pools get binfmt handlers. */
    emulate: string[];
    rootVolumeGiB: number;
    spot: boolean;
    /** Hosts power off after this many minutes without a build; `pulumi up` starts them. */
    idleMinutes?: number;
    /** docker-container driver options for this pool's nodes, over builder.driverOptions. */
    driverOptions: Record<string, string>;
}

/** A machine the team already runs, joined to the builder over SSH. */
export interface StaticHostConfig {
    name: string;
    address: string;
    port: number;
    user: string;
    /** Platforms the host builds natively, as declared (its CPU is not probed). */
    platforms: string[];
    emulate: string[];
    /** The host's public key line, pinned in known_hosts. */
    hostKey: string;
    /** docker-container driver options for this host's node, over builder.driverOptions. */
    driverOptions: Record<string, string>;
}

export function checkPools(pools: z.infer<typeof poolSchema>[], report: Reporter): PoolConfig[] {
    checkUnique(
        pools.map((p) => p.name),
        (i) => `hosts[${i}].name`,
        report,
    );
    return pools.map((pool, i) => {
        const at = `hosts[${i}]`;
        const archResult = archOfInstanceType(pool.instanceType);
        if (!archResult.ok) {
            report(`${at}.instanceType`, archResult.reason);
        }
        const arch: Arch = archResult.ok ? archResult.arch : "amd64";
        const platforms =
            pool.platforms === undefined
                ? [nativePlatforms(arch)[0]]
                : normalizeList(pool.platforms, `${at}.platforms`, report);
        const emulate = normalizeList(pool.emulate, `${at}.emulate`, report);
        if (pool.platforms !== undefined && pool.platforms.length === 0) {
            report(
                `${at}.platforms`,
                "is empty; omit it to build the instance's native platform, or list the platforms",
            );
        }
        if (archResult.ok) {
            platforms
                .filter((p) => !nativePlatforms(arch).includes(p))
                .forEach((p) =>
                    report(
                        `${at}.platforms`,
                        `${pool.instanceType} is ${arch} and cannot build ${p} natively; move ${p} to ${at}.emulate or use ${nativeArchOf(p) === "arm64" ? "a Graviton instance type such as m7g.large" : nativeArchOf(p) === "amd64" ? "an x86 instance type such as m7i.large" : "an emulating pool"}`,
                    ),
                );
            emulate
                .filter((p) => nativePlatforms(arch).includes(p))
                .forEach((p) =>
                    report(
                        `${at}.emulate`,
                        `${pool.instanceType} builds ${p} natively; list it under ${at}.platforms instead of emulating it`,
                    ),
                );
        }
        const avx512 =
            archResult.ok && platforms.includes("linux/amd64/v4") ? avx512Problem(pool.instanceType) : undefined;
        if (avx512) {
            report(`${at}.platforms`, avx512);
        }
        const hostNetwork = ec2DriverOptionProblem(pool.driverOptions);
        if (hostNetwork) {
            report(keyPath([hostNetwork.key], `${at}.driverOptions`), hostNetwork.message);
        }
        driverOptionProblems(pool.driverOptions).forEach((p) =>
            report(keyPath([p.key], `${at}.driverOptions`), p.message),
        );
        if (pool.spot && pool.idleMinutes !== undefined) {
            report(
                `${at}.idleMinutes`,
                "cannot be combined with spot: a one-time spot instance cannot be stopped and started again; drop idleMinutes or spot",
            );
        }
        return {
            name: pool.name,
            instanceType: pool.instanceType,
            arch,
            count: pool.count,
            platforms,
            emulate,
            rootVolumeGiB: pool.rootVolumeGiB,
            spot: pool.spot,
            idleMinutes: pool.idleMinutes,
            driverOptions: pool.driverOptions,
        };
    });
}

export function checkStaticHosts(statics: z.infer<typeof staticHostSchema>[], report: Reporter): StaticHostConfig[] {
    checkUnique(
        statics.map((h) => h.name),
        (i) => `staticHosts[${i}].name`,
        report,
    );
    const endpoints = statics.map((h) => `${canonicalHost(h.address)} port ${h.port}`);
    return statics.map((host, i) => {
        const at = `staticHosts[${i}]`;
        const key = readPublicKey(
            host.hostKey,
            "the host's public key line, as in its /etc/ssh/ssh_host_ed25519_key.pub (read it on the host, not from a network scan)",
        );
        if (!key.ok) {
            report(`${at}.hostKey`, key.reason);
        }
        const addressProblem = hostAddressProblem(host.address, `${at}.port`);
        if (addressProblem) {
            report(`${at}.address`, addressProblem);
        } else if (endpoints.indexOf(endpoints[i]) !== i) {
            report(
                `${at}.address`,
                `${host.address} port ${host.port} is also staticHosts[${endpoints.indexOf(endpoints[i])}]: one machine would join the builder twice under two names; remove one, or give the right address or port`,
            );
        }
        const platforms = normalizeList(host.platforms, `${at}.platforms`, report);
        const emulate = normalizeList(host.emulate, `${at}.emulate`, report);
        driverOptionProblems(host.driverOptions).forEach((p) =>
            report(keyPath([p.key], `${at}.driverOptions`), p.message),
        );
        emulate
            .filter((p) => platforms.includes(p))
            .forEach((p) => report(`${at}.emulate`, `${p} is also listed under ${at}.platforms; list it once`));
        return { ...host, hostKey: host.hostKey.trim(), platforms, emulate };
    });
}
