// The least-privilege policies in examples/iam/ against what the program actually calls:
// fleets in both access modes run under mocks, every resource type, provider function and
// AWS CLI call they produce must be in the mapping (examples/iam/actions.ts), and the
// policies must allow every mapped action, scoped to the stack (issue 11, part 5). Then a
// real IAM policy evaluator (@cloud-copilot/iam-simulate, a test-only dependency) decides
// every request the program makes, which must be allowed, and each privilege escalation an
// update's code could try, which must be denied (issue 20, items 2, 6, 7 and host egress).

import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { runSimulation } from "@cloud-copilot/iam-simulate";
import { Fleet } from "../components/fleet";
import { parseConfig } from "../config/schema";
import {
    CLI_ACTIONS,
    INVOKE_ACTIONS,
    kmsKeyArn,
    PolicyDocument,
    PolicyStatement,
    renderPolicy,
    RESOURCE_ACTIONS,
    SIGNING_ACTIONS,
    STACK_TAGS,
} from "../examples/iam/actions";
import { context, makeProject, validConfig } from "./fixtures";
import { installMocks, settled, unwrapSecrets, valueOf } from "./mocks";
import { EC2_CALLS } from "../runner/registerBuilders";

const mocks = installMocks();
const root = makeProject();
const dir = path.join(__dirname, "..", "examples", "iam");
const template = (file: string) => fs.readFileSync(path.join(dir, file), "utf8");
const key = pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----\nop\n-----END OPENSSH PRIVATE KEY-----\n");

const SIGNING_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/** cidr mode with a spot pool, an idle pool (an Elastic IP, the wake step) and KMS signing; ssm mode with an idle pool. */
function configs() {
    const cidr = validConfig() as Record<string, any>;
    cidr.hosts[0].idleMinutes = 30;
    cidr.hosts[1].spot = true;
    cidr.signing = { mode: "kms", key: `awskms:///${SIGNING_KEY}` };
    const ssm = validConfig() as Record<string, any>;
    ssm.ssh = { access: "ssm", publicKey: ssm.ssh.publicKey };
    ssm.network = { vpcId: "vpc-0abc1234", subnetIds: ["subnet-0aaa1111"] };
    ssm.hosts[0].idleMinutes = 30;
    ssm.images[0].name = "ssm-app";
    return { cidr, ssm };
}

const fleets = Object.entries(configs()).map(
    ([name, raw]) =>
        new Fleet(name, {
            config: parseConfig(raw, context(root)),
            project: "native-build-fleet",
            stack: "dev",
            sshPrivateKey: key,
            labels: {},
            region: "eu-west-1",
        }),
);
beforeAll(async () => {
    for (const fleet of fleets) {
        await valueOf(fleet.hosts);
        await valueOf(fleet.images);
    }
    await settled(mocks.resources);
});

const VALUES = { region: "eu-west-1", accountId: "123456789012", project: "native-build-fleet", stack: "dev" };
/** The VPCs the fleets' security groups are in: the ssm fleet's network.vpcId and the mocks' default VPC. */
const vpcIds = () =>
    [
        ...new Set(
            mocks.resources
                .filter((r) => r.type === "aws:ec2/securityGroup:SecurityGroup")
                .map((r) => String(r.inputs.vpcId)),
        ),
    ].sort();
/** The `signing` of every sign step the fleets run (`<image>-sign`, NBF_SPEC). */
const signingOf = () =>
    mocks.resources
        .filter((r) => r.type === "command:local:Command" && r.name.endsWith("-sign"))
        .map(
            (r) =>
                (
                    JSON.parse(String((r.inputs.environment as Record<string, unknown>).NBF_SPEC)) as {
                        signing: { mode: string; key?: string };
                    }
                ).signing,
        );
const signingKeyArns = () =>
    [
        ...new Set(
            signingOf()
                .filter((s) => s.mode === "kms")
                .map((s) => kmsKeyArn(String(s.key), VALUES.region, VALUES.accountId)),
        ),
    ] as string[];
const policyFor = (file: string, keys = signingKeyArns()) =>
    renderPolicy(template(file), {
        ...VALUES,
        images: mocks.resources
            .filter((r) => r.type === "aws:ecr/repository:Repository")
            .map((r) => String(r.inputs.name)),
        vpcIds: vpcIds(),
        signingKeyArns: keys,
    });
const list = (value: string | string[] | undefined) => ([] as string[]).concat(value ?? []);
const matches = (pattern: string, action: string) =>
    new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "i").test(action);
const allows = (policy: PolicyDocument, action: string) =>
    policy.Statement.some((s) => s.Effect === "Allow" && list(s.Action).some((p) => matches(p, action)));

