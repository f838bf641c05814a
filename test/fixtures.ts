// Shared fixtures: a throwaway project directory and a valid stack config.

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigContext, ConfigError, parseConfig, Problem } from "../config/schema";
import { ED25519_HOST } from "./keyFixtures";

/** A project root with build contexts `app/` and `worker/` (Dockerfile.prod). */
export function makeProject(): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-project-"));
    fs.mkdirSync(path.join(root, "app"));
    fs.writeFileSync(path.join(root, "app", "Dockerfile"), "FROM scratch\n");
    fs.mkdirSync(path.join(root, "worker"));
    fs.writeFileSync(path.join(root, "worker", "Dockerfile.prod"), "FROM scratch\n");
    return root;
}

export const OPERATOR_KEY =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPzSXgwYlBPWH7rp0vyMSJY1Dvle5uRYk5bTvPQ8HcbE operator@example";

/** A valid config: one Graviton pool, one x86 pool, ECR, one two-platform image. */
export function validConfig(): Record<string, unknown> {
    return {
        hosts: [
            { name: "arm", instanceType: "c7g.2xlarge" },
            { name: "x86", instanceType: "c7i.2xlarge" },
        ],
        ssh: { publicKey: OPERATOR_KEY, allowedCidrs: ["203.0.113.0/24"] },
        registry: { type: "ecr" },
        images: [{ name: "app", context: "app", platforms: ["linux/amd64", "linux/arm64"] }],
    };
}

export function context(projectRoot: string, overrides: Partial<ConfigContext> = {}): ConfigContext {
    return {
        projectRoot,
        project: "native-build-fleet",
        stack: "dev",
        secretsSet: { sshPrivateKey: true, registryPassword: false },
        ...overrides,
    };
}

/** A stack config as the tables of config cases build it. */
export type CaseConfig = Record<string, any>;

/** Every problem parseConfig reports for `raw` in the project at `root`; none when it is accepted. */
export function configProblems(root: string, raw: unknown, overrides: Partial<ConfigContext> = {}): Problem[] {
    try {
        parseConfig(raw, context(root, { secretsSet: { sshPrivateKey: true, registryPassword: true }, ...overrides }));
    } catch (e) {
        if (e instanceof ConfigError) {
            return e.problems;
        }
        throw e;
    }
    return [];
}

/**
 * The outcome a config case expects of `found` (configProblems' answer): "accepted" is no problem
 * at all; `[at, fragment]` is a problem at key path `at` whose message contains `fragment`.
 */
export function expectOutcome(found: Problem[], expected: [string, string] | "accepted"): void {
    if (expected === "accepted") {
        expect(found).toEqual([]);
        return;
    }
    const [at, fragment] = expected;
    expect(found.map((p) => `${p.path}: ${p.message}`)).toContainEqual(expect.stringContaining(`${at}: `));
    expect(
        found
            .filter((p) => p.path === at)
            .map((p) => p.message)
            .join("\n"),
    ).toContain(fragment);
}

/** The fixture config with `change` applied: two EC2 pools (c7g, c7i), ECR, image app. */
export function ec2Stack(change: (c: CaseConfig) => void): CaseConfig {
    const config = validConfig() as CaseConfig;
    change(config);
    return config;
}

export const STATIC_HOST = {
    name: "rack-1",
    address: "192.0.2.20",
    user: "builder",
    platforms: ["linux/arm64"],
    hostKey: ED25519_HOST,
};

/** A static-hosts-only stack with an external registry, with `change` applied. */
export function staticStack(change: (c: CaseConfig) => void): CaseConfig {
    const config: CaseConfig = {
        staticHosts: [{ ...STATIC_HOST }],
        registry: { type: "external", address: "registry.example.com", username: "ci" },
        images: [{ name: "app", context: "app", platforms: ["linux/arm64"] }],
    };
    change(config);
    return config;
}
