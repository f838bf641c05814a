// ssh.access ssm: no inbound rule, no public address, SSH through an SSM session, for the
// readiness check (OpenSSH run locally) and for buildx (the ssh config's ProxyCommand).

import { parseConfig } from "../config/schema";
import { policies } from "../policy/rules";
import { checkReadiness, readinessSshArgs, ReadinessSpec, RemoteStep } from "../runner/readiness";
import { context, makeProject, validConfig } from "./fixtures";
import { settledFleet, testFleet } from "./fleetFixtures";
import { installMocks, isSecretValue, registrationFiles } from "./mocks";
import { sandbox } from "./sandbox";
import { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";

const mocks = installMocks();
const root = makeProject();
const ssmConfig = () => {
    const raw = validConfig() as Record<string, any>;
    raw.ssh = { access: "ssm", publicKey: raw.ssh.publicKey };
    raw.network = { vpcId: "vpc-0abc1234", subnetIds: ["subnet-0aaa1111", "subnet-0bbb2222"] };
    raw.hosts[0].idleMinutes = 30;
    return raw;
};

describe("config", () => {
    test("needs no CIDRs, and refuses them", () => {
        expect(() => parseConfig(ssmConfig(), context(root))).not.toThrow();
        const withCidrs = ssmConfig();
        withCidrs.ssh.allowedCidrs = ["203.0.113.0/24"];
        expect(() => parseConfig(withCidrs, context(root))).toThrow(
            /ssh.allowedCidrs: must be empty with ssh.access ssm/,
        );
    });

    test("needs private subnets, since the hosts get no public address", () => {
        const raw = ssmConfig();
        delete raw.network;
        expect(() => parseConfig(raw, context(root))).toThrow(/network.subnetIds: are required with ssh.access ssm/);
    });
});

describe("the fleet in ssm mode", () => {
    const fleet = testFleet(parseConfig(ssmConfig(), context(root)), { region: "eu-west-1" });
    let hosts: any;
    beforeAll(async () => {
        hosts = await settledFleet(fleet, mocks);
    });
    const ofType = (type: string) => mocks.resources.filter((r) => r.type === type);

    test("gives an idle pool no Elastic IP: SSH names the instance id, which survives a stop", () => {
        expect(ofType("aws:ec2/eip:Eip")).toEqual([]);
        expect(hosts["arm-0"].address).toBe(hosts["arm-0"].instanceId);
    });

    test("opens no inbound rule and gives hosts no public address", () => {
        expect(ofType("aws:ec2/securityGroup:SecurityGroup")[0].inputs.ingress).toEqual([]);
        for (const instance of ofType("aws:ec2/instance:Instance")) {
            expect(instance.inputs.associatePublicIpAddress).toBe(false);
        }
    });

    test("gives the role exactly what Session Manager needs, and no managed policy (no ssm:GetParameter)", () => {
        expect(ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment")).toEqual([]);
        const inline = ofType("aws:iam/rolePolicy:RolePolicy");
        expect(inline).toHaveLength(1);
        expect(JSON.parse(inline[0].inputs.policy)).toEqual({
            Version: "2012-10-17",
            Statement: [
                {
                    Effect: "Allow",
                    Resource: "*",
                    Action: [
                        "ssm:UpdateInstanceInformation",
                        "ssmmessages:CreateControlChannel",
                        "ssmmessages:CreateDataChannel",
                        "ssmmessages:OpenControlChannel",
                        "ssmmessages:OpenDataChannel",
                    ],
                },
            ],
        });
        expect(inline[0].inputs.policy).not.toMatch(/GetParameter/);
    });

    test("checks readiness through an SSM session with the host key pinned under the instance id", () => {
        expect(ofType("command:remote:Command")).toEqual([]);
        const check = mocks.resources.find((r) => r.name === "arm-0-ready-check")!;
        const { target } = JSON.parse(check.inputs.environment.NBF_SPEC) as ReadinessSpec;
        const instanceId = hosts["arm-0"].instanceId as string;
        expect(target).toMatchObject({
            address: instanceId,
            hostKeyAlias: instanceId,
            proxyCommand:
                "aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p --region eu-west-1",
        });
        const args = readinessSshArgs(target, "/tmp/nbf-readiness-x");
        expect(args).toEqual(
            expect.arrayContaining([
                `HostKeyAlias=${instanceId}`,
                `ProxyCommand=${target.proxyCommand}`,
                "StrictHostKeyChecking=yes",
            ]),
        );
        expect(isSecretValue(check.raw.stdin)).toBe(true);
    });

    test("points buildx at the instance through the same session", () => {
        const { config } = registrationFiles(mocks.resources);
        const instanceId = hosts["x86-0"].instanceId as string;
        expect(config).toMatch(
            new RegExp(
                `Host x86-0\\.native-build-fleet-dev\\.nbf\\.invalid\\n(    .*\\n)*?    HostName ${instanceId}\\n`,
            ),
        );
        expect(config).toContain(
            "    ProxyCommand aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p --region eu-west-1\n",
        );
    });

    test("passes the policy pack", () => {
        const found: string[] = [];
        for (const policy of policies.filter((p): p is ResourceValidationPolicy => "validateResource" in p)) {
            const validate = policy.validateResource as (
                args: ResourceValidationArgs,
                report: (m: string) => void,
            ) => void;
            for (const r of mocks.resources) {
                validate({ type: r.type, props: r.inputs } as unknown as ResourceValidationArgs, (m) =>
                    found.push(`${policy.name} ${r.name}: ${m}`),
                );
            }
        }
        expect(found).toEqual([]);
    });
});

describe("the readiness check through SSM", () => {
    const ssmTarget = {
        address: "i-0123456789abcdef0",
        port: 22,
        user: "ec2-user",
        hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHost comment",
        hostKeyAlias: "i-0123456789abcdef0",
        proxyCommand:
            "aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p --region eu-west-1",
    };
    const steps: RemoteStep[] = [
        { name: "boot-wait.sh", script: "echo booted", args: [] },
        { name: "docker-check.sh", script: 'echo docker "$1" on aarch64', args: ["27"] },
    ];

    test("renders the reviewed ssh arguments", () => {
        expect(readinessSshArgs(ssmTarget, "/tmp/nbf-readiness-x")).toMatchSnapshot();
    });

    /** Runs the check with a stand-in ssh: `body` (bash) decides, after logging its arguments. */
    function run(body: string, spec: Partial<ReadinessSpec> = {}) {
        const box = sandbox("nbf-ssm-");
        box.stub("ssh", body);
        const env = box.runner();
        let stdout = "";
        let stderr = "";
        const done = checkReadiness(
            { target: ssmTarget, connectTimeoutSeconds: 30, persistentFaultSeconds: 90, steps, ...spec },
            "KEY\n",
            env,
            {
                stdout: (t) => {
                    stdout += t;
                },
                stderr: (t) => {
                    stderr += t;
                },
            },
        );
        return { done, box, out: () => ({ stdout, stderr }) };
    }

    // The stand-in refuses twice (agent not registered yet), then runs the remote command line locally.
    const REFUSE_TWICE = [
        'n=$(( $(cat "$HOME/count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$HOME/count"',
        "[ \"$n\" -le 2 ] && { echo 'Connection closed by UNKNOWN port 65535' >&2; exit 255; }",
        'eval "${@: -1}"',
    ].join("\n");

    test("retries until the session opens, then runs each remote script in its own session", async () => {
        const { done, box, out } = run(REFUSE_TWICE);
        expect(await done).toBe(0);
        expect(out()).toEqual({ stdout: "booted\ndocker 27 on aarch64\n", stderr: "" });
        const calls = box.calls("ssh");
        expect(calls).toHaveLength(5);
        expect(calls[4]).toMatch(
            /-o StrictHostKeyChecking=yes .*-o HostKeyAlias=i-0123456789abcdef0 .*-o ProxyCommand=aws ssm start-session .*-l ec2-user -- i-0123456789abcdef0 'sh' '-c' 'echo docker "\$1" on aarch64' 'docker-check.sh' '27'$/,
        );
    });

    test("stops at the first remote script that fails, with its exit status and message", async () => {
        const { done, box, out } = run(REFUSE_TWICE, {
            steps: [
                { name: "boot-wait.sh", script: "echo 'the boot script did not finish' >&2; exit 1", args: [] },
                steps[1],
            ],
        });
        expect(await done).toBe(1);
        expect(out()).toEqual({ stdout: "", stderr: "the boot script did not finish\n" });
        expect(box.calls("ssh")).toHaveLength(4);
    });

    test("gives up at the deadline with ssh's last error", async () => {
        const { done } = run("echo 'TargetNotConnected: i-0123456789abcdef0 is not connected.' >&2\nexit 255", {
            connectTimeoutSeconds: 1,
        });
        await expect(done).rejects.toThrow(
            "could not reach i-0123456789abcdef0 (through SSM) within 1s: TargetNotConnected",
        );
    });
});
