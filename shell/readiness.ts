// Scripts the readiness check runs on each build host over SSH (with its host key pinned).

import { shq } from "./quote";
import { READY_MARKER } from "./userData";

/** `uname -m` names of each host architecture, as `docker info` reports them. */
const MACHINE: Record<string, string[]> = { amd64: ["x86_64"], arm64: ["aarch64", "arm64"] };

/**
 * Waits for the boot script to finish. It runs in its own SSH session: the docker
 * group the boot script grants applies only to sessions opened after it.
 */
export function bootWaitScript(timeoutSeconds: number): string {
    return [
        "set -eu",
        `deadline=$(( $(date +%s) + ${timeoutSeconds} ))`,
        `until [ -f ${shq(READY_MARKER)} ]; do`,
        `    if [ "$(date +%s)" -ge "$deadline" ]; then`,
        `        echo "the boot script did not finish within ${timeoutSeconds}s; see /var/log/cloud-init-output.log on the host" >&2`,
        "        exit 1",
        "    fi",
        "    sleep 5",
        "done",
        "",
    ].join("\n");
}

/**
 * Checks that Docker answers for the SSH user; when `arch` is given, that the host's CPU
 * is that architecture; and that no QEMU handler is enabled beyond `allowedHandlers`.
 * The docker-build provider routes by the platforms a node *detects*, so a native x86
 * host with an aarch64 handler would silently receive linux/arm64 builds and emulate
 * them (measured on BuildKit 0.31 with docker-build 0.0.22).
 */
export function dockerCheckScript(arch: string | undefined, allowedHandlers: string[], timeoutSeconds: number): string {
    const archCheck = arch === undefined ? [] : [
        `case "$machine" in`,
        `    ${(MACHINE[arch] ?? [arch]).map(shq).join("|")}) ;;`,
        `    *) printf 'this host runs %s, but its pool expects ${arch}\\n' "$machine" >&2; exit 1 ;;`,
        "esac",
    ];
    return [
        "set -eu",
        `deadline=$(( $(date +%s) + ${timeoutSeconds} ))`,
        "until info=$(docker info --format '{{.ServerVersion}} {{.Architecture}}' 2>&1); do",
        "    # No access to the socket does not pass with time: the docker group applies to new",
        "    # sessions, and this one started after the boot script granted it.",
        "    case \"$info\" in",
        "        *'permission denied while trying to connect to the '[Dd]'ocker'*)",
        "            printf '%s has no access to Docker on this host (permission denied on its socket): add the user to the docker group (usermod -aG docker %s), then run pulumi up again\\n' \"$(id -un)\" \"$(id -un)\" >&2",
        "            exit 1 ;;",
        "    esac",
        `    if [ "$(date +%s)" -ge "$deadline" ]; then`,
        `        printf 'docker is not usable by %s after ${timeoutSeconds}s: %s\\n' "$(id -un)" "$info" >&2`,
        "        exit 1",
        "    fi",
        "    sleep 3",
        "done",
        "machine=${info#* }",
        ...archCheck,
        "foreign=''",
        "# NBF_BINFMT_DIR lets the tests point at a fixture instead of the kernel's table.",
        "for handler in \"${NBF_BINFMT_DIR:-/proc/sys/fs/binfmt_misc}\"/qemu-*; do",
        "    if [ ! -f \"$handler\" ] || ! grep -qx enabled \"$handler\"; then",
        "        continue",
        "    fi",
        `    case "\${handler##*/qemu-}" in`,
        ...(allowedHandlers.length > 0 ? [`        ${allowedHandlers.map(shq).join("|")}) ;;`] : []),
        "        *) foreign=\"$foreign ${handler##*/qemu-}\" ;;",
        "    esac",
        "done",
        "if [ -n \"$foreign\" ]; then",
        "    printf 'this host has QEMU handlers enabled for%s, so builds for those platforms could be routed to it and run emulated; list those platforms under its emulate setting or disable the handlers (/proc/sys/fs/binfmt_misc)\\n' \"$foreign\" >&2",
        "    exit 1",
        "fi",
        `printf 'docker %s on %s\\n' "\${info%% *}" "$machine"`,
        "",
    ].join("\n");
}

/** How ssh reaches one build host for the readiness check. */
export interface SshTarget {
    /** Host name or IP; for SSM, the instance id (the session's target). */
    address: string;
    port: number;
    user: string;
    /** The host's public key line; the connection fails unless the host presents it. */
    hostKey: string;
    /** The name the key is pinned under (the instance id, `static-<name>`), so a reused address never matches. */
    hostKeyAlias: string;
    /** Set when ssh goes through an SSM session rather than straight to the address. */
    proxyCommand?: string;
}

