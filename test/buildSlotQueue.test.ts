// builder.buildSlots under mocks: each build resource depends on the solve `slots` places
// before it on the host that runs it, failover included; builds on other hosts never wait.

import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { Fleet } from "../components/fleet";
import { parseConfig } from "../config/schema";
import { context, makeProject, STATIC_HOST } from "./fixtures";
import { installMocks, settled, valueOf } from "./mocks";

// The SDK's mock monitor hands newResource no dependencies; record them from the request.
const dependencies = new Map<string, string[]>();
type Register = (req: { getName(): string; getDependenciesList(): string[] }, callback: unknown) => Promise<void>;
const register = (MockMonitor.prototype as unknown as { registerResource: Register }).registerResource;
(MockMonitor.prototype as unknown as { registerResource: Register }).registerResource = function (
    this: unknown,
    req,
    callback,
) {
    dependencies.set(
        req.getName(),
        req.getDependenciesList().map((urn) => urn.split("::").pop()!),
    );
    return register.call(this, req, callback);
};

const mocks = installMocks();
// amd2 does not answer: its builds move to amd and queue there.
mocks.down = [
    { host: "amd2", node: "native-build-fleet-dev_amd2", platforms: ["linux/amd64"], error: "connection refused" },
];
const root = makeProject();
const host = (name: string, n: number, platform: string) => ({
    ...STATIC_HOST,
    name,
    address: `192.0.2.${n}`,
    platforms: [platform],
});
const config = parseConfig(
    {
        staticHosts: [host("amd", 1, "linux/amd64"), host("amd2", 2, "linux/amd64"), host("arm", 3, "linux/arm64")],
        registry: { type: "external", address: "registry.example.com", username: "ci" },
        images: ["a", "b", "c"].map((name) => ({
            name,
            context: "app",
            platforms: name === "c" ? ["linux/amd64", "linux/arm64"] : ["linux/amd64"],
        })),
        builder: { buildSlots: 2 },
    },
    context(root, { secretsSet: { sshPrivateKey: true, registryPassword: true } }),
);

const fleet = new Fleet("fleet", {
    config,
    project: "native-build-fleet",
    stack: "dev",
    sshPrivateKey: pulumi.secret("KEY"),
    registryPassword: pulumi.secret("PW"),
    labels: {},
});

/** The build resources a build resource waits for (dependencies of type Image). */
const buildsBefore = (name: string) =>
    (dependencies.get(name) ?? []).filter((d) => /-linux-(amd64|arm64)(-cache)?$/.test(d)).sort();

beforeAll(async () => {
    await valueOf(fleet.images);
    await settled(mocks.resources);
});

test("every amd64 build moved to amd, the only amd64 host that answered", async () => {
    const images = (await valueOf(fleet.images)) as Record<string, { platforms: Record<string, { host: string }> }>;
    expect(Object.values(images).map((i) => i.platforms["linux/amd64"].host)).toEqual(["amd", "amd", "amd"]);
});

test("with two slots, each build and its cache build start together and the next pair waits for them on the same host", () => {
    expect(buildsBefore("fleet-a-linux-amd64")).toEqual([]);
    expect(buildsBefore("fleet-a-linux-amd64-cache")).toEqual([]);
    expect(buildsBefore("fleet-b-linux-amd64")).toEqual(["fleet-a-linux-amd64"]);
    expect(buildsBefore("fleet-b-linux-amd64-cache")).toEqual(["fleet-a-linux-amd64-cache"]);
    expect(buildsBefore("fleet-c-linux-amd64")).toEqual(["fleet-b-linux-amd64"]);
    expect(buildsBefore("fleet-c-linux-amd64-cache")).toEqual(["fleet-b-linux-amd64-cache"]);
});

test("a build on another host does not wait for amd's queue", () => {
    expect(buildsBefore("fleet-c-linux-arm64")).toEqual([]);
    expect(buildsBefore("fleet-c-linux-arm64-cache")).toEqual([]);
});

test("every build still follows the builder's registration", () => {
    for (const name of ["fleet-a-linux-amd64", "fleet-c-linux-arm64-cache"]) {
        expect(dependencies.get(name)).toContain("fleet-builder-registration");
    }
});
