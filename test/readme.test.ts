// The README is what a newcomer reads first: its minimal stack must pass the config contract, and
// its outputs must be the ones index.ts exports.

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

test("the README's outputs are index.ts's exports, a short row each, and docs/outputs.md gives each in full", () => {
    const exported = [
        ...fs.readFileSync(path.join(projectRoot, "index.ts"), "utf8").matchAll(/^export const (\w+)/gm),
    ].map((m) => m[1]);
    expect(exported.length).toBeGreaterThan(0);
    const section = readme.split("\n## Outputs\n")[1]?.split("\n## ")[0] ?? "";
    const rows = section
        .split("\n")
        .filter((line) => line.startsWith("| `"))
        .map((line) => line.split("|").map((cell) => cell.trim()));
    expect(rows.map(([, name]) => name)).toEqual(exported.map((name) => `\`${name}\``));
    // A five-minute page: one short line per output; every field is in docs/outputs.md.
    expect(rows.filter(([, , what]) => what.length > 120).map(([, name]) => name)).toEqual([]);
    expect(section).toContain("](docs/outputs.md)");
    const full = fs.readFileSync(path.join(projectRoot, "docs", "outputs.md"), "utf8");
    expect([...full.matchAll(/^## (\w+)$/gm)].map((m) => m[1])).toEqual(exported);
});
