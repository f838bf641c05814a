// The examples users start from: the service cross-compiles for every platform from any
// build platform, and the deploy stack runs the fleet's image by digest.

import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, settled, valueOf } from "./mocks";
import { expectationFor } from "../config/schema";
import { sandbox } from "./sandbox";

const service = path.join(__dirname, "..", "examples", "service");

// Two targets keep a fresh machine's first run short (each compiles the standard library once).
test.each([
    ["arm64", ""],
    ["arm", "7"],
])("the example service cross-compiles for linux/%s%s as its Dockerfile does", (arch, arm) => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "nbf-service-")), "service");
    execFileSync("go", ["build", "-trimpath", "-o", out, "."], {
        cwd: service,
        env: { ...process.env, CGO_ENABLED: "0", GOOS: "linux", GOARCH: arch, GOARM: arm, GOFLAGS: "-mod=mod" },
        stdio: "pipe",
    });
    expect(fs.statSync(out).size).toBeGreaterThan(0);
});

test("the example service's smoke-test command prints what the example stack expects for this machine's platform", () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "nbf-service-")), "service");
    execFileSync("go", ["build", "-trimpath", "-o", out, "."], {
        cwd: service,
        env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=mod" },
        stdio: "pipe",
    });
    const goarch = execFileSync("go", ["env", "GOARCH"], { encoding: "utf8" }).trim();
    expect(execFileSync(out, ["-arch"], { encoding: "utf8" })).toContain(expectationFor("{{arch}}", `linux/${goarch}`));
});

test("the example Dockerfile compiles on the build platform for the target platform", () => {
    const dockerfile = fs.readFileSync(path.join(service, "Dockerfile"), "utf8");
    expect(dockerfile).toContain("FROM --platform=$BUILDPLATFORM");
    expect(dockerfile).toMatch(/GOOS=\$TARGETOS GOARCH=\$TARGETARCH/);
});

describe("the deploy stack example", () => {
    const mocks = installMocks();
    const REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/service";
    const DIGEST_REF = `${REPO}@sha256:${"a".repeat(64)}`;
    const ARM_REF = `${REPO}@sha256:${"b".repeat(64)}`;

    // First, while the program module has not loaded: one that throws is not cached, so the
    // next test loads it afresh.
    test("refuses to run without a pinned signer, naming trustedSigner, before it reads the build stack", async () => {
        pulumi.runtime.setAllConfig({
            "native-build-fleet:buildStack": "acme/native-build-fleet/prod",
            "native-build-fleet:image": "service",
        });
        mocks.resources.length = 0;
        await expect(import("../examples/deploy/index")).rejects.toThrow(
            /^trustedSigner is not set: this deploy verifies images only against a signer it pins itself/,
        );
        expect(mocks.resources).toEqual([]);
    });

    test("verifies the signature and attestations with the pinned signer, then runs the image by the digest the build stack exports", async () => {
        pulumi.runtime.setAllConfig({
            "native-build-fleet:buildStack": "acme/native-build-fleet/prod",
            "native-build-fleet:image": "service",
            "native-build-fleet:trustedSigner": JSON.stringify({ mode: "kms", key: "awskms:///alias/fleet" }),
            "native-build-fleet:imageRepository": REPO,
        });
        // cosign, as the deploy finds it on PATH: passes every check and prints the provenance it
        // verified, made for the repository and digest (test/deployVerify.test.ts covers failures).
        const statement = {
            _type: "https://in-toto.io/Statement/v1",
            predicateType: "https://slsa.dev/provenance/v1",
            subject: [{ name: REPO, digest: { sha256: "b".repeat(64) } }],
        };
        const envelope = JSON.stringify({ payload: Buffer.from(JSON.stringify(statement)).toString("base64") });
        const box = sandbox("nbf-deploy-");
        box.stub("cosign", `[ "$1" = verify-attestation ] && echo '${envelope}'; exit 0`);
        const path0 = process.env.PATH;
        process.env.PATH = box.env.PATH;
        mocks.resources.length = 0;
        const original = mocks.outputsFor;
        mocks.outputsFor = (type, name, inputs) =>
            type === "pulumi:pulumi:StackReference"
                ? {
                      id: name,
                      state: {
                          name,
                          outputs: {
                              images: {
                                  service: {
                                      ref: DIGEST_REF,
                                      platforms: { "linux/arm64": { ref: ARM_REF } },
                                      signature: { mode: "kms", kmsKey: "awskms:///alias/fleet" },
                                  },
                              },
                          },
                          secretOutputNames: [],
                      },
                  }
                : original(type, name, inputs);
        try {
            const program = await import("../examples/deploy/index");
            expect(await valueOf(program.imageRef)).toBe(DIGEST_REF);
            await settled(mocks.resources);
        } finally {
            process.env.PATH = path0;
        }
        const task = mocks.resources.find((r) => r.type === "aws:ecs/taskDefinition:TaskDefinition");
        expect(JSON.parse(task?.inputs.containerDefinitions)[0].image).toBe(DIGEST_REF);
        expect(box.calls("cosign")).toEqual([
            `verify --key awskms:///alias/fleet ${DIGEST_REF}`,
            `verify-attestation --key awskms:///alias/fleet --type https://slsa.dev/provenance/v1 ${ARM_REF}`,
            `verify-attestation --key awskms:///alias/fleet --type spdxjson ${ARM_REF}`,
        ]);
    });
});
