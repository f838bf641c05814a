// The policy pack: each rule with a passing and a violating resource, and the whole pack
// against everything the program registers for a full fleet in each access mode (it must pass).

import { PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs } from "@pulumi/policy";
import * as pulumi from "@pulumi/pulumi";
import { Fleet } from "../components/fleet";
import { parseConfig } from "../config/schema";
import {
    coversPort,
    credentialFindings,
    credentialKinds,
    ebsEncrypted,
    ecrLifecyclePolicy,
    ecrScanOnPush,
    excessGrants,
    HOST_ROLE_ACTIONS,
    imagesSigned,
    imdsv2Required,
    leastPrivilegeProfile,
    noDockerTcpPort,
    noPlaintextCredentials,
    noPublicIpSsm,
    policies,
    restrictedSsh,
    unsignedIndexes,
} from "../policy/rules";
import { SESSION_MANAGER_ACTIONS, sessionManagerPolicy } from "../components/hostAccess";
import { context, makeProject, validConfig } from "./fixtures";
import { installMocks, settled, valueOf } from "./mocks";

const mocks = installMocks();

function violations(policy: ResourceValidationPolicy, type: string, props: Record<string, unknown>): string[] {
    const found: string[] = [];
    const validate = policy.validateResource as (args: ResourceValidationArgs, report: (m: string) => void) => void;
    validate({ type, props, urn: `urn:${type}`, name: "r" } as unknown as ResourceValidationArgs, (m) => found.push(m));
    return found;
}

const INSTANCE = "aws:ec2/instance:Instance";
const GOOD_INSTANCE = {
    metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 1 },
    rootBlockDevice: { encrypted: true },
};
const SSM_HOST = { ...GOOD_INSTANCE, tags: { "native-build-fleet:access": "ssm" } };
const SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup";
/** A security group's inputs with one TCP ingress rule. */
const tcpIngress = (fromPort: number, toPort: number, cidr: string) => ({
    ingress: [{ protocol: "tcp", fromPort, toPort, cidrBlocks: [cidr] }],
});

// Fake credential material, assembled here so the source holds no token-shaped literal
// for secret scanners to trip over.
const privateKey = (label: string) =>
    `-----BEGIN ${label}-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU\n-----END ${label}-----\n`;
const OPENSSH_KEY = privateKey("OPENSSH PRIVATE KEY");
const FAKE = {
    openssh: OPENSSH_KEY,
    pkcs8: privateKey("PRIVATE KEY"),
    rsa: privateKey("RSA PRIVATE KEY"),
    awsKeyId: "AKIA" + "IOSFODNN7EXAMPLE",
    stsKeyId: "ASIA" + "Q3EGW7EXAMPLE123",
    github: "ghp_" + "x9Kq".repeat(9),
    githubFineGrained: "github_pat_" + "11AAAAAAA0".repeat(4),
    gitlab: "glpat-" + "Zx8_q-Lm".repeat(3),
    slack: "xoxb-" + "1234567890-abcdefABCDEF",
};

