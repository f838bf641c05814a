// Pools with idleMinutes under mocks: hosts that stop rather than terminate, a stable
// address, the update's wake step, and no preview builds on hosts a preview cannot start.

import { parseConfig } from "../config/schema";
import { context, makeProject, validConfig } from "./fixtures";
import { settledFleet, testFleet } from "./fleetFixtures";
import { installMocks, registrationFiles, unwrapSecrets } from "./mocks";

const mocks = installMocks();
const root = makeProject();
const raw = validConfig() as Record<string, any>;
raw.hosts[0].idleMinutes = 30;
raw.images.push({ name: "x86-only", context: "app", platforms: ["linux/amd64"] });

const fleet = testFleet(parseConfig(raw, context(root)), { region: "eu-west-1" });
let hosts: any;
beforeAll(async () => {
    hosts = await settledFleet(fleet, mocks);
});
const ofType = (type: string) => mocks.resources.filter((r) => r.type === type);
const named = (name: string) => {
    const found = mocks.resources.find((r) => r.name === name);
    if (!found) throw new Error(`no resource named ${name}`);
    return found;
};

test("idle hosts stop when they power themselves off, so they can be started again", () => {
    expect(named("arm-0").inputs.instanceInitiatedShutdownBehavior).toBe("stop");
    expect(named("x86-0").inputs.instanceInitiatedShutdownBehavior).toBeUndefined();
    expect(named("arm-0").inputs.userData).toContain("native-build-fleet-idle.timer");
    expect(named("x86-0").inputs.userData).not.toContain("native-build-fleet-idle");
});

test("an idle host reached directly keeps one Elastic IP, which SSH and the outputs use", () => {
    const eips = ofType("aws:ec2/eip:Eip");
    expect(eips.map((e) => e.name)).toEqual(["arm-0-address"]);
    expect(eips[0].inputs).toMatchObject({ domain: "vpc", instance: hosts["arm-0"].instanceId });
    expect(hosts["arm-0"].address).toMatch(/^203\.0\.113\.\d+$/);
    expect(registrationFiles(mocks.resources).config).toContain(`HostName ${hosts["arm-0"].address}\n`);
});

test("the update's ensure step starts the idle hosts, in their region; the registration never does", () => {
    const ensure = mocks.invokes.find((i) => i.token === "command:local:run");
    expect(ensure?.inputs.command).toBe("node bin/runner/cli.js update");
    expect(JSON.parse(unwrapSecrets(ensure?.inputs.stdin)).spec.wake).toEqual({
        instanceIds: [hosts["arm-0"].instanceId],
        region: "eu-west-1",
    });
    expect(registrationFiles(mocks.resources).spec.wake).toBeUndefined();
});

test("with an idle pool, previews build nothing: every build touches every node of the builder", () => {
    expect(named("fleet-app-linux-arm64").inputs.buildOnPreview).toBe(false);
    expect(named("fleet-x86-only-linux-amd64").inputs.buildOnPreview).toBe(false);
});
