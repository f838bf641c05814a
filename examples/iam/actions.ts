// What AWS calls this program makes, per resource type, provider function and AWS CLI call,
// so the shipped least-privilege policies (preview.json, deploy.json) can be checked against
// the program (test/iamPolicies.test.ts runs fleets under mocks and fails on anything
// unmapped). `read` is what a preview or refresh needs; `write` only `pulumi up`/`destroy`.
//
// The action lists follow the AWS provider's create/read/update/delete calls for each
// type and the Service Authorization Reference; they were not measured against AWS.

export interface Actions {
    read: string[];
    write: string[];
}

const NONE: Actions = { read: [], write: [] };

/** Every resource type the program registers, AWS or not (non-AWS types call no AWS API). */
export const RESOURCE_ACTIONS: Record<string, Actions> = {
    "aws:ec2/instance:Instance": {
        read: [
            "ec2:DescribeInstances",
            "ec2:DescribeInstanceAttribute",
            "ec2:DescribeInstanceTypes",
            "ec2:DescribeInstanceCreditSpecifications",
            "ec2:DescribeVolumes",
            "ec2:DescribeTags",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSpotInstanceRequests",
            "ec2:DescribeImages",
            "ec2:DescribeSubnets",
        ],
        write: [
            "ec2:RunInstances",
            "ec2:CreateTags",
            "ec2:DeleteTags",
            "ec2:TerminateInstances",
            "ec2:StopInstances",
            "ec2:StartInstances",
            "ec2:ModifyInstanceAttribute",
            "ec2:ModifyInstanceMetadataOptions",
            "ec2:ModifyVolume",
            "iam:PassRole",
        ],
    },
    "aws:ec2/eip:Eip": {
        read: ["ec2:DescribeAddresses", "ec2:DescribeAddressesAttribute"],
        write: [
            "ec2:AllocateAddress",
            "ec2:AssociateAddress",
            "ec2:DisassociateAddress",
            "ec2:ReleaseAddress",
            "ec2:CreateTags",
            "ec2:DeleteTags",
        ],
    },
    "aws:ec2/securityGroup:SecurityGroup": {
        read: ["ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules", "ec2:DescribeNetworkInterfaces"],
        write: [
            "ec2:CreateSecurityGroup",
            "ec2:DeleteSecurityGroup",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
            "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
            "ec2:CreateTags",
            "ec2:DeleteTags",
        ],
    },
    "aws:iam/role:Role": {
        read: [
            "iam:GetRole",
            "iam:ListRoleTags",
            "iam:ListRolePolicies",
            "iam:ListAttachedRolePolicies",
            "iam:ListInstanceProfilesForRole",
        ],
        // CreateRole carries the path and the permissions boundary (components/hostAccess.ts);
        // the provider sets the boundary again with PutRolePermissionsBoundary when it drifts.
        write: [
            "iam:CreateRole",
            "iam:DeleteRole",
            "iam:UpdateRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:PutRolePermissionsBoundary",
        ],
    },
    // No longer created: stacks of earlier versions attached AmazonSSMManagedInstanceCore, and
    // their first update deletes that attachment.
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": {
        read: ["iam:ListAttachedRolePolicies"],
        write: ["iam:DetachRolePolicy"],
    },
    // The ssm-mode host role's own policy, narrower than AmazonSSMManagedInstanceCore
    // (issue 11, part 4), is an inline role policy.
    "aws:iam/rolePolicy:RolePolicy": {
        read: ["iam:GetRolePolicy", "iam:ListRolePolicies"],
        write: ["iam:PutRolePolicy", "iam:DeleteRolePolicy"],
    },
    "aws:iam/instanceProfile:InstanceProfile": {
        read: ["iam:GetInstanceProfile", "iam:ListInstanceProfileTags"],
        write: [
            "iam:CreateInstanceProfile",
            "iam:DeleteInstanceProfile",
            "iam:AddRoleToInstanceProfile",
            "iam:RemoveRoleFromInstanceProfile",
            "iam:TagInstanceProfile",
            "iam:UntagInstanceProfile",
            "iam:PassRole",
        ],
    },
    // retainOnDelete: the program never deletes a repository, so neither may the role.
    "aws:ecr/repository:Repository": {
        read: ["ecr:DescribeRepositories", "ecr:ListTagsForResource"],
        write: [
            "ecr:CreateRepository",
            "ecr:TagResource",
            "ecr:UntagResource",
            "ecr:PutImageScanningConfiguration",
            "ecr:PutImageTagMutability",
        ],
    },
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": {
        read: ["ecr:GetLifecyclePolicy"],
        write: ["ecr:PutLifecyclePolicy", "ecr:DeleteLifecyclePolicy"],
    },
    // Builds and indexes reach ECR with the runner's token, so with the runner's
    // permissions: previews read the cache, updates push layers, manifests and the cache.
    "docker-build:index:Image": {
        read: [
            "ecr:BatchGetImage",
            "ecr:GetDownloadUrlForLayer",
            "ecr:BatchCheckLayerAvailability",
            "ecr:DescribeImages",
        ],
        write: ["ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"],
    },
    "docker-build:index:Index": {
        read: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
        write: ["ecr:PutImage"],
    },
    "command:local:Command": NONE,
    "command:remote:Command": NONE,
    "tls:index/privateKey:PrivateKey": NONE,
};

/** Provider functions (invokes): they run in previews and updates alike. */
export const INVOKE_ACTIONS: Record<string, string[]> = {
    "aws:ssm/getParameter:getParameter": ["ssm:GetParameter"],
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": ["ecr:GetAuthorizationToken"],
    "aws:ec2/getVpc:getVpc": ["ec2:DescribeVpcs"],
    // For the boundary's ARN; GetCallerIdentity needs no permission (STS API reference).
    "aws:index/getCallerIdentity:getCallerIdentity": [],
    "command:local:run": [],
};

