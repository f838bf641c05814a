// Pulumi mocks that record every resource and invoke, compute outputs per type, and
// fail on an invoke they do not know (so a new provider call cannot slip in unnoticed).

import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { FleetBuildersSpec, knownHosts, sshConfig } from "../runner/builderSpec";

export interface RecordedResource {
    type: string;
    name: string;
    /** Inputs with secret wrappers removed. */
    inputs: any;
    /** Inputs as the SDK sent them: secrets stay wrapped (see isSecretValue). */
    raw: any;
}

/** The SDK's marker for a secret value in serialized properties. */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";

export function isSecretValue(value: any): boolean {
    return value !== null && typeof value === "object" && value[SIG_KEY] === SECRET_SIG;
}

/** Every string in `value` that is not inside a secret. */
export function plaintextStrings(value: any): string[] {
    if (isSecretValue(value)) {
        return [];
    }
    if (typeof value === "string") {
        return [value];
    }
    if (value !== null && typeof value === "object") {
        return Object.values(value).flatMap(plaintextStrings);
    }
    return [];
}

export function unwrapSecrets(value: any): any {
    if (isSecretValue(value)) {
        return unwrapSecrets(value.value);
    }
    if (Array.isArray(value)) {
        return value.map(unwrapSecrets);
    }
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
    }
    return value;
}

export interface RecordedInvoke {
    token: string;
    inputs: any;
}

const hash = (s: string) => createHash("sha256").update(s).digest("hex");

/** The ed25519 key line the mocks' console reader reports for the command `name`. */
export function mockHostKey(name: string): string {
    return `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${hash(name).slice(0, 43)}`;
}

