// The least-privilege policies in examples/iam/ against what the program actually calls:
// fleets in both access modes run under mocks, every resource type, provider function and
// AWS CLI call they produce must be in the mapping (examples/iam/actions.ts), and the
// policies must allow every mapped action, scoped to the stack (issue 11, part 5).

import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Fleet } from "../components/fleet";
import { parseConfig } from "../config/schema";
import { CLI_ACTIONS, INVOKE_ACTIONS, PolicyDocument, PolicyStatement, renderPolicy, RESOURCE_ACTIONS, STACK_TAGS } from "../examples/iam/actions";
import { context, makeProject, validConfig } from "./fixtures";
import { installMocks, settled, unwrapSecrets, valueOf } from "./mocks";
import { EC2_CALLS } from "../runner/registerBuilders";

const mocks = installMocks();
const root = makeProject();
const dir = path.join(__dirname, "..", "examples", "iam");
const template = (file: string) => fs.readFileSync(path.join(dir, file), "utf8");
const key = pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----\nop\n-----END OPENSSH PRIVATE KEY-----\n");

/** cidr mode with a spot pool and an idle pool (an Elastic IP, the wake step); ssm mode with an idle pool. */
function configs() {
    const cidr = validConfig() as Record<string, any>;
    cidr.hosts[0].idleMinutes = 30;
    cidr.hosts[1].spot = true;
    const ssm = validConfig() as Record<string, any>;
    ssm.ssh = { access: "ssm", publicKey: ssm.ssh.publicKey };
    ssm.network = { vpcId: "vpc-0abc1234", subnetIds: ["subnet-0aaa1111"] };
    ssm.hosts[0].idleMinutes = 30;
    ssm.images[0].name = "ssm-app";
    return { cidr, ssm };
}

const fleets = Object.entries(configs()).map(([name, raw]) => new Fleet(name, {
    config: parseConfig(raw, context(root)), project: "native-build-fleet", stack: "dev", sshPrivateKey: key, labels: {}, region: "eu-west-1",
}));
beforeAll(async () => {
    for (const fleet of fleets) {
        await valueOf(fleet.hosts);
        await valueOf(fleet.images);
    }
    await settled(mocks.resources);
});

