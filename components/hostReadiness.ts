// Waits until a build host runs Docker for the SSH user, over SSH with its host key pinned.

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { qemuHandler } from "../plan/platforms";
import { ReadinessSpec } from "../runner/readiness";
import { bootWaitStep, dockerCheckStep, ssmProxyCommand } from "../runner/readinessSteps";
import { codeDigest, runnerCommand } from "../runner/scriptFiles";

export interface HostReadinessArgs {
    /** Host name or IP; with `ssm`, the instance id. */
    address: pulumi.Input<string>;
    /** SSH port. Default 22. */
    port?: number;
    user: string;
    /** The operator's private key (a secret). */
    privateKey: pulumi.Input<string>;
    /** The host's public key line; the connection fails unless the host presents it. */
    hostKey: pulumi.Input<string>;
    /** The name the key is pinned under (the instance id, `static-<name>`). Default: the address. */
    hostKeyAlias?: pulumi.Input<string>;
    /** The architecture the host must report (amd64 or arm64); not checked when absent. */
    arch?: string;
    /** Platforms the host builds, natively or emulated; QEMU handlers for others fail the check. */
    platforms: string[];
    /** Wait for the EC2 boot script to finish first. Hosts the team runs have none. */
    waitForBoot: boolean;
    /** Changes that mean a different machine (the instance id), so the check runs again. */
    triggers: pulumi.Input<string>[];
    /** Reach the host through an SSM session instead of directly; `address` is then the instance id. */
    ssm?: { region?: string };
}

/** Seconds a fresh instance gets to boot, install Docker and finish its user data. */
const BOOT_TIMEOUT_SECONDS = 900;
/** Seconds a host the team runs gets to answer: it is not booting. */
const STATIC_TIMEOUT_SECONDS = 120;
/** Seconds an EC2 host may refuse the key or show its AMI's host key before its boot script replaces them. */
const BOOT_FAULT_SECONDS = 90;
/** Seconds Docker gets to answer once the host is up. */
const DOCKER_TIMEOUT_SECONDS = 180;

export class HostReadiness extends pulumi.ComponentResource {
    /** `docker <version> on <machine>`; known once the host is ready. */
    readonly ready: pulumi.Output<string>;

    constructor(name: string, args: HostReadinessArgs, opts?: pulumi.ComponentResourceOptions) {
        super("native-build-fleet:hosts:HostReadiness", name, {}, opts);

        // OpenSSH on this machine for every access mode, not remote.Command: the real command
        // provider retries every fault until its timeout and reports only a deadline, and
        // cannot negotiate a pinned RSA host key with OpenSSH >= 8.8 (runner/readiness.ts).
        const connectSeconds = args.waitForBoot ? BOOT_TIMEOUT_SECONDS : STATIC_TIMEOUT_SECONDS;
        const timeouts = { create: `${Math.ceil((connectSeconds + DOCKER_TIMEOUT_SECONDS) / 60) + 5}m`, update: "10m" };
        const steps = [
            ...(args.waitForBoot ? [bootWaitStep(BOOT_TIMEOUT_SECONDS)] : []),
            // A new SSH session, so group membership granted during boot applies.
            dockerCheckStep(args.arch, [...new Set(args.platforms.map(qemuHandler))], DOCKER_TIMEOUT_SECONDS),
        ];
        const spec = pulumi
            .all([args.address, args.hostKey, args.hostKeyAlias ?? args.address])
            .apply(([address, hostKey, alias]): ReadinessSpec => ({
                target: {
                    address,
                    port: args.port ?? 22,
                    user: args.user,
                    hostKey,
                    hostKeyAlias: alias,
                    ...(args.ssm ? { proxyCommand: ssmProxyCommand(args.ssm.region) } : {}),
                },
                connectTimeoutSeconds: connectSeconds,
                persistentFaultSeconds: args.waitForBoot ? BOOT_FAULT_SECONDS : 0,
                steps,
            }));
        const check = new command.local.Command(
            `${name}-check`,
            {
                create: runnerCommand("readiness"),
                // The host scripts' text is in the spec; the runner's code is in by its digest.
                environment: { NBF_SPEC: spec.apply((s) => JSON.stringify(s)), NBF_CODE: codeDigest("readiness") },
                interpreter: ["/bin/bash", "-c"],
                // The private key only ever travels on standard input, never in argv or the environment.
                stdin: args.privateKey,
                triggers: args.triggers,
                addPreviousOutputInEnv: false,
                logging: "stderr",
            },
            { parent: this, customTimeouts: timeouts },
        );
        this.ready = check.stdout.apply((s) => s.trim());
        this.registerOutputs({ ready: this.ready });
    }
}
