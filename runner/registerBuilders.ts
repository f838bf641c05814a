// Registers the fleet's builders on the machine that runs Pulumi, and reports which nodes
// answer. Runs as `node bin/runner/cli.js <mode>` from a local command (runner/cli.ts), with
// the spec and the operator's private key as JSON on standard input.
//
// Modes:
// - preview: write the SSH files and register missing builders; contact no host otherwise, and
//   never start one. With idle pools it registers nothing, since `buildx create` contacts the
//   node (docker/buildx v0.35 builder/builder.go: Create loads every node and fails on one
//   that does not answer), and a stopped host would fail it. Each host's builder, which the
//   images name, points at the host's preview node (builderSpec.ts previewNode), so a preview
//   builds on BuildKit state that no update uses.
// - update: start idle hosts, register, then start every host's node and report those that do
//   not answer; the stack's builder is registered from the nodes that do. Each host's builder
//   points back at the host's own node, whatever a preview on this machine pointed it at.
// - register: what the registration resource runs on create and update; as preview, without
//   the idle-pool exception (the update's ensure step has started the hosts).

import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import {
    appliedSettings,
    briefly,
    builderNames,
    createArgs,
    definedAliases,
    DownNode,
    EnsureReport,
    FleetBuildersSpec,
    hostBuilderName,
    hostBuilderNode,
    inspectErrors,
    knownHosts,
    nodeCheckStep,
    nodeCheckVerdict,
    NodeSpec,
    PREVIEW_NODE_SUFFIX,
    previewBuilderName,
    previewNode,
    registrationFingerprint,
    specFingerprint,
    sshConfig,
    stackNodes,
    userSshConfig,
} from "./builderSpec";
import { shq } from "./quote";
import { checkDockerCredentials } from "./dockerConfig";
import { RunnerEnv, RunnerError } from "./process";
import { claimPurpose } from "./purposeLease";
import { remoteCommand } from "./readiness";
import { scriptFile } from "../host/scriptFiles";

export type Mode = "preview" | "update" | "register";

/** How long nodes may take to answer after their hosts were started. */
export const WAKE_TIMEOUT_SECONDS = 300;

// Shared with the runner's other entry points (runner/process.ts).
export { RunnerError } from "./process";
export type { RunnerEnv } from "./process";

interface Result {
    code: number;
    stdout: string;
    stderr: string;
}

function run(env: RunnerEnv, file: string, args: string[], input?: string): Promise<Result> {
    return new Promise((resolve) => {
        const child = execFile(file, args, { env: env.env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === "number" ? error.code : 127;
            resolve({
                code,
                stdout: String(stdout),
                stderr: error !== null && code === 127 && !stderr ? error.message : String(stderr),
            });
        });
        // A command that never reads its input must not fail the call.
        child.stdin?.on("error", () => undefined);
        child.stdin?.end(input ?? "");
    });
}

/** Where this user's files live: OpenSSH finds ~/.ssh through the passwd entry, not $HOME. */
async function paths(env: RunnerEnv, spec: FleetBuildersSpec) {
    const uid = String(process.getuid?.() ?? 0);
    const entry = await run(env, "getent", ["passwd", uid]);
    const home = entry.code === 0 ? entry.stdout.trim().split(":")[5] : undefined;
    if (!home) {
        throw new RunnerError(
            `could not find the home directory of user ${uid} in the passwd database (getent passwd ${uid})`,
        );
    }
    const e = env.env;
    const buildx = e.BUILDX_CONFIG ?? path.join(e.DOCKER_CONFIG ?? path.join(e.HOME ?? home, ".docker"), "buildx");
    const root = path.join(home, ".ssh", "native-build-fleet");
    return { home, root, dir: path.join(root, spec.name), instances: path.join(buildx, "instances") };
}

type Paths = Awaited<ReturnType<typeof paths>>;

function readOr(file: string, fallback: string): string {
    try {
        return fs.readFileSync(file, "utf8");
    } catch {
        return fallback;
    }
}

/** Writes `content` to `file` through a temporary file in the same directory, so readers never see half of it. */
function writeAtomic(file: string, content: string, mode = 0o600): void {
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, content, { mode });
    fs.renameSync(tmp, file);
}

