// The controls this program's resources must meet (shared/reference/security-controls.md),
// as CrossGuard policies. Each is a plain function over resource properties, unit-tested
// with a passing and a violating resource (test/policy.test.ts).

import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";

const INSTANCE = "aws:ec2/instance:Instance";
const SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup";
const INGRESS_RULES = ["aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "aws:ec2/securityGroupRule:SecurityGroupRule"];
const REPOSITORY = "aws:ecr/repository:Repository";
const LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy";
/** The one managed policy a build host may carry (for SSM access). */
const SSM_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore";
const WORLD = ["0.0.0.0/0", "::/0"];

type Props = Record<string, unknown>;
type Ingress = { protocol?: string; ipProtocol?: string; fromPort?: number; toPort?: number; cidrBlocks?: string[]; ipv6CidrBlocks?: string[]; cidrIpv4?: string; cidrIpv6?: string; type?: string };

/** Whether an ingress rule's port range (protocol -1 or "all" meaning every port) covers `port`. */
export function coversPort(rule: Ingress, port: number): boolean {
    const protocol = String(rule.protocol ?? rule.ipProtocol ?? "");
    if (protocol === "-1" || protocol === "all") {
        return true;
    }
    return (protocol === "tcp" || protocol === "6") && (rule.fromPort ?? 0) <= port && port <= (rule.toPort ?? 65535);
}

function sources(rule: Ingress): string[] {
    return [...(rule.cidrBlocks ?? []), ...(rule.ipv6CidrBlocks ?? []), rule.cidrIpv4, rule.cidrIpv6].filter((c): c is string => typeof c === "string");
}

function ingressRules(type: string, props: Props): Ingress[] {
    if (type === SECURITY_GROUP) {
        return (props.ingress as Ingress[] | undefined) ?? [];
    }
    if (INGRESS_RULES.includes(type) && (props.type === undefined || props.type === "ingress")) {
        return [props];
    }
    return [];
}

export const imdsv2Required: ResourceValidationPolicy = {
    name: "imdsv2-required",
    description: "Build hosts require IMDSv2 with a hop limit of 1, so containers cannot reach the instance role (Security Hub EC2.8).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type !== INSTANCE) {
            return;
        }
        const metadata = (args.props.metadataOptions ?? {}) as { httpTokens?: string; httpPutResponseHopLimit?: number };
        if (metadata.httpTokens !== "required" || metadata.httpPutResponseHopLimit !== 1) {
            report(`metadataOptions must set httpTokens "required" and httpPutResponseHopLimit 1 (has ${JSON.stringify(metadata)})`);
        }
    },
};

export const ebsEncrypted: ResourceValidationPolicy = {
    name: "ebs-encrypted",
    description: "Build hosts' volumes are encrypted (Security Hub EC2.3).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type !== INSTANCE) {
            return;
        }
        const volumes = [args.props.rootBlockDevice, ...((args.props.ebsBlockDevices as unknown[] | undefined) ?? [])] as ({ encrypted?: boolean } | undefined)[];
        if (volumes.some((v) => v?.encrypted !== true)) {
            report("every volume, the root volume included, must set encrypted: true");
        }
    },
};

export const restrictedSsh: ResourceValidationPolicy = {
    name: "restricted-ssh",
    description: "No SSH or RDP from the whole Internet, whatever the port range or protocol (Security Hub EC2.13).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        for (const rule of ingressRules(args.type, args.props)) {
            for (const port of [22, 3389].filter((p) => coversPort(rule, p))) {
                const open = sources(rule).filter((c) => WORLD.includes(c));
                if (open.length > 0) {
                    report(`ingress admits port ${port} from ${open.join(", ")}; list the operators' CIDRs instead`);
                }
            }
        }
    },
};

export const noDockerTcpPort: ResourceValidationPolicy = {
    name: "no-docker-tcp-port",
    description: "The Docker API is never reachable over TCP (2375/2376): the docker socket is root on the host.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        for (const rule of ingressRules(args.type, args.props)) {
            for (const port of [2375, 2376].filter((p) => coversPort(rule, p))) {
                report(`ingress admits the Docker API port ${port}; buildx reaches hosts over SSH only`);
            }
        }
    },
};

export const leastPrivilegeProfile: ResourceValidationPolicy = {
    name: "least-privilege-instance-profile",
    description: "Build host roles carry no policy beyond SSM access: buildx forwards the runner's registry credentials.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment" && args.props.policyArn !== SSM_CORE) {
            report(`attaches ${String(args.props.policyArn)}; build hosts may only carry ${SSM_CORE}`);
        }
        if (args.type === "aws:iam/rolePolicy:RolePolicy") {
            report("inline role policies are not allowed on build host roles");
        }
        if (args.type === "aws:iam/role:Role" && ((args.props.managedPolicyArns as string[] | undefined) ?? []).some((arn) => arn !== SSM_CORE)) {
            report(`managedPolicyArns may only contain ${SSM_CORE}`);
        }
    },
};

export const ecrScanOnPush: ResourceValidationPolicy = {
    name: "ecr-scan-on-push",
    description: "Every repository scans images on push (Security Hub ECR.1).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type === REPOSITORY && (args.props.imageScanningConfiguration as { scanOnPush?: boolean } | undefined)?.scanOnPush !== true) {
            report("imageScanningConfiguration.scanOnPush must be true");
        }
    },
};

export const ecrLifecyclePolicy: StackValidationPolicy = {
    name: "ecr-lifecycle-policy",
    description: "Every repository has a lifecycle policy, so cache and superseded images do not pile up (Security Hub ECR.3).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const covered = new Set(args.resources.filter((r) => r.type === LIFECYCLE).map((r) => String(r.props.repository)));
        for (const repo of args.resources.filter((r) => r.type === REPOSITORY)) {
            if (!covered.has(String(repo.props.name))) {
                report(`repository ${String(repo.props.name)} has no lifecycle policy`, repo.urn);
            }
        }
    },
};

export const policies = [imdsv2Required, ebsEncrypted, restrictedSsh, noDockerTcpPort, leastPrivilegeProfile, ecrScanOnPush, ecrLifecyclePolicy];
