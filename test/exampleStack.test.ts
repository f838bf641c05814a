// The example stacks in stacks/ are what new users copy: they must pass validation.

import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { FLEET_SECRET_KEYS } from "../config/secretSources";
import { parseConfig } from "../config/schema";
import { renderTags } from "../plan/tagTemplates";

const projectRoot = path.join(__dirname, "..");
const stacks = fs.readdirSync(path.join(projectRoot, "stacks")).filter((f) => /^Pulumi\..+\.yaml$/.test(f));

test("there is at least one example stack", () => {
    expect(stacks.length).toBeGreaterThan(0);
});

/** Defaults Pulumi.yaml declares; Pulumi passes them to the program for unset keys. */
const declared = (
    parse(fs.readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8")) as {
        config: Record<string, { default?: unknown; secret?: boolean }>;
    }
).config;
// The secret keys are read apart from the stack config (config/load.ts), as the program does.
const defaults = Object.fromEntries(
    Object.entries(declared)
        .filter(([key, d]) => d.default !== undefined && !(FLEET_SECRET_KEYS as readonly string[]).includes(key))
        .map(([key, d]) => [key, d.default]),
);

test("Pulumi.yaml declares every key and gives the optional ones a default, as Pulumi requires", () => {
    expect(Object.keys(declared).sort()).toEqual([
        "builder",
        "compose",
        "hosts",
        "images",
        "network",
        "registry",
        "registryPassword",
        "signing",
        "signingKey",
        "signingKeyPassword",
        "ssh",
        "sshPrivateKey",
        "staticHosts",
    ]);
    expect(
        Object.keys(declared)
            .filter((key) => declared[key].default === undefined)
            .sort(),
    ).toEqual(["registry", "sshPrivateKey"]);
});

test("no key Pulumi.yaml declares secret has a default: the engine would refuse every stack that leaves it unset", () => {
    // pulumi v3.276.0 pkg/workspace/config.go validateStackConfigValue: a default is applied as a
    // plain value, then `secret: true` demands it be encrypted ("must be encrypted as it's secret").
    expect(Object.keys(declared).filter((key) => declared[key].secret && declared[key].default !== undefined)).toEqual(
        [],
    );
});

test.each(stacks)("%s passes the config contract with Pulumi.yaml's defaults", (file) => {
    const { config } = parse(fs.readFileSync(path.join(projectRoot, "stacks", file), "utf8")) as {
        config: Record<string, unknown>;
    };
    const raw = {
        ...defaults,
        ...Object.fromEntries(
            Object.entries(config)
                .filter(([key]) => key.startsWith("native-build-fleet:"))
                .map(([key, value]) => [key.slice("native-build-fleet:".length), value]),
        ),
    };
    const stack = file.replace(/^Pulumi\.|\.yaml$/g, "");
    // Tag templates are rendered for the build before validation, as config/load.ts does.
    for (const image of (raw.images as { tags?: string[] }[] | undefined) ?? []) {
        image.tags =
            image.tags && renderTags(image.tags, { branch: "main", sha: "0123456789abcdef0123456789abcdef01234567" });
    }
    const parsed = parseConfig(raw, {
        projectRoot,
        project: "native-build-fleet",
        stack,
        secretsSet: { sshPrivateKey: true, registryPassword: true },
    });
    expect(parsed.images.length).toBeGreaterThan(0);
});