/** Runs `fn` holding a lock directory; concurrent first runs of two stacks take turns. */
async function withLock<T>(env: RunnerEnv, lock: string, fn: () => T): Promise<T> {
    const deadline = env.now() + 30_000;
    // The lock is held only while files are written (milliseconds): one older than this is
    // left by a run that died, and is moved aside before removal, so two waiters cannot both take it.
    const STALE_MS = 10_000;
    for (;;) {
        try {
            fs.mkdirSync(lock);
            break;
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
                throw e;
            }
            const age = env.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? env.now());
            if (age > STALE_MS) {
                const aside = `${lock}.stale.${process.pid}`;
                try {
                    fs.renameSync(lock, aside);
                    fs.rmSync(aside, { recursive: true, force: true });
                } catch {
                    // Another waiter moved it first.
                }
            } else if (env.now() > deadline) {
                throw new RunnerError(
                    `${lock} is held by another run for more than 30 s; remove it if no pulumi run is active`,
                );
            } else {
                await env.sleep(0.2);
            }
        }
    }
    try {
        return fn();
    } finally {
        fs.rmSync(lock, { recursive: true, force: true });
    }
}

/**
 * Refuses to touch a builder this stack did not create: an instance of that name that is not
 * listed as ours, or our directory claimed by another stack. Directories of the previous
 * version (a fingerprint, no owner) are adopted for the stack's own builder.
 */
function checkOwnership(spec: FleetBuildersSpec, p: Paths): void {
    const owner = readOr(path.join(p.dir, "owner"), "").trim();
    if (owner !== "" && owner !== spec.owner) {
        throw new RunnerError(
            `builder ${spec.name} on this machine belongs to stack ${owner}, not ${spec.owner}; set builder.name to a name of this stack's own`,
        );
    }
    const ours = new Set(listedBuilders(p));
    if (owner === "" && fs.existsSync(path.join(p.dir, "fingerprint"))) {
        ours.add(spec.name);
    }
    const foreign = builderNames(spec).filter((b) => fs.existsSync(path.join(p.instances, b)) && !ours.has(b));
    if (foreign.length > 0) {
        throw new RunnerError(
            `buildx builder ${foreign.join(", ")} already exists on this machine and was not created by stack ${spec.owner}; ` +
                "nothing was changed. Remove it (docker buildx rm NAME) if it is a leftover, or set builder.name to another name",
        );
    }
}

/** The builders the stack's directory lists as its own. */
function listedBuilders(p: Paths): string[] {
    return readOr(path.join(p.dir, "builders"), "").split("\n").filter(Boolean);
}

/**
 * Builders this stack registered for hosts it no longer has: kept in its list until removed,
 * so the stack still knows them as its own (a host that comes back is not refused).
 */
function leftBehind(spec: FleetBuildersSpec, p: Paths): string[] {
    const current = builderNames(spec);
    return listedBuilders(p).filter((b) => !current.includes(b) && fs.existsSync(path.join(p.instances, b)));
}

/** Refuses an alias another builder's files define: ssh would use the first block it reads. */
function checkAliases(spec: FleetBuildersSpec, p: Paths): void {
    const others = fs.existsSync(p.root)
        ? fs.readdirSync(p.root).filter((d) => d !== spec.name && !d.startsWith("."))
        : [];
    for (const other of others) {
        const taken = new Set(definedAliases(readOr(path.join(p.root, other, "config"), "")));
        const clash = spec.nodes.filter((n) => taken.has(n.alias)).map((n) => n.alias);
        if (clash.length > 0) {
            throw new RunnerError(
                `the SSH alias ${clash.join(", ")} is already defined by builder ${other} (${path.join(p.root, other, "config")}); ` +
                    "nothing was changed. Remove that builder's directory if it is a leftover, or choose another builder.name",
            );
        }
    }
}

