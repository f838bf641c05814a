// The policy pack: each rule with a passing and a violating resource, and the whole pack
// against everything the program registers for a full fleet (it must pass).

import { PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs } from "@pulumi/policy";
import * as pulumi from "@pulumi/pulumi";
import { Fleet } from "../components/fleet";
import { parseConfig } from "../config/schema";
import {
    coversPort, ebsEncrypted, ecrLifecyclePolicy, ecrScanOnPush, imdsv2Required, leastPrivilegeProfile, noDockerTcpPort, policies, restrictedSsh,
} from "../policy/rules";
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
const GOOD_INSTANCE = { metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 1 }, rootBlockDevice: { encrypted: true } };

test.each<[string, ResourceValidationPolicy, string, Record<string, unknown>, Record<string, unknown>]>([
    ["imdsv2-required", imdsv2Required, INSTANCE, GOOD_INSTANCE, { metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 2 } }],
    ["ebs-encrypted", ebsEncrypted, INSTANCE, GOOD_INSTANCE, { ...GOOD_INSTANCE, ebsBlockDevices: [{ encrypted: false }] }],
    ["restricted-ssh", restrictedSsh, "aws:ec2/securityGroup:SecurityGroup",
        { ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["203.0.113.0/24"] }] },
        { ingress: [{ protocol: "tcp", fromPort: 0, toPort: 1024, cidrBlocks: ["0.0.0.0/0"] }] }],
    ["restricted-ssh on standalone rules", restrictedSsh, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        { ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv6: "::/0" }, { ipProtocol: "-1", cidrIpv6: "::/0" }],
    ["no-docker-tcp-port", noDockerTcpPort, "aws:ec2/securityGroup:SecurityGroup",
        { ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["10.0.0.0/8"] }] },
        { ingress: [{ protocol: "tcp", fromPort: 2376, toPort: 2376, cidrBlocks: ["10.0.0.0/8"] }] }],
    ["least-privilege-instance-profile", leastPrivilegeProfile, "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        { policyArn: "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore" }, { policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" }],
    ["ecr-scan-on-push", ecrScanOnPush, "aws:ecr/repository:Repository",
        { imageScanningConfiguration: { scanOnPush: true } }, { imageScanningConfiguration: { scanOnPush: false } }],
])("%s passes a compliant resource and reports a violating one", (_, policy, type, good, bad) => {
    expect(violations(policy, type, good)).toEqual([]);
    expect(violations(policy, type, bad).length).toBeGreaterThan(0);
});

test("restricted-ssh names the port and the open range", () => {
    expect(violations(restrictedSsh, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", { ipProtocol: "-1", cidrIpv6: "::/0" })).toEqual([
        "ingress admits port 22 from ::/0; list the operators' CIDRs instead",
        "ingress admits port 3389 from ::/0; list the operators' CIDRs instead",
    ]);
});

test("port coverage counts ranges and protocol -1", () => {
    expect(coversPort({ protocol: "tcp", fromPort: 20, toPort: 30 }, 22)).toBe(true);
    expect(coversPort({ protocol: "udp", fromPort: 0, toPort: 65535 }, 22)).toBe(false);
    expect(coversPort({ protocol: "-1" }, 2375)).toBe(true);
});

test("ecr-lifecycle-policy reports a repository without a lifecycle policy", () => {
    const resource = (type: string, props: Record<string, unknown>) => ({ type, props, urn: `urn:${type}:${String(props.name ?? props.repository)}` }) as unknown as PolicyResource;
    const found: string[] = [];
    void ecrLifecyclePolicy.validateStack({
        resources: [
            resource("aws:ecr/repository:Repository", { name: "app" }),
            resource("aws:ecr/repository:Repository", { name: "orphan" }),
            resource("aws:ecr/lifecyclePolicy:LifecyclePolicy", { repository: "app" }),
        ],
    } as unknown as StackValidationArgs, (m) => found.push(m));
    expect(found).toEqual(["repository orphan has no lifecycle policy"]);
});

test("everything the program registers for a full EC2 fleet passes the pack", async () => {
    const root = makeProject();
    const raw = validConfig() as Record<string, any>;
    raw.hosts.push({ name: "qemu", instanceType: "c7i.large", emulate: ["linux/s390x"] });
    const fleet = new Fleet("fleet", {
        config: parseConfig(raw, context(root)), project: "native-build-fleet", stack: "dev",
        sshPrivateKey: pulumi.secret("KEY"), labels: {},
    });
    await valueOf(fleet.images);
    await settled(mocks.resources);

    const found: string[] = [];
    for (const policy of policies) {
        if ("validateStack" in policy) {
            await policy.validateStack({ resources: mocks.resources.map((r) => ({ type: r.type, props: r.inputs, urn: r.name })) } as unknown as StackValidationArgs,
                (m: string) => found.push(`${policy.name}: ${m}`));
        } else {
            for (const r of mocks.resources) {
                found.push(...violations(policy, r.type, r.inputs).map((m) => `${policy.name} ${r.name}: ${m}`));
            }
        }
    }
    expect(mocks.resources.some((r) => r.type === "aws:ec2/instance:Instance")).toBe(true);
    expect(found).toEqual([]);
});
