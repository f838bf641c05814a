// Signing and attesting (issue 19): the signing config, cosign's and syft's command lines per
// key source, the verification commands the stack exports, and the provenance document.

import { ConfigError, parseConfig, Problem } from "../config/schema";
import { SigningConfig } from "../config/signing";
import { baseImages, BuildDeclaration, PlatformBuild, provenanceStatement } from "../runner/provenance";
import {
    attestArgs,
    CosignFiles,
    digestOnly,
    oidcSource,
    signArgs,
    signatureOutput,
    syftArgs,
    verifyArgs,
    verifyAttestationArgs,
} from "../runner/signing";
import { context, makeProject, validConfig } from "./fixtures";

const PUB =
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE3vWkzLPyo+c3OsQU/6Wm0LgO6vZk\nb0Vd8mJ9x2z0N3l8ZrKTGx5mQyZ2P1x6C3Xr5nqQv2e8J3E1lD0r9cM0Pg==\n-----END PUBLIC KEY-----\n";
const ARN = "awskms:///arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const DIGEST = `sha256:${"e".repeat(64)}`;
const INDEX = `registry.example.com:5000/team/app:v1.2@${DIGEST}`;
const BY_DIGEST = `registry.example.com:5000/team/app@${DIGEST}`;

const KEY: SigningConfig = { mode: "key", publicKey: PUB, transparencyLog: true };
const KEY_OFFLINE: SigningConfig = { mode: "key", publicKey: PUB, transparencyLog: false };
const KMS: SigningConfig = { mode: "kms", key: ARN, transparencyLog: true };
const KEYLESS: SigningConfig = {
    mode: "keyless",
    identity: "https://github.com/org/app/.github/workflows/release.yml@refs/heads/main",
    issuer: "https://token.actions.githubusercontent.com",
};
const FILES: CosignFiles = {
    key: "/tmp/d/cosign.key",
    signingConfig: "/tmp/d/signing-config.json",
    trustedRoot: "/tmp/d/trusted-root.json",
};

function problems(signing: unknown, secrets = { signingKey: true, signingKeyPassword: true }): Problem[] {
    try {
        parseConfig(
            { ...validConfig(), signing },
            context(makeProject(), { secretsSet: { sshPrivateKey: true, registryPassword: false, ...secrets } }),
        );
        return [];
    } catch (e) {
        if (e instanceof ConfigError) {
            return e.problems;
        }
        throw e;
    }
}

describe("the signing config", () => {
    test.each([
        ["a key pair", { mode: "key", publicKey: PUB }],
        ["a key pair that signs without Rekor", { mode: "key", publicKey: PUB, transparencyLog: false }],
        ["a KMS key by ARN", { mode: "kms", key: ARN }],
        ["a KMS alias", { mode: "kms", key: "awskms:///alias/release-signing" }],
        [
            "a KMS key through its own endpoint",
            { mode: "kms", key: "awskms://kms.eu-west-1.amazonaws.com/1234abcd-12ab-34cd-56ef-1234567890ab" },
        ],
        [
            "keyless on GitHub",
            {
                mode: "keyless",
                identity: KEYLESS.mode === "keyless" ? KEYLESS.identity : "",
                issuer: "https://token.actions.githubusercontent.com",
            },
        ],
        ["the empty default of Pulumi.yaml: no signing", ""],
    ])("accepts %s", (_, signing) => {
        expect(problems(signing)).toEqual([]);
    });

    test("keeps the key source and defaults transparencyLog to on", () => {
        const config = parseConfig({ ...validConfig(), signing: { mode: "kms", key: ARN } }, context(makeProject()));
        expect(config.signing).toEqual({ mode: "kms", key: ARN, transparencyLog: true });
        expect(parseConfig(validConfig(), context(makeProject())).signing).toBeUndefined();
    });

    test.each([
        ["an unknown mode", { mode: "gpg" }, "signing.mode"],
        ["a public key that is not PEM", { mode: "key", publicKey: "ssh-ed25519 AAAA" }, "signing.publicKey"],
        [
            "a KMS key that is not an AWS KMS URI",
            { mode: "kms", key: "arn:aws:kms:eu-west-1:123456789012:key/abc" },
            "signing.key",
        ],
        [
            "a GCP KMS key",
            { mode: "kms", key: "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k" },
            "signing.key",
        ],
        [
            "a keyless issuer that is not an https URL",
            { mode: "keyless", identity: "me", issuer: "token.actions.githubusercontent.com" },
            "signing.issuer",
        ],
        ["a typo in a key", { mode: "key", publicKey: PUB, transparencylog: false }, "signing.transparencylog"],
    ])("refuses %s at its key path", (_, signing, path) => {
        expect(problems(signing).map((p) => p.path)).toContain(path);
    });

    test("a key pair needs the private key and its password as secrets, each named with the command that sets it", () => {
        const found = problems({ mode: "key", publicKey: PUB }, { signingKey: false, signingKeyPassword: false });
        expect(found).toEqual([
            {
                path: "signingKey",
                message: expect.stringContaining("pulumi config set --secret signingKey < cosign.key"),
            },
            {
                path: "signingKeyPassword",
                message: expect.stringContaining("pulumi config set --secret signingKeyPassword"),
            },
        ]);
    });
});

