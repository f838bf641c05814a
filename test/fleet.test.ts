// The fleet under Pulumi's mocks: every component's wiring, asserted on what it registers.

import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import {
    installMocks,
    isSecretValue,
    mockHostKey,
    RecordedResource,
    settled,
    unwrapSecrets as unwrap,
    valueOf,
} from "./mocks";
import { context, makeProject, validConfig } from "./fixtures";
import { parseConfig } from "../config/schema";
import { Fleet } from "../components/fleet";
import { credentialKinds } from "../policy/rules";
import { sshConfig } from "../runner/builderSpec";
import { ReadinessSpec } from "../runner/readiness";
import { codeDigest, scriptFile } from "../runner/scriptFiles";
import { scriptFile as hostScriptFile } from "../host/scriptFiles";

const mocks = installMocks();

interface Captured {
    type: string;
    name: string;
    props: any;
    opts: pulumi.ResourceOptions;
}

const root = makeProject();
const raw: any = validConfig();
raw.hosts[1].count = 2;
raw.hosts[1].platforms = ["linux/amd64", "linux/386"];
raw.hosts.unshift({ name: "qemu", instanceType: "c7i.xlarge", emulate: ["linux/arm/v7", "linux/s390x"], spot: true });
raw.images[0].tags = ["latest", "v1.4.0"];
raw.images[0].buildArgs = { MODE: "release" };
raw.images[0].platformBuildArgs = { "linux/arm64": { JEMALLOC_LG_PAGE: "16", MODE: "release-neon" } };
raw.images[0].test = {};
raw.images.push({
    name: "legacy",
    context: "worker",
    dockerfile: "Dockerfile.prod",
    platforms: ["linux/arm/v7", "linux/s390x", "linux/386"],
    buildArgs: { VARIANT: "slim" },
    target: "runtime",
    test: { command: ["/app/worker", "--self-test"], expect: "self-test ok on {{platform}}" },
});
const config = parseConfig(raw, context(root));

const captured: Captured[] = [];
const secretKey = pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----\noperator\n-----END OPENSSH PRIVATE KEY-----\n");
const fleet = new Fleet(
    "fleet",
    {
        config,
        project: "native-build-fleet",
        stack: "dev",
        sshPrivateKey: secretKey,
        labels: { app: { "org.opencontainers.image.revision": "abc123" } },
    },
    {
        transformations: [
            (args) => {
                captured.push({ type: args.type, name: args.name, props: args.props, opts: args.opts });
                return undefined;
            },
        ],
    },
);

let images: any;
let builder: any;
let hosts: any;
beforeAll(async () => {
    [images, builder, hosts] = await Promise.all([valueOf(fleet.images), valueOf(fleet.builder), valueOf(fleet.hosts)]);
    await settled(mocks.resources);
});

const ofType = (type: string): RecordedResource[] => mocks.resources.filter((r) => r.type === type);
const named = (name: string): RecordedResource => {
    const found = mocks.resources.find((r) => r.name === name);
    if (!found) throw new Error(`no resource named ${name}`);
    return found;
};
const optsOf = (name: string): pulumi.ResourceOptions => {
    const found = captured.find((c) => c.name === name);
    if (!found) throw new Error(`no captured resource ${name}`);
    return found.opts;
};
const hash = (s: string) => createHash("sha256").update(s).digest("hex");
/** The data a check's entry point is given (NBF_SPEC). */
const specOfCheck = (name: string) => JSON.parse(named(name).inputs.environment.NBF_SPEC as string);

