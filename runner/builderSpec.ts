// What the fleet's builders are, as data, and the pure functions that render it: the ssh
// configuration, the pinned known_hosts, the `buildx create` argument lists, fingerprints, and
// the reading of `buildx inspect` output. runner/registerBuilders.ts applies them on the
// machine that runs Pulumi; components/builder.ts builds the spec.
//
// buildx reaches `ssh://` nodes through the local OpenSSH client and accepts no extra flags
// (provider notes, "buildx multi-node builders over SSH"), so identity, known_hosts and
// host-key policy must come from the user's ssh configuration. Each stack keeps one directory
// under ~/.ssh/native-build-fleet/ and includes it first from ~/.ssh/config.

import { createHash } from "crypto";
import type { RemoteStep } from "./readiness";

/** One build host as a buildx node. */
export interface NodeSpec {
    /** The host's name in the stack (`<pool>-<index>` or a static host's name). */
    host: string;
    /** buildx node name, `<builder>_<host>` (nodeName); BuildKit runs on the host as `buildx_buildkit_<node>`. */
    node: string;
    /** SSH host alias, `<host>.<builder>.nbf.invalid` (sshAlias). */
    alias: string;
    address: string;
    port: number;
    user: string;
    /** The host's public key line (`ssh-ed25519 AAAA…`). */
    hostKey: string;
    /** Stable identity the key is pinned under (the instance id for EC2 hosts). */
    hostKeyAlias: string;
    /** What the host's own builder declares: every platform it builds, native first. */
    platforms: string[];
    /** What the node declares in the stack's builder (routing.ts `stackPlatforms`). */
    stackPlatforms: string[];
    /** How ssh reaches the host when not directly (an SSM session); `address` is then its target. */
    proxyCommand?: string;
    /** docker-container driver options (`--driver-opt key=value`) of this node. */
    driverOptions: Record<string, string>;
}

export interface FleetBuildersSpec {
    /** The stack's builder, `<project>-<stack>` unless configured. */
    name: string;
    /** `<project>/<stack>`: who made the builders; nothing of anyone else's is changed or removed. */
    owner: string;
    /** Nodes in the stack builder's order: native groups first. */
    nodes: NodeSpec[];
    /** Contents of a buildkitd.toml for every node, if any. */
    buildkitdConfig?: string;
    /** EC2 hosts that power off when idle: updates start them before anything builds. */
    wake?: { instanceIds: string[]; region?: string };
}

/** A node that did not answer, as the ensure step reports it. */
export interface DownNode {
    host: string;
    node: string;
    platforms: string[];
    error: string;
}

/** The ensure step's answer on standard output. */
export interface EnsureReport {
    /** Digest of the whole spec; the registration resource changes with it. */
    fingerprint: string;
    down: DownNode[];
    /** Per host, a digest of the settings its BuildKit container starts with (appliedSettings). */
    applied?: Record<string, string>;
}

/** Per host, a digest of what its BuildKit container is started with: driver options and buildkitd.toml. */
export function appliedSettings(spec: FleetBuildersSpec): Record<string, string> {
    return Object.fromEntries(
        spec.nodes.map((n) => [n.host, digest([n.driverOptions, spec.buildkitdConfig ?? null]).slice(0, 16)]),
    );
}

/**
 * The suffix of every fleet alias. `.invalid` is reserved (RFC 2606 section 2) and never
 * resolves, so an alias can never be a name anything else reaches (`github.com` from builder
 * `com` and host `github`); the user's ssh_config includes the fleet's files only for it.
 */
export const ALIAS_SUFFIX = "nbf.invalid";

/** SSH host alias of a host: host names have no dots, so the first label is the host and no two stacks' aliases meet. */
export function sshAlias(builder: string, host: string): string {
    return `${host}.${builder}.${ALIAS_SUFFIX}`;
}