describe("cosign's command lines, per key source", () => {
    test.each([
        ["a key pair", KEY, "none", ["sign", "--key", FILES.key, "--yes", BY_DIGEST]],
        [
            "a key pair without Rekor: the offline signing config and trusted root",
            KEY_OFFLINE,
            "none",
            [
                "sign",
                "--key",
                FILES.key,
                "--signing-config",
                FILES.signingConfig,
                "--trusted-root",
                FILES.trustedRoot,
                "--yes",
                BY_DIGEST,
            ],
        ],
        ["a KMS key, named by its URI", KMS, "none", ["sign", "--key", ARN, "--yes", BY_DIGEST]],
        [
            "keyless on GitHub Actions: its ambient token",
            KEYLESS,
            "github",
            ["sign", "--oidc-provider", "github-actions", "--yes", BY_DIGEST],
        ],
        [
            "keyless on GitLab: SIGSTORE_ID_TOKEN from the environment, never in argv",
            KEYLESS,
            "gitlab",
            ["sign", "--yes", BY_DIGEST],
        ],
    ] as const)("sign an index with %s, by digest without its tag", (_, signing, oidc, args) => {
        expect(signArgs(signing, FILES, oidc, INDEX)).toEqual(args);
    });

    test.each([
        [
            "provenance",
            KEY,
            [
                "attest",
                "--key",
                FILES.key,
                "--yes",
                "--type",
                "slsaprovenance1",
                "--predicate",
                "/tmp/d/p.json",
                BY_DIGEST,
            ],
        ],
        [
            "sbom",
            KMS,
            ["attest", "--key", ARN, "--yes", "--type", "spdxjson", "--predicate", "/tmp/d/p.json", BY_DIGEST],
        ],
        [
            "sbom",
            KEYLESS,
            [
                "attest",
                "--oidc-provider",
                "github-actions",
                "--yes",
                "--type",
                "spdxjson",
                "--predicate",
                "/tmp/d/p.json",
                BY_DIGEST,
            ],
        ],
    ] as const)("attest %s on a platform digest", (predicate, signing, args) => {
        expect(attestArgs(signing, FILES, "github", BY_DIGEST, predicate, "/tmp/d/p.json")).toEqual(args);
    });

    test.each([
        ["a key pair", KEY, ["verify", "--key", "cosign.pub", BY_DIGEST]],
        [
            "a key pair without Rekor",
            KEY_OFFLINE,
            [
                "verify",
                "--key",
                "cosign.pub",
                "--insecure-ignore-tlog=true",
                "--trusted-root",
                "trusted_root.json",
                BY_DIGEST,
            ],
        ],
        ["a KMS key", KMS, ["verify", "--key", ARN, BY_DIGEST]],
        [
            "keyless",
            KEYLESS,
            [
                "verify",
                "--certificate-identity",
                (KEYLESS as { identity: string }).identity,
                "--certificate-oidc-issuer",
                "https://token.actions.githubusercontent.com",
                BY_DIGEST,
            ],
        ],
    ] as const)("verify what %s signed", (_, signing, args) => {
        expect(verifyArgs(signing, INDEX)).toEqual(args);
    });

    test("verify-attestation names the predicate type", () => {
        expect(verifyAttestationArgs(KEY, BY_DIGEST, "provenance")).toEqual([
            "verify-attestation",
            "--key",
            "cosign.pub",
            "--type",
            "slsaprovenance1",
            BY_DIGEST,
        ]);
    });

    test("syft reads the pushed image from the registry by digest and writes SPDX JSON", () => {
        expect(syftArgs(INDEX, "/tmp/d/sbom.json")).toEqual([
            "scan",
            `registry:${BY_DIGEST}`,
            "--output",
            "spdx-json=/tmp/d/sbom.json",
            "--quiet",
        ]);
    });

    test.each([
        ["a tag", "registry.example.com/app:latest"],
        ["a short digest", "registry.example.com/app@sha256:abc"],
    ])("refuses to attach anything through %s", (_, ref) => {
        expect(() => digestOnly(ref)).toThrow(/not a digest reference/);
    });

    test("keeps a registry port, which is not a tag", () => {
        expect(digestOnly(BY_DIGEST)).toBe(BY_DIGEST);
        expect(digestOnly(`localhost:5000/app@${DIGEST}`)).toBe(`localhost:5000/app@${DIGEST}`);
    });

    test.each([
        [
            "GitHub Actions with id-token: write",
            { GITHUB_ACTIONS: "true", ACTIONS_ID_TOKEN_REQUEST_URL: "https://x" },
            "github",
        ],
        ["GitHub Actions without id-token: write", { GITHUB_ACTIONS: "true" }, "none"],
        ["GitLab with an id_token", { GITLAB_CI: "true", SIGSTORE_ID_TOKEN: "eyJ" }, "gitlab"],
        ["GitLab without one", { GITLAB_CI: "true" }, "none"],
        ["a laptop", {}, "none"],
    ])("finds the OIDC token on %s", (_, env, source) => {
        expect(oidcSource(env)).toBe(source);
    });
});

