// The readiness check against a real sshd on loopback: an RSA-keyed host works through the
// pinned key, and each persistent fault fails on its first attempt with its reason, while a
// refused connection is retried until the deadline. The runner's function runs for real with
// the local OpenSSH client; only its clock is fake, so retries do not wait. Below, the pure
// parts: the ssh arguments and the fault classifier.

import { execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    checkReadiness,
    knownHostsLine,
    persistentFault,
    readinessSshArgs,
    RemoteStep,
    sshLine,
    SshTarget,
    SSH_FAULTS,
} from "../runner/readiness";
import { privateRoot, sweepDead } from "../runner/process";
import { compileModules } from "./compiled";
import { freePort, sandbox, startSshd } from "./sandbox";

const lab = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-readiness-"));
const user = os.userInfo().username;
let port = 0;
let stopSshd: (() => void) | undefined;

function keygen(name: string, type: string): string {
    execFileSync("ssh-keygen", ["-q", "-t", ...type.split(" "), "-N", "", "-C", name, "-f", path.join(lab, name)]);
    return fs.readFileSync(path.join(lab, `${name}.pub`), "utf8");
}

const rsaHostKey = keygen("host_rsa", "rsa -b 2048");
const otherHostKey = keygen("host_other", "ed25519");
keygen("operator", "ed25519");
keygen("stranger", "ed25519");
const operatorKey = fs.readFileSync(path.join(lab, "operator"), "utf8");
const strangerKey = fs.readFileSync(path.join(lab, "stranger"), "utf8");

beforeAll(async () => {
    fs.copyFileSync(path.join(lab, "operator.pub"), path.join(lab, "authorized_keys"));
    // The host has only an RSA key: OpenSSH must verify it with rsa-sha2-*, which OpenSSH 8.8+
    // servers require (they refuse the SHA-1 ssh-rsa the real command provider offers).
    const started = await startSshd(lab, path.join(lab, "host_rsa"), path.join(lab, "authorized_keys"));
    port = started.port;
    stopSshd = started.stop;
});

afterAll(() => {
    stopSshd?.();
    fs.rmSync(lab, { recursive: true, force: true });
});

function target(overrides: Partial<SshTarget> = {}): SshTarget {
    return { address: "127.0.0.1", port, user, hostKey: rsaHostKey, hostKeyAlias: "static-lab", ...overrides };
}

const step = (script: string): RemoteStep => ({ name: "step", script, args: [] });

/**
 * Runs the check with an ssh on PATH that counts its calls and records its key file's mode;
 * returns the output, the error (a persistent fault, a deadline) or the exit status of a failed step.
 */
async function check(
    t: SshTarget,
    privateKey: string,
    opts: { connectTimeoutSeconds?: number; persistentFaultSeconds?: number; steps?: RemoteStep[] } = {},
) {
    const box = sandbox("nbf-readiness-");
    box.stub(
        "ssh",
        `for a in "$@"; do case $a in IdentityFile=*) stat -c '%a' "\${a#IdentityFile=}" "$(dirname "\${a#IdentityFile=}")" > '${box.dir}/modes'; echo "\${a#IdentityFile=}" > '${box.dir}/key-path' ;; esac; done\nexec /usr/bin/ssh "$@"`,
    );
    const env = box.runner();
    let stdout = "";
    let stderr = "";
    let status: number | undefined;
    let error = "";
    try {
        status = await checkReadiness(
            {
                target: t,
                connectTimeoutSeconds: opts.connectTimeoutSeconds ?? 30,
                persistentFaultSeconds: opts.persistentFaultSeconds ?? 0,
                steps: opts.steps ?? [step("echo booted >&2"), step("echo docker 27.3.1 on $(uname -m)")],
            },
            privateKey,
            env,
            {
                stdout: (text) => {
                    stdout += text;
                },
                stderr: (text) => {
                    stderr += text;
                },
            },
        );
    } catch (e) {
        error = (e as Error).message;
    }
    const keyPath = box.read("key-path").trim();
    return {
        stdout,
        stderr,
        status,
        error,
        calls: box.calls("ssh").length,
        logged: env.logged,
        modes: box.read("modes").trim().split("\n"),
        keyPath,
    };
}