/** `aws <service> <operation>` in any input the program gives a resource or a local run (scripts, ssh config). */
function cliCalls(): string[] {
    const text = [...mocks.resources, ...mocks.invokes].map((r) => JSON.stringify(r.inputs)).join("\n");
    const inScripts = [...text.matchAll(/\baws (ec2|ssm|ecr|sts|iam)(?: --region \S+)? (wait [a-z-]+|[a-z-]+)/g)].map(
        (m) => `${m[1]} ${m[2]}`,
    );
    // The builders' runner makes its calls from TypeScript, waking the idle hosts its spec lists.
    const ensure = mocks.invokes.find(
        (i) => i.token === "command:local:run" && String(i.inputs.command).startsWith("node bin/runner/cli.js "),
    );
    const wakes =
        ensure !== undefined &&
        (JSON.parse(String(unwrapSecrets(ensure.inputs.stdin))) as { spec: { wake?: unknown } }).spec.wake !==
            undefined;
    return [...new Set([...inScripts, ...(wakes ? EC2_CALLS.map((c) => `ec2 ${c}`) : [])])].sort();
}

function needed(role: "preview" | "deploy"): string[] {
    return [
        ...new Set([
            ...Object.values(RESOURCE_ACTIONS).flatMap((a) => (role === "preview" ? a.read : [...a.read, ...a.write])),
            ...Object.values(INVOKE_ACTIONS).flat(),
            ...Object.values(CLI_ACTIONS)
                .filter((c) => c.roles.includes(role))
                .flatMap((c) => c.actions),
            ...(role === "deploy" && signingOf().length > 0 ? SIGNING_ACTIONS.registry : []),
            ...(role === "deploy" && signingOf().some((s) => s.mode === "kms") ? SIGNING_ACTIONS.kms : []),
        ]),
    ].sort();
}

describe("the mapping of the program's AWS calls", () => {
    test("covers every resource type the program registers, in both access modes", () => {
        const types = [...new Set(mocks.resources.map((r) => r.type))].filter(
            (t) => !t.startsWith("native-build-fleet:"),
        );
        expect(types).toEqual(
            expect.arrayContaining(["aws:ec2/instance:Instance", "aws:ec2/eip:Eip", "aws:iam/rolePolicy:RolePolicy"]),
        );
        expect(types.filter((t) => !(t in RESOURCE_ACTIONS))).toEqual([]);
    });

    test("covers every provider function the program calls", () => {
        const tokens = [...new Set(mocks.invokes.map((i) => i.token))];
        expect(tokens).toEqual(
            expect.arrayContaining([
                "aws:ssm/getParameter:getParameter",
                "aws:ecr/getAuthorizationToken:getAuthorizationToken",
            ]),
        );
        expect(tokens.filter((t) => !(t in INVOKE_ACTIONS))).toEqual([]);
    });

    test("covers every AWS CLI call in the scripts the program runs", () => {
        const calls = cliCalls();
        expect(calls).toEqual(
            expect.arrayContaining(["ec2 describe-instances", "ec2 start-instances", "ssm start-session"]),
        );
        expect(calls.filter((c) => !(c in CLI_ACTIONS))).toEqual([]);
    });

    test("reads only the AMI parameters the program names", () => {
        const parameters = mocks.invokes
            .filter((i) => i.token === "aws:ssm/getParameter:getParameter")
            .map((i) => String(i.inputs.name));
        for (const file of ["preview.json", "deploy.json"]) {
            const statement = policyFor(file).Statement.find((s) =>
                list(s.Action).includes("ssm:GetParameter"),
            ) as PolicyStatement;
            for (const name of parameters) {
                expect(
                    list(statement.Resource).some((arn) => matches(arn, `arn:aws:ssm:eu-west-1::parameter${name}`)),
                ).toBe(true);
            }
            expect(
                list(statement.Resource).every((arn) =>
                    arn.startsWith("arn:aws:ssm:eu-west-1::parameter/aws/service/"),
                ),
            ).toBe(true);
        }
    });
});