test.each<[string, ResourceValidationPolicy, string, Record<string, unknown>, Record<string, unknown>]>([
    [
        "imdsv2-required",
        imdsv2Required,
        INSTANCE,
        GOOD_INSTANCE,
        { metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 2 } },
    ],
    [
        "ebs-encrypted",
        ebsEncrypted,
        INSTANCE,
        GOOD_INSTANCE,
        { ...GOOD_INSTANCE, ebsBlockDevices: [{ encrypted: false }] },
    ],
    [
        "restricted-ssh",
        restrictedSsh,
        SECURITY_GROUP,
        tcpIngress(22, 22, "203.0.113.0/24"),
        tcpIngress(0, 1024, "0.0.0.0/0"),
    ],
    [
        "restricted-ssh on standalone rules",
        restrictedSsh,
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        { ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv6: "::/0" },
        { ipProtocol: "-1", cidrIpv6: "::/0" },
    ],
    [
        "no-docker-tcp-port",
        noDockerTcpPort,
        SECURITY_GROUP,
        tcpIngress(22, 22, "10.0.0.0/8"),
        tcpIngress(2376, 2376, "10.0.0.0/8"),
    ],
    [
        "least-privilege-instance-profile",
        leastPrivilegeProfile,
        "aws:iam/rolePolicy:RolePolicy",
        { policy: JSON.stringify(sessionManagerPolicy()) },
        { policy: JSON.stringify({ Statement: [{ Effect: "Allow", Action: "ssm:GetParameters", Resource: "*" }] }) },
    ],
    [
        "ecr-scan-on-push",
        ecrScanOnPush,
        "aws:ecr/repository:Repository",
        { imageScanningConfiguration: { scanOnPush: true } },
        { imageScanningConfiguration: { scanOnPush: false } },
    ],
    [
        "no-public-ip-ssm",
        noPublicIpSsm,
        INSTANCE,
        { ...SSM_HOST, associatePublicIpAddress: false },
        { ...SSM_HOST, associatePublicIpAddress: true },
    ],
    [
        "no-plaintext-credentials",
        noPlaintextCredentials,
        "command:local:Command",
        {
            create: "ssh-add - && docker buildx ls",
            stdin: OPENSSH_KEY,
            environment: { NBF_SPEC_FINGERPRINT: "3f2a9c" },
        },
        { create: "ssh-add - && docker buildx ls", environment: { NBF_KEY: OPENSSH_KEY } },
    ],
])("%s passes a compliant resource and reports a violating one", (_, policy, type, good, bad) => {
    expect(violations(policy, type, good)).toEqual([]);
    expect(violations(policy, type, bad).length).toBeGreaterThan(0);
});

test("restricted-ssh names the port and the open range", () => {
    expect(
        violations(restrictedSsh, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", {
            ipProtocol: "-1",
            cidrIpv6: "::/0",
        }),
    ).toEqual([
        "ingress admits port 22 from ::/0; list the operators' CIDRs instead",
        "ingress admits port 3389 from ::/0; list the operators' CIDRs instead",
    ]);
});

test("port coverage counts ranges and protocol -1", () => {
    expect(coversPort({ protocol: "tcp", fromPort: 20, toPort: 30 }, 22)).toBe(true);
    expect(coversPort({ protocol: "udp", fromPort: 0, toPort: 65535 }, 22)).toBe(false);
    expect(coversPort({ protocol: "-1" }, 2375)).toBe(true);
});

describe("no-public-ip-ssm", () => {
    test("reports an ssm host that leaves the public address to the subnet, naming the property and the fix", () => {
        expect(violations(noPublicIpSsm, INSTANCE, SSM_HOST)).toEqual([
            "associatePublicIpAddress must be false on a host tagged native-build-fleet:access=ssm (has undefined); set it explicitly, SSH runs through SSM sessions",
        ]);
    });

    test.each<[string, Record<string, unknown>]>([
        [
            "a cidr host with a public address",
            { ...GOOD_INSTANCE, tags: { "native-build-fleet:access": "cidr" }, associatePublicIpAddress: true },
        ],
        ["an instance without the access tag", { ...GOOD_INSTANCE, associatePublicIpAddress: true }],
        ["an instance without tags at all", GOOD_INSTANCE],
    ])("leaves %s alone", (_, props) => {
        expect(violations(noPublicIpSsm, INSTANCE, props)).toEqual([]);
    });

    test("judges instances only", () => {
        expect(
            violations(noPublicIpSsm, "aws:ec2/launchTemplate:LaunchTemplate", {
                tags: { "native-build-fleet:access": "ssm" },
            }),
        ).toEqual([]);
    });
});