describe("host pools", () => {
    test("create one instance per host, keyed by pool and index", () => {
        expect(
            ofType("aws:ec2/instance:Instance")
                .map((r) => r.name)
                .sort(),
        ).toEqual(["arm-0", "qemu-0", "x86-0", "x86-1"]);
    });

    test("look up the AMI once per architecture, not per host", () => {
        const lookups = mocks.invokes
            .filter((i) => i.token === "aws:ssm/getParameter:getParameter")
            .map((i) => i.inputs.name)
            .sort();
        expect(lookups).toEqual([
            "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
            "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
        ]);
    });

    test.each(["arm-0", "x86-0", "x86-1", "qemu-0"])(
        "%s requires IMDSv2 with hop limit 1 and an encrypted gp3 root",
        (name) => {
            const instance = named(name).inputs;
            expect(instance.metadataOptions).toMatchObject({ httpTokens: "required", httpPutResponseHopLimit: 1 });
            expect(instance.rootBlockDevice).toMatchObject({ volumeType: "gp3", encrypted: true, volumeSize: 100 });
            expect(instance.userDataReplaceOnChange).toBe(true);
        },
    );

    test("run spot pools on spot capacity and the rest on demand", () => {
        expect(named("qemu-0").inputs.instanceMarketOptions).toMatchObject({ marketType: "spot" });
        expect(named("arm-0").inputs.instanceMarketOptions).toBeUndefined();
    });

    test("give binfmt handlers to the emulating pool only", () => {
        expect(named("qemu-0").inputs.userData).toContain("--install arm,s390x");
        for (const name of ["arm-0", "x86-0", "x86-1"]) {
            expect(named(name).inputs.userData).not.toMatch(/binfmt\.service|--install/);
        }
    });

    test("put no private key in any user data, which ec2:DescribeInstanceAttribute and IMDS reveal", () => {
        for (const instance of ofType("aws:ec2/instance:Instance")) {
            expect(instance.inputs.userData).toMatch(/^#cloud-config\n/);
            expect(instance.inputs.userData).not.toMatch(/PRIVATE KEY|operator\n/);
            expect(credentialKinds(instance.inputs.userData)).toEqual([]);
        }
    });

    test("learn each host's key from its console through the EC2 API, once per instance", () => {
        for (const instance of ofType("aws:ec2/instance:Instance")) {
            const read = named(`${instance.name}-console-host-key`).inputs;
            expect(read.environment.NBF_INSTANCE_ID).toBe(hosts[instance.name].instanceId);
            expect(read.triggers).toEqual([hosts[instance.name].instanceId]);
            expect(read.create).toContain("aws ec2 get-console-output");
        }
        expect(ofType("tls:index/privateKey:PrivateKey")).toEqual([]);
    });

    test("ignore newer AMIs until hosts are replaced on purpose", () => {
        expect(optsOf("arm-0").ignoreChanges).toEqual(["ami"]);
    });

    test("tag every instance with project, stack and pool", () => {
        expect(named("x86-1").inputs.tags).toMatchObject({
            "native-build-fleet:project": "native-build-fleet",
            "native-build-fleet:stack": "dev",
            "native-build-fleet:pool": "x86",
        });
    });
});

describe("host access", () => {
    test("admit only SSH, only from the allowed CIDRs", () => {
        const [group] = ofType("aws:ec2/securityGroup:SecurityGroup");
        expect(group.inputs.ingress).toEqual([
            expect.objectContaining({
                protocol: "tcp",
                fromPort: 22,
                toPort: 22,
                cidrBlocks: ["203.0.113.0/24"],
                ipv6CidrBlocks: [],
            }),
        ]);
    });

    test("attach no policy to the instance role", () => {
        expect(ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")).toEqual([]);
        expect(ofType("aws:iam/rolePolicy:RolePolicy")).toEqual([]);
    });
});

describe("readiness", () => {
    const checks = () => ofType("command:local:Command").filter((r) => r.name.endsWith("-ready-check"));
    const specOf = (host: string): ReadinessSpec => specOfCheck(`${host}-ready-check`);
    const stepsOf = (host: string) => specOf(host).steps.map((s) => [s.name, ...s.args]);

    test("checks every host with the local OpenSSH client, its host key pinned under the instance id", () => {
        expect(ofType("command:remote:Command")).toEqual([]);
        expect(
            checks()
                .map((c) => c.name)
                .sort(),
        ).toEqual(["arm-0-ready-check", "qemu-0-ready-check", "x86-0-ready-check", "x86-1-ready-check"]);
        for (const check of checks()) {
            const host = check.name.replace(/-ready-check$/, "");
            // What the mocks' console reader printed for that host, pinned in the check's own known_hosts.
            const { target } = specOf(host);
            expect(target).toMatchObject({
                address: expect.stringMatching(/^198\.51\.100\./),
                port: 22,
                user: "ec2-user",
                hostKey: mockHostKey(named(`${host}-console-host-key`).name),
            });
            // Pinned under the instance id, as the builder's known_hosts pins it: a reused address never matches.
            expect(target.hostKeyAlias).toBe(hosts[host].instanceId);
            expect(check.inputs.create).toBe("node bin/runner/cli.js readiness");
            // The host scripts travel verbatim in the spec; the runner's code by its digest, so an edit to either updates the check.
            expect(specOf(host).steps.map((s) => s.script)).toEqual([
                hostScriptFile("host/boot-wait.sh"),
                hostScriptFile("host/docker-check.sh"),
            ]);
            expect(check.inputs.environment.NBF_CODE).toBe(codeDigest("readiness"));
        }
    });

    test("waits for the boot script before checking docker in a new session, and gives a booting host time", () => {
        expect(stepsOf("arm-0")[0]).toEqual(["boot-wait.sh", "900", "/var/lib/native-build-fleet/ready"]);
        expect(stepsOf("arm-0")[1][0]).toBe("docker-check.sh");
        expect(specOf("arm-0")).toMatchObject({ connectTimeoutSeconds: 900, persistentFaultSeconds: 90 });
    });

    test("keeps the operator's private key secret and out of the command text and environment", () => {
        const check = named("arm-0-ready-check");
        expect(isSecretValue(check.raw.stdin)).toBe(true);
        expect(JSON.stringify([check.inputs.create, check.inputs.environment])).not.toMatch(
            /PRIVATE KEY|\\noperator\\n/,
        );
    });

    test("checks the architecture each host reports against its pool, and allows QEMU handlers only for the platforms it declares", () => {
        expect(stepsOf("arm-0")[1]).toEqual(["docker-check.sh", "180", "arm64", "aarch64 arm64", "aarch64"]);
        expect(stepsOf("x86-0")[1]).toEqual(["docker-check.sh", "180", "amd64", "x86_64", "x86_64 i386"]);
        expect(stepsOf("qemu-0")[1]).toEqual(["docker-check.sh", "180", "amd64", "x86_64", "x86_64 arm s390x"]);
    });
});

describe("builder", () => {
    test("declares one node per host, native nodes first, each with exactly its platforms", () => {
        expect(builder.name).toBe("native-build-fleet-dev");
        expect(builder.nodes.map((n: any) => [n.name, n.platforms])).toEqual([
            ["native-build-fleet-dev_arm-0", ["linux/arm64"]],
            ["native-build-fleet-dev_x86-0", ["linux/amd64", "linux/386"]],
            ["native-build-fleet-dev_x86-1", ["linux/amd64", "linux/386"]],
            ["native-build-fleet-dev_qemu-0", ["linux/amd64", "linux/arm/v7", "linux/s390x"]],
        ]);
        expect(builder.nodes[0].endpoint).toMatch(/^ssh:\/\/ec2-user@198\.51\.100\.\d+:22$/);
    });

    /** The spec a runner command reads from standard input. */
    const specOf = (stdin: string) => JSON.parse(stdin).spec;

    test("registers with pinned host keys, under aliases no other stack can write", () => {
        const spec = specOf(named("fleet-builder-registration").inputs.stdin);
        const config = sshConfig(spec, "/home/u/.ssh/native-build-fleet/native-build-fleet-dev");
        expect(config).toContain("StrictHostKeyChecking yes");
        expect(config).not.toMatch(/StrictHostKeyChecking\s+no|UserKnownHostsFile\s+\/dev\/null/);
        for (const instance of ofType("aws:ec2/instance:Instance")) {
            const node = spec.nodes.find((n: any) => n.host === instance.name);
            expect(node).toMatchObject({
                alias: `${instance.name}.native-build-fleet-dev.nbf.invalid`,
                node: `native-build-fleet-dev_${instance.name}`,
                hostKeyAlias: hosts[instance.name].instanceId,
                address: hosts[instance.name].address,
            });
        }
    });

    test("re-establishes the builders on every run through an invoke whose command is one short line", () => {
        const ensures = mocks.invokes.filter((i) => i.token === "command:local:run");
        expect(ensures).toHaveLength(1);
        expect(ensures[0].inputs.command).toBe("node bin/runner/cli.js update");
        expect(named("fleet-builder-registration").inputs.create).toBe("node bin/runner/cli.js register");
        expect(specOf(unwrap(ensures[0].inputs.stdin)).nodes.map((n: any) => n.host)).toEqual([
            "arm-0",
            "x86-0",
            "x86-1",
            "qemu-0",
        ]);
    });

    test("declares in the stack builder only native platforms, and emulated ones no host builds natively", () => {
        const spec = specOf(named("fleet-builder-registration").inputs.stdin);
        const declared = Object.fromEntries(spec.nodes.map((n: any) => [n.host, [n.platforms, n.stackPlatforms]]));
        expect(declared["x86-1"]).toEqual([
            ["linux/amd64", "linux/386"],
            ["linux/amd64", "linux/386"],
        ]);
        expect(declared["qemu-0"]).toEqual([
            ["linux/amd64", "linux/arm/v7", "linux/s390x"],
            ["linux/amd64", "linux/arm/v7", "linux/s390x"],
        ]);
    });

    test("lists every builder it registered, each host with a builder of its own and a preview builder", () => {
        expect(builder.builders.map((b: any) => b.name)).toEqual([
            "native-build-fleet-dev",
            "native-build-fleet-dev-arm-0",
            "native-build-fleet-dev-x86-0",
            "native-build-fleet-dev-x86-1",
            "native-build-fleet-dev-qemu-0",
            "native-build-fleet-dev-arm-0_preview",
            "native-build-fleet-dev-x86-0_preview",
            "native-build-fleet-dev-x86-1_preview",
            "native-build-fleet-dev-qemu-0_preview",
        ]);
        expect(builder.builders[2].nodes).toEqual(["native-build-fleet-dev_x86-0"]);
        expect(builder.builders[6].nodes).toEqual(["native-build-fleet-dev_x86-0.preview"]);
    });

    test("a destroy removes the preview builders too, with their BuildKit containers and state", () => {
        const builders = named("fleet-builder-registration").inputs.environment.NBF_BUILDERS.split("\n");
        expect(builders).toEqual(
            expect.arrayContaining([
                "native-build-fleet-dev-x86-0",
                "native-build-fleet-dev-x86-0_preview",
                "native-build-fleet-dev-qemu-0_preview",
            ]),
        );
        expect(builders).toHaveLength(9);
    });

    test("replaces only on a new name, deleting the old builders before creating the new ones", () => {
        const opts = optsOf("fleet-builder-registration") as pulumi.CustomResourceOptions;
        expect(opts.deleteBeforeReplace).toBe(true);
        expect(opts.replaceOnChanges).toContain("triggers");
        const registration = named("fleet-builder-registration").inputs;
        expect(registration.triggers).toEqual(["native-build-fleet-dev"]);
        expect(registration.update).toBe(registration.create);
        // The delete's data stay in the state, for a destroy does not run the program; of the
        // script, only the digest that pins the checkout's copy (runner/run-pinned.sh).
        expect(registration.delete).toBe(
            'exec /bin/bash -p runner/run-pinned.sh runner/remove-builders.sh "$NBF_REMOVE_BUILDERS_SHA256"',
        );
        // bash -p: no BASH_ENV, imported function or SHELLOPTS from the state's environment runs.
        expect(registration.interpreter).toEqual(["/bin/bash", "-p", "-c"]);
        expect(registration.environment).toMatchObject({
            NBF_REMOVE_BUILDERS_SHA256: hash(scriptFile("runner/remove-builders.sh")),
            NBF_BUILDER: "native-build-fleet-dev",
            NBF_BUILDERS: expect.stringMatching(/^native-build-fleet-dev\nnative-build-fleet-dev-arm-0\n/),
        });
    });

    test("keeps no script text in the registration's state, only the delete's one line and its data", () => {
        const registration = named("fleet-builder-registration").inputs;
        const stored = JSON.stringify([registration.delete, registration.environment]);
        for (const name of ["runner/remove-builders.sh", "runner/run-pinned.sh"] as const) {
            for (const line of scriptFile(name)
                .split("\n")
                .filter((l) => l.length > 20)) {
                expect(stored).not.toContain(JSON.stringify(line).slice(1, -1));
            }
        }
        expect(Object.keys(registration.environment).sort()).toEqual([
            "NBF_BUILDER",
            "NBF_BUILDERS",
            "NBF_OWNER",
            "NBF_REMOVE_BUILDERS_SHA256",
            "NBF_SPEC_FINGERPRINT",
        ]);
    });

    test("passes the private key on standard input, as a secret", () => {
        expect(isSecretValue(named("fleet-builder-registration").raw.stdin)).toBe(true);
        expect(named("fleet-builder-registration").inputs.stdin).toContain("operator");
        expect(named("fleet-builder-registration").inputs.create).not.toContain("operator");
    });
});

describe("images", () => {
    const platformImages = () =>
        ofType("docker-build:index:Image").filter((r) => r.inputs.exports?.[0]?.raw !== undefined);
    const cacheImages = () =>
        ofType("docker-build:index:Image").filter((r) => r.inputs.exports?.[0]?.cacheonly !== undefined);

    test("build each image once per platform, on the fleet builder, pushed", () => {
        expect(platformImages().map((r) => [r.name, r.inputs.platforms])).toEqual(
            expect.arrayContaining([
                ["fleet-app-linux-amd64", ["linux/amd64"]],
                ["fleet-app-linux-arm64", ["linux/arm64"]],
                ["fleet-legacy-linux-arm-v7", ["linux/arm/v7"]],
                ["fleet-legacy-linux-s390x", ["linux/s390x"]],
                ["fleet-legacy-linux-386", ["linux/386"]],
            ]),
        );
        expect(platformImages()).toHaveLength(5);
    });

    test("build each platform on the builder of a host that runs it natively, and export that host", () => {
        const native: Record<string, string[]> = {
            "linux/amd64": ["x86-0", "x86-1"],
            "linux/arm64": ["arm-0"],
            "linux/386": ["x86-0", "x86-1"],
            "linux/arm/v7": ["qemu-0"],
            "linux/s390x": ["qemu-0"],
        };
        for (const [name, platforms] of Object.entries({
            app: ["linux/amd64", "linux/arm64"],
            legacy: ["linux/arm/v7", "linux/s390x", "linux/386"],
        })) {
            for (const platform of platforms) {
                const host = images[name].platforms[platform].host;
                expect(native[platform]).toContain(host);
                const slug = platform.replace(/\//g, "-");
                expect(named(`fleet-${name}-${slug}`).inputs.builder).toEqual({
                    name: `native-build-fleet-dev-${host}`,
                });
                expect(named(`fleet-${name}-${slug}-cache`).inputs.builder).toEqual({
                    name: `native-build-fleet-dev-${host}`,
                });
                expect(
                    specOfCheck(`fleet-${name}-test`).tests.find((t: { platform: string }) => t.platform === platform)
                        .builder,
                ).toBe(`native-build-fleet-dev-${host}`);
            }
        }
    });

    test("order every build after the builder's registration", async () => {
        // With builder.buildSlots, the builds' dependencies are known once the placement is.
        const opts = optsOf("fleet-app-linux-amd64");
        expect(await valueOf(pulumi.output(opts.dependsOn as pulumi.Input<pulumi.Resource[]>))).toEqual([
            expect.objectContaining({ name: "native-build-fleet-dev" }),
        ]);
        expect(named("fleet-app-linux-amd64").inputs.labels["dev.native-build-fleet.builder"]).toBe(
            "native-build-fleet-dev",
        );
    });

    test("give each platform its own registry cache", () => {
        const refs = platformImages().map((r) => r.inputs.cacheFrom[0].registry.ref);
        expect(new Set(refs).size).toBe(refs.length);
        expect(named("fleet-app-linux-arm64").inputs.cacheFrom).toEqual([
            { registry: { ref: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:cache-linux-arm64" } },
        ]);
    });

    test("write the cache only from cache builds that never run in previews", () => {
        for (const image of platformImages()) {
            expect(image.inputs.cacheTo).toBeUndefined();
        }
        expect(cacheImages()).toHaveLength(5);
        for (const cache of cacheImages()) {
            expect(cache.inputs.buildOnPreview).toBe(false);
            expect(cache.inputs.exports).toEqual([{ cacheonly: {} }]);
            expect(cache.inputs.cacheTo).toEqual([
                {
                    registry: {
                        ref: cache.inputs.cacheFrom[0].registry.ref,
                        mode: "max",
                        imageManifest: true,
                        ociMediaTypes: true,
                    },
                },
            ]);
        }
    });

    test("run each cache build beside its platform build, on the same builder with the same build inputs, waiting only for what the build waits for", async () => {
        const cache = named("fleet-legacy-linux-s390x-cache").inputs;
        const build = named("fleet-legacy-linux-s390x").inputs;
        for (const key of [
            "context",
            "dockerfile",
            "platforms",
            "buildArgs",
            "target",
            "labels",
            "cacheFrom",
            "builder",
        ]) {
            expect(cache[key]).toEqual(build[key]);
        }
        const depsOf = (name: string) =>
            valueOf(pulumi.output(optsOf(name).dependsOn as pulumi.Input<pulumi.Resource[]>));
        const cacheDeps = await depsOf("fleet-legacy-linux-s390x-cache");
        expect(cacheDeps).toEqual(await depsOf("fleet-legacy-linux-s390x"));
        expect(cacheDeps).toEqual([expect.objectContaining({ __name: "fleet-builder" })]);
    });

    test("give each platform its own build args on top of the shared ones", () => {
        expect(named("fleet-app-linux-arm64").inputs.buildArgs).toEqual({
            VCS_REF: "abc123",
            MODE: "release-neon",
            JEMALLOC_LG_PAGE: "16",
        });
        expect(named("fleet-app-linux-amd64").inputs.buildArgs).toEqual({ VCS_REF: "abc123", MODE: "release" });
    });

    test("pass context, Dockerfile, build args, target and OCI labels through", () => {
        const legacy = named("fleet-legacy-linux-386").inputs;
        expect(legacy.context).toEqual({ location: "worker" });
        expect(legacy.dockerfile).toEqual({ location: "worker/Dockerfile.prod" });
        expect(legacy.buildArgs).toEqual({ VARIANT: "slim" });
        // BUILD_DATE and VCS_REF come from the same commit as the labels, when there is one.
        expect(named("fleet-app-linux-amd64").inputs.buildArgs.VCS_REF).toBe("abc123");
        expect(legacy.target).toBe("runtime");
        expect(named("fleet-app-linux-amd64").inputs.labels["org.opencontainers.image.revision"]).toBe("abc123");
    });

    test("tag platform images per tag and platform, never with a bare release tag", () => {
        expect(named("fleet-app-linux-arm64").inputs.tags).toEqual([
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:latest-linux-arm64",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1.4.0-linux-arm64",
        ]);
    });

    test("join the platform images into one index per tag, whose sources are exactly the platform images", () => {
        const indexes = ofType("docker-build:index:Index").filter((r) => r.name.startsWith("fleet-app-"));
        expect(indexes.map((r) => r.inputs.tag).sort()).toEqual([
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:latest",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1.4.0",
        ]);
        const refs = ["fleet-app-linux-amd64", "fleet-app-linux-arm64"].map(
            (n) => `${named(n).inputs.tags[0]}@sha256:${hash(n)}`,
        );
        for (const index of indexes) {
            expect(index.inputs.sources).toEqual(refs);
        }
    });

    test("give every build a timeout, so a hung build fails instead of holding the update", () => {
        expect(optsOf("fleet-app-linux-amd64").customTimeouts).toEqual({ create: "60m", update: "60m" });
        expect(optsOf("fleet-app-linux-amd64-cache").customTimeouts).toEqual({ create: "60m", update: "60m" });
    });

    test("read every tag's index back from the registry after writing them, one check per image, with the credentials secret", () => {
        const checks = ofType("command:local:Command")
            .filter((r) => r.name.endsWith("-verify"))
            .map((r) => r.name)
            .sort();
        expect(checks).toEqual(["fleet-app-verify", "fleet-legacy-verify"]);
        const check = named("fleet-app-verify");
        expect(check.inputs.create).toBe("node bin/runner/cli.js verify-index");
        expect(specOfCheck("fleet-app-verify")).toEqual({
            registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            refs: ["latest", "v1.4.0"]
                .map((tag) => named(`fleet-app-${tag}`).inputs)
                .map((index) => `${index.tag}@sha256:${hash(JSON.stringify(index.sources))}`),
            platforms: {
                "linux/amd64": `sha256:${hash("fleet-app-linux-amd64")}`,
                "linux/arm64": `sha256:${hash("fleet-app-linux-arm64")}`,
            },
        });
        expect(check.inputs.environment.NBF_CODE).toBe(codeDigest("verify-index"));
        expect(isSecretValue(check.raw.stdin)).toBe(true);
        expect((optsOf("fleet-app-verify").dependsOn as pulumi.Resource[]).map((r: any) => r.__name)).toEqual([
            "fleet-app-latest",
            "fleet-app-v1.4.0",
        ]);
    });

    test("smoke-test every platform image of an image in one check, each on its host's builder, credentials secret, after the builds", () => {
        const tests = ofType("command:local:Command")
            .filter((r) => r.name.endsWith("-test"))
            .map((r) => r.name)
            .sort();
        expect(tests).toEqual(["fleet-app-test", "fleet-legacy-test"]);
        const app = named("fleet-app-test");
        expect(app.inputs.create).toBe("node bin/runner/cli.js smoke-test");
        expect(app.inputs.environment.NBF_CODE).toBe(codeDigest("smoke-test"));
        expect(specOfCheck("fleet-app-test")).toEqual({
            registry: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            tests: [
                {
                    builder: `native-build-fleet-dev-${images.app.platforms["linux/amd64"].host}`,
                    platform: "linux/amd64",
                    ref: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:${hash("fleet-app-linux-amd64")}`,
                    command: ["uname", "-m"],
                    expect: { lines: ["x86_64"] },
                },
                {
                    builder: "native-build-fleet-dev-arm-0",
                    platform: "linux/arm64",
                    ref: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:${hash("fleet-app-linux-arm64")}`,
                    command: ["uname", "-m"],
                    expect: { lines: ["aarch64"] },
                },
            ],
        });
        expect(isSecretValue(app.raw.stdin)).toBe(true);
        expect((optsOf("fleet-app-test").dependsOn as pulumi.Resource[]).map((r: any) => r.__name)).toEqual([
            "fleet-app-linux-amd64",
            "fleet-app-linux-arm64",
        ]);
        const v7 = specOfCheck("fleet-legacy-test").tests.find(
            (t: { platform: string }) => t.platform === "linux/arm/v7",
        );
        expect(v7).toMatchObject({
            command: ["/app/worker", "--self-test"],
            expect: { contains: "self-test ok on linux/arm/v7" },
        });
    });

    test("move an index only after every platform image passed its smoke test", () => {
        const dependsOn = (optsOf("fleet-app-v1.4.0").dependsOn as pulumi.Resource[]).map((r: any) => r.__name).sort();
        expect(dependsOn).toEqual(["fleet-app-test"]);
    });

    test("report what each smoke test printed as a stack output", () => {
        expect(Object.keys(images.app.tests).sort()).toEqual(["linux/amd64", "linux/arm64"]);
        expect(Object.keys(images.legacy.tests).sort()).toEqual(["linux/386", "linux/arm/v7", "linux/s390x"]);
    });

    test("keep released images and indexes in the registry when they leave the stack", () => {
        expect(optsOf("fleet-app-latest").retainOnDelete).toBe(true);
        expect(optsOf("fleet-app-linux-amd64").retainOnDelete).toBe(true);
    });

    test("authenticate with one ECR token, its password secret", () => {
        expect(
            mocks.invokes.filter((i) => i.token === "aws:ecr/getAuthorizationToken:getAuthorizationToken"),
        ).toHaveLength(1);
        const registries = named("fleet-app-linux-amd64").raw.registries;
        expect(isSecretValue(registries) || isSecretValue(registries[0].password)).toBe(true);
        expect(named("fleet-app-linux-amd64").inputs.registries).toEqual([
            { address: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", username: "AWS", password: "ecr-token-value" },
        ]);
    });

    test("expire only untagged images in each repository, never what a stack exports", () => {
        const policies = ofType("aws:ecr/lifecyclePolicy:LifecyclePolicy");
        expect(policies.map((p) => p.inputs.repository)).toEqual(["app", "legacy"]);
        expect(JSON.parse(policies[0].inputs.policy).rules).toEqual([
            expect.objectContaining({
                selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: 14 },
                action: { type: "expire" },
            }),
        ]);
        expect(named("fleet-registry-app").inputs.imageTagMutability).toBe("MUTABLE");
    });

    test("create one scanned ECR repository per image, kept on delete", () => {
        expect(
            ofType("aws:ecr/repository:Repository").map((r) => [r.inputs.name, r.inputs.imageScanningConfiguration]),
        ).toEqual([
            ["app", { scanOnPush: true }],
            ["legacy", { scanOnPush: true }],
        ]);
        expect(optsOf("fleet-registry-app").retainOnDelete).toBe(true);
    });
});

describe("outputs", () => {
    test("carry no secret: no key material or registry password in any exported value", () => {
        const exported = JSON.stringify({ images, builder, hosts });
        expect(exported).not.toMatch(/PRIVATE KEY|operator|ecr-token-value/);
    });

    test("export each index as an immutable repo@sha256 reference with its platform images", () => {
        const index = named("fleet-app-latest");
        const digest = `sha256:${hash(JSON.stringify(index.inputs.sources))}`;
        expect(images.app.ref).toBe(`123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@${digest}`);
        expect(images.app.digest).toBe(digest);
        expect(images.app.tags).toEqual(["latest", "v1.4.0"]);
        expect(Object.keys(images.app.platforms)).toEqual(["linux/amd64", "linux/arm64"]);
        expect(images.app.platforms["linux/arm64"].ref).toMatch(
            /^123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/app@sha256:[a-f0-9]{64}$/,
        );
        expect(images.legacy.platforms["linux/arm/v7"].digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    });

    test("export each host with its pool, instance, address and architecture", () => {
        expect(Object.keys(hosts).sort()).toEqual(["arm-0", "qemu-0", "x86-0", "x86-1"]);
        expect(hosts["arm-0"]).toMatchObject({
            name: "arm-0",
            pool: "arm",
            arch: "arm64",
            instanceId: expect.stringMatching(/^i-/),
            address: expect.stringMatching(/^198\.51\.100\./),
        });
    });
});

test("every local command logs only its stderr, so the results on stdout reach the program whole", () => {
    // The real command provider hangs on a logged line over 64 KiB (runner/outputLines.ts): the
    // runner splits its stderr, and its JSON results on stdout must never be a logged stream.
    const commands = [
        ...ofType("command:local:Command").map((r) => [r.name, r.inputs.logging]),
        ...mocks.invokes
            .filter((i) => i.token === "command:local:run")
            .map((i) => [i.inputs.command, i.inputs.logging]),
    ];
    expect(commands.length).toBeGreaterThan(5);
    expect(commands.filter(([, logging]) => logging !== "stderr")).toEqual([]);
});