/**
 * buildx node name of a host, also its BuildKit container's (`buildx_buildkit_<node>`) on the
 * host. Host names have no `_` (config/schema.ts HOST_NAME), so the last `_` splits the name
 * back into builder and host: `prod` + `eu-arm` and `prod-eu` + `arm` stay two names on a
 * static host two stacks share, where `<builder>-<host>` made both `prod-eu-arm`.
 */
export function nodeName(builder: string, host: string): string {
    return `${builder}_${host}`;
}

/** How long the node check waits for a host's Docker, and then for its BuildKit, to answer. */
export const NODE_ANSWER_SECONDS = 10;

/** The node's BuildKit container on its host, as buildx's docker-container driver names it (driver/driver.go). */
export function buildkitContainer(node: NodeSpec): string {
    return `buildx_buildkit_${node.node}`;
}

/**
 * The node check's one round trip: host/buildkit-check.sh (its text is `script`), run by `sh -c`
 * on the host over the stack's pinned ssh, with the container and the timeout as parameters
 * (runner/readiness.ts remoteCommand quotes each as one word). It asks the host's Docker
 * whether the container runs, the question buildx's docker-container driver asks first
 * (docker/buildx v0.35.0 driver/docker-container/driver.go `Info`: `State.Running`), and then
 * BuildKit itself, as buildx does before it calls a node up (`wait`: `buildctl debug workers`
 * in the container), each bounded by NODE_ANSWER_SECONDS.
 */
export function nodeCheckStep(node: NodeSpec, script: string): RemoteStep {
    return { name: "buildkit-check.sh", script, args: [buildkitContainer(node), String(NODE_ANSWER_SECONDS)] };
}

/** What the node check concluded of one node. */
export type NodeVerdict =
    | { state: "up" }
    | { state: "down"; error: string }
    /** Not running, or no verdict: `buildx inspect --bootstrap` starts it or words why not. */
    | { state: "bootstrap" };

/**
 * Reads the node check's answer. Up only on exit 0 and exactly `answers`. When ssh itself
 * fails (exit 255, ssh(1): refused, timed out, a host key that does not verify, a key the host
 * refuses), its own verdict is the node's error: buildx would reach the same failure only after
 * its own connect timeout. A container that runs while BuildKit (or Docker) does not answer is
 * down with that cause: buildx would wait on it too, and the builds sent to it would hang.
 */
export function nodeCheckVerdict(node: NodeSpec, code: number, stdout: string, stderr: string): NodeVerdict {
    if (code === SSH_FAILED) {
        return { state: "down", error: briefly(stderr || stdout) };
    }
    const answer = code === 0 ? stdout.trim() : "";
    const said = stderr.trim() === "" ? "" : `: ${briefly(stderr)}`;
    const container = buildkitContainer(node);
    switch (answer) {
        case "answers":
            return { state: "up" };
        case "buildkit-silent":
            return {
                state: "down",
                error:
                    `BuildKit did not answer within ${NODE_ANSWER_SECONDS} s${said || " (buildctl debug workers printed nothing)"}; ` +
                    `its container ${container} runs, so its daemon is stuck or starved: ` +
                    `restart it on the host (docker restart ${container}), which keeps its cache`,
            };
        case "docker-silent":
            return {
                state: "down",
                error: `Docker did not answer within ${NODE_ANSWER_SECONDS} s${said}: check the Docker daemon on the host (systemctl status docker)`,
            };
        default:
            return { state: "bootstrap" };
    }
}

/** ssh's own exit status when it fails, as against the remote command's (ssh(1), EXIT STATUS). */
export const SSH_FAILED = 255;

/** A command's output in one line: its only line, or its first and last ones (ssh's verdict follows a banner). */
export function briefly(text: string): string {
    const lines = text
        .trim()
        .split("\n")
        .filter((l) => l.trim() !== "");
    return lines.length === 0
        ? "no output"
        : lines.length === 1
          ? lines[0]
          : `${lines[0]} ... ${lines[lines.length - 1]}`;
}

/** The builder a host's builds use: one node, the host. */
export function hostBuilderName(builder: string, host: string): string {
    return `${builder}-${host}`;
}

