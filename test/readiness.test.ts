// The readiness check against a real sshd on loopback: an RSA-keyed host works through the
// pinned key, and each persistent fault fails on its first attempt with its reason, while a
// refused connection is retried until the deadline.

import { execFileSync, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { readinessScript, readinessSshArgs, SshTarget, SSH_FAULTS } from "../shell/readiness";

const lab = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-readiness-"));
const user = os.userInfo().username;
let port = 0;
let sshd: ReturnType<typeof spawn> | undefined;

function keygen(name: string, type: string): string {
    execFileSync("ssh-keygen", ["-q", "-t", ...type.split(" "), "-N", "", "-C", name, "-f", path.join(lab, name)]);
    return fs.readFileSync(path.join(lab, `${name}.pub`), "utf8");
}

async function freePort(): Promise<number> {
    return new Promise((resolve) => {
        const server = net.createServer().listen(0, "127.0.0.1", () => {
            const { port: p } = server.address() as net.AddressInfo;
            server.close(() => resolve(p));
        });
    });
}

const rsaHostKey = keygen("host_rsa", "rsa -b 2048");
const otherHostKey = keygen("host_other", "ed25519");
keygen("operator", "ed25519");
keygen("stranger", "ed25519");
const operatorKey = fs.readFileSync(path.join(lab, "operator"), "utf8");
const strangerKey = fs.readFileSync(path.join(lab, "stranger"), "utf8");

beforeAll(async () => {
    port = await freePort();
    fs.copyFileSync(path.join(lab, "operator.pub"), path.join(lab, "authorized_keys"));
    // The host has only an RSA key: OpenSSH must verify it with rsa-sha2-*, which OpenSSH 8.8+
    // servers require (they refuse the SHA-1 ssh-rsa the real command provider offers).
    fs.writeFileSync(path.join(lab, "sshd_config"), [
        `ListenAddress 127.0.0.1:${port}`, `HostKey ${lab}/host_rsa`, `PidFile ${lab}/sshd.pid`,
        `AuthorizedKeysFile ${lab}/authorized_keys`, "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password", `AllowUsers ${user}`, "UsePAM no", "StrictModes no", "",
    ].join("\n"));
    if (process.getuid?.() === 0) {
        fs.mkdirSync("/run/sshd", { recursive: true });
    }
    sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", path.join(lab, "sshd_config")], { stdio: "ignore" });
    for (let i = 0; i < 50 && !(await listening(port)); i++) {
        await new Promise((r) => setTimeout(r, 100));
    }
});

afterAll(() => {
    sshd?.kill();
    fs.rmSync(lab, { recursive: true, force: true });
});

async function listening(p: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect(p, "127.0.0.1", () => { socket.end(); resolve(true); });
        socket.on("error", () => resolve(false));
    });
}

function target(overrides: Partial<SshTarget> = {}): SshTarget {
    return { address: "127.0.0.1", port, user, hostKey: rsaHostKey, hostKeyAlias: "static-lab", ...overrides };
}

