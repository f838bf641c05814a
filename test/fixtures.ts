// Shared fixtures: a throwaway project directory and a valid stack config.

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigContext } from "../config/schema";

/** A project root with build contexts `app/` and `worker/` (Dockerfile.prod). */
export function makeProject(): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-project-"));
    fs.mkdirSync(path.join(root, "app"));
    fs.writeFileSync(path.join(root, "app", "Dockerfile"), "FROM scratch\n");
    fs.mkdirSync(path.join(root, "worker"));
    fs.writeFileSync(path.join(root, "worker", "Dockerfile.prod"), "FROM scratch\n");
    return root;
}

export const OPERATOR_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPzSXgwYlBPWH7rp0vyMSJY1Dvle5uRYk5bTvPQ8HcbE operator@example";

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