/**
 * Previews build on BuildKit state of their own (issue 20): on each host a second node, whose
 * container `buildx_buildkit_<node>_preview` and its state volume no update's build uses, so
 * what a preview's RUN step writes (cache mounts, the layer cache) never reaches a release.
 * `_` is in no host name (config/schema.ts HOST_NAME), so no host's own node ends this way.
 */
export const PREVIEW_SUFFIX = "_preview";

/**
 * A preview node's suffix: a node is `<builder>_<host>` (nodeName) and no host name holds a
 * dot, so `<builder>_<host>.preview` can be no other stack's node on a shared static host,
 * whatever '_' or '.' its builder's name holds.
 */
export const PREVIEW_NODE_SUFFIX = ".preview";

/** A host's preview node: the same host, endpoint and settings under another node name. */
export function previewNode(node: NodeSpec): NodeSpec {
    return { ...node, node: `${node.node}${PREVIEW_NODE_SUFFIX}` };
}

/** The builder that holds a host's preview node alone: updates restart and destroy removes the preview state through it. */
export function previewBuilderName(builder: string, host: string): string {
    return `${hostBuilderName(builder, host)}${PREVIEW_SUFFIX}`;
}

/** The node a host's own builder, which the images name, points at: its preview node in previews. */
export function hostBuilderNode(node: NodeSpec, preview: boolean): NodeSpec {
    return preview ? previewNode(node) : node;
}

/** Every builder the program registers: the stack's, then one per host, then each host's preview builder. */
export function builderNames(spec: FleetBuildersSpec): string[] {
    return [
        spec.name,
        ...spec.nodes.map((n) => hostBuilderName(spec.name, n.host)),
        ...spec.nodes.map((n) => previewBuilderName(spec.name, n.host)),
    ];
}

/** The host key algorithms to offer: only the pinned key's, with SHA-2 signatures for RSA (OpenSSH ≥ 8.8 refuses SHA-1 `ssh-rsa`). */
export function hostKeyAlgorithms(hostKey: string): string {
    const type = hostKey.trim().split(/\s+/)[0];
    return type === "ssh-rsa" ? "rsa-sha2-512,rsa-sha2-256" : type;
}

/**
 * The ssh_config blocks, one per node. ssh_config keeps the first value it obtains for each
 * option (provider notes, "SSH client facts"), and these blocks are read before anything in
 * the user's own file, so every option that could weaken, redirect or share a fleet
 * connection is set here, leaving nothing for a user's `Host *` to fill in.
 */
