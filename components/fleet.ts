// The whole fleet: host pools, the builder over them, the registry, and the images.

// The service modules, not the package root: @pulumi/aws's index loads every service's module
// (0.3 s a run), these only their own, and each resource file when first used (docs/benchmarks.md).
import * as ssm from "@pulumi/aws/ssm";
import * as pulumi from "@pulumi/pulumi";
import { Arch } from "../plan/platforms";
import { buildKey, placeBuilds, PlacementHost } from "../plan/placement";
import { declaredPlatforms, HostGroup, orderPools, stackPlatforms } from "../plan/routing";
import { FleetConfig, PoolConfig } from "../config/schema";
import { FleetBuilder } from "./builder";
import { DownNode } from "../runner/builderSpec";
import { HostAccess } from "./hostAccess";
import { BuildHost, HostPool } from "./hostPool";
import { ImageBuild } from "./imageBuild";
import { BuildSlotQueue } from "./buildSlotQueue";
import { FleetRegistry } from "./registry";
import { StaticHost } from "./staticHost";
import { signatureOutput } from "../runner/signing";

export interface FleetArgs {
    config: FleetConfig;
    project: string;
    stack: string;
    /** The operator's SSH private key (a secret). */
    sshPrivateKey: pulumi.Input<string>;
    /** The external registry's password (a secret); absent for ECR. */
    registryPassword?: pulumi.Input<string>;
    /** OCI labels per image name. */
    labels: Record<string, pulumi.Input<Record<string, string>>>;
    /** Contents of builder.buildkitdConfig, read by the caller. */
    buildkitdConfig?: string;
    /** The AWS region, for SSM sessions; the AWS CLI's default when absent. */
    region?: string;
    /** signing.mode key: cosign's private key and its password (secrets). */
    signingKey?: { key: pulumi.Input<string>; password: pulumi.Input<string> };
}

/** Amazon Linux 2023 AMIs, as AWS publishes them in SSM Parameter Store. */
const AMI_PARAMETER: Record<Arch, string> = {
    amd64: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
    arm64: "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
};

export class Fleet extends pulumi.ComponentResource {
    readonly images: pulumi.Output<Record<string, unknown>>;
    readonly builder: pulumi.Output<{
        name: string;
        nodes: { name: string; endpoint: string; platforms: string[] }[];
        builders: { name: string; nodes: string[] }[];
    }>;
    readonly hosts: pulumi.Output<Record<string, unknown>>;

    constructor(name: string, args: FleetArgs, opts?: pulumi.ComponentResourceOptions) {
        super("native-build-fleet:index:Fleet", name, {}, opts);
        const { config } = args;
        const tags = { "native-build-fleet:project": args.project, "native-build-fleet:stack": args.stack };

        const groups: (HostGroup & { driverOptions: Record<string, string>; hosts: BuildHost[] })[] = orderPools([
            ...this.pools(name, args, tags),
            ...config.staticHosts.map((host) => ({
                ...host,
                hosts: [
                    new StaticHost(`${name}-${host.name}`, { host, privateKey: args.sshPrivateKey }, { parent: this })
                        .host,
                ],
            })),
        ]);

        const builder = new FleetBuilder(
            `${name}-builder`,
            {
                name: config.builder.name,
                owner: `${args.project}/${args.stack}`,
                nodes: groups.flatMap((group) =>
                    group.hosts.map((host) => ({
                        host: host.name,
                        address: host.address,
                        port: host.port,
                        user: host.user,
                        hostKey: host.hostKey,
                        hostKeyAlias: host.hostKeyAlias,
                        platforms: declaredPlatforms(group),
                        stackPlatforms: stackPlatforms(group, groups),
                        driverOptions: { ...config.builder.driverOptions, ...group.driverOptions },
                        ready: host.ready,
                        proxyCommand: host.proxyCommand,
                        wakeId: host.wakeId,
                    })),
                ),
                privateKey: args.sshPrivateKey,
                buildkitdConfig: args.buildkitdConfig,
                region: args.region,
            },
            { parent: this },
        );

        const registry = new FleetRegistry(
            `${name}-registry`,
            {
                registry: config.registry,
                imageNames: config.images.map((i) => i.name),
                password: args.registryPassword,
                tags,
            },
            { parent: this },
        );

        // A preview never starts hosts, and buildx loads every node of the builder for any
        // build (docker/buildx builder/node.go, LoadNodes), so with a pool that may be
        // stopped previews build nothing.
        const idle = config.hosts.some((pool) => pool.idleMinutes !== undefined);
        const hostOf = placement(config, groups, builder.down);
        const slots =
            config.builder.buildSlots === undefined
                ? undefined
                : new BuildSlotQueue(
                      config.images.flatMap((image) =>
                          image.platforms.flatMap((platform) =>
                              (["image", "cache"] as const).map((kind) => ({
                                  key: buildKey({ image: image.name, platform }),
                                  kind,
                              })),
                          ),
                      ),
                      hostOf,
                      config.builder.buildSlots,
                  );
        if (config.signing === undefined) {
            void pulumi.log.warn(
                "signing is not configured: every image is pushed without a signature, provenance or SBOM, so admission policies " +
                    '(cosign verify, Kyverno verifyImages) cannot accept it; set signing (docs/signing.md, "Verifiable releases")',
                this,
            );
        }
        const images = config.images.map((image) => ({
            image,
            build: new ImageBuild(
                `${name}-${image.name.replace(/\//g, "-")}`,
                {
                    image,
                    repository: registry.repositories[image.name],
                    registry: registry.credentials,
                    builderName: builder.name,
                    builderRegistered: builder.registeredName,
                    dependsOn: [builder],
                    slots,
                    hosts: Object.fromEntries(
                        image.platforms.map((p) => [
                            p,
                            hostOf.apply((h) => h[buildKey({ image: image.name, platform: p })]),
                        ]),
                    ),
                    buildOnPreview: config.builder.buildOnPreview && !idle,
                    buildTimeoutMinutes: config.builder.buildTimeoutMinutes,
                    labels: args.labels[image.name] ?? {},
                    signing: config.signing,
                    signingKey: args.signingKey,
                    stack: `${args.project}/${args.stack}`,
                },
                { parent: this },
            ),
        }));

        this.images = pulumi.output(
            Object.fromEntries(
                images.map(({ image, build }) => [
                    image.name,
                    {
                        ref: build.ref,
                        digest: build.digest,
                        tags: image.tags,
                        platforms: build.platforms,
                        tests: build.tests,
                        ...(config.signing === undefined
                            ? {}
                            : {
                                  signature: pulumi
                                      .all([build.ref, pulumi.all(image.platforms.map((p) => build.platforms[p].ref))])
                                      .apply(([ref, refs]) => signatureOutput(config.signing!, ref, refs)),
                              }),
                    },
                ]),
            ),
        );
        this.builder = pulumi.output({ name: builder.name, nodes: builder.nodes, builders: builder.builders });
        this.hosts = pulumi.output(
            Object.fromEntries(
                groups.flatMap(({ hosts }) =>
                    hosts.map((h: BuildHost) => [
                        h.name,
                        {
                            name: h.name,
                            pool: h.pool,
                            instanceId: h.instanceId ?? null,
                            address: h.address,
                            arch: h.arch,
                        },
                    ]),
                ),
            ),
        );
        this.registerOutputs({ images: this.images, builder: this.builder, hosts: this.hosts });
    }

