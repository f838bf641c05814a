// The policy pack's IAM rule (issue 20): policy attachments, managed policies, trust
// policies, the hosts' path and boundary, and instance profiles the stack did not create.

import { StackValidationArgs } from "@pulumi/policy";
import { HOST_BOUNDARY_NAME, HOST_IAM_PATH } from "../components/hostAccess";
import {
    HOST_BOUNDARY_SUFFIX,
    HOST_IAM_PATH as RULE_PATH,
    hostIamConfined,
    policies,
    trustFindings,
} from "../policy/rules";

const BOUNDARY = "arn:aws:iam::123456789012:policy/native-build-fleet/native-build-fleet-host-boundary";
const TRUST = JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
});
const ROLE = {
    type: "aws:iam/role:Role",
    urn: "role",
    props: { path: "/native-build-fleet/", permissionsBoundary: BOUNDARY, assumeRolePolicy: TRUST },
};
const PROFILE = {
    type: "aws:iam/instanceProfile:InstanceProfile",
    urn: "profile",
    props: { name: "host-profile-1a2b", path: "/native-build-fleet/" },
};
const INSTANCE = { type: "aws:ec2/instance:Instance", urn: "host", props: { iamInstanceProfile: "host-profile-1a2b" } };

function violations(resources: { type: string; urn: string; props: Record<string, unknown> }[]): string[] {
    const found: string[] = [];
    void hostIamConfined.validateStack({ resources } as unknown as StackValidationArgs, (message: string) =>
        found.push(message),
    );
    return found;
}

test("is in the pack, mandatory, and agrees with the program on the path and boundary", () => {
    expect(policies).toContain(hostIamConfined);
    expect(hostIamConfined.enforcementLevel).toBe("mandatory");
    expect(RULE_PATH).toBe(HOST_IAM_PATH);
    expect(HOST_BOUNDARY_SUFFIX).toBe(`:policy${HOST_IAM_PATH}${HOST_BOUNDARY_NAME}`);
});

test("passes the hosts' role, profile and instance as the program makes them", () => {
    expect(violations([ROLE, PROFILE, INSTANCE])).toEqual([]);
});

test.each([
    [
        "a managed policy",
        { type: "aws:iam/policy:Policy", urn: "p", props: { name: "extra" } },
        "creates no managed policy",
    ],
    [
        "a policy attachment",
        {
            type: "aws:iam/policyAttachment:PolicyAttachment",
            urn: "a",
            props: { policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" },
        },
        "attaches none",
    ],
    [
        "a role policy attachment",
        {
            type: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            urn: "a",
            props: { policyArn: "arn:aws:iam::aws:policy/AdministratorAccess" },
        },
        "attaches none",
    ],
    ["a role off the path", { ...ROLE, props: { ...ROLE.props, path: "/" } }, 'role path is "/"'],
    [
        "a role without the boundary",
        { ...ROLE, props: { ...ROLE.props, permissionsBoundary: undefined } },
        "permissionsBoundary is null",
    ],
    [
        "a role under another boundary",
        { ...ROLE, props: { ...ROLE.props, permissionsBoundary: "arn:aws:iam::aws:policy/AdministratorAccess" } },
        "must be the host boundary",
    ],
    [
        "a role another account may assume",
        {
            ...ROLE,
            props: {
                ...ROLE.props,
                assumeRolePolicy: JSON.stringify({
                    Statement: [
                        {
                            Effect: "Allow",
                            Principal: { AWS: "arn:aws:iam::666666666666:root" },
                            Action: "sts:AssumeRole",
                        },
                    ],
                }),
            },
        },
        "only the EC2 service may",
    ],
    [
        "a role a web identity may assume",
        {
            ...ROLE,
            props: {
                ...ROLE.props,
                assumeRolePolicy: JSON.stringify({
                    Statement: [
                        {
                            Effect: "Allow",
                            Principal: { Service: "ec2.amazonaws.com" },
                            Action: ["sts:AssumeRole", "sts:AssumeRoleWithWebIdentity"],
                        },
                    ],
                }),
            },
        },
        "only sts:AssumeRole",
    ],
    [
        "a role with managed policies",
        { ...ROLE, props: { ...ROLE.props, managedPolicyArns: ["arn:aws:iam::aws:policy/AdministratorAccess"] } },
        "attach no managed policy",
    ],
    [
        "an instance profile off the path",
        { ...PROFILE, props: { ...PROFILE.props, path: "/" } },
        'instance profile path is "/"',
    ],
    [
        "an instance with an instance profile the stack did not create",
        { ...INSTANCE, props: { iamInstanceProfile: "OrganizationAdminProfile" } },
        "is not an instance profile this stack created",
    ],
])("reports %s", (_, resource, message) => {
    const others = [ROLE, PROFILE, INSTANCE].filter((r) => r.urn !== resource.urn);
    expect(violations([...others, resource])).toEqual([expect.stringContaining(message)]);
});

test("reads a trust policy given as an object too, and refuses one that is not JSON", () => {
    expect(trustFindings(JSON.parse(TRUST))).toEqual([]);
    expect(trustFindings("{")).toEqual(["the trust policy is not JSON"]);
});