describe("least-privilege-instance-profile", () => {
    const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
    const allow = (action: unknown) =>
        JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: action, Resource: "*" }] });

    test("holds the program to exactly the actions it grants its hosts", () => {
        expect([...HOST_ROLE_ACTIONS].sort()).toEqual([...SESSION_MANAGER_ACTIONS].sort());
        expect(excessGrants(sessionManagerPolicy())).toEqual([]);
    });

    test("refuses the managed policy the hosts used to carry, which reads every SSM parameter", () => {
        expect(
            violations(leastPrivilegeProfile, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", {
                policyArn: "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
            }),
        ).toEqual([
            "attaches arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore; build host roles may only allow ssm:UpdateInstanceInformation, ssmmessages:CreateControlChannel, ssmmessages:CreateDataChannel, ssmmessages:OpenControlChannel, ssmmessages:OpenDataChannel, in an inline policy",
        ]);
        expect(
            violations(leastPrivilegeProfile, "aws:iam/role:Role", {
                managedPolicyArns: ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"],
            }),
        ).toHaveLength(1);
    });

    test.each<[string, unknown, string]>([
        ["an extra action", ["ssm:UpdateInstanceInformation", "ssm:GetParameters"], "grants ssm:GetParameters;"],
        ["a service wildcard", "ssmmessages:*", "grants ssmmessages:*;"],
        ["every action", "*", "grants *;"],
        ["a lower-case spelling the list does not hold", "SSM:GetParameter", "grants SSM:GetParameter;"],
    ])("refuses an inline policy with %s", (_, action, message) => {
        const found = violations(leastPrivilegeProfile, ROLE_POLICY, { policy: allow(action) });
        expect(found).toHaveLength(1);
        expect(found[0]).toContain(message);
    });

    test("refuses NotAction, a document that is not JSON, and extra actions in a role's inline policies", () => {
        expect(
            violations(leastPrivilegeProfile, ROLE_POLICY, {
                policy: JSON.stringify({ Statement: { Effect: "Allow", NotAction: "iam:*", Resource: "*" } }),
            })[0],
        ).toContain("grants NotAction, which grants everything it does not name;");
        expect(violations(leastPrivilegeProfile, ROLE_POLICY, { policy: "{" })[0]).toContain(
            "grants a policy document that is not JSON;",
        );
        expect(
            violations(leastPrivilegeProfile, "aws:iam/role:Role", {
                inlinePolicies: [{ name: "x", policy: allow("s3:GetObject") }],
            })[0],
        ).toContain("grants s3:GetObject;");
    });

    test("lets a statement that denies pass", () => {
        expect(
            violations(leastPrivilegeProfile, ROLE_POLICY, {
                policy: JSON.stringify({
                    Statement: [
                        { Effect: "Allow", Action: [...SESSION_MANAGER_ACTIONS], Resource: "*" },
                        { Effect: "Deny", Action: "*", Resource: "*" },
                    ],
                }),
            }),
        ).toEqual([]);
    });
});

