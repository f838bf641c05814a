// What every EC2 build host shares: the security group that admits SSH from the allowed
// CIDRs only, and an instance profile with no policies. (The operator's key is installed
// by the user data, for whichever user ssh.user names, so no EC2 key pair is needed.)

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface HostAccessArgs {
    /** CIDRs allowed to reach port 22; validated, never 0.0.0.0/0 or ::/0. Empty with ssm. */
    allowedCidrs: string[];
    /** ssm: no inbound rule at all, and the role gets what SSM sessions need. */
    access: "cidr" | "ssm";
    /** The VPC of the hosts; the account's default VPC when absent. */
    vpcId?: string;
    /** Tags for every resource (project, stack). */
    tags: Record<string, string>;
}

export class HostAccess extends pulumi.ComponentResource {
    readonly securityGroupId: pulumi.Output<string>;
    readonly instanceProfileName: pulumi.Output<string>;

    constructor(name: string, args: HostAccessArgs, opts?: pulumi.ComponentResourceOptions) {
        super("native-build-fleet:hosts:HostAccess", name, {}, opts);

        const vpcId = args.vpcId ?? aws.ec2.getVpcOutput({ default: true }, { parent: this }).id;
        const group = new aws.ec2.SecurityGroup(`${name}-ssh`, {
            vpcId,
            description: "native-build-fleet: SSH from the allowed CIDRs only; no Docker ports",
            ingress: args.access === "ssm" ? [] : [{
                description: "SSH for buildx and readiness checks",
                protocol: "tcp",
                fromPort: 22,
                toPort: 22,
                cidrBlocks: args.allowedCidrs.filter((c) => !c.includes(":")),
                ipv6CidrBlocks: args.allowedCidrs.filter((c) => c.includes(":")),
            }],
            // Outbound stays open: hosts install Docker, pull base images and push layers.
            egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] }],
            tags: args.tags,
        }, { parent: this });

        // Build hosts call no AWS API: buildx forwards the client's registry credentials
        // to BuildKit (provider notes, "ECR"). The role carries only what SSM sessions need,
        // and only in ssm mode (Security Hub SSM.1).
        const role = new aws.iam.Role(`${name}-role`, {
            assumeRolePolicy: aws.iam.assumeRolePolicyForPrincipal({ Service: "ec2.amazonaws.com" }),
            tags: args.tags,
        }, { parent: this });
        if (args.access === "ssm") {
            new aws.iam.RolePolicyAttachment(`${name}-ssm`, {
                role: role.name, policyArn: "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
            }, { parent: this });
        }
        const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: role.name, tags: args.tags }, { parent: this });

        this.securityGroupId = group.id;
        this.instanceProfileName = profile.name;
        this.registerOutputs({ securityGroupId: this.securityGroupId, instanceProfileName: this.instanceProfileName });
    }
}
