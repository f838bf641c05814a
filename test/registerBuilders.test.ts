// The builders' runner, run for real against stub `docker`, `aws`, `ssh` and `getent`
// commands in a throwaway home; OpenSSH itself (`ssh -G`) reads what it writes.

import { execFile, execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    buildkitContainer,
    FleetBuildersSpec,
    hostBuilderName,
    inspectErrors,
    NODE_ANSWER_SECONDS,
    nodeCheckStep,
    nodeCheckVerdict,
    NodeSpec,
    nodeName,
    previewBuilderName,
    previewNode,
    sshAlias,
    userSshConfig,
} from "../runner/builderSpec";
import { checkDockerCredentials, defaultCredentialStore, exposedCredentials } from "../runner/dockerConfig";
import { ensureBuilders, Mode } from "../runner/registerBuilders";
import { remoteCommand, RemoteStep } from "../runner/readiness";
import { scriptFile } from "../host/scriptFiles";
import { compileModules } from "./compiled";
import { sandbox as sharedSandbox, startSshd } from "./sandbox";

const ARM_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfArm0";

function node(
    builder: string,
    host: string,
    address: string,
    platforms: string[],
    extra: Partial<NodeSpec> = {},
): NodeSpec {
    return {
        host,
        node: nodeName(builder, host),
        alias: sshAlias(builder, host),
        address,
        port: 22,
        user: "ec2-user",
        hostKey: `${ARM_KEY} c`,
        hostKeyAlias: `i-${host}`,
        platforms,
        stackPlatforms: platforms,
        driverOptions: {},
        ...extra,
    };
}

function spec(overrides: Partial<FleetBuildersSpec> = {}, name = "fleet-dev"): FleetBuildersSpec {
    return {
        name,
        owner: "native-build-fleet/dev",
        nodes: [
            node(name, "x86-0", "203.0.113.11", ["linux/amd64", "linux/386"], {
                driverOptions: { image: "moby/buildkit:v0.31.0" },
            }),
            node(name, "arm-0", "203.0.113.10", ["linux/arm64"], { port: 2222 }),
        ],
        ...overrides,
    };
}

/** Every builder the spec below registers: the stack's, each host's, each host's preview builder. */
const ALL_BUILDERS = [
    "fleet-dev",
    "fleet-dev-x86-0",
    "fleet-dev-arm-0",
    "fleet-dev-x86-0_preview",
    "fleet-dev-arm-0_preview",
];

/** The arm host down as ssh reports a refused connection. */
const ARM_REFUSED = {
    host: "arm-0",
    node: "fleet-dev_arm-0",
    platforms: ["linux/arm64"],
    error: "ssh: connect to host 203.0.113.10 port 2222: Connection refused",
};

const RUNNING = (b: string) => `Name: ${b}\nDriver: docker-container\n\nNodes:\nName: ${b}\nStatus: running\n`;

/** The real `timeout`, which the hosts' stand-in runs with a shorter time when told to. */
const TIMEOUT = execFileSync("sh", ["-c", "command -v timeout"], { encoding: "utf8" }).trim();

/** What a host's Docker answers: its BuildKit container's state, and how BuildKit answers in it. */
interface HostState {
    /** `docker container inspect`'s `.State.Running`; absent: no such container. */
    container?: "true" | "false";
    buildkit?: "answers" | "hangs" | "fails";
    /** The Docker daemon itself never answers. */
    docker?: "hangs";
}

/**
 * The shared sandbox (test/sandbox.ts) with the runner's stubs: `docker` (the runner's buildx)
 * runs `dockerScript` (bash), `aws` answers describe-instances with `awsStates`. `ssh` stands in
 * for OpenSSH and the hosts: the node check's remote command runs for real in `sh -c`, as the
 * host's login shell would run it, against a stand-in for each host's Docker (`host`), unless
 * ssh is told to fail for that host (`sshFails`); other commands answer once ssh has been asked
 * `$HOME/ssh-fails` times.
 */
function sandbox(dockerScript = "exit 0", awsStates = "") {
    const box = sharedSandbox("nbf-runner-");
    const { home, env, calls } = box;
    box.stub("docker", dockerScript);
    box.stub("aws", `case "$*" in *describe-instances*) printf '${awsStates}\\n' ;; esac`);
    const hostBin = path.join(box.dir, "host-bin");
    fs.mkdirSync(hostBin);
    // ssh logs its command line with the script's line breaks escaped, one call a line.
    fs.writeFileSync(
        path.join(box.bin, "ssh"),
        [
            "#!/bin/bash",
            `printf 'ssh %s\\n' "\${*//$'\\n'/\\\\n}" >> '${box.log}'`,
            'if [[ "$4" == *buildkit-check.sh* ]]; then',
            "    h=${3%%.*}",
            '    if [ -f "$HOME/ssh-fails-$h" ]; then cat "$HOME/ssh-fails-$h" >&2; exit 255; fi',
            `    NBF_HOST=$h PATH='${hostBin}':"$PATH" exec sh -c "$4"`,
            "fi",
            'n=$(cat "$HOME/ssh-calls" 2>/dev/null || echo 0); echo $((n + 1)) > "$HOME/ssh-calls"; [ "$n" -ge "$(cat "$HOME/ssh-fails" 2>/dev/null || echo 0)" ]',
        ].join("\n"),
        { mode: 0o755 },
    );
    // Each host's Docker, as `on-<host> docker …` in the log; a process that hangs is the
    // stand-in itself (exec), so timeout's signal ends it.
    fs.writeFileSync(
        path.join(hostBin, "docker"),
        [
            "#!/bin/bash",
            `echo "on-$NBF_HOST docker $*" >> '${box.log}'`,
            'd="$HOME/hosts/$NBF_HOST"',
            '[ -f "$d/docker" ] && exec sleep 60',
            'case "$1 $2" in',
            '    "container inspect")',
            '        [ -f "$d/container" ] || { echo "Error response from daemon: No such container: ${!#}" >&2; exit 1; }',
            '        cat "$d/container" ;;',
            '    "exec "*)',
            '        case "$(cat "$d/buildkit" 2>/dev/null)" in',
            "            hangs) exec sleep 60 ;;",
            '            fails) echo "error: listing workers: connection error: dial unix /run/buildkit/buildkitd.sock: connect: no such file or directory" >&2; exit 1 ;;',
            "            *) printf 'ID\\tPLATFORMS\\nw0\\tlinux/amd64\\n' ;;",
            "        esac ;;",
            "esac",
        ].join("\n"),
        { mode: 0o755 },
    );
    // The hosts' clock may run fast: `$HOME/host-seconds` replaces the time timeout is given.
    fs.writeFileSync(
        path.join(hostBin, "timeout"),
        `#!/bin/bash\ns=$(cat "$HOME/host-seconds" 2>/dev/null || echo "$1")\nexec '${TIMEOUT}' "$s" "\${@:2}"\n`,
        { mode: 0o755 },
    );
    const runner = box.runner();
    const logged = runner.logged;
    const run = (s: FleetBuildersSpec, mode: Mode, key = "PRIVATE KEY MATERIAL", extra: Record<string, string> = {}) =>
        ensureBuilders(s, key, mode, { ...runner, env: { ...runner.env, ...extra } });
    /** The runner's `buildx rm` calls since its `before`th docker call. */
    const removals = (before: number) =>
        calls("docker")
            .slice(before)
            .filter((c) => c.startsWith("buildx rm"));
    /** Those that removed a BuildKit container: neither --keep-daemon nor only a local entry. */
    const lostDaemons = (before: number) => removals(before).filter((c) => !c.includes("--keep-daemon"));
    /** The nodes the stack's builder fleet-dev was registered from, in order. */
    const stackBuilderNodes = () =>
        calls("docker")
            .filter((c) => c.includes("--name fleet-dev "))
            .map((c) => /--node (\S+)/.exec(c)![1]);
    /** Stands in for buildx's own record of a builder. */
    const markRegistered = (...names: string[]) =>
        names.forEach((n) => {
            fs.mkdirSync(path.join(home, ".docker", "buildx", "instances"), { recursive: true });
            fs.writeFileSync(path.join(home, ".docker", "buildx", "instances", n), "{}");
        });
    const root = path.join(home, ".ssh", "native-build-fleet");
    const resolve = (alias: string) => {
        // The real OpenSSH, not the stub on the sandbox PATH.
        const out = execFileSync("ssh", ["-G", "-F", path.join(home, ".ssh", "config"), alias], {
            env: { ...env, PATH: process.env.PATH },
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
        });
        const lines = out.split("\n");
        return (key: string) => lines.filter((l) => l.startsWith(`${key} `)).map((l) => l.slice(key.length + 1));
    };
    /** What `host`'s Docker answers from now on. */
    const host = (name: string, state: HostState) => {
        const d = path.join(home, "hosts", name);
        fs.rmSync(d, { recursive: true, force: true });
        fs.mkdirSync(d, { recursive: true });
        Object.entries(state).forEach(([k, v]) => fs.writeFileSync(path.join(d, k), `${v}\n`));
    };
    /** Runs a step on `name` as its login shell would; `docker` there runs `dockerScript` instead, when given. */
    const onHost = (name: string, step: RemoteStep, dockerScript?: string) => {
        let bin = hostBin;
        if (dockerScript !== undefined) {
            bin = fs.mkdtempSync(path.join(box.dir, "host-bin-"));
            fs.writeFileSync(path.join(bin, "docker"), `#!/bin/bash\n${dockerScript}\n`, { mode: 0o755 });
        }
        return spawnSync("sh", ["-c", remoteCommand(step)], {
            env: { ...env, NBF_HOST: name, PATH: `${bin}:${env.PATH}` },
            encoding: "utf8",
        });
    };
    /** ssh fails to reach `name`, printing `stderr`. */
    const sshFails = (name: string, stderr: string[]) =>
        fs.writeFileSync(path.join(home, `ssh-fails-${name}`), `${stderr.join("\n")}\n`);
    return {
        home,
        bin: box.bin,
        hostBin,
        root,
        env,
        run,
        calls: (cmd = "docker") => calls(cmd),
        removals,
        lostDaemons,
        stackBuilderNodes,
        markRegistered,
        logged,
        resolve,
        host,
        onHost,
        sshFails,
    };
}

