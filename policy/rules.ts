// The controls this program's resources must meet (shared/reference/security-controls.md),
// as CrossGuard policies. Each is a plain function over resource properties, unit-tested
// with a passing and a violating resource (test/policy.test.ts).

import { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { coverageBeyondLimits, MAX_PUBLIC_PREFIX } from "../config/cidrCoverage";

const INSTANCE = "aws:ec2/instance:Instance";
const SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup";
const INGRESS_RULES = [
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:ec2/securityGroupRule:SecurityGroupRule",
];
const REPOSITORY = "aws:ecr/repository:Repository";
const LIFECYCLE = "aws:ecr/lifecyclePolicy:LifecyclePolicy";
/**
 * All a build host's role may do: what the SSM agent needs for Session Manager, in ssm
 * mode (components/hostAccess.ts, SESSION_MANAGER_ACTIONS; a test holds the two equal).
 */
export const HOST_ROLE_ACTIONS = [
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
];
const WORLD = ["0.0.0.0/0", "::/0"];
/** Set on every build host by components/hostPool.ts: "ssm" or "cidr". */
const ACCESS_TAG = "native-build-fleet:access";

type Props = Record<string, unknown>;
type Ingress = {
    protocol?: string;
    ipProtocol?: string;
    fromPort?: number;
    toPort?: number;
    cidrBlocks?: string[];
    ipv6CidrBlocks?: string[];
    cidrIpv4?: string;
    cidrIpv6?: string;
    type?: string;
};

/** Whether an ingress rule's port range (protocol -1 or "all" meaning every port) covers `port`. */
export function coversPort(rule: Ingress, port: number): boolean {
    const protocol = String(rule.protocol ?? rule.ipProtocol ?? "");
    if (protocol === "-1" || protocol === "all") {
        return true;
    }
    return (protocol === "tcp" || protocol === "6") && (rule.fromPort ?? 0) <= port && port <= (rule.toPort ?? 65535);
}

function sources(rule: Ingress): string[] {
    return [...(rule.cidrBlocks ?? []), ...(rule.ipv6CidrBlocks ?? []), rule.cidrIpv4, rule.cidrIpv6].filter(
        (c): c is string => typeof c === "string",
    );
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
    description:
        "Build hosts require IMDSv2 with a hop limit of 1, so containers cannot reach the instance role (Security Hub EC2.8).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (args.type !== INSTANCE) {
            return;
        }
        const metadata = (args.props.metadataOptions ?? {}) as {
            httpTokens?: string;
            httpPutResponseHopLimit?: number;
        };
        if (metadata.httpTokens !== "required" || metadata.httpPutResponseHopLimit !== 1) {
            report(
                `metadataOptions must set httpTokens "required" and httpPutResponseHopLimit 1 (has ${JSON.stringify(metadata)})`,
            );
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
        const volumes = [
            args.props.rootBlockDevice,
            ...((args.props.ebsBlockDevices as unknown[] | undefined) ?? []),
        ] as ({ encrypted?: boolean } | undefined)[];
        if (volumes.some((v) => v?.encrypted !== true)) {
            report("every volume, the root volume included, must set encrypted: true");
        }
    },
};

/**
 * Why `cidrs`, taken together, are open to the Internet by the fleet's own limits
 * (config/cidrCoverage.ts), or undefined when they are not. Splitting the Internet into
 * pieces (0.0.0.0/1 + 128.0.0.0/1) or writing it as IPv4-mapped IPv6 does not get past it.
 */
export function openSshSources(cidrs: string[]): string | undefined {
    const coverage = coverageBeyondLimits(cidrs);
    if (coverage.offending.length === 0) {
        return undefined;
    }
    const from = coverage.offending.join(", ");
    if (coverage.offending.some((c) => WORLD.includes(c))) {
        return from;
    }
    const widest = [...coverage.tooWide].sort((a, b) => Number(a.split("/")[1]) - Number(b.split("/")[1]));
    const covered = [
        ...(widest.length > 0
            ? [
                  `public ${widest.slice(0, 3).join(", ")}${widest.length > 3 ? ", …" : ""} (wider than IPv4 /${MAX_PUBLIC_PREFIX.ipv4} or IPv6 /${MAX_PUBLIC_PREFIX.ipv6})`,
              ]
            : []),
        ...(coverage.ipv4Mapped.length > 0 ? ["IPv4-mapped IPv6 addresses"] : []),
        ...(coverage.unparsable.length > 0 ? ["ranges that do not parse as CIDRs"] : []),
    ];
    return `${from}, which cover ${covered.join(" and ")}`;
}