/** The ProxyCommand that carries SSH through an SSM session (document AWS-StartSSHSession). */
export function ssmProxyCommand(region?: string): string {
    return `aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p${region ? ` --region ${region}` : ""}`;
}

/** Stands for the check's private temporary directory in generated arguments. */
const TMP = "@NBF_TMP@";

/**
 * The ssh arguments of the readiness check. `-F none` reads no ssh_config at all, so nothing a
 * user's `Host *` block carries (agent forwarding, a shared ControlMaster that skips host-key
 * checking, ProxyJump, UpdateHostKeys, DNS or extra identities; provider notes, "SSH client
 * facts") reaches this connection; each such option is still set here, so the policy reads
 * in one place and holds if `-F` ever changes. Only the operator's key, only the pinned host key.
 */
export function readinessSshArgs(target: SshTarget): string[] {
    const options = [
        `IdentityFile=${TMP}/key`, "IdentitiesOnly=yes", "IdentityAgent=none", "AddKeysToAgent=no", "PKCS11Provider=none",
        "PreferredAuthentications=publickey", "PasswordAuthentication=no", "KbdInteractiveAuthentication=no",
        "GSSAPIAuthentication=no", "HostbasedAuthentication=no", "BatchMode=yes",
        "StrictHostKeyChecking=yes", `UserKnownHostsFile=${TMP}/known_hosts`, "GlobalKnownHostsFile=/dev/null",
        `HostKeyAlias=${target.hostKeyAlias}`, "UpdateHostKeys=no", "VerifyHostKeyDNS=no", "CheckHostIP=no", "KnownHostsCommand=none",
        "ForwardAgent=no", "ForwardX11=no", "ClearAllForwardings=yes", "ControlMaster=no", "ControlPath=none",
        "PermitLocalCommand=no", "RequestTTY=no", "Tunnel=no",
        target.proxyCommand === undefined ? "ProxyJump=none" : `ProxyCommand=${target.proxyCommand}`,
        "ConnectTimeout=15", "ServerAliveInterval=15", "ServerAliveCountMax=4", "LogLevel=ERROR",
    ];
    return ["-F", "none", ...options.flatMap((o) => ["-o", o]), "-p", String(target.port), "-l", target.user, "--", target.address];
}

/** A fault that waiting does not cure, recognised in ssh's standard error. */
export interface SshFault {
    /** What the error says first: which fault it is. */
    kind: string;
    /** bash `case` patterns matched against ssh's standard error. */
    patterns: string[];
    /** The explanation and the fix, for this target. */
    explain(target: SshTarget): string;
}

/**
 * Faults that fail the check at once (after `persistentFaultSeconds`) instead of retrying to the
 * boot timeout. sshd answers an unknown user exactly as a wrong key (it does not say which), so
 * both are one fault that names both causes. Anything else (refused, timed out, no route, reset,
 * an SSM target not connected yet) is what a booting host shows, and is retried.
 */
export const SSH_FAULTS: SshFault[] = [
    {
        kind: "the operator's private key could not be loaded",
        patterns: ["*Load key *", "*invalid format*", "*error in libcrypto*"],
        explain: () => "ssh could not load sshPrivateKey; set it again from the key file: pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519",
    },
    {
        kind: "SSH authentication failed",
        patterns: ["*Permission denied (*", "*Too many authentication failures*"],
        explain: (t) => `${t.user}@${where(t)} refused the operator's key (Permission denied): the user ${t.user} may not exist there or sshd may not allow it ` +
            "(AllowUsers, PermitRootLogin), or that user's ~/.ssh/authorized_keys lacks the public half of sshPrivateKey. " +
            `Fix the host's user setting, or add the key (ssh-keygen -y -f <private key>) to ${t.user}'s authorized_keys`,
    },
    {
        kind: "the host key does not match the pinned key",
        patterns: ["*REMOTE HOST IDENTIFICATION HAS CHANGED*", "*Host key verification failed*", "*no matching host key type found*"],
        explain: (t) => `${where(t)} did not present the pinned ${t.hostKey.trim().split(/\s+/)[0]} host key (Host key verification failed). If the host was ` +
            "reinstalled or its keys were rotated, pin its current public key, read on the host itself (/etc/ssh/ssh_host_ed25519_key.pub), " +
            "never from a network scan; otherwise something else is answering at that address",
    },
];

function where(t: SshTarget): string {
    return t.proxyCommand === undefined ? `${t.address}:${t.port}` : `${t.address} (through SSM)`;
}

