// Images from a Compose file, read through the real Compose CLI (`docker compose config`,
// built by scripts/install.sh) and validated like stack images.

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { splitImage, sshEntry } from "../config/compose";
import { readCompose } from "../config/load";
import { RunnerFacts, SecretSource } from "../config/buildInputs";
import { ConfigError, FleetConfig, parseConfig } from "../config/schema";
import { context, makeProject, validConfig } from "./fixtures";

// These fixtures use placeholder keys; test/privateKey.test.ts checks real ones, and that loadConfig checks them.
jest.mock("../config/privateKey");

const COMPOSE = `
services:
  web:
    image: registry.example.com/acme/web:1.2
    build:
      context: ./web
      dockerfile: Dockerfile.prod
      target: runtime
      platforms: [linux/amd64, linux/aarch64]
      args:
        - NODE_ENV=production
        - BARE_NAME
  worker:
    build: ./worker
    platform: linux/arm64
  api:
    build:
      context: web
      args: { LEVEL: 3 }
      platforms: [linux/amd64]
  cache:
    image: redis:7
`;

const tools =
    process.env.NBF_TOOLS_DIR ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "native-build-fleet", "bin");

function project(compose: string, files: Record<string, string> = {}): string {
    const root = makeProject();
    fs.mkdirSync(path.join(root, "deploy", "web"), { recursive: true });
    fs.mkdirSync(path.join(root, "deploy", "worker"));
    fs.writeFileSync(path.join(root, "deploy", "web", "Dockerfile.prod"), "FROM scratch\n");
    fs.writeFileSync(path.join(root, "deploy", "web", "Dockerfile"), "FROM scratch\n");
    fs.writeFileSync(path.join(root, "deploy", "worker", "Dockerfile"), "FROM scratch\n");
    fs.writeFileSync(path.join(root, "deploy", "docker-compose.yml"), compose);
    for (const [file, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
        fs.writeFileSync(path.join(root, file), text);
    }
    return root;
}

function withCompose(): Record<string, unknown> {
    return { ...validConfig(), images: [], compose: "deploy/docker-compose.yml" };
}

/** A runner that hands back each secret's source, so a test sees what Compose mapped. */
const runner: RunnerFacts = {
    sshAgent: true,
    readSecret: (source: SecretSource) => pulumi.secret(JSON.stringify(source)),
};

/** parseConfig as loadConfig calls it: the Compose file read by the Compose CLI with `env` only. */
function parsed(root: string, env: Record<string, string> = {}): FleetConfig {
    const model = readCompose("deploy/docker-compose.yml", root, {
        PATH: `${tools}${path.delimiter}${process.env.PATH ?? ""}`,
        HOME: root,
        ...env,
    });
    return parseConfig(withCompose(), context(root, { compose: model, runner }));
}

function problems(root: string, env: Record<string, string> = {}): string[] {
    try {
        parsed(root, env);
    } catch (e) {
        if (e instanceof ConfigError) {
            return e.problems.map((p) => `${p.path}: ${p.message}`);
        }
        throw e;
    }
    return [];
}

const secretSources = async (config: FleetConfig, i: number): Promise<Record<string, unknown>> =>
    Object.fromEntries(
        await Promise.all(
            Object.entries(config.images[i].secrets).map(async ([id, value]) => [
                id,
                JSON.parse(await new Promise<string>((resolve) => value.apply(resolve))) as unknown,
            ]),
        ),
    );

test("the Compose CLI is installed (scripts/install.sh builds it)", () => {
    expect(() =>
        readCompose("deploy/docker-compose.yml", project(COMPOSE), {
            PATH: `${tools}${path.delimiter}${process.env.PATH ?? ""}`,
            HOME: os.tmpdir(),
        }),
    ).not.toThrow();
});

test("every service with a build section becomes an image, in the order compose prints them; the others are ignored", () => {
    const root = project(COMPOSE);
    expect(parsed(root).images).toEqual([
        {
            name: "api",
            context: "deploy/web",
            dockerfile: "deploy/web/Dockerfile",
            platforms: ["linux/amd64"],
            tags: ["latest"],
            buildArgs: { LEVEL: "3" },
            platformBuildArgs: {},
            target: undefined,
            secrets: {},
            ssh: [],
            contexts: {},
            pull: false,
        },
        {
            name: "acme/web",
            context: "deploy/web",
            dockerfile: "deploy/web/Dockerfile.prod",
            platforms: ["linux/amd64", "linux/arm64"],
            tags: ["1.2"],
            buildArgs: { NODE_ENV: "production" },
            platformBuildArgs: {},
            target: "runtime",
            secrets: {},
            ssh: [],
            contexts: {},
            pull: false,
        },
        {
            name: "worker",
            context: "deploy/worker",
            dockerfile: "deploy/worker/Dockerfile",
            platforms: ["linux/arm64"],
            tags: ["latest"],
            buildArgs: {},
            platformBuildArgs: {},
            target: undefined,
            secrets: {},
            ssh: [],
            contexts: {},
            pull: false,
        },
    ]);
});

test("a service whose platforms no host serves is an error naming the service", () => {
    const root = project(COMPOSE.replace("platform: linux/arm64", "platform: linux/s390x"));
    expect(() => parsed(root)).toThrow(
        /compose\(deploy\/docker-compose\.yml\)\.services\.worker\.platform: no host serves linux\/s390x/,
    );
});

test("a service without any platform is an error naming the service", () => {
    const root = project("services:\n  web:\n    build: ./web\n");
    expect(() => parsed(root)).toThrow(/compose\(deploy\/docker-compose\.yml\)\.services\.web: names no platform/);
});

test("a build context outside the project is refused", () => {
    const root = project("services:\n  web:\n    build:\n      context: ../../..\n      platforms: [linux/amd64]\n");
    expect(() => parsed(root)).toThrow(/services\.web\.build\.context: .* leaves the project directory/);
});

test("a missing Compose file is an error on the compose key, before the CLI runs", () => {
    const root = makeProject();
    expect(() => readCompose("nope.yml", root, {})).toThrow(/compose: "nope\.yml" does not exist in the project/);
    expect(() => parseConfig({ ...validConfig(), images: [], compose: "nope.yml" }, context(root))).toThrow(
        /compose: "nope\.yml" does not exist/,
    );
});

test("without the Compose CLI, the compose key is refused before anything is created", () => {
    expect(() =>
        readCompose("deploy/docker-compose.yml", project(COMPOSE), {
            PATH: fs.mkdtempSync(path.join(os.tmpdir(), "empty-")),
        }),
    ).toThrow(
        /compose: is set, but the Compose CLI is missing: neither `docker compose` \(Compose v2 or later\) nor a standalone docker-compose v2\+ runs on this machine/,
    );
});

test("a file the Compose CLI rejects is an error on the compose key with its message", () => {
    const root = project("services:\n  web:\n    image: ${MISSING:?set MISSING first}\n    build: ./web\n");
    expect(() => parsed(root)).toThrow(
        /compose: docker[ -]compose config could not read deploy\/docker-compose\.yml: .*set MISSING first/,
    );
});

test("a Compose model that loadConfig did not read is refused", () => {
    expect(() => parseConfig(withCompose(), context(project(COMPOSE)))).toThrow(
        /compose: deploy\/docker-compose\.yml was not read through docker compose config/,
    );
});

test.each([
    ["web", { name: "web" }],
    ["acme/web:1.2", { name: "acme/web", tag: "1.2" }],
    ["registry.example.com:5000/acme/web:1.2", { name: "acme/web", tag: "1.2" }],
    ["localhost/web", { name: "web" }],
    ["web@sha256:abc", { name: "web" }],
])("splitImage(%p) keeps the repository path and tag, not the registry", (image, expected) => {
    expect(splitImage(image)).toEqual(expected);
});

test("interpolates from the environment and the file's .env, with and without defaults, as docker compose does", () => {
    const root = project(
        `
services:
  web:
    image: acme/web:\${TAG}
    build:
      context: ./\${DIR:-web}
      platforms: [linux/amd64]
      args:
        LEVEL: \${LEVEL:-3}
        FROM_DOTENV: \${DOTENV_VALUE}
        OVERRIDDEN: \${OVERRIDE:-default}
`,
        { "deploy/.env": "DOTENV_VALUE=from-dotenv\nTAG=dotenv-tag\n" },
    );
    const [web] = parsed(root, { TAG: "1.4", OVERRIDE: "given" }).images;
    expect(web).toMatchObject({
        name: "acme/web",
        tags: ["1.4"],
        context: "deploy/web",
        buildArgs: { LEVEL: "3", FROM_DOTENV: "from-dotenv", OVERRIDDEN: "given" },
    });
    expect(parsed(root).images[0].tags).toEqual(["dotenv-tag"]);
});

test("follows merge keys and extends, in the same file and another", () => {
    const root = project(
        `
x-build: &build
  platforms: [linux/amd64]
  args: { MODE: release }
services:
  base:
    build:
      <<: *build
      context: ./web
      target: runtime
  derived:
    extends: base
    build:
      args: { EXTRA: "1" }
  shared:
    extends: { file: common.yml, service: shared }
`,
        {
            "deploy/common.yml":
                "services:\n  shared:\n    build:\n      context: ./worker\n      platforms: [linux/arm64]\n",
        },
    );
    const images = Object.fromEntries(parsed(root).images.map((image) => [image.name, image]));
    expect(images.base).toMatchObject({
        context: "deploy/web",
        target: "runtime",
        platforms: ["linux/amd64"],
        buildArgs: { MODE: "release" },
    });
    expect(images.derived).toMatchObject({
        context: "deploy/web",
        target: "runtime",
        platforms: ["linux/amd64"],
        buildArgs: { MODE: "release", EXTRA: "1" },
    });
    expect(images.shared).toMatchObject({
        context: "deploy/worker",
        platforms: ["linux/arm64"],
        dockerfile: "deploy/worker/Dockerfile",
    });
});

test("builds a profile's services only when COMPOSE_PROFILES enables it", () => {
    const root = project(
        "services:\n  web:\n    build: { context: ./web, platforms: [linux/amd64] }\n  debug:\n    profiles: [debug]\n    build: { context: ./worker, platforms: [linux/amd64] }\n",
    );
    expect(parsed(root).images.map((image) => image.name)).toEqual(["web"]);
    expect(parsed(root, { COMPOSE_PROFILES: "debug" }).images.map((image) => image.name)).toEqual(["debug", "web"]);
});

test("maps secrets (file and environment), ssh, additional_contexts, dockerfile_inline, tags and pull onto the image inputs", async () => {
    const root = project(
        `
services:
  web:
    image: registry.example.com/acme/web:1.0
    build:
      context: ./inline
      platforms: [linux/amd64]
      dockerfile_inline: |
        FROM base
        RUN --mount=type=secret,id=npm_token true
      secrets: [npmrc, { source: token, target: npm_token }]
      ssh: [default, "deploy=\${KEY_FILE}"]
      additional_contexts:
        base: docker-image://alpine:3.20
        deps: ../vendor
      tags: [registry.example.com/acme/web:extra]
      pull: true
secrets:
  npmrc: { file: ./npmrc }
  token: { environment: NPM_TOKEN }
`,
        {
            "deploy/inline/.keep": "",
            "vendor/lib.txt": "lib\n",
            "deploy/npmrc": "token\n",
            "id_deploy": "-----BEGIN OPENSSH PRIVATE KEY-----\nkey\n-----END OPENSSH PRIVATE KEY-----\n",
        },
    );
    const config = parsed(root, { KEY_FILE: path.join(root, "id_deploy") });
    expect(config.images[0]).toMatchObject({
        name: "acme/web",
        context: "deploy/inline",
        dockerfileInline: "FROM base\nRUN --mount=type=secret,id=npm_token true\n",
        ssh: [{ id: "default" }, { id: "deploy", paths: [path.join(root, "id_deploy")] }], // sorted by id
        contexts: { base: "docker-image://alpine:3.20", deps: "vendor" },
        tags: ["1.0", "extra"],
        pull: true,
    });
    expect(await secretSources(config, 0)).toEqual({
        npmrc: { file: path.join(root, "deploy", "npmrc") },
        npm_token: { env: "NPM_TOKEN" },
    });
});

test("refuses build keys the fleet cannot honour, naming the service and the key", () => {
    const root = project(`
services:
  web:
    image: acme/web
    build:
      context: ./web
      platforms: [linux/amd64]
      network: host
      cache_to: [type=local,dest=/tmp/c]
      extra_hosts: ["db=10.0.0.5"]
      shm_size: 1g
      privileged: true
      labels: { team: web }
      tags: [acme/other:1]
      x-notes: extensions are ignored
  worker:
    build:
      context: ./worker
      platforms: [linux/arm64]
      additional_contexts: { app: "service:web" }
      secrets: [vault]
secrets:
  vault: { external: true }
`);
    const found = problems(root);
    const at = "compose(deploy/docker-compose.yml).services";
    for (const key of ["network", "cache_to", "extra_hosts", "shm_size", "privileged", "labels"]) {
        expect(found).toContainEqual(
            expect.stringMatching(
                new RegExp(`^${at.replace(/[().]/g, "\\$&")}\\.web\\.build\\.${key}: is not honoured by the fleet: `),
            ),
        );
    }
    expect(found).toContainEqual(
        expect.stringMatching(
            /services\.web\.build\.tags\[0\]: "acme\/other:1" names repository acme\/other, but the service's image is acme\/web/,
        ),
    );
    expect(found).toContainEqual(
        expect.stringMatching(
            /services\.worker\.build\.additional_contexts\.app: "service:web" builds from another service/,
        ),
    );
    expect(found).toContainEqual(
        expect.stringMatching(
            /services\.worker\.build\.secrets\[0\]: secret "vault" is neither a file nor an environment secret/,
        ),
    );
    expect(found.filter((p) => p.includes("x-notes"))).toEqual([]);
});

test.each([
    ["default", { id: "default" }],
    ["deploy=/keys/id", { id: "deploy", paths: ["/keys/id"] }],
    ["deploy: /keys/id", { id: "deploy", paths: ["/keys/id"] }],
    [{ deploy: "/keys/id" }, { id: "deploy", paths: ["/keys/id"] }],
    [{ default: null }, { id: "default" }],
    [42, undefined],
])("reads compose's ssh entry %j", (entry, expected) => {
    expect(sshEntry(entry)).toEqual(expected);
});

describe("problems of a Compose service name the Compose file's keys, not the stack keys they became (issue #21)", () => {
    const at = "compose(deploy/docker-compose.yml).services.web";
    const web = (build: string, extra = "") =>
        `services:\n  web:\n    image: acme/web\n    build:\n      context: ./web\n      platforms: [linux/amd64]\n${build}${extra}`;
    const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nk\n-----END OPENSSH PRIVATE KEY-----\n";
    test.each<[string, string, Record<string, string>, Record<string, string>, string, string]>([
        [
            "a build arg name",
            web('      args: { "A.B": "1" }\n'),
            {},
            {},
            `${at}.build.args["A.B"]`,
            "is not a valid build-arg name",
        ],
        [
            "a platform BuildKit knows but the fleet cannot build",
            web("").replace("[linux/amd64]", "[linux/amd64, linux/arm/v8]"),
            {},
            {},
            `${at}.build.platforms[1]`,
            "is a platform BuildKit knows",
        ],
        [
            "the service's platform",
            "services:\n  web:\n    build: ./web\n    platform: linux/s390x\n",
            {},
            {},
            `${at}.platform`,
            "no host serves linux/s390x",
        ],
        [
            "an image name with a capital",
            web("").replace("image: acme/web", "image: acme/Web"),
            {},
            {},
            `${at}.image`,
            '"acme/Web" is not a valid repository name',
        ],
        [
            "the tag of image:",
            web("").replace("image: acme/web", "image: acme/web:cache-linux-amd64"),
            {},
            {},
            `${at}.image`,
            "collides with a tag this program writes",
        ],
        [
            "a tag under build.tags",
            web('      tags: ["acme/web:cache-linux-amd64"]\n'),
            {},
            {},
            `${at}.build.tags`,
            "collides with a tag this program writes",
        ],
        [
            "a Dockerfile that is missing",
            web("      dockerfile: Dockerfile.missing\n"),
            {},
            {},
            `${at}.build.dockerfile`,
            "does not exist in the project",
        ],
        [
            "a named context outside the project",
            web("      additional_contexts: { deps: ../../.. }\n"),
            {},
            {},
            `${at}.build.additional_contexts.deps`,
            "leaves the project directory",
        ],
        [
            "an ssh path that is no key",
            web('      ssh: ["deploy=./README"]\n'),
            { "deploy/README": "hello\n" },
            {},
            `${at}.build.ssh.deploy`,
            "is not an SSH private key",
        ],
        [
            "an ssh path that is the fleet's key file",
            web('      ssh: ["deploy=./fleet-key"]\n'),
            { "deploy/fleet-key": KEY },
            {},
            `${at}.build.ssh.deploy`,
            "holds sshPrivateKey, the fleet's own credential",
        ],
        [
            "an environment secret holding the CI's token",
            web("      secrets: [gh]\n", "secrets:\n  gh: { environment: GITHUB_TOKEN }\n"),
            {},
            {},
            "compose(deploy/docker-compose.yml).secrets.gh.environment",
            "names GITHUB_TOKEN, a variable that holds the runner's own CI, cloud or Pulumi credentials",
        ],
        [
            "a file secret in /proc",
            web("      secrets: [env]\n", "secrets:\n  env: { file: /proc/self/environ }\n"),
            {},
            {},
            "compose(deploy/docker-compose.yml).secrets.env.file",
            "is in /proc",
        ],
        [
            "a build secret id that is no BuildKit id",
            web('      secrets: [{ source: tok, target: "a b" }]\n', "secrets:\n  tok: { environment: NPM_TOKEN }\n"),
            {},
            { NPM_TOKEN: "x" },
            `${at}.build.secrets[0]`,
            "\"a b\" must be a secret id: letters, digits, '_', '.' or '-', as RUN --mount=type=secret,id=<id> names it; change its target",
        ],
        [
            "two services pushing to one repository",
            `${web("")}  web2:\n    image: acme/web\n    build:\n      context: ./web\n      platforms: [linux/amd64]\n`,
            {},
            {},
            "compose(deploy/docker-compose.yml).services.web2.image",
            '"acme/web" repeats',
        ],
        [
            "an unset ${VAR} in image:",
            web("").replace("image: acme/web", "image: acme/web:${TAG}"),
            {},
            {},
            "compose",
            "deploy/docker-compose.yml uses ${TAG}, which is not set on this machine; docker compose reads an unset variable as an empty string, so the image, tags, context or args it builds are not the ones written. Export TAG before pulumi runs, or give a default in the file, such as ${TAG:-value}",
        ],
        // Sorted, whatever order Compose warns in: ONE before TWO although the file names TWO first.
        [
            "two unset variables in args",
            web('      args: { B: "${TWO}", A: "${ONE}" }\n'),
            {},
            {},
            "compose",
            "uses ${ONE}, ${TWO}, which are not set on this machine",
        ],
        [
            "a file whose build services are all under profiles",
            web("").replace("    build:", "    profiles: [dev]\n    build:"),
            {},
            {},
            "compose",
            "deploy/docker-compose.yml builds nothing: its services with a build section (web) all belong to profiles (dev), and docker compose config leaves out services whose profiles are not active; set COMPOSE_PROFILES=dev before pulumi runs, or remove profiles from the services to build",
        ],
        [
            "a file without build sections",
            "services:\n  cache:\n    image: redis:7\n",
            {},
            {},
            "compose",
            "deploy/docker-compose.yml has no service with a build section, so it builds nothing; add build: to the services to build, or drop compose",
        ],
    ])("%s", (_, compose, files, env, key, fragment) => {
        const found = (() => {
            try {
                const root = project(compose, files);
                const model = readCompose("deploy/docker-compose.yml", root, {
                    PATH: `${tools}${path.delimiter}${process.env.PATH ?? ""}`,
                    HOME: root,
                    ...env,
                });
                const own: RunnerFacts = {
                    ...runner,
                    ownSecret: (v) => (v.trim() === KEY.trim() ? "sshPrivateKey" : undefined),
                };
                parseConfig(withCompose(), context(root, { compose: model, runner: own }));
            } catch (e) {
                if (e instanceof ConfigError) {
                    return e.problems;
                }
                throw e;
            }
            return [];
        })();
        expect(found.map((p) => p.path)).toContain(key);
        expect(
            found
                .filter((p) => p.path === key)
                .map((p) => p.message)
                .join("\n"),
        ).toContain(fragment);
    });

    test("a signed service whose inline Dockerfile overflows the sign step's spec is named as dockerfile_inline", () => {
        const inline = `      dockerfile_inline: |\n        FROM scratch\n${"        # x\n".repeat(130 * 256)}`;
        const root = project(web(inline));
        const model = readCompose("deploy/docker-compose.yml", root, {
            PATH: `${tools}${path.delimiter}${process.env.PATH ?? ""}`,
            HOME: root,
        });
        const signing = { mode: "kms", key: "awskms:///alias/release-signing" };
        expect(() => parseConfig({ ...withCompose(), signing }, context(root, { compose: model, runner }))).toThrow(
            `${at}.build.dockerfile_inline: makes the sign step's NBF_SPEC (the provenance's inputs) up to `,
        );
    });

    test("COMPOSE_PROFILES makes a profiled service build", () => {
        const root = project(web("").replace("    build:", "    profiles: [dev]\n    build:"));
        expect(parsed(root, { COMPOSE_PROFILES: "dev" }).images.map((i) => i.name)).toEqual(["acme/web"]);
    });
});