export const restrictedSsh: ResourceValidationPolicy = {
    name: "restricted-ssh",
    description:
        "No SSH or RDP from the Internet, whatever the port range or protocol, and however the ranges are split: public IPv4 at most /16, IPv6 at most /48, no IPv4-mapped IPv6 (Security Hub EC2.13).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const rules = ingressRules(args.type, args.props);
        for (const port of [22, 3389]) {
            // All of a group's rules for the port together: two rules of one /1 each are open too.
            const open = openSshSources(rules.filter((rule) => coversPort(rule, port)).flatMap(sources));
            if (open !== undefined) {
                report(`ingress admits port ${port} from ${open}; list the operators' CIDRs instead`);
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

type Statement = { Effect?: unknown; Action?: unknown; NotAction?: unknown };

/** What in an IAM policy document (JSON text or object) grants more than Session Manager's actions. */
export function excessGrants(policy: unknown): string[] {
    let doc: unknown = policy;
    if (typeof policy === "string") {
        try {
            doc = JSON.parse(policy) as unknown;
        } catch {
            return ["a policy document that is not JSON"];
        }
    }
    const statement = (doc as { Statement?: unknown } | null)?.Statement;
    const statements = (
        Array.isArray(statement) ? statement : statement === undefined ? [] : [statement]
    ) as Statement[];
    return statements
        .filter((s) => s.Effect !== "Deny")
        .flatMap((s): string[] => {
            if (s.NotAction !== undefined) {
                return ["NotAction, which grants everything it does not name"];
            }
            const actions = (Array.isArray(s.Action) ? s.Action : [s.Action]) as unknown[];
            return actions.filter((a) => typeof a !== "string" || !HOST_ROLE_ACTIONS.includes(a)).map((a) => String(a));
        });
}

export const leastPrivilegeProfile: ResourceValidationPolicy = {
    name: "least-privilege-instance-profile",
    description:
        "Build host roles carry no managed policy and no action beyond what Session Manager needs (ssm:UpdateInstanceInformation, ssmmessages:*Channel): buildx forwards the runner's registry credentials, and AmazonSSMManagedInstanceCore would add ssm:GetParameter(s) on every parameter.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const allowed = `build host roles may only allow ${HOST_ROLE_ACTIONS.join(", ")}, in an inline policy`;
        if (args.type === "aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
            report(`attaches ${String(args.props.policyArn)}; ${allowed}`);
        }
        const inline: unknown[] = [];
        if (args.type === "aws:iam/rolePolicy:RolePolicy") {
            inline.push(args.props.policy);
        }
        if (args.type === "aws:iam/role:Role") {
            if (((args.props.managedPolicyArns as string[] | undefined) ?? []).length > 0) {
                report(`managedPolicyArns lists ${(args.props.managedPolicyArns as string[]).join(", ")}; ${allowed}`);
            }
            inline.push(
                ...((args.props.inlinePolicies as { policy?: unknown }[] | undefined) ?? []).map((p) => p.policy),
            );
        }
        const excess = [...new Set(inline.flatMap(excessGrants))];
        if (excess.length > 0) {
            report(`grants ${excess.join(", ")}; ${allowed}`);
        }
    },
};

export const ecrScanOnPush: ResourceValidationPolicy = {
    name: "ecr-scan-on-push",
    description: "Every repository scans images on push (Security Hub ECR.1).",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (
            args.type === REPOSITORY &&
            (args.props.imageScanningConfiguration as { scanOnPush?: boolean } | undefined)?.scanOnPush !== true
        ) {
            report("imageScanningConfiguration.scanOnPush must be true");
        }
    },
};

export const ecrLifecyclePolicy: StackValidationPolicy = {
    name: "ecr-lifecycle-policy",
    description:
        "Every repository has a lifecycle policy, so cache and superseded images do not pile up (Security Hub ECR.3).",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const covered = new Set(
            args.resources.filter((r) => r.type === LIFECYCLE).map((r) => String(r.props.repository)),
        );
        for (const repo of args.resources.filter((r) => r.type === REPOSITORY)) {
            if (!covered.has(String(repo.props.name))) {
                report(`repository ${String(repo.props.name)} has no lifecycle policy`, repo.urn);
            }
        }
    },
};