describe("no-plaintext-credentials", () => {
    test.each<[string, string, string[]]>([
        ["an OpenSSH private key", FAKE.openssh, ["an OpenSSH private key"]],
        ["a PKCS#8 private key", FAKE.pkcs8, ["a PEM private key"]],
        ["an RSA private key inside a script", `cat > /etc/key <<'EOF'\n${FAKE.rsa}EOF\n`, ["a PEM private key"]],
        ["an AWS access key id", `AWS_ACCESS_KEY_ID=${FAKE.awsKeyId}`, ["an AWS access key id"]],
        ["an AWS temporary access key id", FAKE.stsKeyId, ["an AWS access key id"]],
        ["a classic GitHub token", `https://x:${FAKE.github}@github.com/acme/app.git`, ["a GitHub token"]],
        ["a fine-grained GitHub token", FAKE.githubFineGrained, ["a GitHub token"]],
        ["a GitLab token", FAKE.gitlab, ["a GitLab token"]],
        ["a Slack token", FAKE.slack, ["a Slack token"]],
        ["a public key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHost operator@example", []],
        ["a public key block", privateKey("PUBLIC KEY"), []],
        ["an image digest", `sha256:${"0a".repeat(32)}`, []],
        ["a word that only starts like a token", "ghp_notatoken AKIA glpat-", []],
    ])("recognises %s", (_, value, kinds) => {
        expect(credentialKinds(value)).toEqual(kinds);
    });

    test("names where each finding is, with dotted paths and indexes", () => {
        expect(
            credentialFindings("docker-build:index:Image", {
                buildArgs: { NPM_TOKEN: FAKE.github },
                registries: [{ address: "ghcr.io", username: FAKE.slack, password: FAKE.gitlab }],
                secrets: { deploy: FAKE.rsa },
            }),
        ).toEqual([
            { path: "buildArgs.NPM_TOKEN", kind: "a GitHub token" },
            { path: "registries[0].username", kind: "a Slack token" },
            { path: "secrets.deploy", kind: "a PEM private key" },
        ]);
    });

    test.each<[string, Record<string, unknown>]>([
        ["command:local:Command", { stdin: OPENSSH_KEY }],
        [
            "command:remote:Command",
            { stdin: `AWS:${FAKE.awsKeyId}`, connection: { host: "10.0.0.10", privateKey: OPENSSH_KEY } },
        ],
        [
            "docker-build:index:Image",
            {
                registries: [
                    { address: "ghcr.io", password: FAKE.github },
                    { address: "gitlab.com", password: FAKE.gitlab },
                ],
            },
        ],
        ["docker-build:index:Index", { registry: { address: "ghcr.io", username: "bot", password: FAKE.github } }],
        ["tls:index/privateKey:PrivateKey", { privateKeyOpenssh: OPENSSH_KEY, privateKeyPem: FAKE.rsa }],
    ])("passes credentials in the properties %s carries secrets in", (type, props) => {
        expect(violations(noPlaintextCredentials, type, props)).toEqual([]);
    });

    test.each<[string, string, Record<string, unknown>]>([
        ["on a type that carries no secrets", "aws:ec2/launchTemplate:LaunchTemplate", { userData: OPENSSH_KEY }],
        [
            "on a local command's connection, which it does not have",
            "command:local:Command",
            { connection: { privateKey: OPENSSH_KEY } },
        ],
        ["in a tag of an instance", INSTANCE, { userData: "#!/bin/bash", tags: { Deploy: FAKE.awsKeyId } }],
    ])("reports a secret-carrying property name used elsewhere: %s", (_, type, props) => {
        expect(violations(noPlaintextCredentials, type, props)).toHaveLength(1);
    });

    test("reports a private key in an instance's user data, which the EC2 API and IMDS hand out", () => {
        expect(
            violations(noPlaintextCredentials, INSTANCE, {
                userData: `#!/bin/bash\ncat > /etc/ssh/ssh_host_ed25519_key <<'EOF'\n${OPENSSH_KEY}EOF\n`,
            }),
        ).toEqual([expect.stringMatching(/^userData holds an OpenSSH private key/)]);
    });

    test("says where, what and how to fix it", () => {
        expect(
            violations(noPlaintextCredentials, "command:local:Command", { environment: { NBF_KEY: OPENSSH_KEY } }),
        ).toEqual([
            "environment.NBF_KEY holds an OpenSSH private key outside the properties that carry secrets; pass it through stdin, marked with pulumi.secret",
        ]);
        expect(
            violations(noPlaintextCredentials, "aws:ecs/taskDefinition:TaskDefinition", {
                containerDefinitions: FAKE.awsKeyId,
            }),
        ).toEqual([
            "containerDefinitions holds an AWS access key id outside the properties that carry secrets; this resource takes no credentials: pass them to a command through its stdin, marked with pulumi.secret",
        ]);
    });

    test.each(Object.entries(FAKE))("never prints the credential itself (%s)", (_, secret) => {
        const found = violations(noPlaintextCredentials, "command:remote:Command", {
            environment: { TOKEN: `value ${secret} trailing` },
        });
        expect(found).toHaveLength(1);
        const body = secret.replace(/-----[A-Z ]+-----/g, "").trim();
        for (const message of found) {
            expect(message).not.toContain(secret);
            expect(message).not.toContain(body.slice(-12));
        }
    });

    test("leaves provider resources alone: their credentials come from secret stack config", () => {
        expect(credentialFindings("pulumi:providers:aws", { accessKey: FAKE.awsKeyId, region: "eu-west-1" })).toEqual(
            [],
        );
        expect(credentialFindings("aws:ec2/instance:Instance", { tags: { key: FAKE.awsKeyId } })).toHaveLength(1);
    });

    test("judges what is known in a preview and skips values that are not known yet", async () => {
        // The proxy @pulumi/policy puts around props: reading an unknown value throws.
        const proxy = (await import("@pulumi/policy/proxy")) as unknown as {
            unknownCheckingProxy: <T>(props: T) => T;
            unknownStringValue: string;
        };
        const props = proxy.unknownCheckingProxy({
            create: proxy.unknownStringValue,
            environment: { HOST: proxy.unknownStringValue, TOKEN: FAKE.gitlab },
        });
        expect(credentialFindings("command:local:Command", props)).toEqual([
            { path: "environment.TOKEN", kind: "a GitLab token" },
        ]);
    });
});

