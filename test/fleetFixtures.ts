// A whole Fleet under the mocks, as the component tests build it. Apart from test/fixtures.ts,
// which config-only suites import, so that they do not load the components and the SDKs.

import * as pulumi from "@pulumi/pulumi";
import { Fleet, FleetArgs } from "../components/fleet";
import { ConfigContext, FleetConfig } from "../config/schema";
import { context } from "./fixtures";
import { Mocks, settled, valueOf } from "./mocks";

/** A placeholder for the operator's SSH key (the mocks never read it). */
export const SSH_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nop\n-----END OPENSSH PRIVATE KEY-----\n";

/** A cosign public key for `signing.mode: key` (a placeholder: the program does not parse it). */
export const SIGNING_PUBLIC_KEY =
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEstubkeyAAAA\n-----END PUBLIC KEY-----\n";

/** The config context of a stack that signs with a key: the key and its password are set as secrets. */
export function keySigningContext(projectRoot: string): ConfigContext {
    return context(projectRoot, {
        secretsSet: { sshPrivateKey: true, registryPassword: false, signingKey: true, signingKeyPassword: true },
    });
}

/** FleetArgs.signingKey for a stack that signs with a key. */
export const signingKey = () => ({ key: pulumi.secret("COSIGN-PRIVATE"), password: pulumi.secret("COSIGN-PASSWORD") });

/** `new Fleet(name, …)` for stack native-build-fleet/dev with no labels; `args` adds or overrides. */
export function testFleet(
    config: FleetConfig,
    args: Partial<FleetArgs> = {},
    opts?: pulumi.ComponentResourceOptions,
    name = "fleet",
): Fleet {
    return new Fleet(
        name,
        {
            config,
            project: "native-build-fleet",
            stack: "dev",
            sshPrivateKey: pulumi.secret(SSH_PRIVATE_KEY),
            labels: {},
            ...args,
        },
        opts,
    );
}

/** Waits for the fleet's images and for every resource the mocks recorded to settle; resolves to its hosts. */
export async function settledFleet(fleet: Fleet, mocks: Mocks): Promise<Record<string, any>> {
    const hosts = await valueOf(fleet.hosts);
    await valueOf(fleet.images);
    await settled(mocks.resources);
    return hosts;
}