export const noPublicIpSsm: ResourceValidationPolicy = {
    name: "no-public-ip-ssm",
    description:
        "Build hosts reached through SSM sessions have no public address: nothing connects to them, so one is pure exposure.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        if (
            args.type !== INSTANCE ||
            (args.props.tags as Record<string, unknown> | undefined)?.[ACCESS_TAG] !== "ssm"
        ) {
            return;
        }
        // Explicitly false: left unset, a subnet that maps public IPs on launch gives the host one.
        if (args.props.associatePublicIpAddress !== false) {
            report(
                `associatePublicIpAddress must be false on a host tagged ${ACCESS_TAG}=ssm (has ${String(args.props.associatePublicIpAddress)}); set it explicitly, SSH runs through SSM sessions`,
            );
        }
    },
};

/** Credential material recognisable by its shape, as [kind, pattern]. */
const CREDENTIALS: [string, RegExp][] = [
    ["an OpenSSH private key", /-----BEGIN OPENSSH PRIVATE KEY-----/],
    ["a PEM private key", /-----BEGIN (?!OPENSSH )(?:[A-Z0-9]+ )*PRIVATE KEY-----/],
    ["an AWS access key id", /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/],
    ["a GitHub token", /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})/],
    ["a GitLab token", /\bglpat-[A-Za-z0-9_-]{20,}/],
    ["a Slack token", /\bxox[baprs]-[A-Za-z0-9-]{10,}/],
];

/**
 * Where this program deliberately carries secrets, per resource type, as property paths
 * (`[*]` for any index, `*` for every property). The program's unit tests assert each of
 * them is secret-marked (test/fleet.test.ts, test/ssm.test.ts).
 */
export const SECRET_PROPERTIES: Record<string, string[]> = {
    // No instance property: user data is readable through ec2:DescribeInstanceAttribute and
    // from IMDS, so a private key there is a finding (hosts make their own keys).
    // A local Command has no connection: the key reaches ssh through stdin.
    "command:local:Command": ["stdin"],
    "command:remote:Command": ["stdin", "connection.privateKey"],
    "docker-build:index:Image": ["registries[*].password"],
    "docker-build:index:Index": ["registry.password"],
    // Only outputs, the generated key among them.
    "tls:index/privateKey:PrivateKey": ["*"],
};

/** The kinds of credential material in `value` (empty when none). */
export function credentialKinds(value: string): string[] {
    return CREDENTIALS.filter(([, pattern]) => pattern.test(value)).map(([kind]) => kind);
}

/** Every string in `props` outside the type's secret-carrying properties that holds credential material. */
export function credentialFindings(type: string, props: Props): { path: string; kind: string }[] {
    // Provider resources carry the stack's own provider credentials (aws:accessKey, …),
    // which Pulumi config keeps secret; policies see providers too (pulumi/pulumi-policy#323).
    if (type.startsWith("pulumi:providers:")) {
        return [];
    }
    const allowed = SECRET_PROPERTIES[type] ?? [];
    const findings: { path: string; kind: string }[] = [];
    const walk = (value: unknown, path: string): void => {
        if (allowed.includes("*") || allowed.includes(path.replace(/\[\d+\]/g, "[*]"))) {
            return;
        }
        if (typeof value === "string") {
            findings.push(...credentialKinds(value).map((kind) => ({ path, kind })));
        } else if (value !== null && typeof value === "object") {
            for (const key of Object.keys(value)) {
                let child: unknown;
                // In previews, reading a value that is not known yet throws (@pulumi/policy
                // proxy.js, unknownCheckingProxy); it holds nothing to judge until the update.
                try {
                    child = (value as Record<string, unknown>)[key];
                } catch {
                    continue;
                }
                walk(child, Array.isArray(value) ? `${path}[${key}]` : path === "" ? key : `${path}.${key}`);
            }
        }
    };
    walk(props, "");
    return findings;
}