function outputs(type: string, name: string, inputs: any): { id: string; state: any } {
    switch (type) {
        case "aws:ec2/instance:Instance":
            return {
                id: `i-${hash(name).slice(0, 17)}`,
                state: {
                    ...inputs,
                    publicIp: `198.51.100.${parseInt(hash(name).slice(0, 2), 16) % 250}`,
                    privateIp: "10.0.0.10",
                },
            };
        case "aws:ec2/eip:Eip":
            return {
                id: `eipalloc-${hash(name).slice(0, 8)}`,
                state: { ...inputs, publicIp: `203.0.113.${parseInt(hash(name).slice(0, 2), 16) % 250}` },
            };
        case "tls:index/privateKey:PrivateKey":
            return {
                id: name,
                state: {
                    ...inputs,
                    privateKeyOpenssh: `-----BEGIN OPENSSH PRIVATE KEY-----\n${hash(name)}\n-----END OPENSSH PRIVATE KEY-----\n`,
                    publicKeyOpenssh: `ssh-ed25519 AAAA${hash(name).slice(0, 20)}\n`,
                },
            };
        case "aws:ec2/keyPair:KeyPair":
            return { id: name, state: { ...inputs, keyName: name } };
        case "aws:ec2/securityGroup:SecurityGroup":
            return { id: `sg-${hash(name).slice(0, 8)}`, state: inputs };
        case "aws:iam/role:Role":
        case "aws:iam/instanceProfile:InstanceProfile":
            return { id: name, state: { ...inputs, name } };
        case "aws:ecr/repository:Repository":
            return {
                id: inputs.name,
                state: { ...inputs, repositoryUrl: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/${inputs.name}` },
            };
        case "command:remote:Command":
            return { id: name, state: { ...inputs, stdout: "docker 27.3.1 on x86_64\n", stderr: "" } };
        case "command:local:Command":
            // The console reader (components/hostPool.ts) prints the host's key line.
            return {
                id: name,
                state: {
                    ...inputs,
                    stdout: name.endsWith("-console-host-key") ? `${mockHostKey(name)}\n` : "",
                    stderr: "",
                },
            };
        case "docker-build:index:Image": {
            const digest = `sha256:${hash(name)}`;
            return {
                id: digest,
                state: {
                    ...inputs,
                    digest,
                    ref: inputs.tags?.length ? `${inputs.tags[0]}@${digest}` : "",
                    contextHash: "h",
                },
            };
        }
        case "docker-build:index:Index":
            return {
                id: name,
                state: { ...inputs, ref: `${inputs.tag}@sha256:${hash(JSON.stringify(inputs.sources))}` },
            };
        default:
            return { id: `${name}-id`, state: inputs };
    }
}

function invoke(token: string, inputs: any, mocks: Mocks): any {
    switch (token) {
        case "aws:ssm/getParameter:getParameter":
            return { name: inputs.name, value: `ami-${hash(inputs.name).slice(0, 17)}`, type: "String" };
        case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
                proxyEndpoint: "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com",
                userName: "AWS",
                password: "ecr-token-value",
                authorizationToken: "x",
                expiresAt: "t",
                id: "x",
            };
        case "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                accountId: "123456789012",
                arn: "arn:aws:sts::123456789012:assumed-role/deploy/ci",
                userId: "AROAEXAMPLE:ci",
                id: "123456789012",
            };
        case "aws:ec2/getVpc:getVpc":
            return { id: "vpc-0default0", cidrBlock: "172.31.0.0/16" };
        case "command:local:run":
            // The builders' runner answers with its report (runner/builderSpec.ts EnsureReport).
            if (String(inputs.command).startsWith("node bin/runner/cli.js ")) {
                return {
                    stdout: `${JSON.stringify({ fingerprint: hash(JSON.stringify(unwrapSecrets(inputs.stdin))), down: mocks.down })}\n`,
                    stderr: "",
                    command: inputs.command,
                };
            }
            return { stdout: `${hash(inputs.command).slice(0, 64)}\n`, stderr: "", command: inputs.command };
        default:
            throw new Error(`unexpected invoke ${token}: the mocks know no such provider function`);
    }
}

export interface Mocks {
    resources: RecordedResource[];
    invokes: RecordedInvoke[];
    /** Computes a resource's id and outputs; a test may replace it to shape one type's outputs. */
    outputsFor: (type: string, name: string, inputs: any) => { id: string; state: any };
    /** Nodes the builders' runner reports as not answering; set before the program runs. */
    down: { host: string; node: string; platforms: string[]; error: string }[];
    /** Holds a resource's registration until the promise it returns settles (none by default). */
    hold?: (name: string) => Promise<void> | undefined;
}

export function installMocks(preview = false): Mocks {
    const mocks: Mocks = { resources: [], invokes: [], outputsFor: outputs, down: [] };
    const { resources, invokes } = mocks;
    void pulumi.runtime.setMocks(
        {
            async newResource(args) {
                const inputs = unwrapSecrets(args.inputs);
                resources.push({ type: args.type, name: args.name, inputs, raw: args.inputs });
                await mocks.hold?.(args.name);
                return mocks.outputsFor(args.type, args.name, inputs);
            },
            call(args) {
                invokes.push({ token: args.token, inputs: args.inputs });
                return invoke(args.token, args.inputs, mocks);
            },
        },
        "native-build-fleet",
        "dev",
        preview,
    );
    return mocks;
}

/** The value of an Output (undefined if it stays unknown). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply(resolve));
}

/** Waits until no resource has been registered for a few event-loop turns. */
export async function settled(resources: RecordedResource[]): Promise<void> {
    let last = -1;
    let still = 0;
    while (still < 5) {
        await new Promise((r) => setTimeout(r, 10));
        still = resources.length === last ? still + 1 : 0;
        last = resources.length;
    }
}

/**
 * What the builders' runner would write for the registration resource: its spec (from
 * standard input), the ssh_config and the known_hosts.
 */
export function registrationFiles(resources: RecordedResource[]): {
    spec: FleetBuildersSpec;
    config: string;
    knownHosts: string;
} {
    const registration = resources.find(
        (r) => r.type === "command:local:Command" && r.name.endsWith("-builder-registration"),
    );
    const spec = (JSON.parse(String(registration?.inputs.stdin)) as { spec: FleetBuildersSpec }).spec;
    return { spec, config: sshConfig(spec, "/home/u/.ssh/native-build-fleet/dir"), knownHosts: knownHosts(spec) };
}
