// Build secrets, SSH forwarding, named contexts, inline Dockerfiles and pull: their checks,
// how loadConfig reads secrets, and how each reaches both docker-build Images of a platform.

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Fleet } from "../components/fleet";
import { loadConfig } from "../config/load";
import { RunnerFacts, SecretSource } from "../config/buildInputs";
import { ConfigError, parseConfig } from "../config/schema";
import { context, makeProject, validConfig } from "./fixtures";
import { installMocks, isSecretValue, plaintextStrings, settled, valueOf } from "./mocks";

// These fixtures use placeholder keys; test/privateKey.test.ts checks real ones, and that loadConfig checks them.
jest.mock("../config/privateKey");

/** A PATH with a stand-in `aws`, which stacks with EC2 pools need (host keys come from the console). */
const awsBin = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-aws-bin-"));
fs.writeFileSync(path.join(awsBin, "aws"), "#!/bin/sh\n", { mode: 0o755 });
const withAws = { PATH: awsBin };

const mocks = installMocks();
const root = makeProject();
fs.mkdirSync(path.join(root, "vendor", "deps"), { recursive: true });
fs.mkdirSync(path.join(root, "inline"));
fs.writeFileSync(
    path.join(root, "id_deploy"),
    "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n-----END OPENSSH PRIVATE KEY-----\n",
);

/** A runner whose secrets are `value(<source>)`, recording what was read. */
function fakeRunner(sshAgent = true): RunnerFacts & { read: [SecretSource, string][] } {
    const read: [SecretSource, string][] = [];
    return {
        read,
        sshAgent,
        readSecret: (source, at) => {
            read.push([source, at]);
            return pulumi.secret(`value(${JSON.stringify(source)})`);
        },
    };
}

function withImage(extra: Record<string, unknown>): Record<string, unknown> {
    const raw = validConfig() as Record<string, any>;
    Object.assign(raw.images[0], extra);
    return raw;
}

function problems(raw: unknown, runner: RunnerFacts | "none" = fakeRunner()): string[] {
    try {
        parseConfig(raw, context(root, { runner: runner === "none" ? undefined : runner }));
    } catch (e) {
        if (e instanceof ConfigError) {
            return e.problems.map((p) => `${p.path}: ${p.message}`);
        }
        throw e;
    }
    return [];
}

