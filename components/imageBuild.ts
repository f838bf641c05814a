// One image: a native build per platform, each with its own registry cache, joined
// into one multi-platform index per tag.

import * as command from "@pulumi/command";
import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { cacheTag, DEFAULT_SMOKE_TEST_COMMAND, expectationFor, ImageConfig, platformTag } from "../config/schema";
import { metadataBuildArgs, sourceDateEpochArg } from "../plan/ociLabels";
import { machinesOf, platformSlug } from "../plan/platforms";
import { hostBuilderName } from "../runner/builderSpec";
import { AttestSecrets, AttestSpec } from "../runner/attest";
import { SmokeTestSpec } from "../runner/smokeTest";
import { SigningConfig } from "../config/signing";
import { IndexExpectation } from "../runner/verifyIndex";
import { codeDigest, EntryPoint, runnerCommand } from "../runner/scriptFiles";
import { buildKey } from "../plan/placement";
import { BuildSlotQueue } from "./buildSlotQueue";

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
    /** Per platform, the host that builds it (plan/placement.ts); its own builder runs the build. */
    hosts: Record<string, pulumi.Input<string>>;
    /** Resources the builds must follow (the builder's registration). */
    dependsOn: pulumi.Input<pulumi.Resource>[];
    /** Each host's queue of solves (builder.buildSlots): every build waits there for a slot. None: no queue. */
    slots?: BuildSlotQueue;
    /** Build changed images during previews; the cache is read but never written then. */
    buildOnPreview: boolean;
    /** How long one build may run before Pulumi fails it. */
    buildTimeoutMinutes: number;
    /** OCI labels (source, revision, created), known once git has answered (config/load.ts). */
    labels: pulumi.Input<Record<string, string>>;
    /** How to sign and attest the pushed images; nothing is signed when absent (config/signing.ts). */
    signing?: SigningConfig;
    /** signing.mode key: cosign's private key and its password (secrets). */
    signingKey?: { key: pulumi.Input<string>; password: pulumi.Input<string> };
    /** `<project>/<stack>`, named in the provenance. */
    stack: string;
}

/**
 * The platform image's export: the registry, with OCI media types (the manifests, and so the
 * digests, that `push: true` wrote), and every file in the new layers clamped to
 * SOURCE_DATE_EPOCH (BuildKit ≥ 0.13, `rewrite-timestamp`), so a rebuild elsewhere matches.
 */
export const REGISTRY_EXPORT = "type=registry,oci-mediatypes=true,rewrite-timestamp=true";

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
 * A local check against the registry, run by the runner's entry point whenever its spec or
 * its code changes: the spec (JSON) in NBF_SPEC, the registry's `user:password` on standard
 * input, as a secret.
 */
function registryCheck(
    name: string,
    entry: EntryPoint,
    spec: pulumi.Output<SmokeTestSpec | IndexExpectation | AttestSpec>,
    registry: pulumi.Output<pulumi.Unwrap<dockerBuild.types.input.RegistryArgs>>,
    opts: pulumi.CustomResourceOptions,
    stdin?: pulumi.Output<string>,
): command.local.Command {
    return new command.local.Command(
        name,
        {
            create: runnerCommand(entry),
            update: runnerCommand(entry),
            environment: { NBF_SPEC: spec.apply((s) => JSON.stringify(s)), NBF_CODE: codeDigest(entry) },
            interpreter: ["/bin/bash", "-c"],
            stdin: pulumi.secret(stdin ?? registry.apply((r) => `${r.username ?? ""}:${r.password ?? ""}`)),
            // The sign step reads what it signed last time, so it signs only new digests.
            addPreviousOutputInEnv: entry === "attest",
            logging: "stderr",
        },
        opts,
    );
}

/**
 * `value` itself when it is already an Output: `pulumi.output` would wrap it in two more,
 * and every Output costs the SDK a handful of promises (docs/benchmarks.md).
 */
function outputOf<T>(value: pulumi.Input<T>): pulumi.Output<pulumi.Unwrap<T>> {
    return pulumi.Output.isInstance(value) ? (value as pulumi.Output<pulumi.Unwrap<T>>) : pulumi.output(value);
}

/** What the smoke-test entry point printed: platform → output (nothing yet under mocks or before it ran). */
export function testOutputs(stdout: string): Record<string, string> {
    return stdout.trim() === "" ? {} : (JSON.parse(stdout) as Record<string, string>);
}