describe("the readiness check over OpenSSH", () => {
    test("reaches a host that has only an RSA host key, pinned, and runs each remote script in its own session, its data as parameters", async () => {
        const result = await check(target(), operatorKey, {
            steps: [
                { name: "boot-wait.sh", script: 'printf \'%s|\' "$0" "$@" >&2; echo >&2', args: ["it's", "$(id)", ""] },
                step("echo docker 27.3.1 on $(uname -m)"),
            ],
        });
        expect(result.error).toBe("");
        expect(result.stderr).toBe("boot-wait.sh|it's|$(id)||\n");
        expect(result.stdout).toBe(`docker 27.3.1 on ${os.arch() === "arm64" ? "aarch64" : "x86_64"}\n`);
        expect(result.status).toBe(0);
        expect(result.calls).toBe(3);
        // The key sat in a private directory, only for this user, and is gone afterwards.
        expect(result.modes).toEqual(["600", "700"]);
        expect(fs.existsSync(path.dirname(result.keyPath))).toBe(false);
    });

    test("fails on the first attempt when the host refuses the operator's key", async () => {
        const result = await check(target(), strangerKey);
        expect(result.calls).toBe(1);
        expect(result.error).toContain(
            `SSH authentication failed: ${user}@127.0.0.1:${port} refused the operator's key (Permission denied)`,
        );
        expect(result.error).toMatch(/\n\(ssh: .*Permission denied \(publickey\)\.\)$/);
    });

    test("says the user may not exist when sshd refuses an unknown user", async () => {
        const result = await check(target({ user: "nbf-no-such-user" }), operatorKey);
        expect(result.calls).toBe(1);
        expect(result.error).toContain("the user nbf-no-such-user may not exist there or sshd may not allow it");
    });

    test("fails on the first attempt when the host presents another key than the pinned one", async () => {
        const result = await check(target({ hostKey: otherHostKey }), operatorKey);
        expect(result.calls).toBe(1);
        expect(result.error).toContain(
            `the host key does not match the pinned key: 127.0.0.1:${port} did not present the pinned ssh-ed25519 host key`,
        );
        expect(result.error).toContain("(ssh: Host key verification failed.)");
    });

    test("fails on the first attempt when the private key cannot be loaded, without printing it", async () => {
        const result = await check(target(), "not a key\n");
        expect(result.calls).toBe(1);
        expect(result.error).toContain("the operator's private key could not be loaded");
        expect(result.error).not.toContain("not a key");
    });

    test("retries a persistent fault for the boot window before failing", async () => {
        const result = await check(target(), strangerKey, { persistentFaultSeconds: 8 });
        expect(result.calls).toBe(3);
        expect(result.error).toContain("SSH authentication failed");
    });

    test("keeps retrying a refused connection until the deadline, saying what it waits for, then reports ssh's error", async () => {
        const closed = await freePort();
        const result = await check(target({ port: closed }), operatorKey, { connectTimeoutSeconds: 62 });
        expect(result.calls).toBe(14);
        expect(result.logged).toEqual(
            [1, 13].map(() =>
                expect.stringMatching(new RegExp(`^waiting for 127\\.0\\.0\\.1:${closed}: .*Connection refused$`)),
            ),
        );
        expect(result.error).toMatch(
            new RegExp(`^could not reach 127\\.0\\.0\\.1:${closed} within 62s: .*Connection refused$`),
        );
    });
});

/** runner/process.ts compiled as the resources run it (test/compiled.ts), for the runners killed below. */
let built = "";
beforeAll(() => {
    built = compileModules(["runner/process.ts"]);
});
afterAll(() => fs.rmSync(built, { recursive: true, force: true }));