describe("checks", () => {
    test("has none of the inputs by default", () => {
        const image = parseConfig(validConfig(), context(root)).images[0];
        expect(image).toMatchObject({
            secrets: {},
            ssh: [],
            contexts: {},
            dockerfileInline: undefined,
            pull: false,
            dockerfile: "app/Dockerfile",
        });
    });

    test("reads each build secret through the runner, with its key path", async () => {
        const runner = fakeRunner();
        const image = parseConfig(
            withImage({ secrets: { npmrc: { config: "npmToken" }, gh: { env: "GH_TOKEN" } } }),
            context(root, { runner }),
        ).images[0];
        expect(runner.read).toEqual([
            [{ config: "npmToken" }, "images[0].secrets.npmrc"],
            [{ env: "GH_TOKEN" }, "images[0].secrets.gh"],
        ]);
        expect(await pulumi.isSecret(image.secrets.npmrc)).toBe(true);
        expect(await valueOf(image.secrets.gh)).toBe('value({"env":"GH_TOKEN"})');
    });

    test.each([
        [
            { secrets: { npmrc: { config: "npmToken", env: "X" } } },
            /images\[0\]\.secrets\.npmrc: must be \{ config: <secret config key> \}, \{ env: <environment variable> \}/,
        ],
        [{ secrets: { "bad id": { env: "X" } } }, /images\[0\]\.secrets\.bad id: must be a secret id/],
        [{ secrets: { npmrc: { env: "NPM-TOKEN" } } }, /images\[0\]\.secrets\.npmrc/],
        [
            { ssh: [{ id: "default", paths: ["~/.ssh/id_ed25519"] }] },
            /images\[0\]\.ssh\[0\]\.paths\[0\]: "~\/\.ssh\/id_ed25519" starts with ~/,
        ],
        [
            { ssh: [{ id: "github", paths: ["no-such-key"] }] },
            /images\[0\]\.ssh\[0\]\.paths\[0\]: "no-such-key" does not exist on this machine/,
        ],
        [
            { ssh: [{ id: "default" }, { id: "default", paths: ["id_deploy"] }] },
            /images\[0\]\.ssh\[1\]\.id: "default" repeats an earlier entry/,
        ],
        [
            { contexts: { deps: "../outside" } },
            /images\[0\]\.contexts\.deps: "\.\.\/outside" leaves the project directory/,
        ],
        [
            { contexts: { deps: "vendor/missing" } },
            /images\[0\]\.contexts\.deps: "vendor\/missing" does not exist in the project/,
        ],
        [{ contexts: { deps: "/abs/path" } }, /images\[0\]\.contexts\.deps: "\/abs\/path" is absolute/],
        [
            { contexts: { base: "docker-image://Alpine!" } },
            /images\[0\]\.contexts\.base: "docker-image:\/\/Alpine!" is not docker-image:\/\/<image reference>/,
        ],
        [
            { contexts: { src: "https://github.com/acme/lib.git" } },
            /images\[0\]\.contexts\.src: .* is neither a directory inside the project nor docker-image:\/\/<image reference>/,
        ],
        [{ contexts: { Deps: "vendor/deps" } }, /images\[0\]\.contexts\.Deps: must be a context name/],
        [
            { dockerfile: "Dockerfile", dockerfileInline: "FROM scratch\n" },
            /images\[0\]\.dockerfileInline: is set together with dockerfile/,
        ],
        [{ pull: "yes" }, /images\[0\]\.pull/],
    ])("refuses %j, naming the key", (extra, message) => {
        expect(problems(withImage(extra)).join("\n")).toMatch(message);
    });

    test("refuses agent forwarding when this machine has no SSH agent", () => {
        expect(problems(withImage({ ssh: [{ id: "default" }] }), fakeRunner(false))).toEqual([
            expect.stringMatching(
                /^images\[0\]\.ssh\[0\]: forwards the runner's SSH agent as "default", but SSH_AUTH_SOCK is not set/,
            ),
        ]);
    });

    test("refuses build secrets when the caller gives no way to read them", () => {
        expect(problems(withImage({ secrets: { npmrc: { env: "NPM_TOKEN" } } }), "none")).toEqual([
            expect.stringMatching(/^images\[0\]\.secrets\.npmrc: build secrets are read by loadConfig/),
        ]);
    });

    test("keeps directory contexts project-relative and image contexts as given", () => {
        const image = parseConfig(
            withImage({ contexts: { deps: "./vendor/deps/", base: "docker-image://alpine:3.20" } }),
            context(root),
        ).images[0];
        expect(image.contexts).toEqual({ deps: "vendor/deps", base: "docker-image://alpine:3.20" });
    });

    test("an inline Dockerfile needs no Dockerfile in the context", () => {
        const raw = withImage({
            context: "inline",
            dockerfileInline: "FROM scratch\n",
            ssh: [{ id: "deploy", paths: ["id_deploy"] }],
            pull: true,
        });
        const image = parseConfig(raw, context(root, { runner: fakeRunner(false) })).images[0];
        expect(image).toMatchObject({
            context: "inline",
            dockerfileInline: "FROM scratch\n",
            ssh: [{ id: "deploy", paths: ["id_deploy"] }],
            pull: true,
        });
    });
});