const VALUES = { region: "eu-west-1", accountId: "123456789012", project: "native-build-fleet", stack: "dev" };
const policyFor = (file: string) => renderPolicy(template(file), { ...VALUES, images: mocks.resources.filter((r) => r.type === "aws:ecr/repository:Repository").map((r) => String(r.inputs.name)) });
const list = (value: string | string[] | undefined) => ([] as string[]).concat(value ?? []);
const matches = (pattern: string, action: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`, "i").test(action);
const allows = (policy: PolicyDocument, action: string) => policy.Statement.some((s) => s.Effect === "Allow" && list(s.Action).some((p) => matches(p, action)));

/** `aws <service> <operation>` in any input the program gives a resource or a local run (scripts, ssh config). */
function cliCalls(): string[] {
    const text = [...mocks.resources, ...mocks.invokes].map((r) => JSON.stringify(r.inputs)).join("\n");
    const inScripts = [...text.matchAll(/\baws (ec2|ssm|ecr|sts|iam)(?: --region \S+)? (wait [a-z-]+|[a-z-]+)/g)].map((m) => `${m[1]} ${m[2]}`);
    // The builders' runner makes its calls from TypeScript, waking the idle hosts its spec lists.
    const ensure = mocks.invokes.find((i) => i.token === "command:local:run" && String(i.inputs.command).startsWith("node bin/runner/cli.js "));
    const wakes = ensure !== undefined && (JSON.parse(String(unwrapSecrets(ensure.inputs.stdin))) as { spec: { wake?: unknown } }).spec.wake !== undefined;
    return [...new Set([...inScripts, ...(wakes ? EC2_CALLS.map((c) => `ec2 ${c}`) : [])])].sort();
}

function needed(role: "preview" | "deploy"): string[] {
    return [...new Set([
        ...Object.values(RESOURCE_ACTIONS).flatMap((a) => (role === "preview" ? a.read : [...a.read, ...a.write])),
        ...Object.values(INVOKE_ACTIONS).flat(),
        ...Object.values(CLI_ACTIONS).filter((c) => c.roles.includes(role)).flatMap((c) => c.actions),
    ])].sort();
}

describe("the mapping of the program's AWS calls", () => {
    test("covers every resource type the program registers, in both access modes", () => {
        const types = [...new Set(mocks.resources.map((r) => r.type))].filter((t) => !t.startsWith("native-build-fleet:"));
        expect(types).toEqual(expect.arrayContaining(["aws:ec2/instance:Instance", "aws:ec2/eip:Eip", "aws:iam/rolePolicy:RolePolicy"]));
        expect(types.filter((t) => !(t in RESOURCE_ACTIONS))).toEqual([]);
    });

    test("covers every provider function the program calls", () => {
        const tokens = [...new Set(mocks.invokes.map((i) => i.token))];
        expect(tokens).toEqual(expect.arrayContaining(["aws:ssm/getParameter:getParameter", "aws:ecr/getAuthorizationToken:getAuthorizationToken"]));
        expect(tokens.filter((t) => !(t in INVOKE_ACTIONS))).toEqual([]);
    });

    test("covers every AWS CLI call in the scripts the program runs", () => {
        const calls = cliCalls();
        expect(calls).toEqual(expect.arrayContaining(["ec2 describe-instances", "ec2 start-instances", "ssm start-session"]));
        expect(calls.filter((c) => !(c in CLI_ACTIONS))).toEqual([]);
    });

    test("reads only the AMI parameters the program names", () => {
        const parameters = mocks.invokes.filter((i) => i.token === "aws:ssm/getParameter:getParameter").map((i) => String(i.inputs.name));
        for (const file of ["preview.json", "deploy.json"]) {
            const statement = policyFor(file).Statement.find((s) => list(s.Action).includes("ssm:GetParameter")) as PolicyStatement;
            for (const name of parameters) {
                expect(list(statement.Resource).some((arn) => matches(arn, `arn:aws:ssm:eu-west-1::parameter${name}`))).toBe(true);
            }
            expect(list(statement.Resource).every((arn) => arn.startsWith("arn:aws:ssm:eu-west-1::parameter/aws/service/"))).toBe(true);
        }
    });
});

describe.each(["preview", "deploy"] as const)("the %s role's policy", (role) => {
    const policy = () => policyFor(`${role}.json`);

    test("names every action the program needs in that role", () => {
        expect(needed(role).filter((action) => !allows(policy(), action))).toEqual([]);
    });

    test("has every placeholder filled and names no other repository than the stack's", () => {
        expect(JSON.stringify(policy())).not.toMatch(/REGION|ACCOUNT_ID|PROJECT_NAME|STACK_NAME|IMAGE_NAME/);
        const repositories = policy().Statement.flatMap((s) => list(s.Resource)).filter((arn) => arn.startsWith("arn:aws:ecr:"));
        expect([...new Set(repositories)].sort()).toEqual(["app", "ssm-app"].map((name) => `arn:aws:ecr:eu-west-1:123456789012:repository/${name}`));
    });

    test("allows on every resource only what AWS cannot scope to a resource", () => {
        const unscoped = policy().Statement.filter((s) => list(s.Resource).includes("*")).flatMap((s) => list(s.Action));
        expect(unscoped.filter((a) => !/^ec2:Describe/.test(a) && a !== "ecr:GetAuthorizationToken")).toEqual([]);
    });

    test("ties everything it may do to EC2 and IAM resources to the stack's tags", () => {
        // Statements without a tag condition, and why: the parts an instance is launched with,
        // tag-on-create only, the VPC a group goes into, documents and sessions have no stack tags.
        const untagged = new Set([
            "DescribeWhatThePreviewPlans", "DescribeWhatTheUpdatePlans", "ReadTheAmiParameters", "RegistryTokenHasNoResourceScope",
            "LaunchWithTheInstancesOwnParts", "TagOnlyWhileCreating", "CreateSecurityGroupsInAnyVpc",
            "ReadTheStacksRepositoriesAndCache", "ManageAndPushOnlyTheStacksRepositories", "SsmModeOnlyTheSshSessionDocument", "SsmModeOwnSessionsOnly",
        ]);
        for (const statement of policy().Statement.filter((s) => !untagged.has(s.Sid ?? ""))) {
            const conditions = Object.values(statement.Condition ?? {}).flatMap((c) => Object.entries(c));
            const tagged = STACK_TAGS.every((tag) => conditions.some(([k, v]) => /^(aws:ResourceTag|aws:RequestTag|ssm:resourceTag)\//.test(k) && k.endsWith(`/${tag}`) && v === (tag.endsWith(":stack") ? "dev" : "native-build-fleet")));
            expect([statement.Sid, tagged]).toEqual([statement.Sid, true]);
        }
        if (role === "deploy") {
            expect(policy().Statement.find((s) => s.Sid === "TagOnlyWhileCreating")?.Condition).toEqual({ StringEquals: { "ec2:CreateAction": ["RunInstances", "CreateSecurityGroup", "AllocateAddress"] } });
        }
    });

    test("starts sessions only with the SSH session document and only on the stack's hosts", () => {
        const starts = policy().Statement.filter((s) => list(s.Action).some((a) => matches(a, "ssm:StartSession")));
        expect(starts.flatMap((s) => list(s.Resource)).sort()).toEqual(["arn:aws:ec2:eu-west-1:123456789012:instance/*", "arn:aws:ssm:eu-west-1::document/AWS-StartSSHSession"]);
    });
});

test("the deploy role may read host keys from the console, wake idle hosts and open and end SSH sessions", () => {
    const deploy = policyFor("deploy.json");
    for (const action of ["ec2:GetConsoleOutput", "ec2:StartInstances", "ec2:DescribeInstances", "ssm:StartSession", "ssm:TerminateSession"]) {
        expect([action, allows(deploy, action)]).toEqual([action, true]);
    }
});

describe("the preview role", () => {
    test("cannot create, change, delete, push or start anything", () => {
        const preview = policyFor("preview.json");
        const actions = preview.Statement.flatMap((s) => list(s.Action));
        const sessions = ["ssm:StartSession", "ssm:ResumeSession", "ssm:TerminateSession", "ssmmessages:OpenDataChannel"];
        expect(actions.filter((a) => !/^(ec2:Describe|ec2:GetConsoleOutput$|ssm:GetParameter$|iam:(Get|List)|ecr:(Describe|List|Get|BatchGet|BatchCheck))/.test(a) && !sessions.includes(a))).toEqual([]);
        const writes = Object.values(RESOURCE_ACTIONS).flatMap((a) => a.write);
        expect(writes.filter((action) => allows(preview, action))).toEqual([]);
    });
});

describe("the OIDC trust policies", () => {
    test.each([
        ["github-preview-trust.json", "token.actions.githubusercontent.com:sub", "repo:OWNER/REPOSITORY:environment:preview"],
        ["github-deploy-trust.json", "token.actions.githubusercontent.com:sub", "repo:OWNER/REPOSITORY:environment:production"],
    ])("%s lets only the jobs of one environment assume the role", (file, claim, subject) => {
        const statement = (JSON.parse(template(file)) as { Statement: { Condition: Record<string, Record<string, unknown>> }[] }).Statement[0];
        expect(statement.Condition.StringEquals[claim]).toBe(subject);
        expect(statement.Condition.StringEquals["token.actions.githubusercontent.com:aud"]).toBe("sts.amazonaws.com");
        expect(statement.Condition.StringLike).toBeUndefined();
    });

    test("the GitLab deploy role trusts only the default branch and v* tags", () => {
        const statement = (JSON.parse(template("gitlab-deploy-trust.json")) as { Statement: { Condition: Record<string, Record<string, unknown>> }[] }).Statement[0];
        expect(statement.Condition.StringLike["gitlab.com:sub"]).toEqual(["project_path:GROUP/PROJECT:ref_type:branch:ref:main", "project_path:GROUP/PROJECT:ref_type:tag:ref:v*"]);
    });
});
