// The readiness check of one build host, run on the machine that runs Pulumi with the local
// OpenSSH client, for every access mode: `node bin/runner/cli.js readiness` (runner/cli.ts)
// with a ReadinessSpec as JSON in NBF_SPEC and the operator's private key on standard input.
//
// Not remote.Command: the real command provider retries every dial error, bad keys included,
// and reports only `context deadline exceeded` after its timeout; with an ssh-rsa host key it
// offers only SHA-1 ssh-rsa, which OpenSSH 8.8 and later refuse (provider notes, "What the real
// command provider 1.2.1 does"). Here transient errors are retried until
// `connectTimeoutSeconds`, a persistent fault fails with its reason, and OpenSSH negotiates
// rsa-sha2-* for a pinned RSA key.

import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { shq } from "./quote";
import { guard, lastLine, privateTempDir, run, RunnerEnv, RunnerError } from "./process";

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

export interface ReadinessSpec {
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
    steps: RemoteStep[];
}

/** A script run on the host: its full text, and its data as positional parameters. */
export interface RemoteStep {
    /** What the script is called (its `$0`, in its messages). */
    name: string;
    script: string;
    args: string[];
}

/**
 * The remote command line of a step. ssh hands the host's login shell one command line; it
 * starts `sh -c` with the script's verbatim text as one word and each value as a positional
 * parameter of its own, so no value is ever read as shell.
 */
export function remoteCommand(step: RemoteStep): string {
    return ["sh", "-c", step.script, step.name, ...step.args].map(shq).join(" ");
}

/** Seconds between connection attempts; a status line is printed every 12th attempt. */
export const RETRY_SECONDS = 5;
const STATUS_EVERY = 12;

/**
 * The ssh arguments of the readiness check, its key and known_hosts in `dir`. `-F none` reads
 * no ssh_config at all, so nothing a user's `Host *` block carries (agent forwarding, a shared
 * ControlMaster that skips host-key checking, ProxyJump, UpdateHostKeys, DNS or extra
 * identities; provider notes, "SSH client facts") reaches this connection; each such option
 * is still set here, so the policy reads in one place and holds if `-F` ever changes. Only the
 * operator's key, only the pinned host key.
 */
export function readinessSshArgs(target: SshTarget, dir: string): string[] {
    const options = [
        `IdentityFile=${dir}/key`,
        "IdentitiesOnly=yes",
        "IdentityAgent=none",
        "AddKeysToAgent=no",
        "PKCS11Provider=none",
        "PreferredAuthentications=publickey",
        "PasswordAuthentication=no",
        "KbdInteractiveAuthentication=no",
        "GSSAPIAuthentication=no",
        "HostbasedAuthentication=no",
        "BatchMode=yes",
        "StrictHostKeyChecking=yes",
        `UserKnownHostsFile=${dir}/known_hosts`,
        "GlobalKnownHostsFile=/dev/null",
        `HostKeyAlias=${target.hostKeyAlias}`,
        "UpdateHostKeys=no",
        "VerifyHostKeyDNS=no",
        "CheckHostIP=no",
        "KnownHostsCommand=none",
        "ForwardAgent=no",
        "ForwardX11=no",
        "ClearAllForwardings=yes",
        "ControlMaster=no",
        "ControlPath=none",
        "PermitLocalCommand=no",
        "RequestTTY=no",
        "Tunnel=no",
        target.proxyCommand === undefined ? "ProxyJump=none" : `ProxyCommand=${target.proxyCommand}`,
        "ConnectTimeout=15",
        "ServerAliveInterval=15",
        "ServerAliveCountMax=4",
        "LogLevel=ERROR",
    ];
    return [
        "-F",
        "none",
        ...options.flatMap((o) => ["-o", o]),
        "-p",
        String(target.port),
        "-l",
        target.user,
        "--",
        target.address,
    ];
}

/** The check's known_hosts: the pinned key (type and key, no comment) under its alias. */
export function knownHostsLine(target: SshTarget): string {
    return `${target.hostKeyAlias} ${target.hostKey.trim().split(/\s+/).slice(0, 2).join(" ")}\n`;
}