/** What buildx prints for `inspect --bootstrap` of a host builder; `downHosts` report an error. */
const inspectStub = (downHosts: string[]) =>
    [
        'if [ "$2" = inspect ]; then',
        "    b=${!#}",
        // The host builder fleet-dev-<host> has the one node fleet-dev_<host> (nodeName).
        "    n=${b/fleet-dev-/fleet-dev_}",
        `    case "$b" in ${downHosts.map((h) => `*-${h}`).join("|") || "__none__"}) printf 'Name: %s\\nNodes:\\nName: %s\\nEndpoint: ssh://x\\nError: ssh: connect to host 203.0.113.10 port 2222: Connection refused\\n' "$b" "$n" ;;`,
        '        *) printf \'Name: %s\\nNodes:\\nName: %s\\nStatus: running\\n\' "$b" "$n" ;;',
        "    esac",
        "fi",
    ].join("\n");

/**
 * A build host of one node, `lab`'s `arm-0`, behind a real sshd on loopback (test/sandbox.ts
 * startSshd) with `extra` sshd_config lines; the runner's ssh is then the real OpenSSH.
 */
async function labHost(box: ReturnType<typeof sandbox>, extra: string[]) {
    const dir = path.join(box.home, "lab");
    fs.mkdirSync(dir);
    const keygen = (name: string) => {
        execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, name)]);
        return fs.readFileSync(path.join(dir, `${name}.pub`), "utf8").trim();
    };
    const hostKey = keygen("host");
    fs.writeFileSync(path.join(dir, "authorized_keys"), keygen("operator"));
    const sshd = await startSshd(dir, path.join(dir, "host"), path.join(dir, "authorized_keys"), extra);
    // The wrapper runs the first ssh on PATH: here the real one, not the sandbox's stub.
    fs.writeFileSync(path.join(box.bin, "ssh"), '#!/bin/sh\nexec /usr/bin/ssh "$@"\n', { mode: 0o755 });
    const spec: FleetBuildersSpec = {
        name: "lab",
        owner: "nbf/lab",
        nodes: [
            node("lab", "arm-0", "127.0.0.1", ["linux/arm64"], {
                port: sshd.port,
                user: os.userInfo().username,
                hostKey,
                hostKeyAlias: "static-arm-0",
            }),
        ],
    };
    return { spec, key: fs.readFileSync(path.join(dir, "operator"), "utf8"), stop: sshd.stop };
}

describe("registration", () => {
    test("registers a builder per host and the stack's builder, each node over pinned SSH with its declared platforms", async () => {
        const box = sandbox();
        const report = await box.run(spec({ buildkitdConfig: '[registry."r.example"]\n' }), "update");
        expect(report.down).toEqual([]);
        const dir = path.join(box.root, "fleet-dev");
        const cfg = `--buildkitd-config ${dir}/buildkitd.toml`;
        // Host builders register side by side, each with the host's preview builder; the stack's
        // builder follows, from the same nodes.
        expect(box.calls().slice(0, 8).sort()).toEqual(
            [
                "buildx rm --keep-daemon fleet-dev-arm-0",
                "buildx rm --keep-daemon fleet-dev-arm-0_preview",
                "buildx rm --keep-daemon fleet-dev-x86-0",
                "buildx rm --keep-daemon fleet-dev-x86-0_preview",
                `buildx create --name fleet-dev-arm-0 --driver docker-container ${cfg} --node fleet-dev_arm-0 --platform linux/arm64 ssh://arm-0.fleet-dev.nbf.invalid`,
                `buildx create --name fleet-dev-arm-0_preview --driver docker-container ${cfg} --node fleet-dev_arm-0.preview --platform linux/arm64 ssh://arm-0.fleet-dev.nbf.invalid`,
                `buildx create --name fleet-dev-x86-0 --driver docker-container --driver-opt image=moby/buildkit:v0.31.0 ${cfg} --node fleet-dev_x86-0 --platform linux/amd64,linux/386 ssh://x86-0.fleet-dev.nbf.invalid`,
                `buildx create --name fleet-dev-x86-0_preview --driver docker-container --driver-opt image=moby/buildkit:v0.31.0 ${cfg} --node fleet-dev_x86-0.preview --platform linux/amd64,linux/386 ssh://x86-0.fleet-dev.nbf.invalid`,
            ].sort(),
        );
        expect(
            box
                .calls()
                .slice(8)
                .filter((c) => !c.startsWith("buildx inspect")),
        ).toEqual([
            "buildx rm --keep-daemon fleet-dev",
            `buildx create --name fleet-dev --driver docker-container --driver-opt image=moby/buildkit:v0.31.0 ${cfg} --node fleet-dev_x86-0 --platform linux/amd64,linux/386 ssh://x86-0.fleet-dev.nbf.invalid`,
            `buildx create --append --name fleet-dev --driver docker-container ${cfg} --node fleet-dev_arm-0 --platform linux/arm64 ssh://arm-0.fleet-dev.nbf.invalid`,
        ]);
        expect(fs.readFileSync(path.join(dir, "id_fleet"), "utf8")).toBe("PRIVATE KEY MATERIAL\n");
        expect(fs.statSync(path.join(dir, "id_fleet")).mode & 0o777).toBe(0o600);
        expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
        expect(fs.readFileSync(path.join(dir, "known_hosts"), "utf8")).toBe(`i-x86-0 ${ARM_KEY}\ni-arm-0 ${ARM_KEY}\n`);
        expect(
            fs
                .readFileSync(path.join(box.home, ".ssh", "config"), "utf8")
                .split("\n")
                .slice(1, 4),
        ).toEqual(["Match originalhost *.nbf.invalid", `    Include "${box.root}/*/config"`, "Match all"]);
    });

    test("contacts no host and changes nothing when the same builders are already registered", async () => {
        const box = sandbox();
        await box.run(spec(), "preview");
        box.markRegistered(...ALL_BUILDERS);
        let before = box.calls().length;
        await box.run(spec(), "preview");
        expect(box.calls()).toHaveLength(before);
        await box.run(spec(), "register");
        before = box.calls().length;
        await box.run(spec(), "register");
        expect(box.calls()).toHaveLength(before);
    });

    test("re-registers on a fresh runner whose home still has the fingerprints", async () => {
        const box = sandbox();
        await box.run(spec(), "preview");
        await box.run(spec(), "preview");
        // Per run: two host builders, two preview builders, the stack's builder.
        expect(box.calls().filter((c) => c.startsWith("buildx create --name"))).toHaveLength(10);
    });

    test("a changed node re-registers only its own builder and the stack's, keeping BuildKit state", async () => {
        const box = sandbox();
        await box.run(spec(), "preview");
        box.markRegistered("fleet-dev", "fleet-dev-x86-0", "fleet-dev-arm-0");
        const changed = spec();
        changed.nodes[1].address = "203.0.113.99";
        const before = box.calls().length;
        await box.run(changed, "preview");
        // The ssh config is part of every builder's fingerprint: all re-register, none loses its daemon.
        expect(box.removals(before)).toEqual(
            expect.arrayContaining(["buildx rm --keep-daemon fleet-dev-arm-0", "buildx rm --keep-daemon fleet-dev"]),
        );
        expect(box.lostDaemons(before)).toEqual([]);
    });

    test("new driver options restart only that host's BuildKit container, keeping its cache, when the registration runs", async () => {
        const box = sandbox();
        const first = await box.run(spec(), "register");
        box.markRegistered(...ALL_BUILDERS);
        const changed = spec();
        changed.nodes[0].driverOptions = { image: "moby/buildkit:v0.31.0", "cpuset-cpus": "0" };
        const before = box.calls().length;
        await box.run(changed, "preview");
        expect(box.lostDaemons(before)).toEqual([]);
        // The previous output comes from the registration's state, not from this runner's files.
        await box.run(changed, "register", undefined, { PULUMI_COMMAND_STDOUT: JSON.stringify(first) });
        // The host's preview BuildKit started with the same settings: it restarts too.
        expect(box.lostDaemons(before)).toEqual([
            "buildx rm --keep-state fleet-dev-x86-0",
            "buildx rm --keep-state fleet-dev-x86-0_preview",
        ]);
        expect(box.logged).toContain("restarting BuildKit on x86-0: its driver options or buildkitd.toml changed");
    });

    test("a host that leaves the pool and comes back is still the stack's own; its builder is removed while it is gone", async () => {
        const box = sandbox();
        const both = spec();
        const one = { ...spec(), nodes: [spec().nodes[0]] };
        await box.run(both, "register");
        box.markRegistered("fleet-dev", "fleet-dev-x86-0", "fleet-dev-arm-0");
        await box.run(one, "preview");
        // A preview removes nothing: the gone host's builder stays listed as the stack's own.
        expect(fs.readFileSync(path.join(box.root, "fleet-dev", "builders"), "utf8")).toContain("fleet-dev-arm-0");
        await box.run(both, "preview");
        await box.run(one, "register");
        expect(box.calls()).toContain("buildx rm --keep-daemon fleet-dev-arm-0");
        fs.rmSync(path.join(box.home, ".docker", "buildx", "instances", "fleet-dev-arm-0"));
        expect(fs.readFileSync(path.join(box.root, "fleet-dev", "builders"), "utf8")).not.toContain("fleet-dev-arm-0");
        await expect(box.run(both, "preview")).resolves.toMatchObject({ down: [] });
        expect(fs.readFileSync(path.join(box.root, "fleet-dev", "builders"), "utf8")).toContain("fleet-dev-arm-0");
    });
});