/** Runs the check with an ssh on PATH that counts its calls, and a one-second retry delay. */
function check(t: SshTarget, privateKey: string, opts: { connectTimeoutSeconds?: number; persistentFaultSeconds?: number } = {}) {
    const bin = fs.mkdtempSync(path.join(lab, "bin-"));
    fs.writeFileSync(path.join(bin, "ssh"), `#!/bin/sh\necho call >> ${bin}/calls\nexec /usr/bin/ssh "$@"\n`, { mode: 0o755 });
    const script = readinessScript({
        target: t, connectTimeoutSeconds: opts.connectTimeoutSeconds ?? 30, persistentFaultSeconds: opts.persistentFaultSeconds ?? 0,
        remoteScripts: ["echo booted >&2", "echo docker 27.3.1 on $(uname -m)"],
    }).replace("sleep 5", "sleep 1");
    const result = spawnSync("bash", ["-c", script], { input: privateKey, encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` } });
    const calls = fs.existsSync(path.join(bin, "calls")) ? fs.readFileSync(path.join(bin, "calls"), "utf8").trim().split("\n").length : 0;
    return { ...result, calls };
}

describe("the readiness check over OpenSSH", () => {
    test("reaches a host that has only an RSA host key, pinned, and runs each remote script in its own session", () => {
        const result = check(target(), operatorKey);
        expect(result.stderr).toBe("booted\n");
        expect(result.stdout).toBe(`docker 27.3.1 on ${os.arch() === "arm64" ? "aarch64" : "x86_64"}\n`);
        expect(result.status).toBe(0);
        expect(result.calls).toBe(3);
    });

    test("fails on the first attempt when the host refuses the operator's key", () => {
        const result = check(target(), strangerKey);
        expect(result.status).toBe(1);
        expect(result.calls).toBe(1);
        expect(result.stderr).toContain(`SSH authentication failed: ${user}@127.0.0.1:${port} refused the operator's key (Permission denied)`);
        expect(result.stderr).toMatch(/\(ssh: .*Permission denied \(publickey\)\.\)\n$/);
    });

    test("says the user may not exist when sshd refuses an unknown user", () => {
        const result = check(target({ user: "nbf-no-such-user" }), operatorKey);
        expect(result.status).toBe(1);
        expect(result.calls).toBe(1);
        expect(result.stderr).toContain("the user nbf-no-such-user may not exist there or sshd may not allow it");
    });

    test("fails on the first attempt when the host presents another key than the pinned one", () => {
        const result = check(target({ hostKey: otherHostKey }), operatorKey);
        expect(result.status).toBe(1);
        expect(result.calls).toBe(1);
        expect(result.stderr).toContain(`the host key does not match the pinned key: 127.0.0.1:${port} did not present the pinned ssh-ed25519 host key`);
        expect(result.stderr).toContain("(ssh: Host key verification failed.)");
    });

    test("fails on the first attempt when the private key cannot be loaded, without printing it", () => {
        const result = check(target(), "not a key\n");
        expect(result.status).toBe(1);
        expect(result.calls).toBe(1);
        expect(result.stderr).toContain("the operator's private key could not be loaded");
        expect(result.stderr).not.toContain("not a key");
    });

    test("retries a persistent fault for the boot window before failing", () => {
        const result = check(target(), strangerKey, { persistentFaultSeconds: 2 });
        expect(result.status).toBe(1);
        expect(result.calls).toBeGreaterThan(1);
        expect(result.stderr).toContain("SSH authentication failed");
    });

    test("keeps retrying a refused connection until the deadline, then reports ssh's error", async () => {
        const closed = await freePort();
        const result = check(target({ port: closed }), operatorKey, { connectTimeoutSeconds: 2 });
        expect(result.status).toBe(1);
        expect(result.calls).toBeGreaterThan(1);
        expect(result.stderr).toContain(`could not reach 127.0.0.1:${closed} within 2s:`);
        expect(result.stderr).toContain("Connection refused");
    });
});

describe("the readiness ssh arguments", () => {
    test("read no ssh_config and set every option a user's config could weaken", () => {
        const args = readinessSshArgs(target()).map((a) => a.replace("@NBF_TMP@", lab));
        expect(args.slice(0, 2)).toEqual(["-F", "none"]);
        const effective = execFileSync("ssh", ["-G", ...args], { encoding: "utf8" });
        for (const line of ["forwardagent no", "controlmaster false", "updatehostkeys false", "verifyhostkeydns false", "identitiesonly yes",
            "identityagent none", "batchmode yes", "stricthostkeychecking true", "globalknownhostsfile /dev/null", "hostkeyalias static-lab",
            "clearallforwardings yes", "passwordauthentication no", "checkhostip no", `identityfile ${lab}/key`, `userknownhostsfile ${lab}/known_hosts`]) {
            expect(effective.split("\n")).toContain(line);
        }
        expect(effective).not.toMatch(/^(controlpath|proxyjump|proxycommand|knownhostscommand) /m);
    });

    test("go through the SSM session instead of straight to the address when asked", () => {
        const args = readinessSshArgs(target({ address: "i-0123456789abcdef0", proxyCommand: "aws ssm start-session --target %h" }));
        expect(args).toContain("ProxyCommand=aws ssm start-session --target %h");
        expect(args).not.toContain("ProxyJump=none");
        expect(args.slice(-2)).toEqual(["--", "i-0123456789abcdef0"]);
    });

    test.each(SSH_FAULTS.map((f) => [f.kind]))("explains the fault \"%s\" with a fix", (kind) => {
        const fault = SSH_FAULTS.find((f) => f.kind === kind)!;
        expect(fault.explain(target())).toMatch(/set it again|Fix the host's user setting|pin its current public key/);
    });
});
