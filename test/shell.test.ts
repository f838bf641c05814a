// Generated shell: snapshots, shellcheck, and the scripts run for real against stub
// `docker` and `getent` commands in a throwaway home directory.

import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { heredoc, shq } from "../shell/quote";
import { bootWaitScript, dockerCheckScript } from "../shell/readiness";
import { scriptFile } from "../shell/scriptFiles";


function shellcheck(script: string, shell: "bash" | "sh"): string {
    const result = spawnSync("shellcheck", ["--shell", shell, "--severity", "style", "-"], { input: script, encoding: "utf8" });
    if (result.error) {
        throw new Error(`shellcheck is not installed (${result.error.message}); run the install command from README.md`);
    }
    return result.stdout;
}

describe("heredoc", () => {
    test("refuses a body that would end its here-document early", () => {
        expect(() => heredoc("NBF_KNOWN_HOSTS", "x\nNBF_KNOWN_HOSTS\ny")).toThrow(/contains its delimiter/);
    });
});

describe("shq", () => {
    test.each([["plain", "'plain'"], ["it's", "'it'\\''s'"], ["$(rm -rf /)", "'$(rm -rf /)'"]])("quotes %p as one word", (value, quoted) => {
        expect(shq(value)).toBe(quoted);
        expect(execFileSync("bash", ["-c", `printf '%s' ${quoted}`], { encoding: "utf8" })).toBe(value);
    });
});

/** A sandbox: stub commands on PATH, a home that `getent` reports, a log of docker calls. */
function sandbox(dockerScript = "exit 0") {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-shell-"));
    const home = path.join(dir, "home");
    const bin = path.join(dir, "bin");
    fs.mkdirSync(home);
    fs.mkdirSync(bin);
    const log = path.join(dir, "docker.log");
    fs.writeFileSync(path.join(bin, "getent"), `#!/bin/sh\necho "me:x:$(id -u):$(id -g)::${home}:/bin/sh"\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, "docker"), `#!/bin/bash\necho "$*" >> ${shq(log)}\n${dockerScript}\n`, { mode: 0o755 });
    const binfmt = path.join(dir, "binfmt_misc");
    fs.mkdirSync(binfmt);
    fs.writeFileSync(path.join(binfmt, "status"), "enabled\n");
    const env = { PATH: `${bin}:${process.env.PATH ?? ""}`, HOME: home, DOCKER_CONFIG: path.join(home, ".docker"), NBF_BINFMT_DIR: binfmt };
    /** Registers a QEMU handler in the fixture table, as binfmt_misc shows it. */
    const addHandler = (name: string, state: "enabled" | "disabled") => fs.writeFileSync(path.join(binfmt, `qemu-${name}`), `${state}\ninterpreter /usr/bin/qemu-${name}-static\n`);
    const run = (script: string, input = "PRIVATE KEY MATERIAL\n") => spawnSync("bash", ["-c", script], { env, input, encoding: "utf8" });
    const calls = () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : []);
    /** Stands in for buildx's own record of the builder. */
    const markRegistered = (name: string) => {
        fs.mkdirSync(path.join(home, ".docker", "buildx", "instances"), { recursive: true });
        fs.writeFileSync(path.join(home, ".docker", "buildx", "instances", name), "{}");
    };
    const include = `Include "${home}/.ssh/native-build-fleet/*/config"`;
    return { home, env, run, calls, markRegistered, include, addHandler };
}

describe("readiness scripts", () => {
    test("match the reviewed scripts and pass shellcheck as POSIX sh", () => {
        expect(bootWaitScript(900)).toMatchSnapshot("boot wait");
        expect(dockerCheckScript("arm64", ["aarch64"], 180)).toMatchSnapshot("docker check");
        expect(shellcheck(`#!/bin/sh\n${bootWaitScript(900)}`, "sh")).toBe("");
        expect(shellcheck(`#!/bin/sh\n${dockerCheckScript("arm64", ["aarch64"], 180)}`, "sh")).toBe("");
    });

    test.each([["arm64", "aarch64", 0], ["amd64", "x86_64", 0], ["amd64", "aarch64", 1]])(
        "a host of pool arch %s reporting %s exits %i", (arch, machine, status) => {
            const box = sandbox(`echo "27.3.1 ${machine}"`);
            const result = box.run(dockerCheckScript(arch, [], 5));
            expect(result.status).toBe(status);
            if (status === 0) {
                expect(result.stdout).toBe(`docker 27.3.1 on ${machine}\n`);
            } else {
                expect(result.stderr).toBe(`this host runs ${machine}, but its pool expects ${arch}\n`);
            }
        });

    test("skips the architecture check when none is expected (static hosts)", () => {
        const box = sandbox(`echo "27.3.1 x86_64"`);
        expect(dockerCheckScript(undefined, [], 5)).not.toContain('case "$machine"');
        expect(box.run(dockerCheckScript(undefined, [], 5)).stdout).toBe("docker 27.3.1 on x86_64\n");
    });

    test("refuses a host with QEMU handlers for platforms it does not declare", () => {
        const box = sandbox(`echo "27.3.1 x86_64"`);
        box.addHandler("aarch64", "enabled");
        box.addHandler("s390x", "enabled");
        box.addHandler("riscv64", "disabled");
        const refused = box.run(dockerCheckScript("amd64", ["x86_64", "s390x"], 5));
        expect(refused.status).toBe(1);
        expect(refused.stderr).toBe("this host has QEMU handlers enabled for aarch64, so builds for those platforms could be routed to it and run emulated; list those platforms under its emulate setting or disable the handlers (/proc/sys/fs/binfmt_misc)\n");
        expect(box.run(dockerCheckScript("amd64", ["x86_64", "s390x", "aarch64"], 5)).status).toBe(0);
    });

    test("reports why docker is unusable when it never answers", () => {
        const box = sandbox(`echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1`);
        const result = box.run(dockerCheckScript("amd64", [], 1));
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/docker is not usable by .* after 1s: Cannot connect to the Docker daemon/);
    });

    test.each([
        ["Docker 27", "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.47/info\": dial unix /var/run/docker.sock: connect: permission denied"],
        ["Docker 28", "permission denied while trying to connect to the docker API at unix:///var/run/docker.sock"],
    ])("fails at once, with the fix, when the user has no access to the Docker socket (%s)", (_, message) => {
        const box = sandbox(`echo ${shq(message)} >&2; exit 1`);
        const result = box.run(dockerCheckScript("amd64", [], 60));
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/^\S+ has no access to Docker on this host \(permission denied on its socket\): add the user to the docker group \(usermod -aG docker \S+\), then run pulumi up again\n$/);
        expect(box.calls()).toHaveLength(1);
    });
});

