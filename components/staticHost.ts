// A machine the team already runs (an on-prem Arm server, an existing VM), joined to the
// builder like an EC2 host: its declared host key pinned, its readiness checked over SSH.

import * as pulumi from "@pulumi/pulumi";
import { nativeArchOf } from "../plan/platforms";
import { StaticHostConfig } from "../config/schema";
import { BuildHost } from "./hostPool";
import { HostReadiness } from "./hostReadiness";

export interface StaticHostArgs {
    host: StaticHostConfig;
    /** The operator's private key (a secret). */
    privateKey: pulumi.Input<string>;
}

export class StaticHost extends pulumi.ComponentResource {
    readonly host: BuildHost;

    constructor(name: string, args: StaticHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("native-build-fleet:hosts:StaticHost", name, {}, opts);
        const { host } = args;
        // Keyed by name, not address: a reused address never matches an old entry.
        const hostKeyAlias = `static-${host.name}`;
        // Its CPU is not probed: a team may declare platforms its own way (docs/hosts.md, "Static hosts").
        const readiness = new HostReadiness(
            `${name}-ready`,
            {
                address: host.address,
                port: host.port,
                user: host.user,
                privateKey: args.privateKey,
                hostKey: host.hostKey,
                hostKeyAlias,
                platforms: [...host.platforms, ...host.emulate],
                waitForBoot: false,
                triggers: [host.address, String(host.port), host.hostKey],
            },
            { parent: this },
        );
        this.host = {
            name: host.name,
            pool: "static",
            arch: nativeArchOf(host.platforms[0]) ?? host.platforms[0].split("/")[1],
            address: pulumi.output(host.address),
            port: host.port,
            user: host.user,
            hostKey: pulumi.output(host.hostKey),
            hostKeyAlias: pulumi.output(hostKeyAlias),
            ready: readiness.ready,
        };
        this.registerOutputs({ ready: readiness.ready });
    }
}