describe("the signature output", () => {
    test("gives a key pair's public key and ready commands for the index and each platform's provenance and SBOM", () => {
        const out = signatureOutput(KEY, INDEX, [BY_DIGEST]);
        expect(out).toEqual({
            mode: "key",
            publicKey: PUB,
            verify: `cosign verify --key cosign.pub ${BY_DIGEST}`,
            verifyAttestations: [
                `cosign verify-attestation --key cosign.pub --type slsaprovenance1 ${BY_DIGEST}`,
                `cosign verify-attestation --key cosign.pub --type spdxjson ${BY_DIGEST}`,
            ],
        });
    });

    test("gives keyless verifiers the identity and issuer to pin", () => {
        const out = signatureOutput(KEYLESS, INDEX, []);
        expect(out).toMatchObject({
            mode: "keyless",
            certificateIdentity: (KEYLESS as { identity: string }).identity,
            certificateOidcIssuer: "https://token.actions.githubusercontent.com",
        });
        expect(out.verify).toContain(
            "--certificate-identity https://github.com/org/app/.github/workflows/release.yml@refs/heads/main",
        );
        expect(out).not.toHaveProperty("publicKey");
    });

    test("names the KMS key", () => {
        expect(signatureOutput(KMS, INDEX, [])).toMatchObject({
            mode: "kms",
            kmsKey: ARN,
            verify: `cosign verify --key ${ARN} ${BY_DIGEST}`,
        });
    });
});

