// One sandbox for the tests that run scripts and the runner's entry points for real: a
// throwaway home, stub commands on PATH that log their calls, and a RunnerEnv whose clock
// moves only when the runner sleeps, so retry loops run without waiting.

import { spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { RunnerEnv } from "../runner/process";

const made: string[] = [];
afterAll(() => made.splice(0).forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

export interface Sandbox {
    dir: string;
    home: string;
    bin: string;
    /** Where the stubs log their calls, one a line. */
    log: string;
    /** PATH with the stubs first, HOME and DOCKER_CONFIG in the sandbox. */
    env: NodeJS.ProcessEnv;
    /** A bash stub for `cmd` that logs `cmd args…` and then runs `body`. */
    stub: (cmd: string, body: string) => void;
    /** The logged calls of `cmd`, without its name. */
    calls: (cmd: string) => string[];
    /** A file in the sandbox's directory. */
    read: (name: string) => string;
    /** The environment for the runner's functions: the sandbox's env, a fake clock, logged lines. */
    runner: (extra?: NodeJS.ProcessEnv) => RunnerEnv & { logged: string[]; clock: () => number };
}

export function sandbox(prefix = "nbf-sandbox-"): Sandbox {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    made.push(dir);
    const home = path.join(dir, "home");
    const bin = path.join(dir, "bin");
    fs.mkdirSync(home);
    fs.mkdirSync(bin);
    const log = path.join(dir, "calls.log");
    const stub = (cmd: string, body: string) =>
        fs.writeFileSync(path.join(bin, cmd), `#!/bin/bash\necho "${cmd} $*" >> '${log}'\n${body}\n`, { mode: 0o755 });
    // OpenSSH and the scripts find the home directory through the passwd entry, not $HOME.
    fs.writeFileSync(path.join(bin, "getent"), `#!/bin/sh\necho "me:x:$(id -u):$(id -g)::${home}:/bin/sh"\n`, {
        mode: 0o755,
    });
    const env = { PATH: `${bin}:${process.env.PATH ?? ""}`, HOME: home, DOCKER_CONFIG: path.join(home, ".docker") };
    const calls = (cmd: string) =>
        (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [])
            .filter((l) => l.startsWith(`${cmd} `))
            .map((l) => l.slice(cmd.length + 1));
    const runner = (extra: NodeJS.ProcessEnv = {}) => {
        let now = 0;
        const logged: string[] = [];
        return {
            env: { ...env, ...extra },
            logged,
            clock: () => now,
            log: (line: string) => {
                logged.push(line);
            },
            sleep: (seconds: number) => {
                now += seconds * 1000;
                return Promise.resolve();
            },
            now: () => now,
        };
    };
    return {
        dir,
        home,
        bin,
        log,
        env,
        stub,
        calls,
        read: (name) => fs.readFileSync(path.join(dir, name), "utf8"),
        runner,
    };
}

/** A TCP port on loopback that nothing listens on (it was free a moment ago). */
export function freePort(): Promise<number> {
    return new Promise((resolve) => {
        const server = net.createServer().listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

/** Whether something accepts connections on the loopback port. */
export function listening(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect(port, "127.0.0.1", () => {
            // destroy, not end: end() half-closes and leaves the socket open and reading until
            // sshd closes its side, which it had not done by the end of the suite (seen with
            // process._getActiveHandles() after each suite); the open socket then kept the jest
            // worker from exiting ("A worker process has failed to exit gracefully").
            socket.destroy();
            resolve(true);
        });
        socket.on("error", () => resolve(false));
    });
}

/**
 * A real sshd on a free loopback port that admits only the current user, by the keys in
 * `authorizedKeys`, presenting `hostKey` (a private key file); its config and pid file go to
 * `dir`, with `extra` lines appended. Resolves once it accepts connections.
 */
export async function startSshd(
    dir: string,
    hostKey: string,
    authorizedKeys: string,
    extra: string[] = [],
): Promise<{ port: number; stop: () => void }> {
    const port = await freePort();
    const config = path.join(dir, "sshd_config");
    fs.writeFileSync(
        config,
        [
            `ListenAddress 127.0.0.1:${port}`,
            `HostKey ${hostKey}`,
            `PidFile ${dir}/sshd.pid`,
            `AuthorizedKeysFile ${authorizedKeys}`,
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            `AllowUsers ${os.userInfo().username}`,
            "UsePAM no",
            "StrictModes no",
            ...extra,
            "",
        ].join("\n"),
    );
    if (process.getuid?.() === 0) {
        fs.mkdirSync("/run/sshd", { recursive: true });
    }
    const sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", config], { stdio: "ignore" });
    for (let i = 0; i < 50 && !(await listening(port)); i++) {
        await new Promise((r) => setTimeout(r, 100));
    }
    return { port, stop: () => sshd.kill() };
}
