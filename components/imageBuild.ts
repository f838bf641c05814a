// One image: a native build per platform, each with its own registry cache, joined
// into one multi-platform index per tag.

import * as command from "@pulumi/command";
import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { cacheTag, expectationFor, ImageConfig, platformTag } from "../config/schema";
import { metadataBuildArgs } from "../config/ociLabels";
import { machinesOf, platformSlug } from "../config/platforms";
import { hostBuilderName } from "../runner/builderSpec";
import { smokeTestScript } from "../shell/smokeTest";
import { verifyIndexScript } from "../shell/verifyIndex";

export interface ImageBuildArgs {
    image: ImageConfig;
    /** `<registry host>/<name>`, without tag. */
    repository: pulumi.Input<string>;
    /** Credentials for the registry; the password is a secret. */
    registry: pulumi.Input<dockerBuild.types.input.RegistryArgs>;
    /** The fleet builder's constant name. */
    builderName: string;
    /** The builder's name once registered on this machine; unknown before (see FleetBuilder). */
    builderRegistered: pulumi.Input<string>;
    /** Per platform, the host that builds it (config/placement.ts); its own builder runs the build. */
    hosts: Record<string, pulumi.Input<string>>;
    /** Resources the builds must follow (the builder's registration). */
    dependsOn: pulumi.Input<pulumi.Resource>[];
    /** Build changed images during previews; the cache is read but never written then. */
    buildOnPreview: boolean;
    /** How long one build may run before Pulumi fails it. */
    buildTimeoutMinutes: number;
    /** OCI labels (source, revision, created). */
    labels: Record<string, string>;
}

export interface PlatformImage {
    digest: pulumi.Output<string>;
    /** `<repository>@<digest>`. */
    ref: pulumi.Output<string>;
    /** The host that built it. */
    host: pulumi.Output<string>;
}

/** `<repository>@<digest>`: the immutable reference deploy stacks consume. */
export function digestRef(repository: string, digest: string): string {
    return `${repository}@${digest}`;
}

/**
 * A local check against the registry that runs whenever its script changes, with the
 * registry's `user:password` on standard input, as a secret.
 */
function registryCheck(
    name: string, script: pulumi.Output<string>, registry: pulumi.Output<pulumi.Unwrap<dockerBuild.types.input.RegistryArgs>>,
    opts: pulumi.CustomResourceOptions,
): command.local.Command {
    return new command.local.Command(name, {
        create: script,
        update: script,
        interpreter: ["/bin/bash", "-c"],
        stdin: pulumi.secret(registry.apply((r) => `${r.username ?? ""}:${r.password ?? ""}`)),
        addPreviousOutputInEnv: false,
        logging: "stderr",
    }, opts);
}

/** The builder of the host that builds `platform`: the build, its cache export and its smoke test all run there. */
function builderOf(args: ImageBuildArgs, platform: string): pulumi.Output<string> {
    return pulumi.output(args.hosts[platform]).apply((host) => hostBuilderName(args.builderName, host));
}

export class ImageBuild extends pulumi.ComponentResource {
    /** The index as `<repository>@sha256:…`. */
    readonly ref: pulumi.Output<string>;
    readonly digest: pulumi.Output<string>;
    readonly platforms: Record<string, PlatformImage>;
    /** Per platform, what its smoke test printed; empty when the image has no test. */
    readonly tests: Record<string, pulumi.Output<string>>;

    constructor(name: string, args: ImageBuildArgs, opts?: pulumi.ComponentResourceOptions) {
        super("native-build-fleet:images:ImageBuild", name, {}, opts);
        const { image, repository } = args;
        const builds = image.platforms.map((platform) => this.platformBuild(name, platform, args));
        const tests = image.test === undefined ? [] : image.platforms.map((platform, i) => this.smokeTest(name, platform, builds[i], args));

        // One index per tag, joining the platform images. Indexes and images are kept in
        // the registry when removed from the stack: a deploy may still point at them.
        // An index moves only once every platform image passed its smoke test.
        const indexes = image.tags.map((tag) => new dockerBuild.Index(`${name}-${tag}`, {
            tag: pulumi.interpolate`${repository}:${tag}`,
            sources: builds.map((b) => b.ref),
            push: true,
            registry: args.registry,
        }, { parent: this, retainOnDelete: true, dependsOn: tests }));

        indexes.forEach((index, i) => this.verify(`${name}-${image.tags[i]}`, index, builds, args));

        this.digest = indexes[0].ref.apply((ref) => ref.slice(ref.indexOf("@") + 1));
        this.ref = pulumi.all([repository, this.digest]).apply(([repo, digest]) => digestRef(repo, digest));
        this.platforms = Object.fromEntries(image.platforms.map((platform, i) => [platform, {
            digest: builds[i].digest,
            ref: pulumi.all([repository, builds[i].digest]).apply(([repo, digest]) => digestRef(repo, digest)),
            host: pulumi.output(args.hosts[platform]),
        }]));
        this.tests = Object.fromEntries(tests.map((test, i) => [image.platforms[i], test.stdout]));
        this.registerOutputs({ ref: this.ref, digest: this.digest });
    }