/** The identity (from standard input), pinned known_hosts, buildkitd.toml and ssh_config; the Include goes first. */
async function writeSshFiles(env: RunnerEnv, spec: FleetBuildersSpec, privateKey: string, p: Paths): Promise<void> {
    const ssh = path.join(p.home, ".ssh");
    fs.mkdirSync(p.dir, { recursive: true, mode: 0o700 });
    for (const d of [ssh, p.root, p.dir]) {
        fs.chmodSync(d, 0o700);
    }
    await withLock(env, path.join(p.root, ".lock"), () => {
        checkOwnership(spec, p);
        checkAliases(spec, p);
        writeAtomic(path.join(p.dir, "owner"), `${spec.owner}\n`);
        writeAtomic(path.join(p.dir, "builders"), `${[...builderNames(spec), ...leftBehind(spec, p)].join("\n")}\n`);
        writeAtomic(path.join(p.dir, "id_fleet"), privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`);
        writeAtomic(path.join(p.dir, "known_hosts"), knownHosts(spec));
        if (spec.buildkitdConfig !== undefined) {
            writeAtomic(path.join(p.dir, "buildkitd.toml"), spec.buildkitdConfig);
        }
        writeAtomic(path.join(p.dir, "config"), sshConfig(spec, p.dir));
        fs.mkdirSync(path.join(p.dir, "bin"), { recursive: true, mode: 0o700 });
        writeAtomic(path.join(p.dir, "bin", "ssh"), sshWrapper(realSsh(env, p), path.join(p.dir, "config")), 0o700);
        // A symlinked ~/.ssh/config (dotfile managers) stays a link: its target is edited.
        const link = path.join(ssh, "config");
        const target = fs.existsSync(link) ? fs.realpathSync(link) : link;
        const current = readOr(target, "");
        const wanted = userSshConfig(current, p.root);
        if (wanted !== current) {
            const mode = fs.existsSync(target) ? fs.statSync(target).mode & 0o777 : 0o600;
            writeAtomic(target, wanted, mode);
        }
    });
}

/**
 * The `ssh` the runner's own commands find first on PATH: OpenSSH with only this stack's
 * file (`-F` reads no user or system ssh_config, ssh(1)). buildx runs `ssh` from PATH for
 * `ssh://` nodes with no way to pass flags (docker/cli v29.5.3 cli/connhelper/connhelper.go:
 * `commandconn.New(ctx, "ssh", sshArgs...)`), so this is how registration, inspection and
 * removal by the runner read no user ssh_config. The builds run in docker-build's provider
 * process, whose PATH the program cannot set: they use the user's ssh_config (userSshConfig).
 */
export function sshWrapper(ssh: string, config: string): string {
    return `#!/bin/sh\n# Generated by native-build-fleet (runner/registerBuilders.ts): this stack's ssh_config only.\nexec ${shq(ssh)} -F ${shq(config)} "$@"\n`;
}

/** The first `ssh` on PATH other than a fleet wrapper (docs/hosts.md: a user may put one first on PATH for builds). */
function realSsh(env: RunnerEnv, p: Paths): string {
    const dirs = (env.env.PATH ?? "")
        .split(":")
        .filter((d) => d !== "" && !path.resolve(d).startsWith(`${p.root}${path.sep}`));
    const found = dirs
        .map((d) => path.join(d, "ssh"))
        .find((f) => {
            try {
                fs.accessSync(f, fs.constants.X_OK);
                return fs.statSync(f).isFile();
            } catch {
                return false;
            }
        });
    if (found === undefined) {
        throw new RunnerError(
            "the OpenSSH client (ssh) is not on PATH; buildx needs it to reach the build hosts: install openssh-client",
        );
    }
    return found;
}

/** The runner's environment with the stack's ssh wrapper first on PATH. */
function withWrapper(env: RunnerEnv, p: Paths): RunnerEnv {
    return { ...env, env: { ...env.env, PATH: [path.join(p.dir, "bin"), env.env.PATH ?? ""].join(":") } };
}

/** Every AWS CLI call the runner makes (examples/iam maps each to the IAM actions it needs). */
export const EC2_CALLS = [
    "describe-instances",
    "start-instances",
    "wait instance-stopped",
    "wait instance-running",
] as const;

/** Starts the idle hosts that are stopped and waits until EC2 reports them running; true when it started any. */
async function wake(env: RunnerEnv, wakeSpec: NonNullable<FleetBuildersSpec["wake"]>): Promise<boolean> {
    const ec2 = (call: (typeof EC2_CALLS)[number], args: string[]) =>
        run(env, "aws", [
            "ec2",
            ...(wakeSpec.region ? ["--region", wakeSpec.region] : []),
            ...call.split(" "),
            ...args,
        ]);
    const ids = wakeSpec.instanceIds;
    const states = await ec2("describe-instances", [
        "--instance-ids",
        ...ids,
        "--query",
        "Reservations[].Instances[].[InstanceId,State.Name]",
        "--output",
        "text",
    ]);
    if (states.code !== 0) {
        throw new RunnerError(
            `could not read the states of the idle build hosts: ${(states.stderr || states.stdout).trim()}\nA host EC2 no longer knows is replaced by pulumi up --refresh.`,
        );
    }
    const rows = states.stdout
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((line) => line.trim().split(/\s+/));
    const inState = (...want: string[]) => rows.filter(([, s]) => want.includes(s)).map(([id]) => id);
    const gone = inState("shutting-down", "terminated");
    if (gone.length > 0) {
        throw new RunnerError(
            gone.map((id) => `build host ${id} is terminated; run pulumi up --refresh to replace it`).join("\n"),
        );
    }
    const must = async (r: Promise<Result>) => {
        const result = await r;
        if (result.code !== 0) {
            throw new RunnerError(`aws ec2 failed: ${(result.stderr || result.stdout).trim()}`);
        }
    };
    if (inState("stopping").length > 0) {
        await must(ec2("wait instance-stopped", ["--instance-ids", ...inState("stopping")]));
    }
    const asleep = inState("stopping", "stopped");
    if (asleep.length > 0) {
        env.log(`starting idle build hosts: ${asleep.join(" ")}`);
        await must(ec2("start-instances", ["--instance-ids", ...asleep]));
    }
    const starting = inState("stopping", "stopped", "pending");
    if (starting.length > 0) {
        await must(ec2("wait instance-running", ["--instance-ids", ...starting]));
    }
    return starting.length > 0;
}

/** Registers `builder` from `nodes` unless exactly that is registered; returns the nodes it could not add. */
async function register(
    env: RunnerEnv,
    spec: FleetBuildersSpec,
    p: Paths,
    builder: string,
    nodes: { node: NodeSpec; platforms: string[] }[],
): Promise<DownNode[]> {
    const fingerprint = registrationFingerprint(spec, nodes);
    const stamp = path.join(p.dir, `fingerprint-${builder}`);
    if (fs.existsSync(path.join(p.instances, builder)) && readOr(stamp, "").trim() === fingerprint) {
        return [];
    }
    // --keep-daemon keeps each node's BuildKit container and its layer cache; a node whose
    // settings changed is restarted by the registration resource (restartChanged). A host
    // builder whose node was renamed (`<builder>-<host>` became `<builder>_<host>`) loses its
    // old container instead, which nothing would reach again; an unreachable host keeps it.
    // Moving between the host's own node and its preview node (hostBuilderNode) is no rename:
    // both containers stay.
    const renamed =
        nodes.length === 1 &&
        registeredNodes(p, builder).some((n) => !samePurposeNodes(nodes[0].node.node).includes(n));
    if (!renamed || (await run(env, "docker", ["buildx", "rm", builder])).code !== 0) {
        await run(env, "docker", ["buildx", "rm", "--keep-daemon", builder]);
    }
    fs.rmSync(stamp, { force: true });
    const failed: DownNode[] = [];
    let added = 0;
    for (const { node, platforms } of nodes) {
        const result = await run(
            env,
            "docker",
            createArgs(builder, node, platforms, added > 0, p.dir, spec.buildkitdConfig !== undefined),
        );
        if (result.code === 0) {
            added++;
        } else {
            failed.push({
                host: node.host,
                node: node.node,
                platforms,
                error: briefly(result.stderr || result.stdout),
            });
        }
        env.log(`${result.code === 0 ? "registered" : "could not register"} node ${node.node} of builder ${builder}`);
    }
    if (failed.length === 0) {
        writeAtomic(stamp, `${fingerprint}\n`);
    }
    return failed;
}

/** A host's own node and its preview node, from either of them. */
function samePurposeNodes(node: string): string[] {
    const own = node.endsWith(PREVIEW_NODE_SUFFIX) ? node.slice(0, -PREVIEW_NODE_SUFFIX.length) : node;
    return [own, `${own}${PREVIEW_NODE_SUFFIX}`];
}

/** The node names buildx recorded for `builder` (its instances file); none when it has no record. */
function registeredNodes(p: Paths, builder: string): string[] {
    try {
        const instance = JSON.parse(readOr(path.join(p.instances, builder), "{}")) as { Nodes?: { Name?: string }[] };
        return (instance.Nodes ?? []).flatMap((n) => (typeof n.Name === "string" ? [n.Name] : []));
    } catch {
        return [];
    }
}

/**
 * Starts the node of each host builder; the error of each that does not answer. One SSH round
 * trip per host (host/buildkit-check.sh, builderSpec.ts nodeCheckVerdict) settles a node whose
 * BuildKit container runs: up when BuildKit answers, down with the cause when it or Docker does
 * not within NODE_ANSWER_SECONDS, or when ssh itself fails. Measured here, `buildx inspect
 * --bootstrap` took 1.55 s more than a check that contacts no host (README, "Benchmarks"), for
 * a docker CLI, several connections over ssh and BuildKit's worker list. Any other answer (no
 * container, a stopped one) goes to `buildx inspect --bootstrap`, which starts the container
 * or reports the node's error in buildx's words.
 */
async function checkNodes(env: RunnerEnv, spec: FleetBuildersSpec, nodes: NodeSpec[]): Promise<DownNode[]> {
    const script = scriptFile("host/buildkit-check.sh");
    const results = await Promise.all(
        nodes.map(async (node) => {
            const quick = await run(env, "ssh", [node.alias, remoteCommand(nodeCheckStep(node, script))]);
            const verdict = nodeCheckVerdict(node, quick.code, quick.stdout, quick.stderr);
            if (verdict.state === "up") {
                return [];
            }
            if (verdict.state === "down") {
                return [{ host: node.host, node: node.node, platforms: node.platforms, error: verdict.error }];
            }
            const builder = hostBuilderName(spec.name, node.host);
            const r = await run(env, "docker", ["buildx", "inspect", "--bootstrap", builder]);
            const error =
                r.code !== 0
                    ? briefly(r.stderr || r.stdout)
                    : inspectErrors(r.stdout + (r.stderr ? `\n${r.stderr}` : "")).get(node.node);
            return error === undefined ? [] : [{ host: node.host, node: node.node, platforms: node.platforms, error }];
        }),
    );
    return results.flat();
}

/** After hosts were started: the nodes that do not answer over SSH within the wake timeout. */
async function waitForSsh(env: RunnerEnv, nodes: NodeSpec[]): Promise<DownNode[]> {
    const deadline = env.now() + WAKE_TIMEOUT_SECONDS * 1000;
    const down: DownNode[] = [];
    for (const node of nodes) {
        while ((await run(env, "ssh", ["-o", "ConnectTimeout=10", node.alias, "true"])).code !== 0) {
            if (env.now() >= deadline) {
                down.push({
                    host: node.host,
                    node: node.node,
                    platforms: node.platforms,
                    error: `did not answer over SSH within ${WAKE_TIMEOUT_SECONDS}s of its host starting`,
                });
                break;
            }
            await env.sleep(10);
        }
    }
    return down;
}

/** Makes the builders exist on this machine; in updates, reports which nodes do not answer. */
export async function ensureBuilders(
    spec: FleetBuildersSpec,
    privateKey: string,
    mode: Mode,
    runnerEnv: RunnerEnv,
): Promise<EnsureReport> {
    const refused = mode === "register" ? undefined : checkDockerCredentials(runnerEnv.env, runnerEnv.log);
    if (refused !== undefined) {
        throw new RunnerError(refused);
    }
    const idle = spec.wake !== undefined && spec.wake.instanceIds.length > 0;
    const woke = idle && mode === "update" ? await wake(runnerEnv, spec.wake!) : false;
    const p = await paths(runnerEnv, spec);
    await writeSshFiles(runnerEnv, spec, privateKey, p);
    const env = withWrapper(runnerEnv, p);
    const report: EnsureReport = { fingerprint: specFingerprint(spec), down: [] };
    if (idle && mode === "preview") {
        return report;
    }
    // Before any builder is pointed anywhere: refuse to run beside another CLI's run of this
    // stack for the other purpose (runner/purposeLease.ts).
    await withLock(env, path.join(p.root, ".lock"), () =>
        claimPurpose(p.dir, mode === "preview" ? "preview" : "update", (m) => new RunnerError(m)),
    );
    const unreachable = woke ? await waitForSsh(env, spec.nodes) : [];
    const live = () => spec.nodes.filter((n) => ![...unreachable, ...report.down].some((d) => d.host === n.host));
    // A host's builder is re-pointed whenever the mode changes (its fingerprint names the node):
    // `buildx rm --keep-daemon` and `create`, which contact the host but start nothing.
    const notAdded = (
        await Promise.all(
            live().map(async (node) => {
                const [own] = await Promise.all([
                    register(env, spec, p, hostBuilderName(spec.name, node.host), [
                        { node: hostBuilderNode(node, mode === "preview"), platforms: node.platforms },
                    ]),
                    registerPreviewBuilder(env, spec, p, node),
                ]);
                return own;
            }),
        )
    ).flat();
    if (mode === "update") {
        report.down.push(...unreachable, ...notAdded);
        const deadline = env.now() + (woke ? WAKE_TIMEOUT_SECONDS * 1000 : 0);
        let failing = await checkNodes(env, spec, live());
        while (failing.length > 0 && env.now() < deadline) {
            await env.sleep(10);
            failing = await checkNodes(env, spec, live());
        }
        report.down.push(...failing);
    } else {
        notAdded.forEach((d) => env.log(`build node ${d.node} could not be registered: ${d.error}`));
    }
    const stackBuilder = stackNodes(
        spec,
        report.down.map((d) => d.host),
    );
    if (mode !== "register" || !fs.existsSync(path.join(p.instances, spec.name))) {
        const skipped = await register(env, spec, p, spec.name, stackBuilder);
        skipped.forEach((d) => env.log(`build node ${d.node} is left out of builder ${spec.name}: ${d.error}`));
    }
    if (mode === "register") {
        await restartChanged(env, spec, p, previousReport(env.env.PULUMI_COMMAND_STDOUT));
        await removeLeftBehind(env, spec, p);
    }
    return { ...report, applied: appliedSettings(spec) };
}

/**
 * Registers a host's preview builder, which holds its preview node alone: no build names it,
 * but through it an update restarts the preview BuildKit with new settings and a destroy
 * removes its container and state. Its failure only logs: the host's own builder reports.
 */
async function registerPreviewBuilder(
    env: RunnerEnv,
    spec: FleetBuildersSpec,
    p: Paths,
    node: NodeSpec,
): Promise<void> {
    const failed = await register(env, spec, p, previewBuilderName(spec.name, node.host), [
        { node: previewNode(node), platforms: node.platforms },
    ]);
    failed.forEach((d) => env.log(`the preview builder of ${d.host} could not be registered: ${d.error}`));
}

/** The previous registration's report, from the command provider's PULUMI_COMMAND_STDOUT; empty before it had one. */
function previousReport(stdout: string | undefined): Partial<EnsureReport> {
    try {
        return JSON.parse(stdout ?? "") as Partial<EnsureReport>;
    } catch {
        return {};
    }
}

/**
 * Restarts the BuildKit container of each host whose settings (driver options, buildkitd.toml)
 * changed since the registration last ran, as its state in Pulumi remembers: a container keeps
 * the settings it started with, and a runner's own files cannot tell (a CI runner starts
 * empty). `--keep-state` keeps the layer cache; the next build starts the container anew.
 */
async function restartChanged(
    env: RunnerEnv,
    spec: FleetBuildersSpec,
    p: Paths,
    previous: Partial<EnsureReport>,
): Promise<void> {
    const now = appliedSettings(spec);
    const changed = spec.nodes.filter(
        (n) => previous.applied?.[n.host] !== undefined && previous.applied[n.host] !== now[n.host],
    );
    for (const node of changed) {
        const builder = hostBuilderName(spec.name, node.host);
        env.log(`restarting BuildKit on ${node.host}: its driver options or buildkitd.toml changed`);
        const r = await run(env, "docker", ["buildx", "rm", "--keep-state", builder]);
        if (r.code !== 0) {
            throw new RunnerError(
                `could not restart BuildKit on ${node.host} with its new settings: ${briefly(r.stderr || r.stdout)}`,
            );
        }
        await register(env, spec, p, builder, [{ node, platforms: node.platforms }]);
        // The preview BuildKit started with the same settings; a missing container is no error.
        const preview = previewBuilderName(spec.name, node.host);
        const rp = await run(env, "docker", ["buildx", "rm", "--keep-state", preview]);
        if (rp.code !== 0) {
            env.log(`could not restart the preview BuildKit on ${node.host}: ${briefly(rp.stderr || rp.stdout)}`);
        }
        await registerPreviewBuilder(env, spec, p, node);
    }
}

/** Removes the builders of hosts the stack no longer has (their local entries only: the hosts may be gone). */
async function removeLeftBehind(env: RunnerEnv, spec: FleetBuildersSpec, p: Paths): Promise<void> {
    const gone = leftBehind(spec, p);
    for (const builder of gone) {
        await run(env, "docker", ["buildx", "rm", "--keep-daemon", builder]);
    }
    if (gone.length > 0) {
        writeAtomic(path.join(p.dir, "builders"), `${builderNames(spec).join("\n")}\n`);
    }
}