export const noPlaintextCredentials: ResourceValidationPolicy = {
    name: "no-plaintext-credentials",
    description:
        "Credential material (private keys, AWS access key ids, GitHub, GitLab and Slack tokens) appears only in the properties this program keeps secret.",
    enforcementLevel: "mandatory",
    validateResource: (args, report) => {
        const allowed = SECRET_PROPERTIES[args.type];
        const fix =
            allowed === undefined
                ? "this resource takes no credentials: pass them to a command through its stdin, marked with pulumi.secret"
                : `pass it through ${allowed.join(" or ")}, marked with pulumi.secret`;
        // The message names the place and the kind, never the value.
        for (const { path, kind } of credentialFindings(args.type, args.props)) {
            report(`${path} holds ${kind} outside the properties that carry secrets; ${fix}`);
        }
    },
};

// --- IAM the stack may hold (issue 20): host roles on their path, under their boundary,
// trusted by EC2 alone, no managed policy or attachment, no instance profile from elsewhere.

/** The hosts' IAM path and boundary (components/hostAccess.ts; test/policyIam.test.ts holds them equal). */
export const HOST_IAM_PATH = "/native-build-fleet/";
export const HOST_BOUNDARY_SUFFIX = ":policy/native-build-fleet/native-build-fleet-host-boundary";
/** Types that attach a managed policy to something, or create one: the stack needs none. */
const IAM_ATTACHMENTS = [
    "aws:iam/policy:Policy",
    "aws:iam/policyAttachment:PolicyAttachment",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
];

/** What is wrong with a role's trust policy: anything but EC2 assuming it with sts:AssumeRole. */
export function trustFindings(policy: unknown): string[] {
    let document: { Statement?: unknown } | undefined;
    try {
        document = (typeof policy === "string" ? JSON.parse(policy) : policy) as { Statement?: unknown } | undefined;
    } catch {
        return ["the trust policy is not JSON"];
    }
    const statements = ([] as unknown[]).concat(document?.Statement ?? []) as {
        Effect?: string;
        Principal?: unknown;
        Action?: unknown;
        Condition?: unknown;
    }[];
    if (statements.length === 0) {
        return ["the trust policy has no statement"];
    }
    const findings: string[] = [];
    for (const st of statements.filter((x) => x.Effect === "Allow")) {
        const principal = st.Principal as { Service?: unknown } | string | undefined;
        const services =
            typeof principal === "object" && principal !== null && Object.keys(principal).every((k) => k === "Service")
                ? ([] as unknown[]).concat(principal.Service)
                : undefined;
        if (services === undefined || services.some((svc) => svc !== "ec2.amazonaws.com")) {
            findings.push(
                `the trust policy lets ${JSON.stringify(principal)} assume the role; only the EC2 service may`,
            );
        }
        const actions = ([] as unknown[]).concat(st.Action ?? []);
        if (actions.some((a) => a !== "sts:AssumeRole")) {
            findings.push(`the trust policy allows ${actions.join(", ")}; only sts:AssumeRole`);
        }
    }
    return findings;
}