    /**
     * Runs the image's test command from a platform image on the fleet's builder, whenever
     * the image changes. The builder routes the platform as it routes builds: to a node
     * that runs it natively, or to the emulating pool for emulated platforms.
     */
    private smokeTest(name: string, platform: string, build: dockerBuild.Image, args: ImageBuildArgs): command.local.Command {
        const test = args.image.test ?? {};
        const registry = pulumi.output(args.registry);
        const script = pulumi.all([args.repository, build.digest, registry.address, builderOf(args, platform)]).apply(([repository, digest, address, builder]) => smokeTestScript({
            builder, platform, ref: digestRef(repository, digest), registry: address,
            command: test.command ?? ["uname", "-m"],
            expect: test.command === undefined ? { lines: [...machinesOf(platform)] }
                : { contains: test.expect === undefined ? undefined : expectationFor(test.expect, platform) },
        }));
        return registryCheck(`${name}-${platformSlug(platform)}-test`, script, registry, { parent: this, dependsOn: [build], customTimeouts: this.timeouts(args) });
    }

    /**
     * Reads the index back from the registry whenever it moves, and fails unless it lists
     * exactly the platforms built, each with the digest its build produced.
     */
    private verify(name: string, index: dockerBuild.Index, builds: dockerBuild.Image[], args: ImageBuildArgs): void {
        const { image } = args;
        const registry = pulumi.output(args.registry);
        const script = pulumi.all([index.ref, registry.address, ...builds.map((b) => b.digest)]).apply(([ref, address, ...digests]) =>
            verifyIndexScript({ ref, registry: address, platforms: Object.fromEntries(image.platforms.map((p, i) => [p, digests[i]])) }));
        registryCheck(`${name}-verify`, script, registry, { parent: this, dependsOn: [index] });
    }

    /** A hung build fails with Pulumi's timeout error instead of holding the update. */
    private timeouts(args: ImageBuildArgs): pulumi.CustomTimeouts {
        return { create: `${args.buildTimeoutMinutes}m`, update: `${args.buildTimeoutMinutes}m` };
    }

    /**
     * The platform image, and beside it a second, cache-only build that exports the
     * registry cache. The split keeps previews from writing the cache without making every
     * preview show a diff: the provider exports `cacheTo` even during preview builds,
     * and dropping `cacheTo` only in previews would change every image's inputs. The
     * cache build never runs in previews. It runs at the same time as the image build, on
     * the same node, and nothing waits for it: BuildKit's solver merges the identical steps
     * of the two solves into one run (moby/buildkit solver, edges with equal cache keys are
     * shared), so its own cost is the cache export, which then overlaps the image's push, the
     * smoke tests, the index and its read-back instead of following the image build.
     */
    private platformBuild(name: string, platform: string, args: ImageBuildArgs): dockerBuild.Image {
        const { image, repository } = args;
        const slug = platformSlug(platform);
        const cacheRef = pulumi.interpolate`${repository}:${cacheTag(platform)}`;
        // The build inputs go to both builds, so the cache build is a cache hit; each is set
        // only when used, so stacks without them keep their inputs (and digests) unchanged.
        const common = {
            context: {
                location: image.context,
                ...(Object.keys(image.contexts).length > 0 ? { named: Object.fromEntries(Object.entries(image.contexts).map(([n, location]) => [n, { location }])) } : {}),
            },
            dockerfile: image.dockerfileInline === undefined ? { location: image.dockerfile } : { inline: image.dockerfileInline },
            ...(Object.keys(image.secrets).length > 0 ? { secrets: pulumi.secret(image.secrets) } : {}),
            ...(image.ssh.length > 0 ? { ssh: image.ssh } : {}),
            ...(image.pull ? { pull: true } : {}),
            // The provider validates platforms with buildx's parser, not its enum, so
            // variants such as linux/arm/v7 pass (pulumi-docker-build provider/internal/platform.go).
            platforms: [platform as dockerBuild.Platform],
            buildArgs: { ...metadataBuildArgs(args.labels), ...image.buildArgs, ...image.platformBuildArgs[platform] },
            target: image.target,
            builder: { name: builderOf(args, platform) },
            labels: { ...args.labels, "dev.native-build-fleet.builder": args.builderRegistered },
            cacheFrom: [{ registry: { ref: cacheRef } }],
            registries: [args.registry],
        };
        const build = new dockerBuild.Image(`${name}-${slug}`, {
            ...common,
            // A registry export, not `push: true`: docker-build 0.0.22 skips every preview
            // build of a pushed image, because `buildable()` compares the inputs with their
            // `normalize(true)` form, which appends a `type=registry` export when `push` is
            // set (pulumi-docker-build#252, provider/internal/image.go). Previews turn the
            // export's push off (export.go `validate`), so they build and push nothing.
            // `ociMediaTypes: true` keeps the manifests, and so the digests, that `push: true`
            // wrote: the schema defaults it to false (export.go `ExportWithOCI`), while the
            // bare `type=registry` of `push: true` took BuildKit's default, OCI.
            push: false,
            exports: [{ registry: { ociMediaTypes: true } }],
            tags: image.tags.map((tag) => pulumi.interpolate`${repository}:${platformTag(tag, platform)}`),
            buildOnPreview: args.buildOnPreview,
        }, { parent: this, dependsOn: args.dependsOn, retainOnDelete: true, customTimeouts: this.timeouts(args) });

        new dockerBuild.Image(`${name}-${slug}-cache`, {
            ...common,
            push: false,
            exports: [{ cacheonly: {} }],
            // ECR rejects an OCI image index as a cache, and the provider sends neither
            // flag unless ociMediaTypes is set (provider notes, docker-build `Image`).
            cacheTo: [{ registry: { ref: cacheRef, mode: "max", imageManifest: true, ociMediaTypes: true } }],
            buildOnPreview: false,
        }, { parent: this, dependsOn: args.dependsOn, customTimeouts: this.timeouts(args) });

        return build;
    }
}