test("ecr-lifecycle-policy reports a repository without a lifecycle policy", () => {
    const resource = (type: string, props: Record<string, unknown>) =>
        ({ type, props, urn: `urn:${type}:${String(props.name ?? props.repository)}` }) as unknown as PolicyResource;
    const found: string[] = [];
    void ecrLifecyclePolicy.validateStack(
        {
            resources: [
                resource("aws:ecr/repository:Repository", { name: "app" }),
                resource("aws:ecr/repository:Repository", { name: "orphan" }),
                resource("aws:ecr/lifecyclePolicy:LifecyclePolicy", { repository: "app" }),
            ],
        } as unknown as StackValidationArgs,
        (m) => found.push(m),
    );
    expect(found).toEqual(["repository orphan has no lifecycle policy"]);
});

/** An ssm-mode config: no CIDRs, private subnets (as in test/ssm.test.ts). */
function ssmConfig(): Record<string, any> {
    const raw = validConfig() as Record<string, any>;
    raw.ssh = { access: "ssm", publicKey: raw.ssh.publicKey };
    raw.network = { vpcId: "vpc-0abc1234", subnetIds: ["subnet-0aaa1111", "subnet-0bbb2222"] };
    return raw;
}

async function packFindings(level: "mandatory" | "advisory" = "mandatory"): Promise<string[]> {
    const found: string[] = [];
    for (const policy of policies.filter((p) => p.enforcementLevel === level)) {
        if ("validateStack" in policy) {
            await policy.validateStack(
                {
                    resources: mocks.resources.map((r) => ({
                        type: r.type,
                        props: r.inputs,
                        urn: r.name,
                        name: r.name,
                    })),
                } as unknown as StackValidationArgs,
                (m: string) => found.push(`${policy.name}: ${m}`),
            );
        } else {
            for (const r of mocks.resources) {
                found.push(...violations(policy, r.type, r.inputs).map((m) => `${policy.name} ${r.name}: ${m}`));
            }
        }
    }
    return found;
}

test.each<[string, "cidr" | "ssm", () => Record<string, any>]>([
    ["reached over SSH from the operators' CIDRs", "cidr", validConfig],
    ["reached through SSM sessions", "ssm", ssmConfig],
])("everything the program registers for a full EC2 fleet %s passes the pack", async (_, access, config) => {
    mocks.resources.length = 0;
    const root = makeProject();
    const raw = config();
    raw.hosts.push({ name: "qemu", instanceType: "c7i.large", emulate: ["linux/s390x"] });
    const fleet = new Fleet("fleet", {
        config: parseConfig(raw, context(root)),
        project: "native-build-fleet",
        stack: "dev",
        sshPrivateKey: pulumi.secret(OPENSSH_KEY),
        labels: {},
    });
    await valueOf(fleet.images);
    await settled(mocks.resources);

    const instances = mocks.resources.filter((r) => r.type === INSTANCE);
    expect(instances.length).toBeGreaterThan(0);
    expect(instances.map((r) => r.inputs.tags["native-build-fleet:access"])).toEqual(instances.map(() => access));
    // The pack had a private key to judge, the operator's in stdin; user data holds none.
    expect(
        mocks.resources.filter((r) => String(r.inputs.stdin).includes(JSON.stringify(OPENSSH_KEY).slice(1, -1))).length,
    ).toBeGreaterThan(0);
    expect(instances.map((r) => credentialKinds(String(r.inputs.userData)))).toEqual(instances.map(() => []));
    expect(await packFindings()).toEqual([]);
    // The config signs nothing, so the advisory rule reports each image's index, and only those.
    const indexes = mocks.resources.filter((r) => r.type === "docker-build:index:Index").map((r) => r.name);
    expect(indexes.length).toBeGreaterThan(0);
    expect(await packFindings("advisory")).toEqual(
        indexes.map((name) =>
            expect.stringMatching(new RegExp(`^images-signed: index ${name} would be pushed unsigned`)),
        ),
    );
});