describe("idle power-off on the host", () => {
    test("passes shellcheck", () => {
        expect(shellcheck(scriptFile("host/idle-check.sh"), "bash")).toBe("");
    });

    test("refuses a minute count that is not a whole number", () => {
        const result = spawnSync("bash", ["-c", scriptFile("host/idle-check.sh"), "idle-check.sh", "ec2-user", "30; reboot"], { encoding: "utf8" });
        expect(result.status).toBe(2);
        expect(result.stderr).toBe("idle-check: MINUTES must be a whole number, not '30; reboot'\n");
    });

    /** Runs the check with stub ps (printing `processes`), systemctl and logger; returns what it did. */
    function check(processes: string[], stampAgeMinutes?: number, logins: string[] = []) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-idle-"));
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(bin, "ps"), `#!/bin/sh\n[ "$2" = ec2-user ] || exit 1\nprintf '${processes.map((p) => `${p}\\n`).join("")}'\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "systemctl"), `#!/bin/sh\necho "$*" >> ${dir}/systemctl.log\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "logger"), "#!/bin/sh\n", { mode: 0o755 });
        fs.writeFileSync(path.join(bin, "journalctl"), `#!/bin/sh\nprintf '${logins.map((l) => `${l}\\n`).join("")}'\n`, { mode: 0o755 });
        const stamp = path.join(dir, "run", "last-active");
        if (stampAgeMinutes !== undefined) {
            fs.mkdirSync(path.dirname(stamp));
            fs.writeFileSync(stamp, "");
            const then = Date.now() / 1000 - stampAgeMinutes * 60;
            fs.utimesSync(stamp, then, then);
        }
        const result = spawnSync("bash", ["-c", scriptFile("host/idle-check.sh"), "idle-check.sh", "ec2-user", "30"], {
            encoding: "utf8", env: { PATH: `${bin}:${process.env.PATH ?? ""}`, NBF_IDLE_STAMP: stamp },
        });
        const log = path.join(dir, "systemctl.log");
        return {
            status: result.status, stderr: result.stderr,
            poweredOff: fs.existsSync(log) && fs.readFileSync(log, "utf8").includes("poweroff"),
            stampAgeMinutes: (Date.now() - fs.statSync(stamp).mtimeMs) / 60000,
        };
    }

    test("starts counting at boot", () => {
        const result = check([]);
        expect(result).toMatchObject({ status: 0, poweredOff: false });
        expect(result.stampAgeMinutes).toBeLessThan(1);
    });

    test("powers off after idleMinutes without a process of the build user", () => {
        expect(check([], 31)).toMatchObject({ status: 0, poweredOff: true });
        expect(check(["systemd", "(sd-pam)"], 31)).toMatchObject({ status: 0, poweredOff: true });
    });

    test("stays up before idleMinutes have passed", () => {
        expect(check([], 29)).toMatchObject({ status: 0, poweredOff: false });
    });

    test("a login too short for a tick to see, such as the node check before a build, keeps the host up", () => {
        expect(check([], 31, ["Accepted publickey for ec2-user from 203.0.113.7 port 50022 ssh2: ED25519 SHA256:abc"])).toMatchObject({ poweredOff: false });
        expect(check([], 31, ["Accepted publickey for ec2-user2 from 203.0.113.7 port 50022 ssh2: ED25519 SHA256:abc"])).toMatchObject({ poweredOff: true });
    });

    test("a connected build (an SSH session of the build user) resets the clock", () => {
        const result = check(["sshd-session", "docker"], 45);
        expect(result).toMatchObject({ status: 0, poweredOff: false });
        expect(result.stampAgeMinutes).toBeLessThan(1);
    });
});