describe.each(["preview", "deploy"] as const)("the %s role's policy", (role) => {
    const policy = () => policyFor(`${role}.json`);

    test("names every action the program needs in that role", () => {
        expect(needed(role).filter((action) => !allows(policy(), action))).toEqual([]);
    });

    test("has every placeholder filled and names no other repository than the stack's", () => {
        expect(JSON.stringify(policy())).not.toMatch(
            /REGION|ACCOUNT_ID|PROJECT_NAME|STACK_NAME|IMAGE_NAME|SIGNING_KEY_ARN/,
        );
        const repositories = policy()
            .Statement.flatMap((s) => list(s.Resource))
            .filter((arn) => arn.startsWith("arn:aws:ecr:"));
        expect([...new Set(repositories)].sort()).toEqual(
            ["app", "ssm-app"].map((name) => `arn:aws:ecr:eu-west-1:123456789012:repository/${name}`),
        );
    });

    test("allows on every resource only what AWS cannot scope to a resource", () => {
        const unscoped = policy()
            .Statement.filter((s) => s.Effect === "Allow" && list(s.Resource).includes("*"))
            .flatMap((s) => list(s.Action));
        // ssmmessages:OpenDataChannel has no resource type in the Service Authorization
        // Reference (the evaluator refuses a session ARN for it: "must.use.wildcard").
        expect(
            unscoped.filter(
                (a) =>
                    !/^ec2:Describe/.test(a) &&
                    !["ecr:GetAuthorizationToken", "ssmmessages:OpenDataChannel"].includes(a),
            ),
        ).toEqual([]);
    });

    test("ties everything it may do to EC2 and IAM resources to the stack's tags", () => {
        // Statements without a tag condition, and why: the parts an instance is launched with,
        // tag-on-create only, the VPC a group goes into, documents and sessions have no stack tags.
        const untagged = new Set([
            "DescribeWhatThePreviewPlans",
            "DescribeWhatTheUpdatePlans",
            "ReadTheAmiParameters",
            "RegistryTokenHasNoResourceScope",
            "LaunchWithTheInstancesOwnParts",
            "LaunchOnlyIntoTheFleetsVpc",
            "TagOnlyWhileCreating",
            "CreateSecurityGroupsOnlyInTheFleetsVpc",
            "ReadTheStacksRepositoriesAndCache",
            "ManageAndPushOnlyTheStacksRepositories",
            "SsmModeOnlyTheSshSessionDocument",
            "SsmModeOwnSessionsOnly",
            "SsmModeDataChannelHasNoResourceScope",
            // The signing key is the team's, not the stack's: it is scoped by its ARN.
            "SignOnlyWithTheConfiguredKmsKey",
        ]);
        for (const statement of policy().Statement.filter((s) => s.Effect === "Allow" && !untagged.has(s.Sid ?? ""))) {
            const conditions = Object.values(statement.Condition ?? {}).flatMap((c) => Object.entries(c));
            const tagged = STACK_TAGS.every((tag) =>
                conditions.some(
                    ([k, v]) =>
                        /^(aws:ResourceTag|aws:RequestTag|ssm:resourceTag)\//.test(k) &&
                        k.endsWith(`/${tag}`) &&
                        v === (tag.endsWith(":stack") ? "dev" : "native-build-fleet"),
                ),
            );
            expect([statement.Sid, tagged]).toEqual([statement.Sid, true]);
        }
        if (role === "deploy") {
            expect(policy().Statement.find((s) => s.Sid === "TagOnlyWhileCreating")?.Condition).toEqual({
                StringEquals: { "ec2:CreateAction": ["RunInstances", "CreateSecurityGroup", "AllocateAddress"] },
            });
        }
    });

    test("starts sessions only with the SSH session document and only on the stack's hosts", () => {
        const starts = policy().Statement.filter((s) => list(s.Action).some((a) => matches(a, "ssm:StartSession")));
        expect(starts.flatMap((s) => list(s.Resource)).sort()).toEqual([
            "arn:aws:ec2:eu-west-1:123456789012:instance/*",
            "arn:aws:ssm:eu-west-1::document/AWS-StartSSHSession",
        ]);
    });
});

test("the deploy role may read host keys from the console, wake idle hosts and open and end SSH sessions", () => {
    const deploy = policyFor("deploy.json");
    for (const action of [
        "ec2:GetConsoleOutput",
        "ec2:StartInstances",
        "ec2:DescribeInstances",
        "ssm:StartSession",
        "ssm:TerminateSession",
    ]) {
        expect([action, allows(deploy, action)]).toEqual([action, true]);
    }
});

describe("the preview role", () => {
    test("cannot create, change, delete, push or start anything", () => {
        const preview = policyFor("preview.json");
        const actions = preview.Statement.flatMap((s) => list(s.Action));
        const sessions = [
            "ssm:StartSession",
            "ssm:ResumeSession",
            "ssm:TerminateSession",
            "ssmmessages:OpenDataChannel",
        ];
        expect(
            actions.filter(
                (a) =>
                    !/^(ec2:Describe|ec2:GetConsoleOutput$|ssm:GetParameter$|iam:(Get|List)|ecr:(Describe|List|Get|BatchGet|BatchCheck))/.test(
                        a,
                    ) && !sessions.includes(a),
            ),
        ).toEqual([]);
        const writes = Object.values(RESOURCE_ACTIONS).flatMap((a) => a.write);
        expect(writes.filter((action) => allows(preview, action))).toEqual([]);
    });
});