    /** The EC2 pools, and what they share; nothing at all when the stack has none. */
    private pools(
        name: string,
        args: FleetArgs,
        tags: Record<string, string>,
    ): (PoolConfig & { hosts: BuildHost[] })[] {
        const { config } = args;
        if (config.hosts.length === 0) {
            return [];
        }
        const access = new HostAccess(
            `${name}-access`,
            {
                allowedCidrs: config.ssh.allowedCidrs,
                access: config.ssh.access,
                vpcId: config.network.vpcId,
                tags,
            },
            { parent: this },
        );
        const amis = Object.fromEntries(
            [...new Set(config.hosts.map((p) => p.arch))].map((arch) => [
                arch,
                ssm.getParameterOutput({ name: AMI_PARAMETER[arch] }, { parent: this }).value,
            ]),
        );
        return config.hosts.map((pool) => ({
            ...pool,
            hosts: new HostPool(
                `${name}-${pool.name}`,
                {
                    pool,
                    amiId: amis[pool.arch],
                    securityGroupId: access.securityGroupId,
                    instanceProfileName: access.instanceProfileName,
                    subnetIds: config.network.subnetIds,
                    sshUser: config.ssh.user,
                    authorizedKey: config.ssh.publicKey,
                    privateKey: args.sshPrivateKey,
                    binfmtImage: config.builder.binfmtImage,
                    access: config.ssh.access,
                    region: args.region,
                    tags,
                },
                { parent: this },
            ).hosts,
        }));
    }
}

/**
 * The host of every platform build, by build key. In updates, hosts whose node did not answer
 * get none: their builds go to the live hosts of their pools, with a warning, and an update
 * stops before building when no candidate host of a platform answers.
 */
function placement(
    config: FleetConfig,
    groups: { name: string; platforms: string[]; emulate: string[]; hosts: BuildHost[] }[],
    down: pulumi.Output<DownNode[]>,
): pulumi.Output<Record<string, string>> {
    const hosts: PlacementHost[] = groups.flatMap((g) =>
        g.hosts.map((h, index) => ({ name: h.name, pool: g.name, index, platforms: g.platforms, emulate: g.emulate })),
    );
    const builds = config.images.flatMap((image) =>
        image.platforms.map((platform) => ({ image: image.name, platform, pools: image.pools })),
    );
    return down.apply((nodes) => {
        const placed = placeBuilds(
            builds,
            hosts,
            nodes.map((n) => n.host),
        );
        for (const node of nodes) {
            const moved = placed.movedFrom[node.host] ?? [];
            void pulumi.log.warn(
                `build host ${node.host} (${node.platforms.join(", ")}) did not answer: ${node.error}. ` +
                    (moved.length === 0
                        ? "It had no builds."
                        : `Its builds (${moved.join(", ")}) go to the other hosts of its pool; they return when it answers again.`),
            );
        }
        if (placed.unserved.length > 0) {
            throw new pulumi.RunError(
                placed.unserved
                    .map(
                        (u) =>
                            `no build host for ${u.platform} answered (${u.hosts.join(", ")}), so nothing was built; ` +
                            "bring one back, or remove it from the stack, and run pulumi up again",
                    )
                    .join("\n"),
            );
        }
        return placed.hostOf;
    });
}
