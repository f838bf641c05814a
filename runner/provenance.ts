// The SLSA v1 provenance of one platform image, as an in-toto v1 statement. docker-build
// 0.0.22 turns BuildKit's own provenance off for the builds it runs (provider/internal/client.go
// sets `Attests: {"provenance": nil}`; pulumi-docker-build#73), so the program writes it from
// what it and the build know. Every field says where it comes from (docs/signing.md, "Verifiable
// releases"): the stack config, git on this machine, the registry, or buildx on this machine.

import { PREDICATE_TYPES } from "./signing";

/** The stack's build of one image, as the program declared it (components/imageBuild.ts). */
export interface BuildDeclaration {
    /** `<project>/<stack>`. */
    stack: string;
    /** The fleet's buildx builder. */
    builderName: string;
    context: string;
    /** The Dockerfile's path relative to the project root, when it is a file. */
    dockerfile?: string;
    target?: string;
    /** Build args as passed, without secrets (build secrets are never build args). */
    buildArgs: Record<string, string>;
    /** Ids of build secrets and SSH mounts: never their values. */
    secrets: string[];
    ssh: string[];
    /** The repository's web address (org.opencontainers.image.source), when known. */
    source?: string;
    /** The last commit that touched the context (org.opencontainers.image.revision). */
    contextRevision?: string;
}

/** What this machine found out when it attested the image. */
export interface Observed {
    /** `git rev-parse HEAD` and whether `git status --porcelain` listed anything; undefined outside git. */
    commit?: string;
    dirty?: boolean;
    /** sha256 (hex) of the Dockerfile as built: the file in the checkout, or the inline text. */
    dockerfileSha256: string;
    dockerfileInline: boolean;
    /** Each FROM image resolved by digest in the registry: `<ref as written>` → `sha256:…`. */
    baseImages: { ref: string; digest?: string; why?: string }[];
    /** `BuildKit version` of the platform's builder, as `docker buildx inspect` prints it. */
    buildkitVersion?: string;
    /** The image config's `created` time: when BuildKit finished the build. */
    finishedOn?: string;
    /** When this step attested the image. */
    attestedOn: string;
}

export interface PlatformBuild {
    platform: string;
    /** `<repository>@sha256:…`. */
    ref: string;
    /** The build host, and its own builder that ran the build. */
    host: string;
    node: string;
    /** This platform's own build args (platformBuildArgs), over the image's. */
    buildArgs?: Record<string, string>;
    /** The smoke test that passed on this platform before the index moved, if the image has one. */
    test?: { command: string[]; output: string };
}

/** Identifies this program's way of building in `buildType` (SLSA v1: a URI naming the build's template). */
export const BUILD_TYPE =
    "https://github.com/native-build-fleet/native-build-fleet/blob/main/README.md#verifiable-releases";

/** The stack's buildx builder as a URI (RFC 8141 URN): what built it, for policies to pin. */
export function builderId(build: BuildDeclaration): string {
    return `urn:native-build-fleet:builder:${build.stack}:${build.builderName}`;
}

/** The in-toto v1 statement whose predicate is SLSA v1 provenance, for one platform image. */
export function provenanceStatement(
    build: BuildDeclaration,
    platform: PlatformBuild,
    seen: Observed,
): Record<string, unknown> {
    const at = platform.ref.lastIndexOf("@");
    const repository = platform.ref.slice(0, at);
    const [algorithm, hex] = platform.ref.slice(at + 1).split(":");
    const commit = seen.commit ?? build.contextRevision;
    return {
        _type: "https://in-toto.io/Statement/v1",
        subject: [{ name: repository, digest: { [algorithm]: hex } }],
        predicateType: PREDICATE_TYPES.provenance.uri,
        predicate: {
            buildDefinition: {
                buildType: BUILD_TYPE,
                externalParameters: {
                    source: {
                        ...(build.source ? { repository: build.source } : {}),
                        ...(commit ? { commit } : {}),
                        ...(build.contextRevision ? { contextRevision: build.contextRevision } : {}),
                        ...(seen.dirty !== undefined ? { dirty: seen.dirty } : {}),
                    },
                    context: build.context,
                    dockerfile: seen.dockerfileInline
                        ? { inline: true, sha256: seen.dockerfileSha256 }
                        : { path: build.dockerfile ?? `${build.context}/Dockerfile`, sha256: seen.dockerfileSha256 },
                    ...(build.target ? { target: build.target } : {}),
                    platform: platform.platform,
                    buildArgs: { ...build.buildArgs, ...platform.buildArgs },
                    secrets: [...build.secrets].sort(),
                    ssh: [...build.ssh].sort(),
                },
                internalParameters: { stack: build.stack },
                resolvedDependencies: [
                    ...(commit && build.source
                        ? [{ uri: `git+${build.source}@${commit}`, digest: { gitCommit: commit } }]
                        : []),
                    ...seen.baseImages.map((b) =>
                        b.digest
                            ? {
                                  uri: `pkg:docker/${b.ref}`,
                                  name: b.ref,
                                  digest: { sha256: b.digest.replace(/^sha256:/, "") },
                              }
                            : {
                                  uri: `pkg:docker/${b.ref}`,
                                  name: b.ref,
                                  annotations: { unresolved: b.why ?? "not resolved" },
                              },
                    ),
                ],
            },
            runDetails: {
                builder: {
                    id: builderId(build),
                    ...(seen.buildkitVersion ? { version: { buildkit: seen.buildkitVersion } } : {}),
                    builderDependencies: [{ uri: `ssh://${platform.host}`, name: platform.node }],
                },
                metadata: {
                    invocationId: `${build.stack}/${platform.platform}/${hex}`,
                    ...(seen.finishedOn ? { finishedOn: seen.finishedOn } : {}),
                },
                byproducts: [
                    platform.test
                        ? {
                              name: "smoke-test",
                              annotations: {
                                  command: platform.test.command,
                                  result: "passed",
                                  output: platform.test.output,
                              },
                          }
                        : { name: "smoke-test", annotations: { result: "none configured" } },
                    { name: "attested", annotations: { on: seen.attestedOn } },
                ],
            },
        },
    };
}

/**
 * The images a Dockerfile's FROM lines name, in order, without `scratch` and earlier stages.
 * A reference built from ARGs is substituted with the ARG defaults before the first FROM and
 * the build args; what stays unresolved is returned with a `$` for the caller to report.
 */
export function baseImages(dockerfile: string, buildArgs: Record<string, string>): string[] {
    const lines = dockerfile
        .replace(/\\\r?\n/g, " ")
        .split(/\r?\n/)
        .map((l) => l.trim());
    const args: Record<string, string> = {};
    const stages = new Set<string>();
    const images: string[] = [];
    let seenFrom = false;
    for (const line of lines) {
        const arg = /^ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?/i.exec(line);
        if (arg && !seenFrom) {
            args[arg[1]] = buildArgs[arg[1]] ?? (arg[2] ?? "").replace(/^"(.*)"$/, "$1");
        }
        const from = /^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
        if (from) {
            seenFrom = true;
            const ref = from[1].replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (m, name: string) => args[name] || m);
            if (ref !== "scratch" && !stages.has(ref.toLowerCase())) {
                images.push(ref);
            }
            if (from[2]) {
                stages.add(from[2].toLowerCase());
            }
        }
    }
    return [...new Set(images)];
}