describe("images-signed", () => {
    type R = { type: string; name: string; urn: string; parent?: R };
    const build = (name: string): R => ({
        type: "native-build-fleet:images:ImageBuild",
        name,
        urn: `urn:build:${name}`,
    });
    const child = (type: string, name: string, parent?: R): R => ({ type, name, urn: `urn:${type}:${name}`, parent });
    const INDEX_T = "docker-build:index:Index";
    const CMD = "command:local:Command";
    function findings(resources: R[]): string[] {
        const found: string[] = [];
        void imagesSigned.validateStack({ resources } as unknown as StackValidationArgs, (m) => found.push(m));
        return found;
    }

    test("is advisory: an unsigned fleet still builds", () => {
        expect(imagesSigned.enforcementLevel).toBe("advisory");
    });

    test("passes a stack whose every image build has its -sign command beside its indexes", () => {
        const svc = build("fleet-svc");
        const api = build("fleet-api");
        expect(
            findings([
                svc,
                child(INDEX_T, "fleet-svc-latest", svc),
                child(INDEX_T, "fleet-svc-v1", svc),
                child(CMD, "fleet-svc-sign", svc),
                api,
                child(INDEX_T, "fleet-api-latest", api),
                child(CMD, "fleet-api-sign", api),
            ]),
        ).toEqual([]);
    });

    test("reports each index of an image that is not signed, naming the image and the fix", () => {
        const svc = build("fleet-svc");
        const api = build("fleet-api");
        expect(
            findings([
                svc,
                child(INDEX_T, "fleet-svc-latest", svc),
                child(CMD, "fleet-svc-sign", svc),
                api,
                child(INDEX_T, "fleet-api-latest", api),
                child(CMD, "fleet-api-test", api),
                child(CMD, "fleet-api-verify", api),
            ]),
        ).toEqual([
            "index fleet-api-latest of image fleet-api would be pushed unsigned: no fleet-api-sign command signs it. " +
                "Set `signing` in the stack's config (a cosign key pair, an AWS KMS key, or keyless) so deploys can verify the image",
        ]);
    });

    test("does not count another image's -sign command, even one whose name extends this one's", () => {
        const svc = build("fleet-svc");
        const svcApi = build("fleet-svc-api");
        expect(
            unsignedIndexes([
                svc,
                child(INDEX_T, "fleet-svc-latest", svc),
                svcApi,
                child(INDEX_T, "fleet-svc-api-latest", svcApi),
                child(CMD, "fleet-svc-api-sign", svcApi),
            ]).map((r) => r.name),
        ).toEqual(["fleet-svc-latest"]);
    });

    test("judges by names where the engine passes no parents", () => {
        expect(
            unsignedIndexes([
                child(INDEX_T, "fleet-svc-latest"),
                child(CMD, "fleet-svc-sign"),
                child(INDEX_T, "fleet-api-latest"),
            ]).map((r) => r.name),
        ).toEqual(["fleet-api-latest"]);
    });

    test("a stack without images has nothing to report", () => {
        expect(findings([child(CMD, "fleet-builder-sign")])).toEqual([]);
    });
});