describe("previews build on BuildKit state of their own (issue 20)", () => {
    /** The node each `buildx create` of `builder` names, in order. */
    const nodesOf = (calls: string[], builder: string) =>
        calls
            .filter(
                (c) =>
                    c.startsWith(`buildx create --name ${builder} `) ||
                    c.startsWith(`buildx create --append --name ${builder} `),
            )
            .map((c) => /--node (\S+)/.exec(c)![1]);

    test("a preview points each host's builder, which the images name, at the host's preview node; the stack's builder keeps the hosts' own", async () => {
        const box = sandbox();
        await box.run(spec(), "preview");
        expect(nodesOf(box.calls(), "fleet-dev-x86-0")).toEqual(["fleet-dev_x86-0.preview"]);
        expect(nodesOf(box.calls(), "fleet-dev-arm-0")).toEqual(["fleet-dev_arm-0.preview"]);
        expect(nodesOf(box.calls(), "fleet-dev-x86-0_preview")).toEqual(["fleet-dev_x86-0.preview"]);
        expect(nodesOf(box.calls(), "fleet-dev")).toEqual(["fleet-dev_x86-0", "fleet-dev_arm-0"]);
        // Same host, endpoint, platforms and settings: only the node, so the container and its state, differ.
        const create = box.calls().find((c) => c.startsWith("buildx create --name fleet-dev-x86-0 "));
        expect(create).toBe(
            "buildx create --name fleet-dev-x86-0 --driver docker-container --driver-opt image=moby/buildkit:v0.31.0 --node fleet-dev_x86-0.preview --platform linux/amd64,linux/386 ssh://x86-0.fleet-dev.nbf.invalid",
        );
    });

    test.each(["update", "register"] as const)(
        "%s points each host's builder back at the host's own node, keeping both BuildKit states",
        async (mode) => {
            const box = sandbox(inspectStub([]));
            await box.run(spec(), "preview");
            box.markRegistered(...ALL_BUILDERS);
            const before = box.calls().length;
            await box.run(spec(), mode);
            const calls = box.calls().slice(before);
            expect(nodesOf(calls, "fleet-dev-x86-0")).toEqual(["fleet-dev_x86-0"]);
            expect(nodesOf(calls, "fleet-dev-arm-0")).toEqual(["fleet-dev_arm-0"]);
            // Only the host builders move: the preview and stack builders are already what they should be.
            expect(box.removals(before).sort()).toEqual([
                "buildx rm --keep-daemon fleet-dev-arm-0",
                "buildx rm --keep-daemon fleet-dev-x86-0",
            ]);
            box.markRegistered(...ALL_BUILDERS);
            const again = box.calls().length;
            await box.run(spec(), "preview");
            expect(nodesOf(box.calls().slice(again), "fleet-dev-x86-0")).toEqual(["fleet-dev_x86-0.preview"]);
        },
    );

    test("an update starts the hosts' own nodes, never a preview node", async () => {
        const box = sandbox(inspectStub([]));
        await box.run(spec(), "update");
        expect(
            box
                .calls()
                .filter((c) => c.startsWith("buildx inspect"))
                .sort(),
        ).toEqual(["buildx inspect --bootstrap fleet-dev-arm-0", "buildx inspect --bootstrap fleet-dev-x86-0"]);
    });

    test("the preview builders are the stack's own, listed for the destroy and the CI clean-up", async () => {
        const box = sandbox();
        await box.run(spec(), "preview");
        expect(
            fs
                .readFileSync(path.join(box.root, "fleet-dev", "builders"), "utf8")
                .split("\n")
                .filter(Boolean)
                .sort(),
        ).toEqual([...ALL_BUILDERS].sort());
    });

    test("a preview builder that cannot be registered is logged; the host is not down for it", async () => {
        const box = sandbox(
            'if [ "$2" = create ] && [[ "$*" == *_preview* ]]; then echo "ERROR: no space left on device" >&2; exit 1; fi\n' +
                inspectStub([]),
        );
        const report = await box.run(spec(), "update");
        expect(report.down).toEqual([]);
        expect(box.logged).toContain(
            "the preview builder of x86-0 could not be registered: ERROR: no space left on device",
        );
    });

    test.each([
        ["fleet", "amd", "amd-preview"],
        ["fleet", "amd", "amd-0"],
        ["a", "b", "b-preview"],
        ["fleet_x", "amd", "amd"],
    ])("no host's own node is another's preview node (builder %p, hosts %p and %p)", (builder, host, other) => {
        const own = node(builder, other, "192.0.2.1", ["linux/amd64"]).node;
        expect(previewNode(node(builder, host, "192.0.2.1", ["linux/amd64"])).node).not.toBe(own);
        expect(previewBuilderName(builder, host)).not.toBe(hostBuilderName(builder, other));
        expect(previewBuilderName(builder, host)).toMatch(/^[a-zA-Z][a-zA-Z0-9._-]*$/); // buildx store/util.go namePattern
    });
});