/**
 * AWS CLI calls in the scripts the program runs on the runner (`aws <service> <operation>`),
 * with the roles that make them. Updates start idle hosts (a preview never does); SSH in
 * ssm mode is a Session Manager session (ProxyCommand), in previews too when they build
 * or re-register the builder; the program reads each host's key from its console output.
 */
export const CLI_ACTIONS: Record<string, { actions: string[]; roles: ("preview" | "deploy")[] }> = {
    "ec2 describe-instances": { actions: ["ec2:DescribeInstances"], roles: ["deploy"] },
    "ec2 start-instances": { actions: ["ec2:StartInstances"], roles: ["deploy"] },
    "ec2 wait instance-stopped": { actions: ["ec2:DescribeInstances"], roles: ["deploy"] },
    "ec2 wait instance-running": { actions: ["ec2:DescribeInstances"], roles: ["deploy"] },
    "ec2 get-console-output": { actions: ["ec2:GetConsoleOutput"], roles: ["preview", "deploy"] },
    // The Session Manager plugin ends (or resumes) the session it opened.
    "ssm start-session": {
        actions: ["ssm:StartSession", "ssmmessages:OpenDataChannel", "ssm:TerminateSession", "ssm:ResumeSession"],
        roles: ["preview", "deploy"],
    },
};

/**
 * The sign step (`<image>-sign`, runner/attest.ts): with any key source it reads and pushes
 * bundles and the referrers tag in the image's repository (ECR's referrers API needs
 * ecr:BatchGetImage, its ListImageReferrers reference says); with `signing.mode kms` cosign
 * also reads the key and signs with it: GetPublicKey and DescribeKey when it loads the key,
 * Sign for each signature (sigstore/sigstore pkg/signature/kms/aws v1.10.8 client.go,
 * fetchCMK and sign). Only updates sign.
 */
export const SIGNING_ACTIONS = {
    registry: [
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
    ],
    kms: ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign"],
};

/**
 * The ARN IAM evaluates for a cosign `awskms://` key URI: a key ARN as it is, a bare key id
 * in the stack's region and account; an alias has none (IAM scopes kms:Sign to the key an
 * alias points at, which only AWS knows), so undefined.
 */
export function kmsKeyArn(uri: string, region: string, accountId: string): string | undefined {
    const id = uri.replace(/^awskms:\/\/[^/]*\//, "");
    if (id.startsWith("arn:")) {
        return /:key\//.test(id) ? id : undefined;
    }
    return id.startsWith("alias/") ? undefined : `arn:aws:kms:${region}:${accountId}:key/${id}`;
}

/** The tag keys every resource of a stack carries (components/fleet.ts). */
export const STACK_TAGS = ["native-build-fleet:project", "native-build-fleet:stack"] as const;

export interface PolicyValues {
    region: string;
    accountId: string;
    /** The Pulumi project name (the `native-build-fleet:project` tag). */
    project: string;
    /** The stack name (the `native-build-fleet:stack` tag), without the organization. */
    stack: string;
    /** The image names: one ECR repository each. */
    images: string[];
    /** The VPC(s) the fleet's hosts and security group may be in (network.vpcId). */
    vpcIds: string[];
    /** The ARN of the KMS key `signing.key` names (`kmsKeyArn`); none drops the statement that signs with it. */
    signingKeyArns?: string[];
}

/**
 * Fills a shipped policy's placeholders (REGION, ACCOUNT_ID, PROJECT_NAME, STACK_NAME), and
 * repeats every ARN that ends in `repository/IMAGE_NAME` once per image, every one that
 * ends in `vpc/VPC_ID` (a resource or a condition value) once per VPC, and SIGNING_KEY_ARN
 * once per signing key; a statement left with no resource is dropped.
 */
export function renderPolicy(template: string, values: PolicyValues): PolicyDocument {
    const filled = template
        .replace(/\bREGION\b/g, values.region)
        .replace(/\bACCOUNT_ID\b/g, values.accountId)
        .replace(/\bPROJECT_NAME\b/g, values.project)
        .replace(/\bSTACK_NAME\b/g, values.stack);
    const policy = JSON.parse(filled) as PolicyDocument;
    const expand = (arns: string[]) =>
        arns.flatMap((arn) => {
            if (arn.endsWith("repository/IMAGE_NAME")) {
                return values.images.map((image) => arn.replace(/IMAGE_NAME$/, image));
            }
            if (arn === "SIGNING_KEY_ARN") {
                return values.signingKeyArns ?? [];
            }
            return arn.endsWith("vpc/VPC_ID") ? values.vpcIds.map((vpc) => arn.replace(/VPC_ID$/, vpc)) : [arn];
        });
    policy.Statement = policy.Statement.filter(
        (statement) => expand(([] as string[]).concat(statement.Resource)).length > 0,
    );
    for (const statement of policy.Statement) {
        statement.Resource = expand(([] as string[]).concat(statement.Resource));
        for (const operator of Object.values(statement.Condition ?? {})) {
            for (const [key, value] of Object.entries(operator)) {
                const expanded = expand(([] as string[]).concat(value));
                operator[key] = Array.isArray(value) || expanded.length > 1 ? expanded : expanded[0];
            }
        }
    }
    return policy;
}

export interface PolicyStatement {
    Sid?: string;
    Effect: "Allow" | "Deny";
    Action: string | string[];
    Resource: string | string[];
    Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
    Version: string;
    Statement: PolicyStatement[];
}
