// The fleet as one buildx builder: one docker-container node per host over SSH, each
// declaring exactly the platforms it serves, registered on the machine running Pulumi.

import { createHash } from "crypto";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { BuilderNodeSpec, BuilderSpec, ensureBuilderScript, registerBuilderScript, removeBuilderScript } from "../shell/builder";

/** A node of the builder; addresses and keys may still be unknown. */
export interface BuilderNodeArgs {
    /** Host name; the node is called `<builder>-<host>`. */
    host: string;
    address: pulumi.Input<string>;
    port: number;
    user: string;
    hostKey: pulumi.Input<string>;
    hostKeyAlias: pulumi.Input<string>;
    platforms: string[];
    /** Resolves once the host is ready; registration waits for it. */
    ready: pulumi.Input<string>;
    /** How ssh reaches the host when not directly (an SSM session). */
    proxyCommand?: string;
    /** The EC2 instance to start before building, when the host powers off when idle. */
    wakeId?: pulumi.Input<string>;
}

export interface FleetBuilderArgs {
    /** The builder's name, constant for the stack. */
    name: string;
    /** Nodes in routing order: native nodes ahead of emulating ones. */
    nodes: BuilderNodeArgs[];
    /** The operator's private key (a secret), written 0600 for the ssh client buildx runs. */
    privateKey: pulumi.Input<string>;
    /** docker-container driver options for every node (image, network, …). */
    driverOptions: Record<string, string>;
    /** Contents of a buildkitd.toml for every node, if any. */
    buildkitdConfig?: string;
    /** AWS region for starting idle hosts; the AWS CLI's default when absent. */
    region?: string;
}

export class FleetBuilder extends pulumi.ComponentResource {
    readonly name: string;
    /**
     * The builder's name, known only once it is registered on this machine. Images carry
     * it as a label so a preview skips building until the builder exists: an unknown
     * builder *name* would reach the provider as "" and build on the default builder
     * (provider notes, docker-build `Image`).
     */
    readonly registeredName: pulumi.Output<string>;
    readonly nodes: pulumi.Output<{ name: string; endpoint: string; platforms: string[] }[]>;

    constructor(name: string, args: FleetBuilderArgs, opts?: pulumi.ComponentResourceOptions) {
        super("native-build-fleet:builder:FleetBuilder", name, {}, opts);
        this.name = args.name;

        const spec = pulumi.all(args.nodes.map((n) => pulumi.all([n.address, n.hostKey, n.hostKeyAlias, n.ready])
            .apply(([address, hostKey, hostKeyAlias]): BuilderNodeSpec => ({
                name: `${args.name}-${n.host}`, address, port: n.port, user: n.user, hostKey, hostKeyAlias, platforms: n.platforms,
                proxyCommand: n.proxyCommand,
            }))))
            .apply((nodes) => ({ name: args.name, nodes, driverOptions: args.driverOptions, buildkitdConfig: args.buildkitdConfig }));
        const wakeIds = pulumi.all(args.nodes.flatMap((n) => n.wakeId === undefined ? [] : [n.wakeId]));
        // Only the ensure step starts idle hosts (in updates); the registration's spec
        // leaves them out, so a stopped host never shows as a change.
        const ensureSpec = pulumi.all([spec, wakeIds]).apply(([s, instanceIds]): BuilderSpec =>
            instanceIds.length === 0 ? s : { ...s, wake: { instanceIds, region: args.region } });

        // Runs on every program execution, previews included, because buildx keeps
        // builders on the machine that runs Pulumi: a fresh CI runner has none
        // (pulumi/pulumi-docker-build#65). In previews it contacts no host when nothing
        // changed; in updates it also checks that every node is up before anything builds.
        const verify = !pulumi.runtime.isDryRun();
        const ensured = command.local.runOutput({
            command: ensureSpec.apply((s) => ensureBuilderScript(s, verify)),
            interpreter: ["/bin/bash", "-c"],
            stdin: args.privateKey,
            logging: "stderr",
        }, { parent: this });

        // Owns the builder's lifecycle. Node changes update it in place, keeping each
        // node's BuildKit cache. A new name or new BuildKit settings replace it: the old
        // builder and its BuildKit containers (which keep the settings they started
        // with) are removed before the new one is made, so a replacement never deletes
        // the builder it just created.
        const registration = new command.local.Command(`${name}-registration`, {
            create: spec.apply(registerBuilderScript),
            update: spec.apply(registerBuilderScript),
            delete: removeBuilderScript(args.name),
            interpreter: ["/bin/bash", "-c"],
            stdin: args.privateKey,
            triggers: [args.name, JSON.stringify(args.driverOptions), createHash("sha256").update(args.buildkitdConfig ?? "").digest("hex")],
            environment: { NBF_SPEC_FINGERPRINT: ensured.stdout.apply((s) => s.trim()) },
            logging: "stderr",
        }, { parent: this, deleteBeforeReplace: true, replaceOnChanges: ["triggers"], additionalSecretOutputs: ["stdin"] });

        // From `stdout`, not `id`: the command provider returns a known id even when it
        // previews a create (its ids are the name plus random hex), while infer-based
        // providers leave outputs that mirror no input unknown in such a preview
        // (pulumi-go-provider infer/resource.go `markComputed`). Unsecret: the label is only
        // the builder's name, whatever secrecy a provider gives stdout.
        this.registeredName = pulumi.unsecret(registration.stdout.apply(() => args.name));
        this.nodes = spec.apply((s) => s.nodes.map((n) => ({ name: n.name, endpoint: `ssh://${n.user}@${n.address}:${n.port}`, platforms: n.platforms })));
        this.registerOutputs({ name: this.name, nodes: this.nodes });
    }
}