/** A fault that waiting does not cure, recognised in ssh's standard error. */
export interface SshFault {
    /** What the error says first: which fault it is. */
    kind: string;
    /** Texts of ssh's standard error that mean this fault. */
    signs: string[];
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
        signs: ["Load key ", "invalid format", "error in libcrypto"],
        explain: () =>
            "ssh could not load sshPrivateKey; set it again from the key file: pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519",
    },
    {
        kind: "SSH authentication failed",
        signs: ["Permission denied (", "Too many authentication failures"],
        explain: (t) =>
            `${t.user}@${where(t)} refused the operator's key (Permission denied): the user ${t.user} may not exist there or sshd may not allow it ` +
            "(AllowUsers, PermitRootLogin), or that user's ~/.ssh/authorized_keys lacks the public half of sshPrivateKey. " +
            `Fix the host's user setting, or add the key (ssh-keygen -y -f <private key>) to ${t.user}'s authorized_keys`,
    },
    {
        kind: "the host key does not match the pinned key",
        signs: [
            "REMOTE HOST IDENTIFICATION HAS CHANGED",
            "Host key verification failed",
            "no matching host key type found",
        ],
        explain: (t) =>
            `${where(t)} did not present the pinned ${t.hostKey.trim().split(/\s+/)[0]} host key (Host key verification failed). If the host was ` +
            "reinstalled or its keys were rotated, pin its current public key, read on the host itself (/etc/ssh/ssh_host_ed25519_key.pub), " +
            "never from a network scan; otherwise something else is answering at that address",
    },
];

/** Where the target is, as messages name it. */
export function where(t: SshTarget): string {
    return t.proxyCommand === undefined ? `${t.address}:${t.port}` : `${t.address} (through SSM)`;
}

/** `kind: explanation` of the first persistent fault ssh's standard error shows, if any. */
export function persistentFault(stderr: string, target: SshTarget): string | undefined {
    const fault = SSH_FAULTS.find((f) => f.signs.some((s) => stderr.includes(s)));
    return fault && `${fault.kind}: ${fault.explain(target)}`;
}

/** ssh's own line for a fault: the last one, without the `@@@` banner of a changed host key. */
export function sshLine(stderr: string): string {
    return lastLine(
        stderr
            .split("\n")
            .filter((l) => !l.startsWith("@"))
            .join("\n"),
    );
}

/** Receives what the remote commands print. */
export interface Io {
    stdout: (text: string) => void;
    stderr: (text: string) => void;
}

/** Runs ssh with its output streamed to `io`; resolves with its exit status. */
function stream(args: string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
    return new Promise((resolve) => {
        const child = spawn("ssh", args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
        guard(child);
        child.stdout.on("data", (d: Buffer) => io.stdout(d.toString()));
        child.stderr.on("data", (d: Buffer) => io.stderr(d.toString()));
        child.on("error", (e) => {
            io.stderr(`${e.message}\n`);
            resolve(127);
        });
        child.on("close", (code) => resolve(code ?? 1));
    });
}

/**
 * Waits until the host answers over SSH, then runs each remote command in its own session.
 * Resolves with the exit status of the first remote command that fails (its message is on
 * `io.stderr`), or 0; a persistent fault or the deadline rejects with a RunnerError.
 */
export async function checkReadiness(spec: ReadinessSpec, privateKey: string, env: RunnerEnv, io: Io): Promise<number> {
    const { target } = spec;
    const tmp = privateTempDir("nbf-readiness-");
    try {
        fs.writeFileSync(path.join(tmp.dir, "key"), privateKey, { mode: 0o600 });
        fs.writeFileSync(path.join(tmp.dir, "known_hosts"), knownHostsLine(target), { mode: 0o600 });
        const args = readinessSshArgs(target, tmp.dir);
        const seconds = () => Math.floor(env.now() / 1000);
        const deadline = seconds() + spec.connectTimeoutSeconds;
        let firstFault: number | undefined;
        for (let attempt = 1; ; attempt++) {
            const result = await run("ssh", [...args, "true"], { env: env.env });
            if (result.code === 0) {
                break;
            }
            // ssh ends its messages with CR LF.
            const error = result.stderr.replace(/\r/g, "");
            const now = seconds();
            const fault = persistentFault(error, target);
            if (fault !== undefined) {
                firstFault ??= now;
                if (now - firstFault >= spec.persistentFaultSeconds) {
                    throw new RunnerError(`${fault}\n(ssh: ${sshLine(error)})`);
                }
            }
            if (now >= deadline) {
                throw new RunnerError(
                    `could not reach ${where(target)} within ${spec.connectTimeoutSeconds}s: ${lastLine(error)}`,
                );
            }
            // A status line now and then, so a long boot shows what it waits for.
            if (attempt % STATUS_EVERY === 1) {
                env.log(`waiting for ${where(target)}: ${lastLine(error)}`);
            }
            await env.sleep(RETRY_SECONDS);
        }
        for (const step of spec.steps) {
            const code = await stream([...args, remoteCommand(step)], env.env, io);
            if (code !== 0) {
                return code;
            }
        }
        return 0;
    } finally {
        tmp.remove();
    }
}
