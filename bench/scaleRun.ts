// One measurement of the program's own cost under Pulumi's mocks: a fleet of 32 hosts in
// 4 pools building IMAGES images for 4 platforms each. Run by bench/scale.ts in a fresh
// process per size, so peak memory is this program's alone. Prints one JSON line.

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { Fleet } from "../components/fleet";
import { parseConfig } from "../config/schema";

const images = Number(process.argv[2] ?? "1");
const started = process.hrtime.bigint();

// The dependencies the SDK sends with each registration (dependsOn and every resource an
// input Output came from) give the longest chain of resources waiting on one another.
// The mock monitor does not hand them to the mocks, so its registerResource is wrapped.
type Callback = (err: unknown, response?: { getUrn(): string }) => void;
type Request = { getDependenciesList(): string[]; getCustom(): boolean };
const dependencies = new Map<string, { deps: string[]; custom: boolean }>();
const monitor = MockMonitor.prototype as unknown as { registerResource: (this: unknown, req: Request, callback: Callback) => Promise<void> };
const register = monitor.registerResource;
monitor.registerResource = function (this: unknown, req: Request, callback: Callback) {
    return register.call(this, req, (err, response) => {
        if (response) {
            dependencies.set(response.getUrn(), { deps: req.getDependenciesList(), custom: req.getCustom() });
        }
        callback(err, response);
    });
};
const depths = new Map<string, number>();
function depthOf(urn: string): number {
    const known = depths.get(urn);
    if (known !== undefined) {
        return known;
    }
    const node = dependencies.get(urn);
    const depth = (node?.custom ? 1 : 0) + Math.max(0, ...(node?.deps ?? []).map(depthOf));
    depths.set(urn, depth);
    return depth;
}

/** A real ed25519 public key (its private half discarded): the config decodes key lines. */
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFP+FR49tN+WlqieIiLeamOosYpGoJxI+DuXubUwhZGj";

let resources = 0;
let invokes = 0;
let lastRegistered = started;

void pulumi.runtime.setMocks({
    newResource(args) {
        resources++;
        lastRegistered = process.hrtime.bigint();
        const tag = "0123456789abcdef";
        const id = `${args.name}-${tag}`;
        const inputs = args.inputs as Record<string, unknown>;
        switch (args.type) {
            case "aws:ec2/instance:Instance":
                return { id, state: { ...inputs, publicIp: `198.51.100.7${tag}`, privateIp: "10.0.0.7" } };
            case "tls:index/privateKey:PrivateKey":
                return { id, state: { privateKeyOpenssh: `KEY${tag}`, publicKeyOpenssh: `ssh-ed25519 AAAA${tag}` } };
            case "command:local:Command":
                // Each host's key read back from its console; the other commands' output is unused.
                return { id, state: { ...inputs, stdout: args.name.endsWith("-console-host-key") ? `${HOST_KEY}\n` : `docker 27 on x86_64${tag}` } };
            case "docker-build:index:Image":
                return { id, state: { ...inputs, digest: `sha256:${tag}`, ref: `${(inputs.tags as string[] | undefined)?.[0] ?? ""}@sha256:${tag}` } };
            case "docker-build:index:Index":
                return { id, state: { ...inputs, ref: `${String(inputs.tag)}@sha256:${tag}` } };
            default:
                return { id, state: { ...inputs, name: args.name, keyName: args.name, repositoryUrl: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${String(inputs.name)}` } };
        }
    },
    call(args) {
        invokes++;
        switch (args.token) {
            case "aws:ssm/getParameter:getParameter": return { value: "ami-0123456789abcdef0" };
            case "aws:ecr/getAuthorizationToken:getAuthorizationToken": return { proxyEndpoint: "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com", userName: "AWS", password: "token" };
            case "aws:ec2/getVpc:getVpc": return { id: "vpc-0default0" };
            // The builders' runner reports every node up (runner/builderSpec.ts EnsureReport).
            case "command:local:run": return { stdout: `${JSON.stringify({ fingerprint: "0123456789abcdef", down: [] })}\n` };
            default: throw new Error(`unexpected invoke ${args.token}`);
        }
    },
}, "native-build-fleet", "bench", false);

const root = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-bench-"));
fs.mkdirSync(path.join(root, "app"));
fs.writeFileSync(path.join(root, "app", "Dockerfile"), "FROM scratch\n");
const config = parseConfig({
    hosts: [
        { name: "graviton", instanceType: "c7g.2xlarge", count: 8 },
        { name: "graviton-big", instanceType: "c7g.8xlarge", count: 8 },
        { name: "x86", instanceType: "c7i.2xlarge", count: 8 },
        { name: "qemu", instanceType: "c7i.2xlarge", count: 8, emulate: ["linux/arm/v7", "linux/s390x"] },
    ],
    ssh: { publicKey: `${HOST_KEY} bench`, allowedCidrs: ["203.0.113.0/24"] },
    registry: { type: "ecr" },
    images: Array.from({ length: images }, (_, i) => ({ name: `app-${i}`, context: "app", platforms: ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x"] })),
}, { projectRoot: root, project: "native-build-fleet", stack: "bench", secretsSet: { sshPrivateKey: true, registryPassword: false } });

const fleet = new Fleet("fleet", { config, project: "native-build-fleet", stack: "bench", sshPrivateKey: pulumi.secret("KEY"), labels: {} });

fleet.images.apply(async () => {
    // Let the leaves that no output waits on (cache builds) register too.
    let seen = -1;
    while (seen !== resources) {
        seen = resources;
        await new Promise((r) => setTimeout(r, 20));
    }
    process.stdout.write(`${JSON.stringify({
        images, hosts: 32, platforms: 4, resources, invokes, dependencyDepth: Math.max(...[...dependencies.keys()].map(depthOf)),
        registerSeconds: Number(lastRegistered - started) / 1e9,
        peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    })}\n`);
});
