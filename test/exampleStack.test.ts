// The example stacks in stacks/ are what new users copy: they must pass validation.

import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { parseConfig } from "../config/schema";

const projectRoot = path.join(__dirname, "..");
const stacks = fs.readdirSync(path.join(projectRoot, "stacks")).filter((f) => /^Pulumi\..+\.yaml$/.test(f));

test("there is at least one example stack", () => {
    expect(stacks.length).toBeGreaterThan(0);
});

test.each(stacks)("%s passes the config contract", (file) => {
    const { config } = parse(fs.readFileSync(path.join(projectRoot, "stacks", file), "utf8")) as { config: Record<string, unknown> };
    const raw = Object.fromEntries(Object.entries(config)
        .filter(([key]) => key.startsWith("native-build-fleet:"))
        .map(([key, value]) => [key.slice("native-build-fleet:".length), value]));
    const stack = file.replace(/^Pulumi\.|\.yaml$/g, "");
    const parsed = parseConfig(raw, { projectRoot, project: "native-build-fleet", stack, secretsSet: { sshPrivateKey: true, registryPassword: true } });
    expect(parsed.images.length).toBeGreaterThan(0);
});
