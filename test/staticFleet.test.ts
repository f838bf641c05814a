// A stack of static hosts only, with an external registry: no AWS resource or call at all.

import * as pulumi from "@pulumi/pulumi";
import { Fleet } from "../components/fleet";
import { ReadinessSpec } from "../runner/readiness";
import { parseConfig } from "../config/schema";
import { context, makeProject } from "./fixtures";
import { installMocks, settled, valueOf, registrationFiles } from "./mocks";

const mocks = installMocks();
const root = makeProject();
const config = parseConfig(
    {
        staticHosts: [
            {
                name: "qemu",
                address: "127.0.0.4",
                user: "builder",
                platforms: ["linux/amd64"],
                emulate: ["linux/s390x"],
                hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPVUa1IvnAcchFvYP6CkwpFzkAteCTLS7GhH0IMFbWwy",
            },
            {
                name: "amd",
                address: "127.0.0.2",
                user: "builder",
                platforms: ["linux/amd64"],
                hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM7XB7gkELddJSMfrRKUjR8cHrWOAwXzeHAkzvax3QLl",
            },
            {
                name: "arm",
                address: "127.0.0.3",
                port: 2222,
                user: "builder",
                platforms: ["linux/arm64"],
                hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOEfEuM+3M+NBmoJQoTpb+KfjaEbCGvhkye7IlZPNZ/S host",
            },
        ],
        registry: { type: "external", address: "127.0.0.1:5000", username: "ci" },
        images: [{ name: "probe", context: "app", platforms: ["linux/amd64", "linux/arm64", "linux/s390x"] }],
    },
    context(root, { secretsSet: { sshPrivateKey: true, registryPassword: true } }),
);

const fleet = new Fleet("fleet", {
    config,
    project: "native-build-fleet",
    stack: "e2e",
    sshPrivateKey: pulumi.secret("KEY"),
    registryPassword: pulumi.secret("PW"),
    labels: {},
});

let builder: { name: string; nodes: { name: string; endpoint: string; platforms: string[] }[] };
let hosts: Record<string, unknown>;
beforeAll(async () => {
    [builder, hosts] = await Promise.all([valueOf(fleet.builder), valueOf(fleet.hosts)]);
    await valueOf(fleet.images);
    await settled(mocks.resources);
});

test("creates no AWS resource and calls no AWS function", () => {
    expect(mocks.resources.filter((r) => r.type.startsWith("aws:"))).toEqual([]);
    expect(mocks.invokes.map((i) => i.token)).toEqual(["command:local:run"]);
});

test("orders the static hosts native first and declares exactly their platforms", () => {
    expect(builder.nodes).toEqual([
        { name: "native-build-fleet-dev_amd", endpoint: "ssh://builder@127.0.0.2:22", platforms: ["linux/amd64"] },
        { name: "native-build-fleet-dev_arm", endpoint: "ssh://builder@127.0.0.3:2222", platforms: ["linux/arm64"] },
        {
            name: "native-build-fleet-dev_qemu",
            endpoint: "ssh://builder@127.0.0.4:22",
            platforms: ["linux/amd64", "linux/s390x"],
        },
    ]);
});

test("checks each static host with its declared key pinned, on its port, without waiting for a boot script", () => {
    expect(mocks.resources.filter((r) => r.type === "command:remote:Command")).toEqual([]);
    const checks = mocks.resources.filter((r) => r.type === "command:local:Command" && r.name.endsWith("-ready-check"));
    expect(checks.map((c) => c.name).sort()).toEqual([
        "fleet-amd-ready-check",
        "fleet-arm-ready-check",
        "fleet-qemu-ready-check",
    ]);
    const specOf = (name: string): ReadinessSpec =>
        JSON.parse(checks.find((c) => c.name === name)!.inputs.environment.NBF_SPEC);
    const arm = specOf("fleet-arm-ready-check");
    expect(arm.target).toEqual({
        address: "127.0.0.3",
        port: 2222,
        user: "builder",
        hostKeyAlias: "static-arm",
        hostKey: expect.stringMatching(
            /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOEfEuM\+3M\+NBmoJQoTpb\+KfjaEbCGvhkye7IlZPNZ\/S/,
        ),
    });
    // No boot script to wait for, and no architecture to check: only Docker and the declared QEMU handlers.
    expect(arm.steps.map((step) => [step.name, ...step.args])).toEqual([["docker-check.sh", "180", "", "", "aarch64"]]);
    // A host the team runs is not booting: a refused key fails at once, a silent host after two minutes.
    expect(arm).toMatchObject({ connectTimeoutSeconds: 120, persistentFaultSeconds: 0 });
    expect(specOf("fleet-qemu-ready-check").steps[0].args[3]).toBe("x86_64 s390x");
});

test("pins static host keys under their names, so a reused address never matches", () => {
    const files = registrationFiles(mocks.resources);
    expect(files.knownHosts).toContain(
        "static-arm ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOEfEuM+3M+NBmoJQoTpb+KfjaEbCGvhkye7IlZPNZ/S\n",
    );
    expect(files.config).toContain("    HostKeyAlias static-arm\n");
});

test("exports static hosts without an instance", () => {
    expect(hosts.arm).toEqual({ name: "arm", pool: "static", instanceId: null, address: "127.0.0.3", arch: "arm64" });
});
