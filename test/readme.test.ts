// The README's minimal stack is what a newcomer copies first: it must pass the config contract.

import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { FLEET_SECRET_KEYS } from "../config/secretSources";
import { parseConfig } from "../config/schema";

const projectRoot = path.join(__dirname, "..");
const readme = fs.readFileSync(path.join(projectRoot, "README.md"), "utf8");

/** The first yaml block after a README heading. */
function yamlAfter(heading: string): string {
    const section = readme.split(`\n## ${heading}\n`)[1];
    const block = section?.match(/```yaml\n([\s\S]*?)```/);
    if (!block) {
        throw new Error(`README.md has no yaml block under "## ${heading}"`);
    }
    return block[1];
}

test("the README's minimal stack passes the config contract with Pulumi.yaml's defaults", () => {
    const declared = (
        parse(fs.readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8")) as {
            config: Record<string, { default?: unknown }>;
        }
    ).config;
    const defaults = Object.fromEntries(
        Object.entries(declared)
            .filter(([key, d]) => d.default !== undefined && !FLEET_SECRET_KEYS.includes(key))
            .map(([key, d]) => [key, d.default]),
    );
    const { config } = parse(yamlAfter("A minimal stack")) as { config: Record<string, unknown> };
    const raw = {
        ...defaults,
        ...Object.fromEntries(
            Object.entries(config)
                .filter(([key]) => key.startsWith("native-build-fleet:"))
                .map(([key, value]) => [key.slice("native-build-fleet:".length), value]),
        ),
    };
    const parsed = parseConfig(raw, {
        projectRoot,
        project: "native-build-fleet",
        stack: "dev",
        secretsSet: { sshPrivateKey: true, registryPassword: false },
    });
    expect(parsed.hosts.map((h) => [h.name, h.arch, h.platforms])).toEqual([
        ["graviton", "arm64", ["linux/arm64"]],
        ["x86", "amd64", ["linux/amd64"]],
    ]);
    expect(parsed.images.map((i) => [i.name, i.platforms])).toEqual([["hello", ["linux/amd64", "linux/arm64"]]]);
});
