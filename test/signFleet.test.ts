// The sign step's wiring under Pulumi's mocks: one command per image, after the smoke test and
// the index read-back, its secrets on standard input only, and the signature output.

import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, isSecretValue, plaintextStrings, RecordedResource, settled, valueOf } from "./mocks";
import { context, makeProject, validConfig } from "./fixtures";
import { keySigningContext, signingKey, SIGNING_PUBLIC_KEY, testFleet } from "./fleetFixtures";
import { parseConfig } from "../config/schema";
import { codeDigest } from "../runner/scriptFiles";

const mocks = installMocks();
const root = makeProject();
const signed: any = validConfig();
signed.images[0].test = {};
signed.images[0].tags = ["latest", "v1"];
signed.images[0].secrets = undefined;
signed.signing = { mode: "key", publicKey: SIGNING_PUBLIC_KEY };
const unsigned: any = validConfig();
unsigned.images[0].name = "plain";

interface Captured {
    name: string;
    opts: pulumi.ResourceOptions;
}
const captured: Captured[] = [];
const capture = {
    transformations: [
        (args: pulumi.ResourceTransformationArgs) => {
            captured.push({ name: args.name, opts: args.opts });
            return undefined;
        },
    ],
};
const fleet = testFleet(
    parseConfig(signed, keySigningContext(root)),
    {
        labels: {
            app: {
                "org.opencontainers.image.revision": "abc123",
                "org.opencontainers.image.source": "https://example.invalid/app",
                "org.opencontainers.image.created": "2026-12-06T21:03:27Z",
            },
        },
        signingKey: signingKey(),
    },
    capture,
);
const bare = testFleet(parseConfig(unsigned, context(root)), {}, undefined, "bare");

let images: any;
let bareImages: any;
beforeAll(async () => {
    [images, bareImages] = await Promise.all([valueOf(fleet.images), valueOf(bare.images)]);
    await settled(mocks.resources);
});

const named = (name: string): RecordedResource => {
    const found = mocks.resources.find((r) => r.name === name);
    if (!found) throw new Error(`no resource named ${name}`);
    return found;
};
const hash = (s: string) => createHash("sha256").update(s).digest("hex");

describe("the sign step", () => {
    test("is one command per image, the entry point's one short line, re-run when its spec or code changes", () => {
        const signs = mocks.resources
            .filter((r) => r.type === "command:local:Command" && r.name.endsWith("-sign"))
            .map((r) => r.name);
        expect(signs).toEqual(["fleet-app-sign"]);
        const sign = named("fleet-app-sign");
        expect(sign.inputs.create).toBe("node bin/runner/cli.js attest");
        expect(sign.inputs.update).toBe("node bin/runner/cli.js attest");
        expect(sign.inputs.environment.NBF_CODE).toBe(codeDigest("attest"));
        expect(sign.inputs.addPreviousOutputInEnv).toBe(true);
    });

    test("runs after the smoke test and the index read-back, as a child of the image", () => {
        const opts = captured.find((c) => c.name === "fleet-app-sign")!.opts;
        expect((opts.dependsOn as pulumi.Resource[]).map((r: any) => r.__name)).toEqual([
            "fleet-app-test",
            "fleet-app-verify",
        ]);
        expect((opts.parent as any).__name).toBe("fleet-app");
    });

    test("gets every digest, each platform's host, builder and smoke test, and the build's declaration", () => {
        const spec = JSON.parse(named("fleet-app-sign").inputs.environment.NBF_SPEC as string);
        const repo = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app";
        expect(spec.signing).toEqual({ mode: "key", publicKey: SIGNING_PUBLIC_KEY, transparencyLog: true });
        expect(spec.indexes).toHaveLength(2);
        expect(spec.platforms.map((p: any) => [p.platform, p.ref])).toEqual([
            ["linux/amd64", `${repo}@sha256:${hash("fleet-app-linux-amd64")}`],
            ["linux/arm64", `${repo}@sha256:${hash("fleet-app-linux-arm64")}`],
        ]);
        expect(spec.platforms[0]).toMatchObject({
            host: expect.any(String),
            node: expect.stringMatching(/^native-build-fleet-dev-/),
            test: { command: ["uname", "-m"] },
        });
        expect(spec.build).toMatchObject({
            stack: "native-build-fleet/dev",
            context: "app",
            source: "https://example.invalid/app",
            contextRevision: "abc123",
            secrets: [],
            ssh: [],
        });
    });

    test("declares the build args the platform images were built with, SOURCE_DATE_EPOCH included, so a third party can rebuild and compare", () => {
        const spec = JSON.parse(named("fleet-app-sign").inputs.environment.NBF_SPEC as string);
        expect(spec.build.buildArgs).toEqual({
            BUILD_DATE: "2026-12-06T21:03:27Z",
            VCS_REF: "abc123",
            SOURCE_DATE_EPOCH: "1796591007",
        });
        expect(named("fleet-app-linux-amd64").inputs.buildArgs).toEqual(spec.build.buildArgs);
    });

    test("has the registry credentials, the private key and its password only on standard input, as a secret", () => {
        const sign = named("fleet-app-sign");
        expect(isSecretValue(sign.raw.stdin)).toBe(true);
        expect(JSON.parse(sign.inputs.stdin as string)).toMatchObject({
            signingKey: "COSIGN-PRIVATE",
            signingKeyPassword: "COSIGN-PASSWORD",
        });
        const leaked = mocks.resources.flatMap((r) =>
            plaintextStrings(r.raw)
                .filter((v) => /COSIGN-PRIVATE|COSIGN-PASSWORD/.test(v))
                .map(() => r.name),
        );
        expect(leaked).toEqual([]);
    });

    test("exports how to verify the index and each platform's attestations, with no secret", () => {
        const signature = images.app.signature;
        expect(signature.mode).toBe("key");
        expect(signature.publicKey).toBe(SIGNING_PUBLIC_KEY);
        expect(signature.verify).toBe(`cosign verify --key cosign.pub ${images.app.ref}`);
        expect(signature.verifyAttestations).toHaveLength(4);
        expect(JSON.stringify(images)).not.toMatch(/COSIGN-PRIVATE|COSIGN-PASSWORD/);
    });

    test("does not exist, nor its output, without signing", () => {
        expect(mocks.resources.some((r) => r.name === "bare-plain-sign")).toBe(false);
        expect(bareImages.plain).not.toHaveProperty("signature");
    });
});