describe("the provenance document", () => {
    const build: BuildDeclaration = {
        stack: "native-build-fleet/prod",
        builderName: "fleet",
        context: "app",
        dockerfile: "app/Dockerfile",
        target: "runtime",
        buildArgs: { MODE: "release", VCS_REF: "c0ffee" },
        secrets: ["npm", "aws"],
        ssh: ["default"],
        source: "https://github.com/org/app",
        contextRevision: "c0ffee",
    };
    const platform: PlatformBuild = {
        platform: "linux/arm64",
        ref: BY_DIGEST,
        host: "arm-0",
        node: "fleet-arm-0",
        buildArgs: { MODE: "release-neon" },
        test: { command: ["uname", "-m"], output: "aarch64" },
    };
    const seen = {
        commit: "1234567",
        dirty: false,
        dockerfileSha256: "d".repeat(64),
        dockerfileInline: false,
        baseImages: [
            { ref: "debian:bookworm", digest: `sha256:${"b".repeat(64)}` },
            { ref: "$BASE", why: "no value" },
        ],
        buildkitVersion: "v0.31.0",
        finishedOn: "2026-12-06T20:00:00Z",
        attestedOn: "2026-12-06T20:01:00Z",
    };
    const statement = provenanceStatement(build, platform, seen) as any;

    test("is an in-toto v1 statement about the platform digest with the SLSA v1 predicate", () => {
        expect(statement._type).toBe("https://in-toto.io/Statement/v1");
        expect(statement.predicateType).toBe("https://slsa.dev/provenance/v1");
        expect(statement.subject).toEqual([
            { name: "registry.example.com:5000/team/app", digest: { sha256: "e".repeat(64) } },
        ]);
    });

    test("names the source, the Dockerfile by digest, the target, the platform and its build args", () => {
        const params = statement.predicate.buildDefinition.externalParameters;
        expect(params.source).toEqual({
            repository: "https://github.com/org/app",
            commit: "1234567",
            contextRevision: "c0ffee",
            dirty: false,
        });
        expect(params.dockerfile).toEqual({ path: "app/Dockerfile", sha256: "d".repeat(64) });
        expect(params).toMatchObject({
            target: "runtime",
            platform: "linux/arm64",
            buildArgs: { MODE: "release-neon", VCS_REF: "c0ffee" },
        });
    });

    test("lists the ids of build secrets and SSH mounts, never a value", () => {
        const params = statement.predicate.buildDefinition.externalParameters;
        expect(params.secrets).toEqual(["aws", "npm"]);
        expect(params.ssh).toEqual(["default"]);
    });

    test("resolves the commit and base images by digest, and says which one it could not", () => {
        expect(statement.predicate.buildDefinition.resolvedDependencies).toEqual([
            { uri: "git+https://github.com/org/app@1234567", digest: { gitCommit: "1234567" } },
            { uri: "pkg:docker/debian:bookworm", name: "debian:bookworm", digest: { sha256: "b".repeat(64) } },
            { uri: "pkg:docker/$BASE", name: "$BASE", annotations: { unresolved: "no value" } },
        ]);
    });

    test("names the builder, its host and node and BuildKit, the smoke test's result, and when it finished", () => {
        const run = statement.predicate.runDetails;
        expect(run.builder.version).toEqual({ buildkit: "v0.31.0" });
        expect(run.builder.id).toBe("urn:native-build-fleet:builder:native-build-fleet/prod:fleet");
        expect(run.builder.builderDependencies).toEqual([{ uri: "ssh://arm-0", name: "fleet-arm-0" }]);
        expect(run.metadata.finishedOn).toBe("2026-12-06T20:00:00Z");
        expect(run.byproducts[0]).toEqual({
            name: "smoke-test",
            annotations: { command: ["uname", "-m"], result: "passed", output: "aarch64" },
        });
    });

    test("marks an inline Dockerfile by the digest of its text, and a dirty tree", () => {
        const inline = provenanceStatement(
            build,
            { ...platform, test: undefined },
            { ...seen, dirty: true, dockerfileInline: true },
        ) as any;
        expect(inline.predicate.buildDefinition.externalParameters.dockerfile).toEqual({
            inline: true,
            sha256: "d".repeat(64),
        });
        expect(inline.predicate.buildDefinition.externalParameters.source.dirty).toBe(true);
        expect(inline.predicate.runDetails.byproducts[0]).toEqual({
            name: "smoke-test",
            annotations: { result: "none configured" },
        });
    });

    test.each([
        [
            "the ARG default before the first FROM, skipping scratch and earlier stages",
            "ARG BASE=registry.e2e.test:5000/busybox:e2e\nFROM --platform=$BUILDPLATFORM ${BASE} AS build\nRUN x\nFROM scratch\nCOPY --from=build / /\n",
            {},
            ["registry.e2e.test:5000/busybox:e2e"],
        ],
        ["a build arg over the default", "ARG BASE=a\nFROM $BASE\n", { BASE: "b:1" }, ["b:1"]],
        [
            "an earlier stage used as a base",
            "FROM golang:1.26 AS build\nFROM build AS test\nFROM gcr.io/distroless/static\n",
            {},
            ["golang:1.26", "gcr.io/distroless/static"],
        ],
        ["an ARG with no value, left for the caller to report", "ARG BASE\nFROM ${BASE}\n", {}, ["${BASE}"]],
    ])("finds the base images: %s", (_, dockerfile, args, images) => {
        expect(baseImages(dockerfile, args)).toEqual(images);
    });
});