describe("a preview and an update of one stack at once, as one user (real processes)", () => {
    /** The runner compiled with run.js's options (test/compiled.ts): a ts-node start takes seconds. */
    let built = "";
    beforeAll(() => {
        built = compileModules(["runner/cli.ts"]);
    });
    afterAll(() => fs.rmSync(built, { recursive: true, force: true }));
    /** A script named `pulumi` that runs the runner's entry point in `mode`, writes its exit code, then stays alive while `hold` exists. */
    function cli(box: ReturnType<typeof sandbox>, name: string, mode: Mode) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nbf-cli-${name}-`));
        const input = path.join(dir, "input.json");
        fs.writeFileSync(input, JSON.stringify({ spec: spec(), privateKey: "PRIVATE KEY MATERIAL" }));
        const script = path.join(dir, "pulumi");
        fs.writeFileSync(
            script,
            [
                "#!/bin/bash",
                `"${process.execPath}" "${built}/runner/cli.js" ${mode} < "${input}" > "${dir}/out" 2> "${dir}/err"`,
                // Written aside and renamed: the waiter polls for the file and reads it at once, and a
                // file the shell has created but not yet written reads empty (seen under load).
                `echo $? > "${dir}/rc.tmp"`,
                `mv "${dir}/rc.tmp" "${dir}/rc"`,
                `while [ -e "${dir}/hold" ]; do sleep 0.1; done`,
            ].join("\n"),
            { mode: 0o755 },
        );
        fs.writeFileSync(path.join(dir, "hold"), "");
        const child = execFile(script, [], { env: { ...process.env, ...box.env } });
        const done = async () => {
            for (let i = 0; i < 600 && !fs.existsSync(path.join(dir, "rc")); i++) {
                await new Promise((r) => setTimeout(r, 100));
            }
            return {
                rc: fs.readFileSync(path.join(dir, "rc"), "utf8").trim(),
                err: fs.readFileSync(path.join(dir, "err"), "utf8"),
            };
        };
        const end = () =>
            new Promise((r) => {
                child.on("exit", r);
                fs.rmSync(path.join(dir, "hold"));
            });
        return { done, end };
    }

    test("a preview refuses to start while an update's pulumi process lives, and runs once it ended; nothing is re-pointed meanwhile", async () => {
        const box = sandbox(inspectStub([]));
        const update = cli(box, "update", "update");
        expect((await update.done()).rc).toBe("0");
        const before = box.calls().length;
        const preview = cli(box, "preview", "preview");
        const refused = await preview.done();
        expect(refused.rc).toBe("1");
        expect(refused.err).toMatch(
            /^a pulumi update of this stack is running on this machine as this user \(pulumi process \d+\)/,
        );
        expect(box.calls()).toHaveLength(before);
        await preview.end();
        await update.end();
        const again = cli(box, "preview2", "preview");
        expect((await again.done()).rc).toBe("0");
        expect(
            box
                .calls()
                .filter((c) => c.startsWith("buildx create --name fleet-dev-x86-0 "))
                .pop(),
        ).toContain("--node fleet-dev_x86-0.preview ");
        await again.end();
    }, 120_000);
});

describe("nodes that do not answer", () => {
    test("an update reports each host whose node does not start, and the stack's builder leaves it out", async () => {
        const box = sandbox(inspectStub(["arm-0"]));
        const report = await box.run(spec(), "update");
        expect(report.down).toEqual([ARM_REFUSED]);
        expect(box.stackBuilderNodes()).toEqual(["fleet-dev_x86-0"]);
    });

    test("a preview starts no node", async () => {
        const box = sandbox(inspectStub(["arm-0"]));
        expect((await box.run(spec(), "preview")).down).toEqual([]);
        expect(box.calls().filter((c) => c.includes("inspect"))).toEqual([]);
    });

    test("a node whose builder cannot be created is down in an update", async () => {
        const box = sandbox(
            'if [ "$2" = create ] && [[ "$*" == *arm-0* ]]; then echo "ERROR: failed to initialize builder: ssh: Permission denied (publickey)" >&2; exit 1; fi\n' +
                inspectStub([]),
        );
        const report = await box.run(spec(), "update");
        expect(report.down.map((d) => [d.host, d.error])).toEqual([
            ["arm-0", "ERROR: failed to initialize builder: ssh: Permission denied (publickey)"],
        ]);
    });

    test("reads the verdict ssh prints after its banner, such as a host key that changed", () => {
        const out = [
            "Name: fleet-dev-arm-0",
            "Nodes:",
            "Name: fleet-dev-arm-0",
            "Endpoint: ssh://arm-0.fleet-dev.nbf.invalid",
            "Error: error during connect: ... stderr=@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
            "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
            "Host key verification failed.\r",
        ].join("\n");
        expect(inspectErrors(out).get("fleet-dev-arm-0")).toBe(
            "error during connect: ... stderr=@@@@@@@@@@@@@@@@@@@@@@@@@@@@ ... Host key verification failed.",
        );
        expect(inspectErrors(RUNNING("fleet-dev-x86-0")).size).toBe(0);
        // As buildx 0.35 prints a node that refused the connection: the line ends in a carriage return.
        expect(
            inspectErrors(
                'Nodes:\nName:   n\nDriver Options: image="x"\nError:  error during connect: ... Connection refused\r\n',
            ).get("n"),
        ).toBe("error during connect: ... Connection refused");
    });
});

describe("the node check in an update: one SSH round trip per host asks Docker and then BuildKit (issue 22)", () => {
    const script = scriptFile("host/buildkit-check.sh");
    const fleetNode = (host: string) => spec().nodes.find((n) => n.host === host)!;
    /** The node check's ssh call as the stub logs it: the script's line breaks escaped. */
    const question = (box: ReturnType<typeof sandbox>, host: string) =>
        `-F ${box.root}/fleet-dev/config ${host}.fleet-dev.nbf.invalid ${remoteCommand(nodeCheckStep(fleetNode(host), script)).replace(/\n/g, "\\n")}`;
    const STUCK =
        "BuildKit did not answer within 10 s (buildctl debug workers printed nothing); its container buildx_buildkit_fleet-dev_arm-0 runs, " +
        "so its daemon is stuck or starved: restart it on the host (docker restart buildx_buildkit_fleet-dev_arm-0), which keeps its cache";

    test("a node whose BuildKit answers is asked once over the stack's pinned ssh, and buildx inspects nothing", async () => {
        const box = sandbox(inspectStub([]));
        box.host("x86-0", { container: "true" });
        box.host("arm-0", { container: "true" });
        expect((await box.run(spec(), "update")).down).toEqual([]);
        expect(box.calls("ssh").sort()).toEqual([question(box, "arm-0"), question(box, "x86-0")]);
        expect(box.calls("on-arm-0")).toEqual([
            "docker container inspect --format {{.State.Running}} buildx_buildkit_fleet-dev_arm-0",
            "docker exec buildx_buildkit_fleet-dev_arm-0 buildctl debug workers",
        ]);
        expect(box.calls().filter((c) => c.startsWith("buildx inspect"))).toEqual([]);
    });

    test("a stopped or missing container is started by buildx inspect --bootstrap, on that host only", async () => {
        const box = sandbox(inspectStub([]));
        box.host("x86-0", { container: "true" });
        box.host("arm-0", { container: "false" });
        expect((await box.run(spec(), "update")).down).toEqual([]);
        expect(box.calls().filter((c) => c.startsWith("buildx inspect"))).toEqual([
            "buildx inspect --bootstrap fleet-dev-arm-0",
        ]);
        expect(box.calls("on-arm-0").filter((c) => c.startsWith("docker exec"))).toEqual([]);
        box.host("arm-0", {});
        const before = box.calls().length;
        expect((await box.run(spec(), "update")).down).toEqual([]);
        expect(
            box
                .calls()
                .slice(before)
                .filter((c) => c.startsWith("buildx inspect")),
        ).toEqual(["buildx inspect --bootstrap fleet-dev-arm-0"]);
    });

    test("a running container whose BuildKit does not answer in time is down with that cause, in the same round trip; its builds move", async () => {
        const box = sandbox(inspectStub([]));
        box.host("x86-0", { container: "true" });
        box.host("arm-0", { container: "true", buildkit: "hangs" });
        // The hosts' clock runs fast: timeout gives BuildKit 1 s for the runner's 10.
        fs.writeFileSync(path.join(box.home, "host-seconds"), "1");
        const report = await box.run(spec(), "update");
        expect(report.down).toEqual([
            { host: "arm-0", node: "fleet-dev_arm-0", platforms: ["linux/arm64"], error: STUCK },
        ]);
        expect(box.calls("ssh").sort()).toEqual([question(box, "arm-0"), question(box, "x86-0")]);
        // buildx would wait on it as well (its bootstrap asks the same question): it is not asked.
        expect(box.calls().filter((c) => c.startsWith("buildx inspect"))).toEqual([]);
        expect(box.stackBuilderNodes()).toEqual(["fleet-dev_x86-0"]);
    });

    test("a host whose Docker does not answer is down with that cause", async () => {
        const box = sandbox(inspectStub([]));
        box.host("x86-0", { container: "true" });
        box.host("arm-0", { docker: "hangs" });
        fs.writeFileSync(path.join(box.home, "host-seconds"), "1");
        const report = await box.run(spec(), "update");
        expect(report.down.map((d) => [d.host, d.error])).toEqual([
            [
                "arm-0",
                "Docker did not answer within 10 s: check the Docker daemon on the host (systemctl status docker)",
            ],
        ]);
        expect(box.calls().filter((c) => c.startsWith("buildx inspect"))).toEqual([]);
    });

    test("over a real sshd, the script reaches the host's shell intact: BuildKit that answers is up, one that hangs is down", async () => {
        const box = sandbox();
        // The host runs what it is sent with its Docker stand-in first on PATH; its clock runs fast.
        const lab = await labHost(box, [
            `ForceCommand env HOME='${box.home}' NBF_HOST=arm-0 PATH='${box.hostBin}':/usr/bin:/bin sh -c "$SSH_ORIGINAL_COMMAND"`,
        ]);
        fs.writeFileSync(path.join(box.home, "host-seconds"), "1");
        try {
            box.host("arm-0", { container: "true" });
            expect((await box.run(lab.spec, "update", lab.key)).down).toEqual([]);
            expect(box.calls("on-arm-0")).toEqual([
                "docker container inspect --format {{.State.Running}} buildx_buildkit_lab_arm-0",
                "docker exec buildx_buildkit_lab_arm-0 buildctl debug workers",
            ]);
            box.host("arm-0", { container: "true", buildkit: "hangs" });
            const report = await box.run(lab.spec, "update", lab.key);
            expect(report.down.map((d) => d.error)).toEqual([STUCK.replace(/fleet-dev_arm-0/g, "lab_arm-0")]);
            expect(box.calls().filter((c) => c.startsWith("buildx inspect"))).toEqual([]);
        } finally {
            lab.stop();
        }
    }, 30_000);

    test("BuildKit that fails at once (its socket not there yet) is left to buildx inspect --bootstrap, which waits for it as buildx does", async () => {
        const box = sandbox(inspectStub([]));
        box.host("x86-0", { container: "true" });
        box.host("arm-0", { container: "true", buildkit: "fails" });
        expect((await box.run(spec(), "update")).down).toEqual([]);
        expect(box.calls().filter((c) => c.startsWith("buildx inspect"))).toEqual([
            "buildx inspect --bootstrap fleet-dev-arm-0",
        ]);
    });

    test("a host ssh cannot reach is down with ssh's own verdict, without waiting for buildx to fail the same way; its builds move", async () => {
        const box = sandbox(inspectStub([]));
        box.host("x86-0", { container: "true" });
        box.sshFails("arm-0", [ARM_REFUSED.error]);
        const report = await box.run(spec(), "update");
        expect(report.down).toEqual([ARM_REFUSED]);
        expect(box.calls().filter((c) => c.startsWith("buildx inspect"))).toEqual([]);
        expect(box.stackBuilderNodes()).toEqual(["fleet-dev_x86-0"]);
    });

    test("a host key that no longer matches names ssh's verdict after its banner", async () => {
        const box = sandbox(inspectStub([]));
        box.host("x86-0", { container: "true" });
        const verdict = [
            "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
            "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
            "Host key verification failed.",
        ];
        box.sshFails("arm-0", verdict);
        const report = await box.run(spec(), "update");
        expect(report.down.map((d) => [d.host, d.error])).toEqual([
            ["arm-0", `${verdict[0]} ... Host key verification failed.`],
        ]);
    });

    const arm = node("fleet-dev", "arm-0", "192.0.2.1", ["linux/arm64"]);
    test.each<[string, number, string, string, ReturnType<typeof nodeCheckVerdict>]>([
        ["BuildKit answered", 0, "answers\n", "", { state: "up" }],
        ["an answer that is not exactly the word", 0, "answers\nanswers\n", "", { state: "bootstrap" }],
        ["the word with a failing status", 1, "answers\n", "", { state: "bootstrap" }],
        [
            "BuildKit silent, with what it printed",
            0,
            "buildkit-silent\n",
            "error: context deadline exceeded\n",
            {
                state: "down",
                error: STUCK.replace(" (buildctl debug workers printed nothing)", ": error: context deadline exceeded"),
            },
        ],
        ["BuildKit silent, printing nothing", 0, "buildkit-silent\n", "", { state: "down", error: STUCK }],
        [
            "Docker silent",
            0,
            "docker-silent\n",
            "",
            {
                state: "down",
                error: "Docker did not answer within 10 s: check the Docker daemon on the host (systemctl status docker)",
            },
        ],
        [
            "ssh failing, whatever the command printed",
            255,
            "answers\n",
            "ssh: connect to host 192.0.2.1 port 22: Connection timed out\n",
            { state: "down", error: "ssh: connect to host 192.0.2.1 port 22: Connection timed out" },
        ],
        [
            "no such container",
            1,
            "",
            "Error response from daemon: No such container: buildx_buildkit_fleet-dev_arm-0\n",
            { state: "bootstrap" },
        ],
        [
            "a stopped container",
            1,
            "",
            "buildkit-check: buildx_buildkit_fleet-dev_arm-0 is not running\n",
            { state: "bootstrap" },
        ],
        ["a host without timeout", 127, "", "sh: 1: timeout: not found\n", { state: "bootstrap" }],
    ])("reads %s", (_, code, stdout, stderr, verdict) => {
        expect(nodeCheckVerdict(arm, code, stdout, stderr)).toEqual(verdict);
    });

    test("waits NODE_ANSWER_SECONDS, which the messages name", () => {
        expect(NODE_ANSWER_SECONDS).toBe(10);
        expect(nodeCheckStep(arm, script).args).toEqual([buildkitContainer(arm), "10"]);
    });

    test("the container name reaches the host's script as one word, whatever the builder's name holds", () => {
        const odd = node("it's $(id)", "arm-0", "192.0.2.1", ["linux/arm64"]);
        const echo = { ...nodeCheckStep(odd, script), script: 'printf "%s|" "$0" "$@"' };
        expect(execFileSync("sh", ["-c", remoteCommand(echo)], { encoding: "utf8" })).toBe(
            "buildkit-check.sh|buildx_buildkit_it's $(id)_arm-0|10|",
        );
    });

    test("the script never exits 255, which the runner reads as ssh's own failure", () => {
        const box = sandbox();
        box.host("arm-0", { container: "true" });
        // A Docker CLI that exits 255 (as a broken one might) is a failure of the script's own.
        const r = box.onHost("arm-0", nodeCheckStep(fleetNode("arm-0"), script), "exit 255");
        expect([r.status, r.stdout]).toEqual([1, ""]);
        const bad = box.onHost("arm-0", { ...nodeCheckStep(fleetNode("arm-0"), script), args: ["c", "ten"] });
        expect([bad.status, bad.stderr]).toEqual([
            2,
            "buildkit-check: TIMEOUT must be a whole number of seconds, not 'ten'\n",
        ]);
    });
});

describe("idle hosts", () => {
    const wake = { instanceIds: ["i-x86-0", "i-arm-0"], region: "eu-west-1" };

    test("an update starts stopped hosts and waits until EC2 reports them running, then checks the nodes", async () => {
        const box = sandbox(inspectStub([]), "i-x86-0\\tstopped\\ni-arm-0\\trunning");
        expect((await box.run(spec({ wake }), "update")).down).toEqual([]);
        expect(box.logged).toContain("starting idle build hosts: i-x86-0");
        expect(box.calls("aws")).toEqual([
            "ec2 --region eu-west-1 describe-instances --instance-ids i-x86-0 i-arm-0 --query Reservations[].Instances[].[InstanceId,State.Name] --output text",
            "ec2 --region eu-west-1 start-instances --instance-ids i-x86-0",
            "ec2 --region eu-west-1 wait instance-running --instance-ids i-x86-0",
        ]);
    });

    test("waits for a host that is still stopping before starting it", async () => {
        const box = sandbox(inspectStub([]), "i-x86-0\\tstopping\\ni-arm-0\\tstopped");
        await box.run(spec({ wake }), "update");
        expect(box.calls("aws").slice(1)).toEqual([
            "ec2 --region eu-west-1 wait instance-stopped --instance-ids i-x86-0",
            "ec2 --region eu-west-1 start-instances --instance-ids i-x86-0 i-arm-0",
            "ec2 --region eu-west-1 wait instance-running --instance-ids i-x86-0 i-arm-0",
        ]);
    });

    test("after starting hosts, waits until each answers over SSH before registering", async () => {
        const box = sandbox(inspectStub([]), "i-x86-0\\tstopped\\ni-arm-0\\trunning");
        fs.writeFileSync(path.join(box.home, "ssh-fails"), "2");
        await box.run(spec({ wake }), "update");
        expect(box.calls("ssh").filter((c) => !c.includes("buildkit-check.sh"))).toEqual([
            ...["x86-0", "x86-0", "x86-0", "arm-0"].map(
                (h) => `-F ${box.root}/fleet-dev/config -o ConnectTimeout=10 ${h}.fleet-dev.nbf.invalid true`,
            ),
        ]);
    });

    test("a terminated host is an error that says how to replace it", async () => {
        const box = sandbox("", "i-x86-0\\tterminated\\ni-arm-0\\tstopped");
        await expect(box.run(spec({ wake }), "update")).rejects.toThrow(
            "build host i-x86-0 is terminated; run pulumi up --refresh to replace it",
        );
    });

    test("a preview never starts a host, nor registers a builder, which would contact stopped ones", async () => {
        const box = sandbox("", "i-x86-0\\tstopped\\ni-arm-0\\tstopped");
        expect((await box.run(spec({ wake }), "preview")).down).toEqual([]);
        expect(box.calls("aws")).toEqual([]);
        expect(box.calls()).toEqual([]);
    });
});

describe("nothing of anyone else's", () => {
    test("refuses a buildx builder of that name that this stack did not create", async () => {
        const box = sandbox();
        box.markRegistered("fleet-dev");
        await expect(box.run(spec(), "preview")).rejects.toThrow(
            "buildx builder fleet-dev already exists on this machine and was not created by stack native-build-fleet/dev",
        );
        expect(box.calls()).toEqual([]);
    });

    test("refuses the builder directory of another stack with the same builder name", async () => {
        const box = sandbox();
        await box.run(spec({ owner: "other-project/prod" }), "preview");
        await expect(box.run(spec(), "preview")).rejects.toThrow(
            "builder fleet-dev on this machine belongs to stack other-project/prod",
        );
    });

    test("adopts the builder of the previous version, which left a fingerprint and no owner", async () => {
        const box = sandbox();
        fs.mkdirSync(path.join(box.root, "fleet-dev"), { recursive: true });
        fs.writeFileSync(path.join(box.root, "fleet-dev", "fingerprint"), "old\n");
        box.markRegistered("fleet-dev");
        await expect(box.run(spec(), "preview")).resolves.toMatchObject({ down: [] });
    });

    test("refuses an SSH alias that another builder's files define", async () => {
        const box = sandbox();
        fs.mkdirSync(path.join(box.root, "leftover"), { recursive: true });
        fs.writeFileSync(
            path.join(box.root, "leftover", "config"),
            "Host arm-0.fleet-dev.nbf.invalid\n    HostName 192.0.2.1\n",
        );
        await expect(box.run(spec(), "preview")).rejects.toThrow(
            "the SSH alias arm-0.fleet-dev.nbf.invalid is already defined by builder leftover",
        );
    });

    test("two stacks on one machine whose old aliases collided (prod/eu-arm and prod-eu/arm) each reach their own host", async () => {
        const box = sandbox();
        await box.run(
            {
                name: "nbf-prod",
                owner: "nbf/prod",
                nodes: [node("nbf-prod", "eu-arm-0", "192.0.2.10", ["linux/arm64"])],
            },
            "preview",
        );
        await box.run(
            {
                name: "nbf-prod-eu",
                owner: "nbf/prod-eu",
                nodes: [node("nbf-prod-eu", "arm-0", "192.0.2.20", ["linux/arm64"])],
            },
            "preview",
        );
        expect(box.resolve(sshAlias("nbf-prod", "eu-arm-0"))("hostname")).toEqual(["192.0.2.10"]);
        expect(box.resolve(sshAlias("nbf-prod-eu", "arm-0"))("hostname")).toEqual(["192.0.2.20"]);
        expect(box.resolve(sshAlias("nbf-prod-eu", "arm-0"))("identityfile")).toEqual([
            path.join(box.root, "nbf-prod-eu", "id_fleet"),
        ]);
    });

    test("their node names, which name the BuildKit containers on a static host both share, differ too", () => {
        expect(nodeName("prod", "eu-arm")).not.toBe(nodeName("prod-eu", "arm"));
        expect([nodeName("prod", "eu-arm"), nodeName("prod-eu", "arm")]).toEqual(["prod_eu-arm", "prod-eu_arm"]);
    });

    test("a host builder whose node was renamed by this version loses its old BuildKit container; others keep theirs", async () => {
        const box = sandbox();
        fs.mkdirSync(path.join(box.home, ".docker", "buildx", "instances"), { recursive: true });
        await box.run(spec(), "preview");
        // As buildx records them: the arm host's builder still has the node name of the previous version.
        const instance = (b: string, n: string) => {
            fs.writeFileSync(
                path.join(box.home, ".docker", "buildx", "instances", b),
                JSON.stringify({ Name: b, Nodes: [{ Name: n }] }),
            );
            fs.rmSync(path.join(box.root, "fleet-dev", `fingerprint-${b}`));
        };
        instance("fleet-dev-arm-0", "fleet-dev-arm-0");
        instance("fleet-dev-x86-0", "fleet-dev_x86-0");
        await box.run(spec(), "preview");
        expect(box.calls().filter((c) => c.startsWith("buildx rm"))).toEqual(
            expect.arrayContaining(["buildx rm fleet-dev-arm-0", "buildx rm --keep-daemon fleet-dev-x86-0"]),
        );
        expect(box.calls()).not.toContain("buildx rm fleet-dev-x86-0");
    });

    test("an alias is never a name anything else resolves: builder com and host github do not capture github.com", async () => {
        const box = sandbox();
        fs.mkdirSync(path.join(box.home, ".ssh"), { recursive: true, mode: 0o700 });
        fs.writeFileSync(path.join(box.home, ".ssh", "config"), "Host github.com\n    User git\n");
        await box.run(
            { name: "com", owner: "nbf/com", nodes: [node("com", "github", "192.0.2.66", ["linux/arm64"])] },
            "preview",
        );
        const github = box.resolve("github.com");
        expect(github("hostname")).toEqual(["github.com"]);
        expect(github("user")).toEqual(["git"]);
        expect(github("identityfile")).not.toContain(path.join(box.root, "com", "id_fleet"));
        expect(github("userknownhostsfile")).not.toContain(path.join(box.root, "com", "known_hosts"));
        expect(github("setenv")).toEqual([]);
        expect(sshAlias("com", "github")).toBe("github.com.nbf.invalid");
        expect(box.resolve("github.com.nbf.invalid")("hostname")).toEqual(["192.0.2.66"]);
    });

    test("nothing in the fleet's files applies to any other host, even one its own Host patterns would match", async () => {
        const box = sandbox();
        await box.run(spec(), "preview");
        // A file of the fleet's directory with a catch-all block, as a later version or a
        // hand edit might leave: the scoped Include keeps it from every other host.
        fs.writeFileSync(
            path.join(box.root, "fleet-dev", "config"),
            `${fs.readFileSync(path.join(box.root, "fleet-dev", "config"), "utf8")}Host *\n    User fleet\n`,
        );
        expect(box.resolve("example.com")("user")).not.toEqual(["fleet"]);
        expect(box.resolve(sshAlias("fleet-dev", "arm-0"))("user")).toEqual(["ec2-user"]);
    });
});

describe("the user's own ssh_config", () => {
    const HOSTILE = [
        "Host *",
        "    StrictHostKeyChecking no",
        "    UserKnownHostsFile /dev/null",
        "    ForwardAgent yes",
        "    ControlMaster auto",
        "    ControlPath /tmp/shared-%r@%h:%p",
        "    ControlPersist yes",
        "    ProxyJump jump.example",
        "    UpdateHostKeys yes",
        "    VerifyHostKeyDNS yes",
        "    CheckHostIP yes",
        "    IdentityFile ~/.ssh/other_key",
        "    IdentityAgent /tmp/agent.sock",
        "    ForwardX11 yes",
        "    LocalForward 8080 localhost:80",
        "    RemoteForward 9090 localhost:22",
        "    PasswordAuthentication yes",
        "    HostKeyAlgorithms +ssh-rsa",
        "    KnownHostsCommand /bin/echo",
        "    PermitLocalCommand yes",
        "    LocalCommand touch /tmp/pwned",
        "    Tunnel yes",
        "    RequestTTY force",
        "    Ciphers +3des-cbc,aes128-cbc",
        "    MACs +hmac-md5",
        "    KexAlgorithms +diffie-hellman-group1-sha1",
        "    PubkeyAcceptedAlgorithms +ssh-rsa",
        "    RequiredRSASize 1024",
        "    PKCS11Provider /usr/lib/pkcs11.so",
        "    ForkAfterAuthentication yes",
        "    SessionType none",
        "    StdinNull yes",
        "    SendEnv AWS_* GITHUB_TOKEN",
        "    SetEnv LEAKED=1",
        "",
    ].join("\n");

    test.each([
        ["before the fleet's Include", (include: string) => `${HOSTILE}\n${include}\n`],
        ["with no Include yet", () => HOSTILE],
    ])("cannot weaken, redirect or share a fleet connection (user config %s)", async (_label, make) => {
        const box = sandbox();
        fs.mkdirSync(path.join(box.home, ".ssh"), { recursive: true, mode: 0o700 });
        fs.writeFileSync(path.join(box.home, ".ssh", "config"), make(`Include "${box.root}/*/config"`));
        await box.run(spec(), "preview");
        const text = fs.readFileSync(path.join(box.home, ".ssh", "config"), "utf8");
        expect(text.split(`Include "${box.root}/*/config"`)).toHaveLength(2);
        const option = box.resolve(sshAlias("fleet-dev", "arm-0"));
        expect(option("stricthostkeychecking")).toEqual(["true"]);
        expect(option("userknownhostsfile")).toEqual([path.join(box.root, "fleet-dev", "known_hosts")]);
        expect(option("globalknownhostsfile")).toEqual(["/dev/null"]);
        // IdentityFile accumulates and no config file can reset it (ssh_config(5)); the fleet's
        // key is first, so a user's other keys are offered only if the host refuses it.
        expect(option("identityfile")[0]).toBe(path.join(box.root, "fleet-dev", "id_fleet"));
        expect(option("identitiesonly")).toEqual(["yes"]);
        expect(option("identityagent")).toEqual(["none"]);
        expect(option("forwardagent")).toEqual(["no"]);
        expect(option("forwardx11")).toEqual(["no"]);
        expect(option("controlmaster")).toEqual(["false"]);
        expect(option("controlpath")).toEqual([]);
        expect(option("proxyjump")).toEqual([]);
        expect(option("proxycommand")).toEqual([]);
        expect(option("updatehostkeys")).toEqual(["false"]);
        expect(option("verifyhostkeydns")).toEqual(["false"]);
        expect(option("checkhostip")).toEqual(["no"]);
        expect(option("hostkeyalgorithms")).toEqual(["ssh-ed25519"]);
        expect(option("knownhostscommand")).toEqual([]);
        expect(option("permitlocalcommand")).toEqual(["no"]);
        expect(option("localforward")).toEqual([]);
        expect(option("remoteforward")).toEqual([]);
        expect(option("passwordauthentication")).toEqual(["no"]);
        expect(option("tunnel")).toEqual(["false"]);
        expect(option("requesttty")).toEqual(["false"]);
        expect(option("ciphers")[0]).not.toMatch(/3des|cbc/);
        expect(option("macs")[0]).not.toMatch(/md5/);
        expect(option("kexalgorithms")[0]).not.toMatch(/group1-sha1/);
        expect(option("pubkeyacceptedalgorithms")[0].split(",")).not.toContain("ssh-rsa");
        expect(option("requiredrsasize")).toEqual(["2048"]);
        expect(option("pkcs11provider")).toEqual([]);
        expect(option("forkafterauthentication")).toEqual(["no"]);
        expect(option("sessiontype")).toEqual(["default"]);
        expect(option("stdinnull")).toEqual(["no"]);
        expect(option("sendenv")).toEqual([]);
        expect(option("setenv")).toEqual(["NBF_FLEET=1"]);
        expect(option("hostname")).toEqual(["203.0.113.10"]);
        expect(option("port")).toEqual(["2222"]);
    });

    test("the runner's own ssh, which buildx runs to register and inspect nodes, reads no user ssh_config at all", async () => {
        const box = sandbox();
        fs.mkdirSync(path.join(box.home, ".ssh"), { recursive: true, mode: 0o700 });
        fs.writeFileSync(path.join(box.home, ".ssh", "config"), HOSTILE);
        // The docker stub does what buildx does for an ssh:// node: runs `ssh` from its PATH.
        const bin = box.bin;
        fs.writeFileSync(path.join(bin, "ssh"), '#!/bin/bash\nexec /usr/bin/ssh "$@"\n', { mode: 0o755 });
        fs.writeFileSync(
            path.join(bin, "docker"),
            `#!/bin/bash\nfor a; do case $a in ssh://*) ssh -G "\${a#ssh://}" > "$HOME/effective" 2>&1 ;; esac; done\nexit 0\n`,
            { mode: 0o755 },
        );
        await box.run(spec({ nodes: [spec().nodes[1]] }), "preview");
        const effective = fs.readFileSync(path.join(box.home, "effective"), "utf8").split("\n");
        expect(effective).toContain("hostname 203.0.113.10");
        expect(effective.filter((l) => l.startsWith("identityfile "))).toEqual([
            `identityfile ${box.root}/fleet-dev/id_fleet`,
        ]);
        expect(effective.filter((l) => /^(sendenv|certificatefile|localforward|proxyjump) /.test(l))).toEqual([
            "certificatefile none",
        ]);
        expect(effective).toContain("setenv NBF_FLEET=1");
    });

    test("against a real sshd that accepts every variable, neither a user's SendEnv nor SetEnv reaches a build host; the pinned one does", async () => {
        const box = sandbox();
        const lab = await labHost(box, ["AcceptEnv *"]);
        try {
            fs.mkdirSync(path.join(box.home, ".ssh"), { recursive: true, mode: 0o700 });
            fs.writeFileSync(
                path.join(box.home, ".ssh", "config"),
                "Host *\n    SendEnv LEAK\n    SetEnv LEAK2=from-user-config\n",
            );
            await box.run(lab.spec, "preview", lab.key);
            const remote = "echo LEAK=$LEAK LEAK2=$LEAK2 NBF_FLEET=$NBF_FLEET";
            const viaUserConfig = execFileSync(
                "/usr/bin/ssh",
                ["-F", path.join(box.home, ".ssh", "config"), sshAlias("lab", "arm-0"), remote],
                { env: { ...process.env, LEAK: "secret" }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
            );
            expect(viaUserConfig.trim()).toBe("LEAK= LEAK2= NBF_FLEET=1");
            const viaWrapper = execFileSync(
                path.join(box.root, "lab", "bin", "ssh"),
                [sshAlias("lab", "arm-0"), remote],
                { env: { ...process.env, LEAK: "secret" }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
            );
            expect(viaWrapper.trim()).toBe("LEAK= LEAK2= NBF_FLEET=1");
        } finally {
            lab.stop();
        }
    }, 30_000);

    test("a symlinked ~/.ssh/config stays a link; its target gets the Include", async () => {
        const box = sandbox();
        const target = path.join(box.home, "dotfiles", "ssh_config");
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, "Host example\n    User me\n");
        fs.mkdirSync(path.join(box.home, ".ssh"), { recursive: true, mode: 0o700 });
        fs.symlinkSync(target, path.join(box.home, ".ssh", "config"));
        await box.run(spec(), "preview");
        expect(fs.lstatSync(path.join(box.home, ".ssh", "config")).isSymbolicLink()).toBe(true);
        expect(fs.readFileSync(target, "utf8")).toBe(userSshConfig("Host example\n    User me\n", box.root));
        expect(fs.readFileSync(target, "utf8")).toContain("\nHost example\n    User me\n");
    });

    test("concurrent first runs of two stacks both end with one Include and both builders' files", async () => {
        const box = sandbox();
        await Promise.all([
            box.run(spec({}, "fleet-a"), "preview"),
            box.run({ ...spec({}, "fleet-b"), owner: "native-build-fleet/b" }, "preview"),
        ]);
        expect(fs.readFileSync(path.join(box.home, ".ssh", "config"), "utf8")).toBe(userSshConfig("", box.root));
        expect(
            fs.existsSync(path.join(box.root, "fleet-a", "config")) &&
                fs.existsSync(path.join(box.root, "fleet-b", "config")),
        ).toBe(true);
    });

    const HEAD = [
        "# native-build-fleet: begin (managed by the program; keep this block where it is)",
        "Match originalhost *.nbf.invalid",
        '    Include "/r/*/config"',
        "Match all",
        "# native-build-fleet: end",
    ].join("\n");
    const TAIL = [
        "# native-build-fleet: begin (managed by the program; keep this block where it is)",
        "Match originalhost *.nbf.invalid",
        "    SendEnv -*",
        "# native-build-fleet: end",
    ].join("\n");
    test.each([
        ["", `${HEAD}\n\n${TAIL}\n`],
        ["ForwardAgent yes\nHost *\n    User x\n", `${HEAD}\n\nForwardAgent yes\nHost *\n    User x\n\n${TAIL}\n`],
        // The unscoped Include of earlier versions goes; the blocks move back to first and last.
        ['Include "/r/*/config"\n\nHost a\n', `${HEAD}\n\nHost a\n\n${TAIL}\n`],
        [`Host b\n${HEAD}\n\nHost a\n${TAIL}\nHost c\n`, `${HEAD}\n\nHost b\n\nHost a\nHost c\n\n${TAIL}\n`],
    ])("puts the scoped Include first and the SendEnv reset last: %p", (before, after) => {
        expect(userSshConfig(before, "/r")).toBe(after);
        expect(userSshConfig(after, "/r")).toBe(after);
    });
});

