// The fleet's buildx builders on the machine running Pulumi: one per host, which the
// program's builds use, and the stack's multi-node builder over every host, for people and CI
// jobs that run `docker buildx` by hand. Each host's node has the same name in both, so both
// reach the same BuildKit container and cache on the host. Previews build on a second node per
// host, with BuildKit state of its own: in a preview the host's builder points at that node
// (runner/registerBuilders.ts), and each host also has a preview builder holding it alone.

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
    builderNames,
    DownNode,
    EnsureReport,
    FleetBuildersSpec,
    hostBuilderName,
    NodeSpec,
    nodeName,
    previewBuilderName,
    previewNode,
    sshAlias,
} from "../runner/builderSpec";
import {
    REMOVE_BUILDERS_COMMAND,
    REMOVE_BUILDERS_INTERPRETER,
    removeBuildersEnvironment,
} from "../runner/removeBuilders";

/** A node of the builders; addresses and keys may still be unknown. */
export interface BuilderNodeArgs {
    /** Host name; the node is called `<builder>_<host>` (nodeName). */
    host: string;
    address: pulumi.Input<string>;
    port: number;
    user: string;
    hostKey: pulumi.Input<string>;
    hostKeyAlias: pulumi.Input<string>;
    /** Everything the host builds, native first: what its own builder declares. */
    platforms: string[];
    /** What its node declares in the stack's builder (native first, see plan/routing.ts). */
    stackPlatforms: string[];
    /** docker-container driver options of this node (the builder's, with its pool's over them). */
    driverOptions: Record<string, string>;
    /** Resolves once the host is ready; registration waits for it. */
    ready: pulumi.Input<string>;
    /** How ssh reaches the host when not directly (an SSM session). */
    proxyCommand?: string;
    /** The EC2 instance to start before building, when the host powers off when idle. */
    wakeId?: pulumi.Input<string>;
}

export interface FleetBuilderArgs {
    /** The stack builder's name, constant for the stack. */
    name: string;
    /** `<project>/<stack>`, recorded so no other stack's builders are ever changed. */
    owner: string;
    /** Nodes in the stack builder's order: native groups ahead of emulating ones. */
    nodes: BuilderNodeArgs[];
    /** The operator's private key (a secret), written 0600 for the ssh client buildx runs. */
    privateKey: pulumi.Input<string>;
    /** Contents of a buildkitd.toml for every node, if any. */
    buildkitdConfig?: string;
    /** AWS region for starting idle hosts; the AWS CLI's default when absent. */
    region?: string;
}

