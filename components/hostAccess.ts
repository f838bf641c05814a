// What every EC2 build host shares: the security group that admits SSH from the allowed
// CIDRs only, and an instance profile with no policy (in ssm mode, only Session Manager's
// actions). The operator's key is installed by the user data, for whichever user ssh.user
// names, so no EC2 key pair is needed.

// Service modules, not @pulumi/aws's index, which loads every service (see components/fleet.ts).
import * as ec2 from "@pulumi/aws/ec2";
import { getCallerIdentityOutput } from "@pulumi/aws/getCallerIdentity";
import * as iam from "@pulumi/aws/iam";
import * as pulumi from "@pulumi/pulumi";

export interface HostAccessArgs {
    /** CIDRs allowed to reach port 22; validated, never 0.0.0.0/0 or ::/0. Empty with ssm. */
    allowedCidrs: string[];
    /** ssm: no inbound rule at all, and the role gets only what Session Manager needs. */
    access: "cidr" | "ssm";
    /** The VPC of the hosts; the account's default VPC when absent. */
    vpcId?: string;
    /** Tags for every resource (project, stack). */
    tags: Record<string, string>;
}

/**
 * The actions of AWS's "minimal Session Manager permissions" instance policy (Systems
 * Manager User Guide, "Create a custom IAM role for Session Manager",
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/getting-started-create-iam-instance-profile.html;
 * the managed policy AWSCloud9SSMInstanceProfile grants the same five), without the S3 and
 * KMS statements that only session logging needs. Unlike AmazonSSMManagedInstanceCore it
 * grants no ssm:GetParameter(s) on the account's parameters, no ec2messages (Run Command)
 * and no SSM documents: a build step that reached the role could read nothing.
 */
export const SESSION_MANAGER_ACTIONS = [
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
] as const;

/** The hosts' inline role policy in ssm mode. */
export function sessionManagerPolicy(): {
    Version: string;
    Statement: { Effect: "Allow"; Action: string[]; Resource: string }[];
} {
    return {
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: [...SESSION_MANAGER_ACTIONS], Resource: "*" }],
    };
}

/**
 * The IAM path of every role and instance profile the program creates, and of the hosts'
 * permissions boundary. The deploy policy may create, tag, change and pass only roles on this
 * path, and create roles only with the boundary (examples/iam/deploy.json, issue 20 item 2).
 */
export const HOST_IAM_PATH = "/native-build-fleet/";
/** The boundary's name: an administrator creates it from examples/iam/host-boundary.json. */
export const HOST_BOUNDARY_NAME = "native-build-fleet-host-boundary";

/** The boundary policy's ARN in the account and partition of a caller's ARN. */
export function hostBoundaryArn(callerArn: string, accountId: string): string {
    const partition = callerArn.split(":")[1] || "aws";
    return `arn:${partition}:iam::${accountId}:policy${HOST_IAM_PATH}${HOST_BOUNDARY_NAME}`;
}

export class HostAccess extends pulumi.ComponentResource {
    readonly securityGroupId: pulumi.Output<string>;
    readonly instanceProfileName: pulumi.Output<string>;

    constructor(name: string, args: HostAccessArgs, opts?: pulumi.ComponentResourceOptions) {
        super("native-build-fleet:hosts:HostAccess", name, {}, opts);

        const vpcId = args.vpcId ?? ec2.getVpcOutput({ default: true }, { parent: this }).id;
        const group = new ec2.SecurityGroup(
            `${name}-ssh`,
            {
                vpcId,
                description: "native-build-fleet: SSH from the allowed CIDRs only; no Docker ports",
                ingress:
                    args.access === "ssm"
                        ? []
                        : [
                              {
                                  description: "SSH for buildx and readiness checks",
                                  protocol: "tcp",
                                  fromPort: 22,
                                  toPort: 22,
                                  cidrBlocks: args.allowedCidrs.filter((c) => !c.includes(":")),
                                  ipv6CidrBlocks: args.allowedCidrs.filter((c) => c.includes(":")),
                              },
                          ],
                // Outbound stays open: hosts install Docker, pull base images and push layers.
                egress: [
                    { protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] },
                ],
                tags: args.tags,
            },
            { parent: this },
        );

        // Build hosts call no AWS API: buildx forwards the client's registry credentials
        // to BuildKit (provider notes, "ECR"). In ssm mode the role carries only what the SSM
        // agent needs for Session Manager, and nothing otherwise.
        // On the stack's path and under the boundary, so the deploy role never holds iam:* on
        // roles it did not create and what it creates can never exceed the hosts' needs.
        const caller = getCallerIdentityOutput({}, { parent: this });
        const role = new iam.Role(
            `${name}-role`,
            {
                assumeRolePolicy: iam.assumeRolePolicyForPrincipal({ Service: "ec2.amazonaws.com" }),
                path: HOST_IAM_PATH,
                permissionsBoundary: pulumi
                    .all([caller.arn, caller.accountId])
                    .apply(([arn, account]) => hostBoundaryArn(arn, account)),
                tags: args.tags,
            },
            { parent: this },
        );
        if (args.access === "ssm") {
            new iam.RolePolicy(
                `${name}-ssm`,
                { role: role.name, policy: JSON.stringify(sessionManagerPolicy()) },
                { parent: this },
            );
        }
        const profile = new iam.InstanceProfile(
            `${name}-profile`,
            { role: role.name, path: HOST_IAM_PATH, tags: args.tags },
            { parent: this },
        );

        this.securityGroupId = group.id;
        this.instanceProfileName = profile.name;
        this.registerOutputs({ securityGroupId: this.securityGroupId, instanceProfileName: this.instanceProfileName });
    }
}
