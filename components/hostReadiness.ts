// Waits until a build host runs Docker for the SSH user, over SSH with its host key pinned.

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { qemuHandler } from "../config/platforms";
import { bootWaitScript, dockerCheckScript, ssmReadinessScript } from "../shell/readiness";

export interface HostReadinessArgs {
    address: pulumi.Input<string>;
    /** SSH port. Default 22. */
    port?: number;
    user: string;
    /** The operator's private key (a secret). */
    privateKey: pulumi.Input<string>;
    /** The host's public key line; the connection fails unless the host presents it. */
    hostKey: pulumi.Input<string>;
    /** The architecture the host must report (amd64 or arm64); not checked when absent. */
    arch?: string;
    /** Platforms the host builds, natively or emulated; QEMU handlers for others fail the check. */
    platforms: string[];
    /** Wait for the EC2 boot script to finish first. Hosts the team runs have none. */
    waitForBoot: boolean;
    /** Changes that mean a different machine (the instance id), so the check runs again. */
    triggers: pulumi.Input<string>[];
    /**
     * Reach the host through an SSM session instead of directly; `address` is then the
     * instance id. The check runs OpenSSH locally, since remote.Command has no ProxyCommand.
     */
    ssm?: { region?: string };
}

/** Seconds a fresh instance gets to boot, install Docker and finish its user data. */
const BOOT_TIMEOUT_SECONDS = 900;
/** Seconds Docker gets to answer once the host is up. */
const DOCKER_TIMEOUT_SECONDS = 180;

export class HostReadiness extends pulumi.ComponentResource {
    /** `docker <version> on <machine>`; known once the host is ready. */
    readonly ready: pulumi.Output<string>;

    constructor(name: string, args: HostReadinessArgs, opts?: pulumi.ComponentResourceOptions) {
        super("native-build-fleet:hosts:HostReadiness", name, {}, opts);

        // A booting instance refuses connections for a while; the default of ten dial
        // attempts runs out in about ten seconds (pulumi/pulumi-command#1238), so dial
        // until the resource timeout instead.
        const connection: command.types.input.remote.ConnectionArgs = {
            host: args.address,
            port: args.port ?? 22,
            user: args.user,
            privateKey: args.privateKey,
            hostKey: args.hostKey,
            dialErrorLimit: -1,
            perDialTimeout: 15,
        };
        const timeouts = { create: `${Math.ceil((BOOT_TIMEOUT_SECONDS + DOCKER_TIMEOUT_SECONDS) / 60) + 5}m`, update: "10m" };
        const dockerCheck = dockerCheckScript(args.arch, [...new Set(args.platforms.map(qemuHandler))], DOCKER_TIMEOUT_SECONDS);

        if (args.ssm) {
            const { region } = args.ssm;
            const check = new command.local.Command(`${name}-ssm`, {
                create: pulumi.all([args.address, args.hostKey]).apply(([instanceId, hostKey]) => ssmReadinessScript({
                    instanceId, user: args.user, hostKey, region, timeoutSeconds: BOOT_TIMEOUT_SECONDS,
                    remoteScripts: [...(args.waitForBoot ? [bootWaitScript(BOOT_TIMEOUT_SECONDS)] : []), dockerCheck],
                })),
                interpreter: ["/bin/bash", "-c"],
                stdin: args.privateKey,
                triggers: args.triggers,
                addPreviousOutputInEnv: false,
                logging: "stderr",
            }, { parent: this, customTimeouts: timeouts });
            this.ready = check.stdout.apply((s) => s.trim());
            this.registerOutputs({ ready: this.ready });
            return;
        }

        const booted = args.waitForBoot
            ? new command.remote.Command(`${name}-boot`, {
                connection, create: bootWaitScript(BOOT_TIMEOUT_SECONDS), triggers: args.triggers, addPreviousOutputInEnv: false,
            }, { parent: this, customTimeouts: timeouts })
            : undefined;

        // A new SSH session, so group membership granted during boot applies.
        const docker = new command.remote.Command(`${name}-docker`, {
            connection, create: dockerCheck, triggers: args.triggers,
            // Environment variables need AcceptEnv on the host's sshd; these scripts need none.
            addPreviousOutputInEnv: false,
        }, { parent: this, customTimeouts: timeouts, dependsOn: booted ? [booted] : [] });

        this.ready = docker.stdout.apply((s) => s.trim());
        this.registerOutputs({ ready: this.ready });
    }
}