export interface ReadinessArgs {
    target: SshTarget;
    /** How long connections may fail with transient errors (a host booting). */
    connectTimeoutSeconds: number;
    /**
     * How long a persistent fault may last before the check fails. An EC2 host presents its
     * AMI's host key and lacks the build user until its boot script has run; a static host has
     * no such window (0).
     */
    persistentFaultSeconds: number;
    /** Scripts run on the host in order, each in its own SSH session; the last one's output is the result. */
    remoteScripts: string[];
}

/** One shell word, with the check's temporary directory expanded. */
function word(arg: string): string {
    return arg.split(TMP).map((part) => (part === "" ? "" : shq(part))).join("\"$tmp\"");
}

/** A bash function printing `kind: explanation` for a persistent fault in file $1, nothing otherwise. */
function classifier(target: SshTarget): string[] {
    return [
        "persistent_fault() {",
        "    case \"$(cat \"$1\")\" in",
        ...SSH_FAULTS.map((f) => `        ${f.patterns.map((p) => p.split("*").map((s) => (s === "" ? "" : shq(s))).join("*")).join("|")}) printf '%s\\n' ${shq(`${f.kind}: ${f.explain(target)}`)} ;;`),
        "    esac",
        "}",
    ];
}

/**
 * The readiness check, run on the machine that runs Pulumi with the local OpenSSH client, for
 * every access mode. The real command provider retries every dial error, bad keys included, and
 * reports only `context deadline exceeded` after its timeout; with an ssh-rsa host key it offers
 * only SHA-1 ssh-rsa, which OpenSSH 8.8 and later refuse (provider notes, "What the real command
 * provider 1.2.1 does"). Here transient errors are retried until `connectTimeoutSeconds`, a
 * persistent fault fails with its reason, and OpenSSH negotiates rsa-sha2-* for a pinned RSA key.
 * The operator's key arrives on standard input into a private temporary file.
 */
export function readinessScript(args: ReadinessArgs): string {
    const { target } = args;
    const key = target.hostKey.trim().split(/\s+/).slice(0, 2).join(" ");
    return [
        "#!/bin/bash",
        "# Generated by native-build-fleet (shell/readiness.ts); do not edit by hand.",
        "set -euo pipefail",
        "umask 077",
        "tmp=$(mktemp -d)",
        "trap 'rm -rf \"$tmp\"' EXIT",
        "cat > \"$tmp/key\"",
        `printf '%s %s\\n' ${shq(target.hostKeyAlias)} ${shq(key)} > "$tmp/known_hosts"`,
        `run() { ssh ${readinessSshArgs(target).map(word).join(" ")} "$1"; }`,
        ...classifier(target),
        `deadline=$(( $(date +%s) + ${args.connectTimeoutSeconds} ))`,
        "first_fault=''",
        "attempt=0",
        "# ssh ends its messages with CR LF.",
        "until run true 2>\"$tmp/stderr\"; do",
        "    tr -d '\\r' < \"$tmp/stderr\" > \"$tmp/error\"",
        "    now=$(date +%s) attempt=$((attempt + 1))",
        "    fault=$(persistent_fault \"$tmp/error\")",
        "    if [ -n \"$fault\" ]; then",
        "        first_fault=${first_fault:-$now}",
        `        if [ $((now - first_fault)) -ge ${args.persistentFaultSeconds} ]; then`,
        "            printf '%s\\n(ssh: %s)\\n' \"$fault\" \"$(grep -v '^@' \"$tmp/error\" | tail -n 1)\" >&2",
        "            exit 1",
        "        fi",
        "    fi",
        "    if [ \"$now\" -ge \"$deadline\" ]; then",
        `        printf 'could not reach %s within ${args.connectTimeoutSeconds}s: %s\\n' ${shq(where(target))} "$(tail -n 1 "$tmp/error")" >&2`,
        "        exit 1",
        "    fi",
        "    # A status line now and then, so a long boot shows what it waits for.",
        `    [ $((attempt % 12)) -ne 1 ] || printf 'waiting for %s: %s\\n' ${shq(where(target))} "$(tail -n 1 "$tmp/error")" >&2`,
        "    sleep 5",
        "done",
        ...args.remoteScripts.map((script) => `run ${shq(script)}`),
        "",
    ].join("\n");
}

/**
 * The command text of the check: the script itself travels in the environment, so a failure
 * reads `exit status 1: running "<this line>"` and then the script's own message, rather than
 * the whole script first (the real provider quotes the command text in its errors).
 */
export const READINESS_COMMAND = "exec /bin/bash -c \"$NBF_READINESS_SCRIPT\" nbf-readiness";
