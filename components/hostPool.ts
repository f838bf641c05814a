// A pool of identical EC2 build hosts: per host the instance (IMDSv2 only, encrypted gp3
// root), the host key it generated, read from its console through the EC2 API, and its
// readiness check.

// Service modules, not @pulumi/aws's index, which loads every service (see components/fleet.ts).
import * as ec2 from "@pulumi/aws/ec2";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { PoolConfig } from "../config/schema";
import { scriptFile } from "../runner/scriptFiles";
import { userData } from "../host/userData";
import { HostReadiness } from "./hostReadiness";
import { ssmProxyCommand } from "../runner/readinessSteps";

export interface HostPoolArgs {
    pool: PoolConfig;
    /** AMI for the pool's architecture, looked up once per architecture by the caller. */
    amiId: pulumi.Input<string>;
    securityGroupId: pulumi.Input<string>;
    instanceProfileName: pulumi.Input<string>;
    /** Subnets to spread hosts over; the default VPC's default subnet when empty. */
    subnetIds: string[];
    sshUser: string;
    /** The operator's public key line, installed for sshUser by the user data. */
    authorizedKey: string;
    /** The operator's private key (a secret), for the readiness check. */
    privateKey: pulumi.Input<string>;
    /** Image that registers QEMU handlers on pools that emulate. */
    binfmtImage: string;
    /** cidr: SSH to the host's address; ssm: no public address, SSH through an SSM session. */
    access: "cidr" | "ssm";
    /** AWS region for SSM sessions and for reading host keys from the console; the AWS CLI's default when absent. */
    region?: string;
    /** Tags for every resource; the pool's name is added. */
    tags: Record<string, string>;
}

/** One build host as the builder and the stack outputs see it. */
export interface BuildHost {
    /** `<pool>-<index>`, stable while the pool keeps its name. */
    name: string;
    pool: string;
    arch: string;
    /** The EC2 instance; absent for static hosts. */
    instanceId?: pulumi.Output<string>;
    address: pulumi.Output<string>;
    port: number;
    user: string;
    /** Public host key line, pinned in known_hosts. */
    hostKey: pulumi.Output<string>;
    /** The name the key is pinned under; changes with the instance. */
    hostKeyAlias: pulumi.Output<string>;
    /** Known once Docker answers on the host. */
    ready: pulumi.Output<string>;
    /** How ssh reaches the host when not directly (the SSM session command). */
    proxyCommand?: string;
    /** The instance to start before building, for pools that power off when idle. */
    wakeId?: pulumi.Output<string>;
}

export class HostPool extends pulumi.ComponentResource {
    readonly hosts: BuildHost[];

    constructor(name: string, args: HostPoolArgs, opts?: pulumi.ComponentResourceOptions) {
        super("native-build-fleet:hosts:HostPool", name, {}, opts);
        const { pool } = args;
        // Public by nature (ec2:DescribeInstanceAttribute, IMDS): it carries no secret, and each
        // host generates its own key at boot. The same for every host of the pool, so rendered
        // once: rendering it for each of 32 hosts took about 4% of the program's CPU time
        // (README, "Benchmarks").
        const data = userData({
            sshUser: args.sshUser,
            authorizedKey: args.authorizedKey,
            emulate: pool.emulate,
            binfmtImage: args.binfmtImage,
            idleMinutes: pool.idleMinutes,
        });
        this.hosts = Array.from({ length: pool.count }, (_, i) => this.host(`${pool.name}-${i}`, i, data, args));
        this.registerOutputs({ hosts: this.hosts.map((h) => h.instanceId) });
    }