export const hostIamConfined: StackValidationPolicy = {
    name: "host-iam-confined",
    description:
        "The stack's IAM is only the hosts' role and instance profile: on the /native-build-fleet/ path, the role under the host permissions boundary and trusted by EC2 alone; no managed policy, no policy attachment, and every instance uses an instance profile the stack created.",
    enforcementLevel: "mandatory",
    validateStack: (args, report) => {
        const profiles = args.resources.filter((r) => r.type === "aws:iam/instanceProfile:InstanceProfile");
        for (const r of args.resources) {
            if (IAM_ATTACHMENTS.includes(r.type)) {
                report(
                    `${r.type} ${String(r.props.name ?? r.props.policyArn ?? "")}: the stack creates no managed policy and attaches none; the hosts' only policy is an inline role policy`.replace(
                        / :/,
                        ":",
                    ),
                    r.urn,
                );
            }
            if (r.type === "aws:iam/role:Role") {
                if (r.props.path !== HOST_IAM_PATH) {
                    report(
                        `role path is ${JSON.stringify(r.props.path ?? "/")}; host roles must be on ${HOST_IAM_PATH}, the only path the deploy role may manage`,
                        r.urn,
                    );
                }
                if (!String(r.props.permissionsBoundary ?? "").endsWith(HOST_BOUNDARY_SUFFIX)) {
                    report(
                        `role permissionsBoundary is ${JSON.stringify(r.props.permissionsBoundary ?? null)}; it must be the host boundary (...${HOST_BOUNDARY_SUFFIX})`,
                        r.urn,
                    );
                }
                for (const finding of trustFindings(r.props.assumeRolePolicy)) {
                    report(finding, r.urn);
                }
                if (((r.props.managedPolicyArns as string[] | undefined) ?? []).length > 0) {
                    report(
                        `managedPolicyArns lists ${(r.props.managedPolicyArns as string[]).join(", ")}; host roles attach no managed policy`,
                        r.urn,
                    );
                }
            }
            if (r.type === "aws:iam/instanceProfile:InstanceProfile" && r.props.path !== HOST_IAM_PATH) {
                report(
                    `instance profile path is ${JSON.stringify(r.props.path ?? "/")}; it must be ${HOST_IAM_PATH}`,
                    r.urn,
                );
            }
            if (r.type === INSTANCE && r.props.iamInstanceProfile !== undefined) {
                const profile = String(r.props.iamInstanceProfile);
                if (!profiles.some((p) => p.props.name === profile || p.urn === profile)) {
                    report(
                        `iamInstanceProfile ${profile} is not an instance profile this stack created: a host would run with another role's permissions`,
                        r.urn,
                    );
                }
            }
        }
    },
};

// --- images-signed (issue 19): a stack whose images would be pushed unsigned. ---------------

const IMAGE_BUILD = "native-build-fleet:images:ImageBuild";
const INDEX = "docker-build:index:Index";
const LOCAL_COMMAND = "command:local:Command";

type StackResource = {
    type: string;
    name?: string;
    urn: string;
    parent?: { type: string; name?: string; urn: string };
};

/**
 * The indexes that no signing command sits beside: components/imageBuild.ts gives every
 * ImageBuild that signs one local command `<build>-sign`, a child of the ImageBuild like the
 * build's indexes. Where the engine passes no parent (unit tests under mocks), an index
 * `<build>-<tag>` belongs to the build whose `-sign` command's name it extends.
 */
export function unsignedIndexes(resources: StackResource[]): StackResource[] {
    const signs = resources.filter((r) => r.type === LOCAL_COMMAND && r.name?.endsWith("-sign"));
    return resources
        .filter((r) => r.type === INDEX)
        .filter((index) => {
            if (index.parent?.type === IMAGE_BUILD) {
                return !signs.some(
                    (s) =>
                        s.name === `${index.parent?.name}-sign` &&
                        (s.parent === undefined || s.parent.urn === index.parent?.urn),
                );
            }
            return !signs.some((s) => index.name?.startsWith(`${s.name?.slice(0, -"-sign".length)}-`));
        });
}

export const imagesSigned: StackValidationPolicy = {
    name: "images-signed",
    description:
        "Every image index the stack pushes is signed, with signed provenance and SBOM on its platform images, so deploys and admission policies can verify who built it (issue 19).",
    // Advisory: an unsigned fleet still builds; teams that require signatures set this
    // policy to mandatory in their policy group.
    enforcementLevel: "advisory",
    validateStack: (args, report) => {
        for (const index of unsignedIndexes(args.resources)) {
            const build = index.parent?.type === IMAGE_BUILD ? index.parent.name : undefined;
            report(
                `index ${index.name ?? index.urn}${build === undefined ? "" : ` of image ${build}`} would be pushed unsigned: no ${build ?? "<image>"}-sign command signs it. ` +
                    "Set `signing` in the stack's config (a cosign key pair, an AWS KMS key, or keyless) so deploys can verify the image",
                index.urn,
            );
        }
    },
};

export const policies = [
    imdsv2Required,
    ebsEncrypted,
    restrictedSsh,
    noDockerTcpPort,
    leastPrivilegeProfile,
    ecrScanOnPush,
    ecrLifecyclePolicy,
    noPublicIpSsm,
    noPlaintextCredentials,
    hostIamConfined,
    imagesSigned,
];