describe("the OIDC trust policies", () => {
    test.each([
        [
            "github-preview-trust.json",
            "token.actions.githubusercontent.com:sub",
            "repo:OWNER/REPOSITORY:environment:preview",
        ],
        [
            "github-deploy-trust.json",
            "token.actions.githubusercontent.com:sub",
            "repo:OWNER/REPOSITORY:environment:production",
        ],
    ])("%s lets only the jobs of one environment assume the role", (file, claim, subject) => {
        const statement = (
            JSON.parse(template(file)) as { Statement: { Condition: Record<string, Record<string, unknown>> }[] }
        ).Statement[0];
        expect(statement.Condition.StringEquals[claim]).toBe(subject);
        expect(statement.Condition.StringEquals["token.actions.githubusercontent.com:aud"]).toBe("sts.amazonaws.com");
        expect(statement.Condition.StringLike).toBeUndefined();
    });

    test("the GitLab deploy role trusts only the default branch and v* tags", () => {
        const statement = (
            JSON.parse(template("gitlab-deploy-trust.json")) as {
                Statement: { Condition: Record<string, Record<string, unknown>> }[];
            }
        ).Statement[0];
        expect(statement.Condition.StringLike["gitlab.com:sub"]).toEqual([
            "project_path:GROUP/PROJECT:ref_type:branch:ref:main",
            "project_path:GROUP/PROJECT:ref_type:tag:ref:v*",
        ]);
    });
});

// ---------------------------------------------------------------------------------------
// A real evaluator. Requests carry the context AWS would add: the tags the program puts on
// what it creates (RequestTag) and finds on what it manages (ResourceTag), the boundary
// and path its roles are created with (taken from the program's own Role inputs).

type Decision = "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied";
const ACCOUNT = VALUES.accountId;
const REGION = VALUES.region;
const ec2Arn = (type: string, id: string) => `arn:aws:ec2:${REGION}:${ACCOUNT}:${type}/${id}`;
const STACK = { "native-build-fleet:project": VALUES.project, "native-build-fleet:stack": VALUES.stack };
const requestTags = (tags: Record<string, string> = STACK) => ({
    ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [`aws:RequestTag/${k}`, v])),
    "aws:TagKeys": Object.keys(tags),
});
const resourceTags = (tags: Record<string, string> = STACK, prefix = "aws:ResourceTag") =>
    Object.fromEntries(Object.entries(tags).map(([k, v]) => [`${prefix}/${k}`, v]));

/**
 * AWS-owned SSM resources (public parameters, AWS's session documents) have an empty account
 * in their ARN, which the evaluator cannot type ("no.resource.types"); both the request and
 * the policy get the same stand-in account for them, so the match is still the policy's own;
 * the request stays same-account, as AWS reads its public parameters on the identity policy alone.
 */
const AWS_OWNED = /(arn:aws:ssm:[a-z0-9-]+):(:(?:parameter|document)\/)/g;
const owned = <T>(value: T): T => JSON.parse(JSON.stringify(value).replace(AWS_OWNED, "$1:000000000000$2")) as T;

/**
 * A KMS key's default key policy, which lets its account's IAM policies decide ("Allows access
 * to the AWS account and enables IAM policies", AWS KMS Developer Guide, key-policy-default.html):
 * without a key policy allowing it, no identity policy reaches a key.
 */
const defaultKeyPolicy = (account: string) => ({
    Version: "2012-10-17",
    Statement: [
        {
            Sid: "Enable IAM User Permissions",
            Effect: "Allow",
            Principal: { AWS: `arn:aws:iam::${account}:root` },
            Action: "kms:*",
            Resource: "*",
        },
    ],
});

async function decide(
    policies: { identity: PolicyDocument; boundary?: PolicyDocument },
    action: string,
    resource: string,
    context: Record<string, string | string[]> = {},
): Promise<Decision> {
    policies = owned(policies);
    resource = owned(resource);
    // A key of another account is decided by that account's key policy.
    const accountId = action.startsWith("kms:") ? resource.split(":")[4] : ACCOUNT;
    const result = await runSimulation(
        {
            request: {
                principal: `arn:aws:iam::${ACCOUNT}:role/ci`,
                action,
                resource: { resource, accountId },
                contextVariables: { "aws:userid": "AROAEXAMPLE:ci", ...context },
            },
            resourcePolicy: action.startsWith("kms:") ? defaultKeyPolicy(accountId) : undefined,
            identityPolicies: [{ name: "role", policy: policies.identity }],
            permissionBoundaryPolicies: policies.boundary
                ? [{ name: "boundary", policy: policies.boundary }]
                : undefined,
            serviceControlPolicies: [],
            resourceControlPolicies: [],
        },
        {},
    );
    if (result.resultType === "error") {
        throw new Error(`${action} on ${resource}: ${JSON.stringify(result.errors)}`);
    }
    if (result.resultType !== "single") {
        throw new Error(`${action} on ${resource}: expected one resource, got ${result.resultType}`);
    }
    return result.overallResult;
}

