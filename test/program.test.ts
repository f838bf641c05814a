// index.ts as `pulumi preview` runs it: config from the stack, the fleet, the outputs.

import * as pulumi from "@pulumi/pulumi";
import { makeProject, validConfig } from "./fixtures";
import { installMocks, plaintextStrings, settled, valueOf } from "./mocks";

// The placeholder key below is not a real one; test/privateKey.test.ts checks real keys.
jest.mock("../config/privateKey");

const mocks = installMocks(true);
const root = makeProject();

test("previews a fresh stack: re-registers the builder and exports digests per image", async () => {
    const raw = {
        ...validConfig(),
        registry: { type: "external", address: "registry.example.com:5000/team", username: "ci" },
    };
    pulumi.runtime.setAllConfig(
        {
            ...Object.fromEntries(Object.entries(raw).map(([k, v]) => [`native-build-fleet:${k}`, JSON.stringify(v)])),
            "native-build-fleet:sshPrivateKey": "PRIVATE",
            "native-build-fleet:registryPassword": "PASSWORD",
        },
        ["native-build-fleet:sshPrivateKey", "native-build-fleet:registryPassword"],
    );
    const cwd = process.cwd();
    process.chdir(root);
    try {
        const program = await import("../index");
        const [images, builder] = await Promise.all([valueOf(program.images), valueOf(program.builder)]);
        await settled(mocks.resources);

        expect(pulumi.runtime.isDryRun()).toBe(true);
        const ensure = mocks.invokes.find((i) => i.token === "command:local:run");
        // A preview registers missing builders but starts no node (runner/registerBuilders.ts).
        expect(ensure?.inputs.command).toBe("node bin/runner/cli.js preview");
        expect(builder.name).toBe("native-build-fleet-dev");
        const app = (images as Record<string, { ref: string; platforms: Record<string, unknown> }>).app;
        expect(app.ref).toMatch(/^registry\.example\.com:5000\/team\/app@sha256:[a-f0-9]{64}$/);
        expect(Object.keys(app.platforms)).toEqual(["linux/amd64", "linux/arm64"]);
        expect(mocks.resources.filter((r) => r.type.startsWith("aws:ecr"))).toEqual([]);
        const image = mocks.resources.find((r) => r.name === "fleet-app-linux-amd64");
        expect(image?.inputs.registries).toEqual([
            { address: "registry.example.com:5000", username: "ci", password: "PASSWORD" },
        ]);
        const leaked = mocks.resources.flatMap((r) =>
            plaintextStrings(r.raw)
                .filter((v) => /PASSWORD|PRIVATE/.test(v))
                .map(() => r.name),
        );
        expect(leaked).toEqual([]);
    } finally {
        process.chdir(cwd);
    }
});