    private host(hostName: string, index: number, data: string, args: HostPoolArgs): BuildHost {
        const { pool } = args;
        // The access tag lets the policy pack hold ssm hosts to "no public address".
        const tags = {
            ...args.tags,
            "native-build-fleet:pool": pool.name,
            "native-build-fleet:access": args.access,
            Name: `${args.tags["native-build-fleet:stack"] ?? "fleet"}-${hostName}`,
        };
        const instance = new ec2.Instance(
            hostName,
            {
                ami: args.amiId,
                instanceType: pool.instanceType,
                subnetId: args.subnetIds.length > 0 ? args.subnetIds[index % args.subnetIds.length] : undefined,
                vpcSecurityGroupIds: [args.securityGroupId],
                iamInstanceProfile: args.instanceProfileName,
                // IMDSv2 only, and a hop limit of 1 keeps containers started by RUN steps
                // away from the instance's credentials (Security Hub EC2.8, CIS 5.6).
                metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
                rootBlockDevice: {
                    volumeType: "gp3",
                    volumeSize: pool.rootVolumeGiB,
                    encrypted: true,
                    deleteOnTermination: true,
                    tags,
                },
                // In ssm mode nothing connects to the host, so it needs no public address.
                associatePublicIpAddress: args.access === "ssm" ? false : undefined,
                instanceMarketOptions: pool.spot
                    ? {
                          marketType: "spot",
                          spotOptions: { spotInstanceType: "one-time", instanceInterruptionBehavior: "terminate" },
                      }
                    : undefined,
                userData: data,
                // An idle host powers itself off; it must stop, not terminate, to be started again.
                instanceInitiatedShutdownBehavior: pool.idleMinutes === undefined ? undefined : "stop",
                // A host that would boot differently is replaced, not edited in place:
                // user data runs only on first boot.
                userDataReplaceOnChange: true,
                tags,
            },
            {
                parent: this,
                // A newer AMI is picked up by replacing hosts deliberately (docs/architecture.md, "AMIs"),
                // never as a side effect of an unrelated `pulumi up`.
                ignoreChanges: ["ami"],
                customTimeouts: { create: "15m", update: "15m", delete: "15m" },
            },
        );

        const ssm = args.access === "ssm";
        const idle = pool.idleMinutes !== undefined;
        // A stopped and started instance gets a new public address; an idle host reached
        // directly keeps one Elastic IP so the pinned SSH configuration stays valid.
        const eip =
            idle && !ssm
                ? new ec2.Eip(`${hostName}-address`, { domain: "vpc", instance: instance.id, tags }, { parent: this })
                : undefined;
        // Through SSM, ssh names the instance id; the ProxyCommand turns it into a session.
        const address = ssm
            ? instance.id
            : eip
              ? eip.publicIp
              : pulumi.all([instance.publicIp, instance.privateIp]).apply(([pub, priv]) => pub || priv);
        const publicKey = this.consoleHostKey(hostName, instance.id, args.region);
        const readiness = new HostReadiness(
            `${hostName}-ready`,
            {
                address,
                user: args.sshUser,
                privateKey: args.privateKey,
                hostKey: publicKey,
                hostKeyAlias: instance.id,
                arch: pool.arch,
                platforms: [...pool.platforms, ...pool.emulate],
                waitForBoot: true,
                triggers: [instance.id],
                ssm: ssm ? { region: args.region } : undefined,
            },
            { parent: this },
        );

        return {
            name: hostName,
            pool: pool.name,
            arch: pool.arch,
            instanceId: instance.id,
            address,
            port: 22,
            user: args.sshUser,
            hostKey: publicKey,
            hostKeyAlias: instance.id,
            ready: readiness.ready,
            proxyCommand: ssm ? ssmProxyCommand(args.region) : undefined,
            wakeId: idle ? instance.id : undefined,
        };
    }

    /**
     * The host key the instance publishes on its console at boot, read through the EC2 API
     * (runner/read-host-key.sh) before anything connects, once per instance. Commands run
     * only in updates, so a new host's key is unknown in previews.
     */
    private consoleHostKey(
        hostName: string,
        instanceId: pulumi.Output<string>,
        region?: string,
    ): pulumi.Output<string> {
        const read = new command.local.Command(
            `${hostName}-console-host-key`,
            {
                create: scriptFile("runner/read-host-key.sh"),
                interpreter: ["/bin/bash", "-c"],
                environment: {
                    NBF_INSTANCE_ID: instanceId,
                    NBF_REGION: region ?? "",
                    NBF_TIMEOUT_SECONDS: String(HOST_KEY_TIMEOUT_SECONDS),
                },
                triggers: [instanceId],
                addPreviousOutputInEnv: false,
                logging: "stderr",
            },
            { parent: this, customTimeouts: { create: HOST_KEY_RESOURCE_TIMEOUT, update: HOST_KEY_RESOURCE_TIMEOUT } },
        );
        return read.stdout.apply((s) => s.trim());
    }
}

/** Seconds a new instance gets to boot far enough to publish its host key (after the Docker install). */
const HOST_KEY_TIMEOUT_SECONDS = 900;
const HOST_KEY_RESOURCE_TIMEOUT = `${Math.ceil(HOST_KEY_TIMEOUT_SECONDS / 60) + 5}m`;