export function sshConfig(spec: FleetBuildersSpec, dir: string): string {
    return spec.nodes
        .map((node) =>
            [
                `Host ${node.alias}`,
                // Options newer than some runners' OpenSSH (Ubuntu 20.04 ships 8.2): an older client
                // skips them instead of refusing the whole file.
                `    IgnoreUnknown ${NEWER_OPTIONS.join(",")}`,
                `    HostName ${node.address}`,
                `    Port ${node.port}`,
                `    User ${node.user}`,
                `    IdentityFile "${dir}/id_fleet"`,
                "    IdentitiesOnly yes",
                "    IdentityAgent none",
                "    AddKeysToAgent no",
                "    PubkeyAuthentication yes",
                "    PasswordAuthentication no",
                "    KbdInteractiveAuthentication no",
                "    HostbasedAuthentication no",
                "    GSSAPIAuthentication no",
                `    UserKnownHostsFile "${dir}/known_hosts"`,
                "    GlobalKnownHostsFile /dev/null",
                "    StrictHostKeyChecking yes",
                `    HostKeyAlias ${node.hostKeyAlias}`,
                `    HostKeyAlgorithms ${hostKeyAlgorithms(node.hostKey)}`,
                "    UpdateHostKeys no",
                "    VerifyHostKeyDNS no",
                "    CheckHostIP no",
                "    KnownHostsCommand none",
                "    CanonicalizeHostname no",
                // ProxyCommand and ProxyJump: whichever comes first wins (ssh_config(5)), so the
                // block always sets ProxyCommand, to the SSM session or to none.
                `    ProxyCommand ${node.proxyCommand ?? "none"}`,
                "    ForwardAgent no",
                "    ForwardX11 no",
                "    ForwardX11Trusted no",
                "    ClearAllForwardings yes",
                "    Tunnel no",
                "    PermitLocalCommand no",
                "    RemoteCommand none",
                "    RequestTTY no",
                "    ControlMaster no",
                "    ControlPath none",
                "    ControlPersist no",
                // `-` removes from OpenSSH's defaults, none of which is weak; being first, these lists
                // win over a user's `+3des-cbc`, `+ssh-rsa` and the like.
                "    Ciphers -3des-cbc",
                "    MACs -hmac-md5",
                "    KexAlgorithms -diffie-hellman-group1-sha1",
                "    PubkeyAcceptedAlgorithms -ssh-rsa",
                "    HostbasedAcceptedAlgorithms -ssh-rsa",
                "    RequiredRSASize 2048",
                "    CertificateFile none",
                "    PKCS11Provider none",
                "    SecurityKeyProvider internal",
                "    ForkAfterAuthentication no",
                "    SessionType default",
                "    StdinNull no",
                "    BatchMode yes",
                // SetEnv keeps its first value (ssh_config(5)): pinned to a harmless variable, a user's
                // `SetEnv` never reaches a build host. SendEnv accumulates; the block the user's
                // ssh_config ends with clears it (userSshConfig).
                "    SetEnv NBF_FLEET=1",
                "    ConnectTimeout 15",
                "    ServerAliveInterval 30",
                "    ServerAliveCountMax 3",
                "",
            ].join("\n"),
        )
        .join("\n");
}

/** Options the generated blocks set that OpenSSH learned after 8.2. */
const NEWER_OPTIONS = [
    "KnownHostsCommand",
    "PubkeyAcceptedAlgorithms",
    "HostbasedAcceptedAlgorithms",
    "RequiredRSASize",
    "ForkAfterAuthentication",
    "SessionType",
    "StdinNull",
];

/** known_hosts lines: each key under its alias, so a reused address never matches. */
export function knownHosts(spec: FleetBuildersSpec): string {
    return spec.nodes
        .map((node) => `${node.hostKeyAlias} ${node.hostKey.trim().split(/\s+/).slice(0, 2).join(" ")}\n`)
        .join("");
}

/** `buildx create` arguments that add `node` to `builder`, declaring `platforms`. */
export function createArgs(
    builder: string,
    node: NodeSpec,
    platforms: string[],
    append: boolean,
    dir: string,
    withConfig: boolean,
): string[] {
    return [
        "buildx",
        "create",
        ...(append ? ["--append"] : []),
        "--name",
        builder,
        "--driver",
        "docker-container",
        ...Object.entries(node.driverOptions).flatMap(([key, value]) => ["--driver-opt", `${key}=${value}`]),
        ...(withConfig ? ["--buildkitd-config", `${dir}/buildkitd.toml`] : []),
        "--node",
        node.node,
        "--platform",
        platforms.join(","),
        `ssh://${node.alias}`,
    ];
}

/** Every `buildx create` call that registers a builder from `nodes`, in order. */
export function builderCreates(
    builder: string,
    nodes: { node: NodeSpec; platforms: string[] }[],
    dir: string,
    withConfig: boolean,
): string[][] {
    return nodes.map(({ node, platforms }, i) => createArgs(builder, node, platforms, i > 0, dir, withConfig));
}

/** The stack builder's nodes, each declaring its stack platforms. */
export function stackNodes(
    spec: FleetBuildersSpec,
    down: readonly string[] = [],
): { node: NodeSpec; platforms: string[] }[] {
    return spec.nodes.filter((n) => !down.includes(n.host)).map((node) => ({ node, platforms: node.stackPlatforms }));
}