describe("the Docker config docker-build answers build hosts' credential requests from", () => {
    test.each([
        ["{}", []],
        ['{"auths":{"ghcr.io":{"auth":"dTpw"},"empty.example":{}}}', ["ghcr.io"]],
        [
            '{"auths":{"r.example":{"identitytoken":"t"}},"credHelpers":{"123.dkr.ecr.us-east-1.amazonaws.com":"ecr-login"}}',
            ["r.example", "123.dkr.ecr.us-east-1.amazonaws.com (credential helper docker-credential-ecr-login)"],
        ],
        ['{"credsStore":"desktop"}', ["every login in credential store docker-credential-desktop"]],
        ["not json", []],
    ])("%s exposes %p", (config, exposed) => {
        expect(exposedCredentials(config)).toEqual(exposed);
    });

    test.each<[string, string | undefined, string[], string | undefined]>([
        ["no config file", undefined, ["docker-credential-secretservice"], "secretservice"],
        ["an empty config", "{}", ["pass", "docker-credential-pass"], "pass"],
        ["empty auths", '{"auths":{}}', ["docker-credential-secretservice"], "secretservice"],
        ["a config docker cannot read", "not json", ["docker-credential-secretservice"], "secretservice"],
        ["no helper on PATH", "{}", [], undefined],
        ["pass without its helper", "{}", ["pass", "docker-credential-secretservice"], undefined],
        [
            "one auths entry, even without credentials",
            '{"auths":{"nbf.invalid":{}}}',
            ["docker-credential-secretservice"],
            undefined,
        ],
        ["a store of its own", '{"credsStore":"desktop"}', ["docker-credential-secretservice"], undefined],
    ])("with %s, docker's default credential store is %p's", (_, config, onPath, store) => {
        expect(defaultCredentialStore(config, (program) => onPath.includes(program))).toBe(store);
    });

    test("a runner with no Docker config and docker-credential-secretservice on PATH is refused too, with a config that turns it off", async () => {
        const box = sandbox();
        const helpers = path.join(box.home, "helpers");
        fs.mkdirSync(helpers, { recursive: true });
        fs.writeFileSync(path.join(helpers, "docker-credential-secretservice"), "#!/bin/sh\n", { mode: 0o755 });
        const env = { PATH: `${helpers}:${process.env.PATH}` };
        await expect(box.run(spec(), "preview", undefined, env)).rejects.toThrow(
            "every login in credential store docker-credential-secretservice",
        );
        expect(box.calls()).toEqual([]);
        const config = path.join(box.home, "docker-clean");
        fs.mkdirSync(config, { recursive: true });
        fs.writeFileSync(path.join(config, "config.json"), '{"auths":{"nbf.invalid":{}}}');
        await expect(box.run(spec(), "preview", undefined, { ...env, DOCKER_CONFIG: config })).resolves.toBeDefined();
    });

    test("a preview refuses to go on while it holds credentials, naming them, the file and the fix; nothing is registered", async () => {
        const box = sandbox();
        fs.mkdirSync(path.join(box.home, ".docker"), { recursive: true });
        fs.writeFileSync(path.join(box.home, ".docker", "config.json"), '{"auths":{"ghcr.io":{"auth":"dTpw"}}}');
        const run = box.run(spec(), "preview");
        await expect(run).rejects.toThrow(
            `the Docker config ${path.join(box.home, ".docker", "config.json")} holds credentials for ghcr.io.`,
        );
        await expect(run).rejects.toThrow("export DOCKER_CONFIG=");
        expect(box.calls()).toEqual([]);
    });

    test("the prerequisites and troubleshooting pages give the refusal, why, the fix and what the opt-out costs", () => {
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-docker-docs-"));
        fs.mkdirSync(path.join(home, ".docker"));
        fs.writeFileSync(path.join(home, ".docker", "config.json"), '{"auths":{"ghcr.io":{"auth":"dTpw"}}}');
        const message = checkDockerCredentials({ HOME: home, PATH: "" }, () => undefined) ?? "";
        const doc = (name: string) =>
            fs.readFileSync(path.join(__dirname, "..", "docs", name), "utf8").replace(/\s+/g, " ");
        const [prerequisites, troubleshooting] = [doc("prerequisites.md"), doc("troubleshooting.md")];
        // What the refusal says after the file and registries it names, and the config it advises.
        const why = message.slice(message.indexOf(". ") + 2, message.indexOf(", so one"));
        const clean = /\{"auths":\{"nbf\.invalid":\{\}\}\}/.exec(message)?.[0] ?? "";
        const dir = /DOCKER_CONFIG="([^"]+)"/.exec(message)?.[1] ?? "";
        expect([why, clean, dir].every((part) => part.length > 0)).toBe(true);
        expect(troubleshooting).toContain("`the Docker config <file> holds credentials for <registries>. " + why);
        for (const page of [prerequisites, troubleshooting]) {
            expect(page).toContain(clean);
            expect(page).toContain("NBF_DOCKER_CREDENTIALS=allow");
            // The opt-out's cost: a compromised build host can obtain every credential of that config.
            expect(page).toMatch(/NBF_DOCKER_CREDENTIALS=allow[^|]*compromised build host[^|]*every credential/);
        }
        expect(prerequisites).toContain(`export DOCKER_CONFIG="${dir}"`);
    });

    test("NBF_DOCKER_CREDENTIALS=allow accepts the exposure with a warning; the registration itself does not check again", async () => {
        const box = sandbox();
        fs.mkdirSync(path.join(box.home, ".docker"), { recursive: true });
        fs.writeFileSync(path.join(box.home, ".docker", "config.json"), '{"credsStore":"pass"}');
        await box.run(spec(), "preview", undefined, { NBF_DOCKER_CREDENTIALS: "allow" });
        expect(box.logged.filter((l) => l.startsWith("warning: the Docker config"))).toHaveLength(1);
        await expect(box.run(spec(), "register")).resolves.toBeDefined();
    });
});