/** The runner's command: one short line, so an error reads as its own message (runner/cli.ts). */
function runnerCommand(mode: "preview" | "update" | "register"): string {
    return `node bin/runner/cli.js ${mode}`;
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
    /** The stack builder's nodes. */
    readonly nodes: pulumi.Output<{ name: string; endpoint: string; platforms: string[] }[]>;
    /** Every builder registered, with its nodes. */
    readonly builders: pulumi.Output<{ name: string; nodes: string[] }[]>;
    /** Hosts whose node did not answer in this update; always empty in previews. */
    readonly down: pulumi.Output<DownNode[]>;

    constructor(name: string, args: FleetBuilderArgs, opts?: pulumi.ComponentResourceOptions) {
        super("native-build-fleet:builder:FleetBuilder", name, {}, opts);
        this.name = args.name;

        const nodes = pulumi.all(
            args.nodes.map((n) =>
                pulumi
                    .all([n.address, n.hostKey, n.hostKeyAlias, n.ready])
                    .apply(([address, hostKey, hostKeyAlias]): NodeSpec => ({
                        host: n.host,
                        node: nodeName(args.name, n.host),
                        alias: sshAlias(args.name, n.host),
                        address,
                        port: n.port,
                        user: n.user,
                        hostKey,
                        hostKeyAlias,
                        platforms: n.platforms,
                        stackPlatforms: n.stackPlatforms,
                        driverOptions: n.driverOptions,
                        ...(n.proxyCommand ? { proxyCommand: n.proxyCommand } : {}),
                    })),
            ),
        );
        const spec = nodes.apply((ns): FleetBuildersSpec => ({
            name: args.name,
            owner: args.owner,
            nodes: ns,
            ...(args.buildkitdConfig === undefined ? {} : { buildkitdConfig: args.buildkitdConfig }),
        }));
        const wakeIds = pulumi.all(args.nodes.flatMap((n) => (n.wakeId === undefined ? [] : [n.wakeId])));
        // Only the ensure step starts idle hosts (in updates); the registration's spec
        // leaves them out, so a stopped host never shows as a change.
        const ensureSpec = pulumi
            .all([spec, wakeIds])
            .apply(([s, instanceIds]): FleetBuildersSpec =>
                instanceIds.length === 0
                    ? s
                    : { ...s, wake: { instanceIds, ...(args.region ? { region: args.region } : {}) } },
            );
        const input = (s: pulumi.Output<FleetBuildersSpec>) =>
            pulumi.secret(
                pulumi.all([s, args.privateKey]).apply(([sp, privateKey]) => JSON.stringify({ spec: sp, privateKey })),
            );

        // Runs on every program execution, previews included, because buildx keeps
        // builders on the machine that runs Pulumi: a fresh CI runner has none
        // (pulumi/pulumi-docker-build#65). In previews it contacts no host when nothing
        // changed; in updates it also starts every node and reports those that do not answer.
        const update = !pulumi.runtime.isDryRun();
        const ensured = command.local.runOutput(
            {
                command: runnerCommand(update ? "update" : "preview"),
                stdin: input(ensureSpec),
                logging: "stderr",
            },
            { parent: this },
        );
        const report = pulumi.unsecret(ensured.stdout).apply((out) => JSON.parse(out) as EnsureReport);

        // Owns the builders' lifecycle. Node and settings changes update it in place, keeping
        // each node's BuildKit cache. A new name replaces it: the old builders and their
        // BuildKit containers are removed before the new ones are made, so a replacement never
        // deletes what it made.
        const registration = new command.local.Command(
            `${name}-registration`,
            {
                create: runnerCommand("register"),
                update: runnerCommand("register"),
                delete: REMOVE_BUILDERS_COMMAND,
                interpreter: REMOVE_BUILDERS_INTERPRETER,
                stdin: input(spec),
                // Only a new name replaces the builders. New BuildKit settings (driver options,
                // buildkitd.toml) update in place: the runner restarts the containers whose settings
                // changed since this resource last ran, as its previous output records
                // (runner/registerBuilders.ts restartChanged), so a fresh CI runner applies them too.
                triggers: [args.name],
                environment: pulumi.all([spec, report]).apply(([s, r]) => ({
                    NBF_SPEC_FINGERPRINT: r.fingerprint,
                    // What the delete removes, and the digest of the checkout's script it may run, kept
                    // in the state for a destroy (runner/removeBuilders.ts).
                    ...removeBuildersEnvironment(args.name, builderNames(s), args.owner),
                })),
                logging: "stderr",
            },
            {
                parent: this,
                deleteBeforeReplace: true,
                replaceOnChanges: ["triggers"],
                additionalSecretOutputs: ["stdin"],
            },
        );

        // From `stdout`, not `id`: the command provider returns a known id even when it
        // previews a create (its ids are the name plus random hex), while infer-based
        // providers leave outputs that mirror no input unknown in such a preview
        // (pulumi-go-provider infer/resource.go `markComputed`). Unsecret: the label is only
        // the builder's name, whatever secrecy a provider gives stdout.
        this.registeredName = pulumi.unsecret(registration.stdout.apply(() => args.name));
        this.down = report.apply((r) => r.down);
        this.nodes = spec.apply((s) =>
            s.nodes.map((n) => ({
                name: n.node,
                endpoint: `ssh://${n.user}@${n.address}:${n.port}`,
                platforms: n.stackPlatforms,
            })),
        );
        this.builders = spec.apply((s) => [
            { name: s.name, nodes: s.nodes.map((n) => n.node) },
            ...s.nodes.map((n) => ({ name: hostBuilderName(s.name, n.host), nodes: [n.node] })),
            ...s.nodes.map((n) => ({ name: previewBuilderName(s.name, n.host), nodes: [previewNode(n).node] })),
        ]);
        this.registerOutputs({ name: this.name, nodes: this.nodes, builders: this.builders });
    }
}