/** A digest of what one builder's registration depends on; a change re-registers it. */
export function registrationFingerprint(
    spec: FleetBuildersSpec,
    nodes: { node: NodeSpec; platforms: string[] }[],
): string {
    return digest([
        sshConfig(spec, "@DIR@"),
        knownHosts(spec),
        builderCreates("@NAME@", nodes, "@DIR@", spec.buildkitdConfig !== undefined),
        spec.buildkitdConfig ?? null,
    ]);
}

/** A digest of the whole spec, printed by the ensure step. */
export function specFingerprint(spec: FleetBuildersSpec): string {
    return digest([
        sshConfig(spec, "@DIR@"),
        knownHosts(spec),
        spec.nodes.map((n) => [n.node, n.platforms, n.stackPlatforms, n.driverOptions]),
        spec.buildkitdConfig ?? null,
    ]);
}

function digest(value: unknown): string {
    return createHash("sha256").update(JSON.stringify(value)).digest("hex");
}

/**
 * The nodes `buildx inspect` reports an error for, with the error's first and last line: ssh
 * puts its verdict ("Host key verification failed.") after a banner that starts on the
 * `Error:` line. `inspect --bootstrap` exits 0 even when a node is unreachable (provider notes).
 */
export function inspectErrors(output: string): Map<string, string> {
    const errors = new Map<string, string>();
    let node = "";
    let error: string[] | undefined;
    const flush = () => {
        if (error !== undefined) {
            errors.set(node, error.length > 1 ? `${error[0]} ... ${error[error.length - 1]}` : error[0]);
        }
        error = undefined;
    };
    // buildx ends an ssh error with a carriage return, which `.` does not match.
    for (const line of output.replace(/\r/g, "").split("\n")) {
        if (/^[A-Z][A-Za-z ]*:/.test(line)) {
            flush();
            const name = /^Name:\s*(\S+)/.exec(line);
            if (name) {
                node = name[1];
            }
            const err = /^Error:\s*(.*)$/.exec(line);
            if (err) {
                error = [err[1]];
            }
        } else if (error !== undefined && line.trim() !== "") {
            error.push(line.trim());
        }
    }
    flush();
    return errors;
}

/** The `Host` aliases an ssh_config text defines. */
export function definedAliases(config: string): string[] {
    return config.split("\n").flatMap((line) => {
        const m = /^\s*Host\s+(.+)$/i.exec(line);
        return m ? m[1].trim().split(/\s+/) : [];
    });
}

const BEGIN = "# native-build-fleet: begin (managed by the program; keep this block where it is)";
const END = "# native-build-fleet: end";

/**
 * The user's ssh_config with the fleet's blocks: the Include first, scoped to the fleet's
 * aliases with `Match originalhost` (the name as typed, before any HostName), so nothing in
 * the fleet's files can apply to another host, then `Match all` so the user's own top-level
 * options keep applying everywhere. A second block goes last: `SendEnv -*` clears every
 * SendEnv pattern read before it (ssh_config(5), SendEnv), so a user's `SendEnv AWS_*` sends
 * nothing to a build host. Earlier copies of both blocks, and the unscoped Include of earlier
 * versions (`legacyInclude`), are removed.
 */
export function userSshConfig(config: string, root: string): string {
    const legacyInclude = `Include "${root}/*/config"`;
    const rest: string[] = [];
    let inBlock = false;
    for (const line of config.split("\n")) {
        if (line.trim() === BEGIN) {
            inBlock = true;
        } else if (inBlock) {
            inBlock = line.trim() !== END;
        } else if (line.trim() !== legacyInclude) {
            rest.push(line);
        }
    }
    while (rest.length > 0 && rest[0].trim() === "") {
        rest.shift();
    }
    while (rest.length > 0 && rest[rest.length - 1].trim() === "") {
        rest.pop();
    }
    const match = `Match originalhost *.${ALIAS_SUFFIX}`;
    const head = [BEGIN, match, `    Include "${root}/*/config"`, "Match all", END];
    const tail = [BEGIN, match, "    SendEnv -*", END];
    return [...head, "", ...(rest.length > 0 ? [...rest, ""] : []), ...tail, ""].join("\n");
}