describe("loadConfig reads build secrets as secrets", () => {
    const setConfig = (values: Record<string, unknown>, secretKeys: string[]) =>
        pulumi.runtime.setAllConfig(
            Object.fromEntries(
                Object.entries(values).map(([k, v]) => [
                    `native-build-fleet:${k}`,
                    typeof v === "string" ? v : JSON.stringify(v),
                ]),
            ),
            secretKeys.map((k) => `native-build-fleet:${k}`),
        );
    const raw = withImage({ secrets: { npmrc: { config: "npmToken" }, gh: { env: "GH_TOKEN" } } });

    test("from a secret config key and from the environment, as Pulumi secrets", async () => {
        setConfig({ ...raw, sshPrivateKey: "K", npmToken: "npm-secret-value" }, ["sshPrivateKey", "npmToken"]);
        const { secrets } = loadConfig(root, { ...withAws, GH_TOKEN: "gh-secret-value" }).config.images[0];
        expect(await pulumi.isSecret(secrets.npmrc)).toBe(true);
        expect(await pulumi.isSecret(secrets.gh)).toBe(true);
        expect(await valueOf(secrets.npmrc)).toBe("npm-secret-value");
        expect(await valueOf(secrets.gh)).toBe("gh-secret-value");
    });

    test("refuses a config key stored in plain text, one not set, and an unset variable, naming each", () => {
        setConfig({ ...raw, sshPrivateKey: "K", npmToken: "npm-secret-value" }, ["sshPrivateKey"]);
        expect(() => loadConfig(root, {})).toThrow(
            /images\[0\]\.secrets\.npmrc: reads npmToken, which is stored in plain text in the stack file; set it again with `pulumi config set --secret npmToken <value>`/,
        );
        expect(() => loadConfig(root, {})).toThrow(
            /images\[0\]\.secrets\.gh: reads the environment variable GH_TOKEN, which is not set on this machine/,
        );
        setConfig({ ...raw, sshPrivateKey: "K" }, ["sshPrivateKey"]);
        expect(() => loadConfig(root, { GH_TOKEN: "" })).toThrow(
            /images\[0\]\.secrets\.npmrc: reads the stack's config key npmToken, which is not set/,
        );
    });

    test("a file secret is read from the runner, relative to the project", async () => {
        fs.writeFileSync(path.join(root, ".npmrc-ci"), "//registry.npmjs.org/:_authToken=file-secret-value\n");
        setConfig(
            {
                ...withImage({ secrets: { npmrc: { file: ".npmrc-ci" }, other: { file: "missing" } } }),
                sshPrivateKey: "K",
            },
            ["sshPrivateKey"],
        );
        expect(() => loadConfig(root, {})).toThrow(
            /images\[0\]\.secrets\.other\.file: reads the file missing, which cannot be read on this machine \(ENOENT\)/,
        );
        setConfig({ ...withImage({ secrets: { npmrc: { file: ".npmrc-ci" } } }), sshPrivateKey: "K" }, [
            "sshPrivateKey",
        ]);
        expect(await valueOf(loadConfig(root, withAws).config.images[0].secrets.npmrc)).toContain("file-secret-value");
    });

    test("sees the runner's SSH agent in SSH_AUTH_SOCK", () => {
        setConfig({ ...withImage({ ssh: [{ id: "default" }] }), sshPrivateKey: "K" }, ["sshPrivateKey"]);
        expect(() => loadConfig(root, {})).toThrow(/images\[0\]\.ssh\[0\]: forwards the runner's SSH agent/);
        expect(loadConfig(root, { ...withAws, SSH_AUTH_SOCK: "/tmp/agent.sock" }).config.images[0].ssh).toEqual([
            { id: "default" },
        ]);
    });
});

describe("the docker-build Images of each platform", () => {
    const raw = validConfig() as Record<string, any>;
    raw.images.push({
        name: "private",
        context: "inline",
        platforms: ["linux/amd64", "linux/arm64"],
        dockerfileInline: "FROM base\nRUN --mount=type=secret,id=npmrc true\n",
        secrets: { npmrc: { config: "npmToken" } },
        ssh: [{ id: "default" }],
        contexts: { deps: "vendor/deps", base: "docker-image://alpine:3.20" },
        pull: true,
    });
    const runner: RunnerFacts = { sshAgent: true, readSecret: () => pulumi.secret("npm-secret-value") };
    const config = parseConfig(raw, context(root, { runner }));
    beforeAll(async () => {
        const fleet = new Fleet("fleet", {
            config,
            project: "native-build-fleet",
            stack: "dev",
            sshPrivateKey: pulumi.secret("KEY"),
            labels: {},
        });
        await valueOf(fleet.images);
        await settled(mocks.resources);
    });
    const images = (prefix: string) =>
        mocks.resources.filter((r) => r.type === "docker-build:index:Image" && r.name.startsWith(prefix));

    test.each(["linux-amd64", "linux-arm64"])(
        "%s: the platform image and its cache build get the same inputs",
        (slug) => {
            const pair = images(`fleet-private-${slug}`);
            expect(pair.map((r) => r.name).sort()).toEqual([`fleet-private-${slug}`, `fleet-private-${slug}-cache`]);
            for (const build of pair) {
                expect(build.inputs).toMatchObject({
                    context: {
                        location: "inline",
                        named: { deps: { location: "vendor/deps" }, base: { location: "docker-image://alpine:3.20" } },
                    },
                    dockerfile: { inline: "FROM base\nRUN --mount=type=secret,id=npmrc true\n" },
                    secrets: { npmrc: "npm-secret-value" },
                    ssh: [{ id: "default" }],
                    pull: true,
                });
                expect(build.inputs.dockerfile.location).toBeUndefined();
            }
            const [a, b] = pair.map((r) => r.inputs);
            for (const key of ["context", "dockerfile", "secrets", "ssh", "pull", "buildArgs", "target", "platforms"]) {
                expect([key, a[key]]).toEqual([key, b[key]]);
            }
        },
    );

    test("the secret's value reaches the provider only as a secret", () => {
        for (const build of images("fleet-private-")) {
            expect(isSecretValue(build.raw.secrets)).toBe(true);
            expect(plaintextStrings(build.raw)).not.toContain("npm-secret-value");
        }
    });

    test("an image without the inputs sends none of them, so existing stacks see no change", () => {
        for (const build of images("fleet-app-")) {
            for (const key of ["secrets", "ssh", "pull"]) {
                expect([key, build.inputs[key]]).toEqual([key, undefined]);
            }
            expect(build.inputs.context).toEqual({ location: "app" });
            expect(build.inputs.dockerfile).toEqual({ location: "app/Dockerfile" });
        }
    });
});

describe("loadConfig with a Compose file", () => {
    const tools =
        process.env.NBF_TOOLS_DIR ??
        path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "native-build-fleet", "bin");
    test("reads it through the Compose CLI and its file and environment secrets as Pulumi secrets", async () => {
        const project = makeProject();
        fs.writeFileSync(
            path.join(project, "compose.yml"),
            [
                "services:",
                "  app:",
                "    image: acme/app:${TAG:-dev}",
                "    build:",
                "      context: app",
                "      platforms: [linux/amd64]",
                "      secrets: [npmrc, gh]",
                "secrets:",
                "  npmrc: { file: ./npmrc }",
                "  gh: { environment: GH_TOKEN }",
                "",
            ].join("\n"),
        );
        fs.writeFileSync(path.join(project, "npmrc"), "file-secret-value\n");
        pulumi.runtime.setAllConfig(
            {
                "native-build-fleet:hosts": JSON.stringify((validConfig() as any).hosts),
                "native-build-fleet:ssh": JSON.stringify((validConfig() as any).ssh),
                "native-build-fleet:registry": JSON.stringify({ type: "ecr" }),
                "native-build-fleet:compose": "compose.yml",
                "native-build-fleet:sshPrivateKey": "K",
            },
            ["native-build-fleet:sshPrivateKey"],
        );
        const env = {
            PATH: `${tools}${path.delimiter}${process.env.PATH ?? ""}`,
            HOME: project,
            GH_TOKEN: "env-secret-value",
            TAG: "1.0",
        };
        const [image] = loadConfig(project, env).config.images;
        expect(image).toMatchObject({ name: "acme/app", tags: ["1.0"], context: "app" });
        expect(await pulumi.isSecret(image.secrets.npmrc)).toBe(true);
        expect(await pulumi.isSecret(image.secrets.gh)).toBe(true);
        expect(await valueOf(image.secrets.npmrc)).toBe("file-secret-value\n");
        expect(await valueOf(image.secrets.gh)).toBe("env-secret-value");
        expect(() => loadConfig(project, { ...env, GH_TOKEN: "" })).toThrow(
            /compose\(compose\.yml\)\.secrets\.gh\.environment: reads the environment variable GH_TOKEN, which is not set/,
        );
    });
});