/** The host role and instance profile exactly as the program creates them. */
function programRoles() {
    const role = mocks.resources.find((r) => r.type === "aws:iam/role:Role");
    const profile = mocks.resources.find((r) => r.type === "aws:iam/instanceProfile:InstanceProfile");
    if (!role || !profile) {
        throw new Error("the fleets created no host role or instance profile");
    }
    return {
        role: `arn:aws:iam::${ACCOUNT}:role${String(role.inputs.path ?? "/")}${role.name}`,
        profile: `arn:aws:iam::${ACCOUNT}:instance-profile${String(profile.inputs.path ?? "/")}${profile.name}`,
        boundary: role.inputs.permissionsBoundary as string | undefined,
    };
}

type Request = [resource: string, context: Record<string, string | string[]>];

/** The requests each action the program needs stands for, with the resources and context AWS evaluates. */
function requestsFor(action: string): Request[] {
    const { role, profile, boundary } = programRoles();
    const instance = ec2Arn("instance", "i-0fleet");
    const stackVpc = ec2Arn("vpc", vpcIds()[0]);
    const repository = `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/app`;
    const session = `arn:aws:ssm:${REGION}:${ACCOUNT}:session/AROAEXAMPLE:ci-0123456789abcdef0`;
    const [service, name] = action.split(":");
    if (action === "ec2:DescribeInstanceAttribute") return [[instance, resourceTags()]];
    if (/^ec2:Describe/.test(action) || action === "ecr:GetAuthorizationToken") return [["*", {}]];
    switch (action) {
        case "ec2:RunInstances":
            return [
                [instance, requestTags()],
                [ec2Arn("security-group", "sg-0fleet"), resourceTags()],
                [ec2Arn("subnet", "subnet-0fleet"), { "ec2:Vpc": stackVpc }],
                [ec2Arn("network-interface", "eni-0fleet"), { "ec2:Vpc": stackVpc }],
                [ec2Arn("volume", "vol-0fleet"), {}],
                [`arn:aws:ec2:${REGION}::image/ami-0fleet`, {}],
                [ec2Arn("spot-instances-request", "sir-0fleet"), {}],
            ];
        case "ec2:AllocateAddress":
            return [[ec2Arn("elastic-ip", "eipalloc-0fleet"), requestTags()]];
        case "ec2:CreateSecurityGroup":
            return [
                [ec2Arn("security-group", "sg-0fleet"), requestTags()],
                [stackVpc, {}],
            ];
        case "ec2:CreateTags":
            return [
                [instance, { "ec2:CreateAction": "RunInstances", ...requestTags() }],
                [instance, resourceTags()],
            ];
        case "iam:CreateRole":
            return [[role, { ...requestTags(), ...(boundary ? { "iam:PermissionsBoundary": boundary } : {}) }]];
        case "iam:PutRolePermissionsBoundary":
            return [[role, { ...resourceTags(), ...(boundary ? { "iam:PermissionsBoundary": boundary } : {}) }]];
        case "iam:CreateInstanceProfile":
            return [[profile, requestTags()]];
        case "iam:TagRole":
            return [[role, requestTags()]];
        case "iam:TagInstanceProfile":
            return [[profile, requestTags()]];
        case "iam:PassRole":
            return [[role, { ...resourceTags(), "iam:PassedToService": "ec2.amazonaws.com" }]];
        case "iam:DetachRolePolicy":
            return [
                [role, { ...resourceTags(), "iam:PolicyARN": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore" }],
            ];
        case "ecr:CreateRepository":
            return [[repository, requestTags()]];
        case "ecr:TagResource":
            return [[repository, requestTags()]];
        case "ssm:GetParameter":
            return mocks.invokes
                .filter((i) => i.token === "aws:ssm/getParameter:getParameter")
                .map((i) => [`arn:aws:ssm:${REGION}::parameter${String(i.inputs.name)}`, {}]);
        // The ProxyCommand's session: the stack's host, with the SSH session document.
        case "ssm:StartSession":
            return [
                [instance, { ...resourceTags(STACK, "ssm:resourceTag"), "ssm:SessionDocumentAccessCheck": "true" }],
                [`arn:aws:ssm:${REGION}::document/AWS-StartSSHSession`, {}],
            ];
        case "ssm:ResumeSession":
        case "ssm:TerminateSession":
            return [[session, {}]];
        case "ssmmessages:OpenDataChannel":
            return [["*", {}]];
    }
    if (service === "kms") return signingKeyArns().map((key) => [key, {}]);
    if (service === "iam")
        return [[/InstanceProfile(Tags)?$/.test(name) && !/ForRole$/.test(name) ? profile : role, resourceTags()]];
    if (service === "ecr") return [[repository, {}]];
    if (service === "ec2") {
        if (/SecurityGroup/.test(name)) return [[ec2Arn("security-group", "sg-0fleet"), resourceTags()]];
        if (/Address/.test(name)) return [[ec2Arn("elastic-ip", "eipalloc-0fleet"), resourceTags()]];
        if (name === "ModifyVolume") return [[ec2Arn("volume", "vol-0fleet"), resourceTags()]];
        return [[instance, resourceTags()]];
    }
    throw new Error(`no request for ${action}: say what resource the program calls it on`);
}

describe("the host role the program creates", () => {
    test("is on the stack's IAM path, under the host boundary, with its instance profile on the same path", () => {
        const { role, profile, boundary } = programRoles();
        expect(role).toMatch(/^arn:aws:iam::123456789012:role\/native-build-fleet\//);
        expect(profile).toMatch(/^arn:aws:iam::123456789012:instance-profile\/native-build-fleet\//);
        expect(boundary).toBe("arn:aws:iam::123456789012:policy/native-build-fleet/native-build-fleet-host-boundary");
    });

    test("the shipped boundary allows exactly what the hosts' own policy grants", () => {
        const boundary = JSON.parse(template("host-boundary.json")) as PolicyDocument;
        const ssm = mocks.resources.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy");
        const granted = (JSON.parse(String(ssm?.inputs.policy)) as PolicyDocument).Statement.flatMap((st) =>
            list(st.Action),
        ).sort();
        expect(boundary.Statement.flatMap((st) => list(st.Action)).sort()).toEqual(granted);
        expect(
            boundary.Statement.every(
                (st) => st.Effect === "Allow" && st.Resource === "*" && st.Condition === undefined,
            ),
        ).toBe(true);
    });
});

describe.each(["preview", "deploy"] as const)("the %s policy, under a real IAM evaluator", (role) => {
    test("allows every request the program makes in that role", async () => {
        const identity = policyFor(`${role}.json`);
        const denied: string[] = [];
        for (const action of needed(role)) {
            for (const [resource, context] of requestsFor(action)) {
                const decision = await decide({ identity }, action, resource, context);
                if (decision !== "Allowed") {
                    denied.push(`${action} on ${resource}: ${decision}`);
                }
            }
        }
        expect(denied).toEqual([]);
    });

    test.each([
        [
            "the default shell document (a root shell without the fleet key)",
            `arn:aws:ssm:eu-west-1::document/SSM-SessionManagerRunShell`,
            {},
        ],
        ["another account's or service's document", `arn:aws:ssm:eu-west-1::document/AWS-StartInteractiveCommand`, {}],
        [
            "a stack host, without the session-document check",
            ec2Arn("instance", "i-0fleet"),
            { ...resourceTags(STACK, "ssm:resourceTag"), "ssm:SessionDocumentAccessCheck": "false" },
        ],
        [
            "another instance in the account",
            ec2Arn("instance", "i-0other"),
            { ...resourceTags({ team: "payments" }, "ssm:resourceTag"), "ssm:SessionDocumentAccessCheck": "true" },
        ],
    ] as const)("denies a session on %s", async (_, resource, context) => {
        expect(await decide({ identity: policyFor(`${role}.json`) }, "ssm:StartSession", resource, context)).not.toBe(
            "Allowed",
        );
    });

    test("cannot read another instance's user data (DescribeInstanceAttribute is scoped to the stack)", async () => {
        const identity = policyFor(`${role}.json`);
        expect(
            await decide(
                { identity },
                "ec2:DescribeInstanceAttribute",
                ec2Arn("instance", "i-0other"),
                resourceTags({ team: "payments" }),
            ),
        ).toBe("ImplicitlyDenied");
        expect(
            policyFor(`${role}.json`)
                .Statement.filter((st) => list(st.Resource).includes("*"))
                .flatMap((st) => list(st.Action)),
        ).not.toContain("ec2:DescribeInstanceAttribute");
    });
});

describe("the deploy policy denies each privilege escalation", () => {
    const admin = `arn:aws:iam::${ACCOUNT}:role/OrganizationAdmin`;
    const boundary = () => programRoles().boundary as string;
    const escalations: [string, string, () => string, () => Record<string, string | string[]>][] = [
        [
            "tag an existing role outside the path with the stack's tags",
            "iam:TagRole",
            () => admin,
            () => requestTags(),
        ],
        [
            "tag an existing instance profile outside the path",
            "iam:TagInstanceProfile",
            () => `arn:aws:iam::${ACCOUNT}:instance-profile/admin`,
            () => requestTags(),
        ],
        [
            "rewrite the trust of a role outside the path that carries the stack's tags",
            "iam:UpdateAssumeRolePolicy",
            () => admin,
            () => resourceTags(),
        ],
        [
            "put an inline policy on a role outside the path that carries the stack's tags",
            "iam:PutRolePolicy",
            () => admin,
            () => resourceTags(),
        ],
        [
            "attach a managed policy (AdministratorAccess) to the stack's own role",
            "iam:AttachRolePolicy",
            () => programRoles().role,
            () => ({ ...resourceTags(), "iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess" }),
        ],
        [
            "create a role on the path without the boundary",
            "iam:CreateRole",
            () => programRoles().role,
            () => requestTags(),
        ],
        [
            "create a role on the path under another boundary",
            "iam:CreateRole",
            () => programRoles().role,
            () => ({ ...requestTags(), "iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess" }),
        ],
        [
            "create a role with the boundary outside the path",
            "iam:CreateRole",
            () => `arn:aws:iam::${ACCOUNT}:role/escalate`,
            () => ({ ...requestTags(), "iam:PermissionsBoundary": boundary() }),
        ],
        [
            "remove the boundary from the stack's role",
            "iam:DeleteRolePermissionsBoundary",
            () => programRoles().role,
            () => resourceTags(),
        ],
        [
            "replace the boundary of the stack's role",
            "iam:PutRolePermissionsBoundary",
            () => programRoles().role,
            () => ({ ...resourceTags(), "iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess" }),
        ],
        ["rewrite the boundary policy itself", "iam:CreatePolicyVersion", () => boundary(), () => ({})],
        [
            "pass a role outside the path to EC2",
            "iam:PassRole",
            () => admin,
            () => ({ ...resourceTags(), "iam:PassedToService": "ec2.amazonaws.com" }),
        ],
        [
            "pass the stack's role to another service",
            "iam:PassRole",
            () => programRoles().role,
            () => ({ ...resourceTags(), "iam:PassedToService": "lambda.amazonaws.com" }),
        ],
        [
            "launch a host into a subnet of another VPC",
            "ec2:RunInstances",
            () => ec2Arn("subnet", "subnet-0prod"),
            () => ({ "ec2:Vpc": ec2Arn("vpc", "vpc-0production") }),
        ],
        [
            "create a security group in another VPC",
            "ec2:CreateSecurityGroup",
            () => ec2Arn("vpc", "vpc-0production"),
            () => ({}),
        ],
    ];

    test.each(escalations)("%s", async (_, action, resource, context) => {
        expect(await decide({ identity: policyFor("deploy.json") }, action, resource(), context())).not.toBe("Allowed");
    });

    test("an admin inline policy the deploy role may put on the stack's own role still grants the hosts nothing beyond the boundary", async () => {
        const hostRole = {
            identity: { Version: "2012-10-17", Statement: [{ Effect: "Allow" as const, Action: "*", Resource: "*" }] },
            boundary: JSON.parse(template("host-boundary.json")) as PolicyDocument,
        };
        expect(await decide(hostRole, "iam:CreateUser", `arn:aws:iam::${ACCOUNT}:user/backdoor`)).toBe(
            "ImplicitlyDenied",
        );
        expect(await decide(hostRole, "s3:GetObject", "arn:aws:s3:::releases/key")).toBe("ImplicitlyDenied");
        expect(await decide(hostRole, "ssm:UpdateInstanceInformation", ec2Arn("instance", "i-0fleet"))).toBe("Allowed");
    });
});

describe("signing with a KMS key, under a real IAM evaluator", () => {
    const otherKey = "arn:aws:kms:eu-west-1:123456789012:key/0000beef-12ab-34cd-56ef-1234567890ab";

    test("a fleet that signs with kms runs its sign step with that key, whose ARN the deploy policy is rendered with", () => {
        expect(signingOf()).toEqual([{ mode: "kms", key: `awskms:///${SIGNING_KEY}`, transparencyLog: true }]);
        expect(signingKeyArns()).toEqual([SIGNING_KEY]);
    });

    test.each(SIGNING_ACTIONS.kms)(
        "the deploy role may %s with the configured key and with no other key",
        async (action) => {
            const identity = policyFor("deploy.json");
            expect(await decide({ identity }, action, SIGNING_KEY)).toBe("Allowed");
            expect(await decide({ identity }, action, otherKey)).toBe("ImplicitlyDenied");
            expect(
                await decide(
                    { identity },
                    action,
                    "arn:aws:kms:eu-west-1:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                ),
            ).toBe("ImplicitlyDenied");
        },
    );

    test.each(["kms:Decrypt", "kms:ScheduleKeyDeletion", "kms:PutKeyPolicy", "kms:CreateGrant"])(
        "the deploy role may not %s even the configured key",
        async (action) => {
            expect(await decide({ identity: policyFor("deploy.json") }, action, SIGNING_KEY)).toBe("ImplicitlyDenied");
        },
    );

    test("the preview role never signs", async () => {
        expect(await decide({ identity: policyFor("preview.json") }, "kms:Sign", SIGNING_KEY)).toBe("ImplicitlyDenied");
    });

    test("without a KMS key the deploy policy has no KMS statement at all", () => {
        const policy = policyFor("deploy.json", []);
        expect(policy.Statement.flatMap((s) => list(s.Action)).filter((a) => a.startsWith("kms:"))).toEqual([]);
        expect(JSON.stringify(policy)).not.toContain("SIGNING_KEY_ARN");
    });

    test.each([
        ["a key ARN", `awskms:///${SIGNING_KEY}`, SIGNING_KEY],
        ["a key id, in the stack's region and account", "awskms:///1234abcd-12ab-34cd-56ef-1234567890ab", SIGNING_KEY],
        ["a key ARN through an endpoint", `awskms://kms.eu-west-1.amazonaws.com/${SIGNING_KEY}`, SIGNING_KEY],
        ["an alias, which IAM cannot scope by name", "awskms:///alias/release-signing", undefined],
        ["an alias ARN", "awskms:///arn:aws:kms:eu-west-1:123456789012:alias/release-signing", undefined],
    ])("the key ARN of %s", (_, uri, arn) => {
        expect(kmsKeyArn(uri, "eu-west-1", "123456789012")).toBe(arn);
    });
});

describe("the preview policy, under a real IAM evaluator", () => {
    test.each([
        "iam:CreateRole",
        "iam:TagRole",
        "iam:PutRolePolicy",
        "iam:PassRole",
        "iam:UpdateAssumeRolePolicy",
        "ec2:RunInstances",
        "ecr:PutImage",
        "ec2:StartInstances",
    ])("denies %s on the stack's own resources", async (action) => {
        const preview = policyFor("preview.json");
        for (const [resource, context] of requestsFor(action)) {
            expect([action, resource, await decide({ identity: preview }, action, resource, context)]).toEqual([
                action,
                resource,
                expect.stringMatching(/Denied$/),
            ]);
        }
    });
});

describe("the GitLab trust policies against the ID tokens GitLab issues", () => {
    // IAM's StringLike: * any run of characters, ? one character. The evaluator above ignores
    // provider claim keys (gitlab.com:sub), so the trust conditions are matched here.
    const like = (pattern: string, value: string) =>
        new RegExp(
            `^${pattern
                .replace(/[.+^${}()|[\]\\]/g, "\\$&")
                .replace(/\*/g, ".*")
                .replace(/\?/g, ".")}$`,
        ).test(value);
    const trusts = (file: string, sub: string) => {
        const statement = (
            JSON.parse(template(file).replace(/GROUP\/PROJECT/g, "acme/fleet")) as {
                Statement: { Condition: Record<string, Record<string, string | string[]>> }[];
            }
        ).Statement[0];
        const subs = ([] as string[]).concat(statement.Condition.StringLike["gitlab.com:sub"]);
        return (
            statement.Condition.StringEquals["gitlab.com:aud"] === "sts.amazonaws.com" &&
            subs.some((pattern) => like(pattern, sub))
        );
    };
    // Since GitLab's fix for gitlab-org/gitlab#548165 a fork's merge request pipeline, even
    // one run in the parent project, carries the fork's project_path; its `ref` is the
    // merge request's source branch, which in a fork may well be called main.
    test.each([
        ["gitlab-deploy-trust.json", "project_path:acme/fleet:ref_type:branch:ref:main", true],
        ["gitlab-deploy-trust.json", "project_path:acme/fleet:ref_type:tag:ref:v1.2.0", true],
        ["gitlab-deploy-trust.json", "project_path:mallory/fleet:ref_type:branch:ref:main", false],
        ["gitlab-deploy-trust.json", "project_path:acme/fleet:ref_type:branch:ref:feature", false],
        ["gitlab-deploy-trust.json", "project_path:acme/fleet-fork:ref_type:branch:ref:main", false],
        ["gitlab-deploy-trust.json", "project_path:acme/fleet:ref_type:branch:ref:v1.2.0", false],
        ["gitlab-preview-trust.json", "project_path:acme/fleet:ref_type:branch:ref:feature", true],
        ["gitlab-preview-trust.json", "project_path:mallory/fleet:ref_type:branch:ref:feature", false],
        ["gitlab-preview-trust.json", "project_path:acme/fleet-fork:ref_type:branch:ref:feature", false],
        ["gitlab-preview-trust.json", "project_path:acme/fleet:ref_type:tag:ref:v1.2.0", false],
    ])("%s trusts %s: %s", (file, sub, expected) => {
        expect(trusts(file, sub)).toBe(expected);
    });
});