test("the private directory of the key goes when Pulumi cancels the check (SIGTERM)", async () => {
    const child = spawn(
        process.execPath,
        [
            "-e",
            "const t = require('./runner/process').privateTempDir('nbf-cancel-'); console.log(t.dir); setInterval(() => undefined, 1000);",
        ],
        { cwd: built, stdio: ["ignore", "pipe", "inherit"] },
    );
    const dir = await new Promise<string>((resolve) =>
        child.stdout.once("data", (d: Buffer) => resolve(d.toString().trim())),
    );
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exit).toBe(143);
    expect(fs.existsSync(dir)).toBe(false);
});

describe("when the command provider kills the runner outright (SIGKILL, as on a timeout or cancel)", () => {
    /** A runner that made a private directory and started a child, in its own TMPDIR; returns them once both exist. */
    async function killable() {
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-kill-test-"));
        const pidFile = path.join(tmp, "child.pid");
        const child = spawn(
            process.execPath,
            [
                "-e",
                [
                    "const p = require('./runner/process');",
                    "const t = p.privateTempDir('nbf-readiness-');",
                    "require('fs').writeFileSync(t.dir + '/key', 'PRIVATE KEY', { mode: 0o600 });",
                    `p.run('sh', ['-c', 'echo $$ > ${pidFile}; exec sleep 300'], { env: process.env });`,
                    "console.log(t.dir); setInterval(() => undefined, 1000);",
                ].join("\n"),
            ],
            { cwd: built, stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, TMPDIR: tmp } },
        );
        const dir = await new Promise<string>((resolve) =>
            child.stdout.once("data", (d: Buffer) => resolve(d.toString().trim())),
        );
        for (let i = 0; i < 100 && !fs.existsSync(pidFile); i++) {
            await new Promise((r) => setTimeout(r, 50));
        }
        return { child, dir, tmp, sleeper: Number(fs.readFileSync(pidFile, "utf8")) };
    }
    const alive = (pid: number) => {
        try {
            process.kill(pid, 0);
            return true;
        } catch {
            return false;
        }
    };
    async function eventually(check: () => boolean) {
        for (let i = 0; i < 100 && !check(); i++) {
            await new Promise((r) => setTimeout(r, 50));
        }
        return check();
    }

    test("its key goes and its children end, though no handler of it runs", async () => {
        const { child, dir, tmp, sleeper } = await killable();
        expect(fs.existsSync(path.join(dir, "key"))).toBe(true);
        expect(alive(sleeper)).toBe(true);
        const exit = new Promise<NodeJS.Signals | null>((resolve) =>
            child.once("exit", (_code, signal) => resolve(signal)),
        );
        child.kill("SIGKILL");
        expect(await exit).toBe("SIGKILL");
        expect(await eventually(() => !fs.existsSync(dir))).toBe(true);
        expect(await eventually(() => !alive(sleeper))).toBe(true);
        fs.rmSync(tmp, { recursive: true, force: true });
    }, 30_000);

    test("what a run killed with its watchdog left is swept by the next run", () => {
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-sweep-test-"));
        const root = path.join(tmp, "root");
        fs.mkdirSync(root, { mode: 0o700 });
        // pid_max is at most 2^22: no process has this pid.
        const dead = path.join(root, "nbf-smoke-99999999-abc123");
        const live = path.join(root, `nbf-smoke-${process.pid}-def456`);
        fs.mkdirSync(dead);
        fs.writeFileSync(path.join(dead, "config.json"), '{"auths":{}}');
        fs.mkdirSync(live);
        sweepDead(root);
        expect(fs.existsSync(dead)).toBe(false);
        expect(fs.existsSync(live)).toBe(true);
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    test("private directories live in one directory of this user's, 0700, under TMPDIR", () => {
        const root = privateRoot();
        expect(root).toBe(path.join(os.tmpdir(), `nbf-${process.getuid?.()}`));
        expect(fs.statSync(root).mode & 0o777).toBe(0o700);
    });
});

describe("the readiness ssh arguments", () => {
    test("read no ssh_config and set every option a user's config could weaken", () => {
        const args = readinessSshArgs(target(), lab);
        expect(args.slice(0, 2)).toEqual(["-F", "none"]);
        const effective = execFileSync("ssh", ["-G", ...args], { encoding: "utf8" });
        for (const line of [
            "forwardagent no",
            "controlmaster false",
            "updatehostkeys false",
            "verifyhostkeydns false",
            "identitiesonly yes",
            "identityagent none",
            "batchmode yes",
            "stricthostkeychecking true",
            "globalknownhostsfile /dev/null",
            "hostkeyalias static-lab",
            "clearallforwardings yes",
            "passwordauthentication no",
            "checkhostip no",
            `identityfile ${lab}/key`,
            `userknownhostsfile ${lab}/known_hosts`,
        ]) {
            expect(effective.split("\n")).toContain(line);
        }
        expect(effective).not.toMatch(/^(controlpath|proxyjump|proxycommand|knownhostscommand) /m);
    });

    test("go through the SSM session instead of straight to the address when asked", () => {
        const args = readinessSshArgs(
            target({ address: "i-0123456789abcdef0", proxyCommand: "aws ssm start-session --target %h" }),
            lab,
        );
        expect(args).toContain("ProxyCommand=aws ssm start-session --target %h");
        expect(args).not.toContain("ProxyJump=none");
        expect(args.slice(-2)).toEqual(["--", "i-0123456789abcdef0"]);
    });

    test.each(SSH_FAULTS.map((f) => [f.kind]))('explains the fault "%s" with a fix', (kind) => {
        const fault = SSH_FAULTS.find((f) => f.kind === kind)!;
        expect(fault.explain(target())).toMatch(/set it again|Fix the host's user setting|pin its current public key/);
    });

    test("pin the host's key and type under its alias, without the key's comment", () => {
        expect(knownHostsLine(target({ hostKey: "ssh-ed25519 AAAAC3Nza host comment\n" }))).toBe(
            "static-lab ssh-ed25519 AAAAC3Nza\n",
        );
    });
});

describe("the persistent-fault classifier", () => {
    test.each([
        [
            'Load key "/tmp/x/key": invalid format',
            "the operator's private key could not be loaded: ssh could not load sshPrivateKey",
        ],
        ["ec2-user@203.0.113.7: Permission denied (publickey).", `SSH authentication failed: ${user}@127.0.0.1:`],
        [
            "Received disconnect from 203.0.113.7 port 22:2: Too many authentication failures",
            "SSH authentication failed",
        ],
        [
            "@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.",
            "the host key does not match the pinned key: 127.0.0.1:",
        ],
        [
            "Unable to negotiate with 203.0.113.7 port 22: no matching host key type found. Their offer: ssh-dss",
            "the host key does not match the pinned key",
        ],
    ])("%j is persistent", (stderr, start) => {
        expect(persistentFault(stderr, target())).toMatch(
            new RegExp(`^${start.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`),
        );
    });

    test.each([
        "ssh: connect to host 203.0.113.7 port 22: Connection refused",
        "ssh: connect to host 203.0.113.7 port 22: Connection timed out",
        "ssh: connect to host 203.0.113.7 port 22: No route to host",
        "kex_exchange_identification: read: Connection reset by peer",
        "An error occurred (TargetNotConnected) when calling the StartSession operation: i-0123 is not connected.",
        "",
    ])("%j is what a booting host shows, and is retried", (stderr) => {
        expect(persistentFault(stderr, target())).toBeUndefined();
    });

    test("quotes ssh's own last line, not the banner of a changed host key", () => {
        expect(
            sshLine("@@@@@@@\n@ WARNING @\nOffending key in known_hosts\nHost key verification failed.\n@@@@\n"),
        ).toBe("Host key verification failed.");
    });
});