/** The builder of the host that builds `platform`: the build, its cache export and its smoke test all run there. */
function builderOf(args: ImageBuildArgs, platform: string): pulumi.Output<string> {
    return outputOf(args.hosts[platform]).apply((host) => hostBuilderName(args.builderName, host));
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
        const repo = outputOf(repository);
        // Per image, not per platform: the labels come from git (config/load.ts); the builder's
        // label stays an Output of its own inside them, so a preview before the builder is
        // registered leaves only that label unknown, as when the labels were plain values.
        const labels = outputOf(args.labels);
        const imageLabels = labels.apply((l): Record<string, pulumi.Input<string>> => ({
            ...l,
            "dev.native-build-fleet.builder": args.builderRegistered,
        }));
        const builds = image.platforms.map((platform) =>
            this.platformBuild(name, platform, args, repo, labels, imageLabels),
        );
        const tests = image.test === undefined ? [] : [this.smokeTest(name, builds, args)];

        // One index per tag, joining the platform images. Indexes and images are kept in
        // the registry when removed from the stack: a deploy may still point at them.
        // An index moves only once every platform image passed its smoke test.
        const indexes = image.tags.map(
            (tag) =>
                new dockerBuild.Index(
                    `${name}-${tag}`,
                    {
                        tag: repo.apply((r) => `${r}:${tag}`),
                        sources: builds.map((b) => b.ref),
                        push: true,
                        registry: args.registry,
                    },
                    { parent: this, retainOnDelete: true, dependsOn: tests },
                ),
        );

        const verified = this.verify(name, indexes, builds, args);
        const signed =
            args.signing === undefined
                ? undefined
                : this.sign(name, args.signing, indexes, builds, tests, verified, args);
        // With signing, the digests a deploy reads wait for the sign step: a sign that fails
        // fails the update, so the stack keeps exporting the last digests that were signed. The
        // registry's tags have moved by then (cosign signs what the registry already serves).
        const afterSigning = (value: pulumi.Output<string>): pulumi.Output<string> =>
            signed === undefined ? value : pulumi.all([value, signed.stdout]).apply(([v]) => v);

        this.digest = afterSigning(indexes[0].ref.apply((ref) => ref.slice(ref.indexOf("@") + 1)));
        this.ref = pulumi.all([repo, this.digest]).apply(([r, digest]) => digestRef(r, digest));
        this.platforms = Object.fromEntries(
            image.platforms.map((platform, i) => [
                platform,
                {
                    digest: afterSigning(builds[i].digest),
                    ref: afterSigning(
                        pulumi.all([repo, builds[i].digest]).apply(([r, digest]) => digestRef(r, digest)),
                    ),
                    host: outputOf(args.hosts[platform]),
                },
            ]),
        );
        this.tests = Object.fromEntries(
            tests.flatMap((test) =>
                image.platforms.map((platform) => [
                    platform,
                    test.stdout.apply((out) => testOutputs(out)[platform] ?? ""),
                ]),
            ),
        );
        this.registerOutputs({ ref: this.ref, digest: this.digest });
    }

    /**
     * Runs the image's test command from each platform image, all at once, whenever the image
     * changes: one command for the image (runner/smokeTest.ts), each platform on the builder of
     * the host that builds it, as its build ran.
     */
    private smokeTest(name: string, builds: dockerBuild.Image[], args: ImageBuildArgs): command.local.Command {
        const { image } = args;
        const test = image.test ?? {};
        const registry = pulumi.output(args.registry);
        const spec = pulumi
            .all([
                args.repository,
                registry.address,
                pulumi.all(builds.map((b) => b.digest)),
                pulumi.all(image.platforms.map((p) => builderOf(args, p))),
            ])
            .apply(([repository, address, digests, builders]): SmokeTestSpec => ({
                registry: address,
                tests: image.platforms.map((platform, i) => ({
                    builder: builders[i],
                    platform,
                    ref: digestRef(repository, digests[i]),
                    command: test.command ?? [...DEFAULT_SMOKE_TEST_COMMAND],
                    expect:
                        test.command === undefined
                            ? { lines: [...machinesOf(platform)] }
                            : {
                                  contains:
                                      test.expect === undefined ? undefined : expectationFor(test.expect, platform),
                              },
                })),
            }));
        return registryCheck(`${name}-test`, "smoke-test", spec, registry, {
            parent: this,
            dependsOn: builds,
            customTimeouts: this.timeouts(args),
        });
    }

    /**
     * Reads every tag's index back from the registry whenever one moves, and fails unless each
     * lists exactly the platforms built, each with the digest its build produced.
     */
    private verify(
        name: string,
        indexes: dockerBuild.Index[],
        builds: dockerBuild.Image[],
        args: ImageBuildArgs,
    ): command.local.Command {
        const { image } = args;
        const registry = pulumi.output(args.registry);
        const spec = pulumi
            .all([registry.address, pulumi.all(indexes.map((i) => i.ref)), pulumi.all(builds.map((b) => b.digest))])
            .apply(([address, refs, digests]): IndexExpectation => ({
                registry: address,
                refs,
                platforms: Object.fromEntries(image.platforms.map((p, i) => [p, digests[i]])),
            }));
        return registryCheck(`${name}-verify`, "verify-index", spec, registry, { parent: this, dependsOn: indexes });
    }

    /**
     * Signs every index and attests provenance and an SBOM on every platform image
     * (runner/attest.ts), once the smoke tests passed and the indexes read back as built. It
     * runs again only when a digest, the spec or the runner's code changes, and then signs only
     * the digests its previous run did not. Previews run nothing: they say what an update would sign.
     */
    private sign(
        name: string,
        signing: SigningConfig,
        indexes: dockerBuild.Index[],
        builds: dockerBuild.Image[],
        tests: command.local.Command[],
        verified: command.local.Command,
        args: ImageBuildArgs,
    ): command.local.Command {
        const { image } = args;
        const registry = pulumi.output(args.registry);
        if (pulumi.runtime.isDryRun()) {
            void pulumi.log.info(
                `an update signs the indexes (${image.tags.join(", ")}) of ${image.name} and attests provenance and an SPDX SBOM on its ` +
                    `${image.platforms.join(", ")} images with cosign (${signing.mode}), for digests this stack has not signed yet; a preview signs and pushes nothing`,
                this,
            );
        }
        const testOut =
            tests.length > 0 ? tests[0].stdout.apply(testOutputs) : pulumi.output({} as Record<string, string>);
        const spec = pulumi
            .all([
                registry.address,
                pulumi.all(indexes.map((i) => i.ref)),
                pulumi.all(builds.map((b) => b.digest)),
                outputOf(args.repository),
                pulumi.all(image.platforms.map((p) => builderOf(args, p))),
                pulumi.all(image.platforms.map((p) => outputOf(args.hosts[p]))),
                testOut,
                outputOf(args.labels),
            ])
            .apply(([address, refs, digests, repository, builders, hosts, outputs, labels]): AttestSpec => ({
                registry: address,
                signing,
                indexes: refs,
                platforms: image.platforms.map((platform, i) => ({
                    platform,
                    ref: digestRef(repository, digests[i]),
                    host: hosts[i],
                    node: builders[i],
                    ...(image.platformBuildArgs[platform] ? { buildArgs: image.platformBuildArgs[platform] } : {}),
                    ...(image.test === undefined
                        ? {}
                        : {
                              test: {
                                  command: image.test.command ?? [...DEFAULT_SMOKE_TEST_COMMAND],
                                  output: outputs[platform] ?? "",
                              },
                          }),
                })),
                build: {
                    stack: args.stack,
                    builderName: args.builderName,
                    context: image.context,
                    ...(image.dockerfileInline === undefined
                        ? { dockerfile: image.dockerfile }
                        : { dockerfileInline: image.dockerfileInline }),
                    ...(image.target === undefined ? {} : { target: image.target }),
                    buildArgs: { ...metadataBuildArgs(labels), ...sourceDateEpochArg(labels), ...image.buildArgs },
                    secrets: Object.keys(image.secrets),
                    ssh: image.ssh.map((s) => s.id),
                    ...(labels["org.opencontainers.image.source"]
                        ? { source: labels["org.opencontainers.image.source"] }
                        : {}),
                    ...(labels["org.opencontainers.image.revision"]
                        ? { contextRevision: labels["org.opencontainers.image.revision"] }
                        : {}),
                },
            }));
        const key = args.signingKey;
        const secrets = pulumi.all([registry, key?.key ?? "", key?.password ?? ""]).apply(([r, k, password]): string =>
            JSON.stringify({
                credentials: `${r.username ?? ""}:${r.password ?? ""}`,
                ...(key ? { signingKey: k, signingKeyPassword: password } : {}),
            } satisfies AttestSecrets),
        );
        return registryCheck(
            `${name}-sign`,
            "attest",
            spec,
            registry,
            { parent: this, dependsOn: [...tests, verified] },
            secrets,
        );
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
    private platformBuild(
        name: string,
        platform: string,
        args: ImageBuildArgs,
        repo: pulumi.Output<string>,
        labels: pulumi.Output<Record<string, string>>,
        imageLabels: pulumi.Output<Record<string, pulumi.Input<string>>>,
    ): dockerBuild.Image {
        const { image } = args;
        const slug = platformSlug(platform);
        const cacheRef = repo.apply((r) => `${r}:${cacheTag(platform)}`);
        // The build inputs go to both builds, so the cache build is a cache hit; each is set
        // only when used, so stacks without them keep their inputs (and digests) unchanged.
        const common = {
            context: {
                location: image.context,
                ...(Object.keys(image.contexts).length > 0
                    ? {
                          named: Object.fromEntries(
                              Object.entries(image.contexts).map(([n, location]) => [n, { location }]),
                          ),
                      }
                    : {}),
            },
            dockerfile:
                image.dockerfileInline === undefined
                    ? { location: image.dockerfile }
                    : { inline: image.dockerfileInline },
            ...(Object.keys(image.secrets).length > 0 ? { secrets: pulumi.secret(image.secrets) } : {}),
            ...(image.ssh.length > 0 ? { ssh: image.ssh } : {}),
            ...(image.pull ? { pull: true } : {}),
            // The provider validates platforms with buildx's parser, not its enum, so
            // variants such as linux/arm/v7 pass (pulumi-docker-build provider/internal/platform.go).
            platforms: [platform as dockerBuild.Platform],
            // SOURCE_DATE_EPOCH from the context's last commit: with the export's
            // rewrite-timestamp, the same commit gives the same digest on any host.
            buildArgs: labels.apply((l) => ({
                ...metadataBuildArgs(l),
                ...sourceDateEpochArg(l),
                ...image.buildArgs,
                ...image.platformBuildArgs[platform],
            })),
            target: image.target,
            builder: { name: builderOf(args, platform) },
            labels: imageLabels,
            cacheFrom: [{ registry: { ref: cacheRef } }],
            registries: [args.registry],
        };
        const key = buildKey({ image: image.name, platform });
        const build = new dockerBuild.Image(
            `${name}-${slug}`,
            {
                ...common,
                // A registry export, not `push: true`: docker-build 0.0.22 skips every preview
                // build of a pushed image, because `buildable()` compares the inputs with their
                // `normalize(true)` form, which appends a `type=registry` export when `push` is
                // set (pulumi-docker-build#252, provider/internal/image.go). Previews turn the
                // export's push off (export.go `validate`), so they build and push nothing.
                // `ociMediaTypes: true` keeps the manifests, and so the digests, that `push: true`
                // wrote: the schema defaults it to false (export.go `ExportWithOCI`), while the
                // bare `type=registry` of `push: true` took BuildKit's default, OCI.
                // `raw`, because the registry export models no rewrite-timestamp; the provider
                // passes every key=value of a raw export to BuildKit's exporter (export.go
                // `parseExports`) and still turns its push off in previews (`validate`).
                push: false,
                exports: [{ raw: REGISTRY_EXPORT }],
                tags: image.tags.map((tag) => repo.apply((r) => `${r}:${platformTag(tag, platform)}`)),
                buildOnPreview: args.buildOnPreview,
            },
            {
                parent: this,
                dependsOn: args.slots?.dependsOn({ key, kind: "image" }, args.dependsOn) ?? args.dependsOn,
                retainOnDelete: true,
                customTimeouts: this.timeouts(args),
            },
        );
        args.slots?.add({ key, kind: "image" }, build);

        const cache = new dockerBuild.Image(
            `${name}-${slug}-cache`,
            {
                ...common,
                push: false,
                exports: [{ cacheonly: {} }],
                // ECR rejects an OCI image index as a cache, and the provider sends neither
                // flag unless ociMediaTypes is set (provider notes, docker-build `Image`).
                cacheTo: [{ registry: { ref: cacheRef, mode: "max", imageManifest: true, ociMediaTypes: true } }],
                buildOnPreview: false,
            },
            {
                parent: this,
                dependsOn: args.slots?.dependsOn({ key, kind: "cache" }, args.dependsOn) ?? args.dependsOn,
                customTimeouts: this.timeouts(args),
            },
        );
        args.slots?.add({ key, kind: "cache" }, cache);

        return build;
    }
}
