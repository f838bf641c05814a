// The program's shell: the host scripts and the runner's delete script run for real against
// stub `docker` and `getent` commands in a throwaway home directory, shellcheck, and snapshots
// of the data the TypeScript gives them.

import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { shq } from "../runner/quote";
import { remoteCommand, RemoteStep } from "../runner/readiness";
import {
    REMOVE_BUILDERS_COMMAND,
    REMOVE_BUILDERS_INTERPRETER,
    removeBuildersEnvironment,
} from "../runner/removeBuilders";
import { bootWaitStep, dockerCheckStep } from "../runner/readinessSteps";
import { scriptFile } from "../host/scriptFiles";
import { sandbox } from "./sandbox";

function shellcheck(script: string, shell: "bash" | "sh"): string {
    const result = spawnSync("shellcheck", ["--shell", shell, "--severity", "style", "-"], {
        input: script,
        encoding: "utf8",
    });
    if (result.error) {
        throw new Error(
            `shellcheck is not installed (${result.error.message}); run the install command from README.md`,
        );
    }
    return result.stdout;
}

describe("shq", () => {
    test.each([
        ["plain", "'plain'"],
        ["it's", "'it'\\''s'"],
        ["$(rm -rf /)", "'$(rm -rf /)'"],
    ])("quotes %p as one word", (value, quoted) => {
        expect(shq(value)).toBe(quoted);
        expect(execFileSync("bash", ["-c", `printf '%s' ${quoted}`], { encoding: "utf8" })).toBe(value);
    });
});

/** A sandbox with a docker stub running `dockerScript`, and a fixture binfmt_misc table. */
function hostBox(dockerScript = "exit 0") {
    const box = sandbox("nbf-shell-");
    box.stub("docker", dockerScript);
    const binfmt = path.join(box.dir, "binfmt_misc");
    fs.mkdirSync(binfmt);
    fs.writeFileSync(path.join(binfmt, "status"), "enabled\n");
    /** Registers a QEMU handler in the fixture table, as binfmt_misc shows it. */
    const addHandler = (name: string, state: "enabled" | "disabled") =>
        fs.writeFileSync(path.join(binfmt, `qemu-${name}`), `${state}\ninterpreter /usr/bin/qemu-${name}-static\n`);
    /** Runs the step's remote command line as the host's login shell would. */
    const run = (step: RemoteStep) =>
        spawnSync("sh", ["-c", remoteCommand(step)], { env: { ...box.env, NBF_BINFMT_DIR: binfmt }, encoding: "utf8" });
    return { ...box, run, addHandler };
}

describe("readiness steps on the host", () => {
    test("pass shellcheck as POSIX sh", () => {
        expect(shellcheck(scriptFile("host/boot-wait.sh"), "sh")).toBe("");
        expect(shellcheck(scriptFile("host/docker-check.sh"), "sh")).toBe("");
    });

    test("give each script its data as parameters: the timeout, the ready file, the pool's arch and machines, the allowed handlers", () => {
        const data = (s: RemoteStep) => [s.name, ...s.args];
        expect({
            bootWait: data(bootWaitStep(900)),
            arm64: data(dockerCheckStep("arm64", ["aarch64"], 180)),
            emulating: data(dockerCheckStep("amd64", ["x86_64", "arm", "s390x"], 180)),
            static: data(dockerCheckStep(undefined, ["aarch64"], 180)),
        }).toMatchSnapshot();
        expect(bootWaitStep(900).script).toBe(scriptFile("host/boot-wait.sh"));
    });

    test("the boot wait returns once the boot script's marker exists, and explains a boot that never finishes", () => {
        const box = hostBox();
        const ready = path.join(box.dir, "ready");
        const waitFor = (timeout: number) => ({ ...bootWaitStep(timeout), args: [String(timeout), ready] });
        const late = box.run(waitFor(0));
        expect(late.status).toBe(1);
        expect(late.stderr).toBe(
            "the boot script did not finish within 0s; see /var/log/cloud-init-output.log on the host\n",
        );
        fs.writeFileSync(ready, "");
        expect(box.run(waitFor(900))).toMatchObject({ status: 0, stdout: "", stderr: "" });
    });

    test.each([
        ["arm64", "aarch64", 0],
        ["arm64", "arm64", 0],
        ["amd64", "x86_64", 0],
        ["amd64", "aarch64", 1],
    ])("a host of pool arch %s reporting %s exits %i", (arch, machine, status) => {
        const box = hostBox(`echo "27.3.1 ${machine}"`);
        const result = box.run(dockerCheckStep(arch, [], 5));
        expect(result.status).toBe(status);
        if (status === 0) {
            expect(result.stdout).toBe(`docker 27.3.1 on ${machine}\n`);
        } else {
            expect(result.stderr).toBe(`this host runs ${machine}, but its pool expects ${arch}\n`);
        }
    });

    test("skips the architecture check when none is expected (static hosts)", () => {
        const box = hostBox(`echo "27.3.1 x86_64"`);
        expect(box.run(dockerCheckStep(undefined, [], 5)).stdout).toBe("docker 27.3.1 on x86_64\n");
    });

    test("refuses a host with QEMU handlers for platforms it does not declare", () => {
        const box = hostBox(`echo "27.3.1 x86_64"`);
        box.addHandler("aarch64", "enabled");
        box.addHandler("s390x", "enabled");
        box.addHandler("riscv64", "disabled");
        const refused = box.run(dockerCheckStep("amd64", ["x86_64", "s390x"], 5));
        expect(refused.status).toBe(1);
        expect(refused.stderr).toBe(
            "this host has QEMU handlers enabled for aarch64, so builds for those platforms could be routed to it and run emulated; list those platforms under its emulate setting or disable the handlers (/proc/sys/fs/binfmt_misc)\n",
        );
        expect(box.run(dockerCheckStep("amd64", ["x86_64", "s390x", "aarch64"], 5)).status).toBe(0);
    });

    test("reports why docker is unusable when it never answers", () => {
        const box = hostBox(
            `echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1`,
        );
        const result = box.run(dockerCheckStep("amd64", [], 0));
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(/^docker is not usable by .* after 0s: Cannot connect to the Docker daemon/);
    });

    test.each([
        [
            "Docker 27",
            'permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.47/info": dial unix /var/run/docker.sock: connect: permission denied',
        ],
        ["Docker 28", "permission denied while trying to connect to the docker API at unix:///var/run/docker.sock"],
    ])("fails at once, with the fix, when the user has no access to the Docker socket (%s)", (_, message) => {
        const box = hostBox(`echo ${shq(message)} >&2; exit 1`);
        const result = box.run(dockerCheckStep("amd64", [], 60));
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(
            /^\S+ has no access to Docker on this host \(permission denied on its socket\): add the user to the docker group \(usermod -aG docker \S+\), then run pulumi up again\n$/,
        );
        expect(box.calls("docker")).toHaveLength(1);
    });

    test("refuse a timeout that is not a whole number", () => {
        const box = hostBox();
        expect(box.run({ ...dockerCheckStep(undefined, [], 5), args: ["5; reboot", "", "", ""] })).toMatchObject({
            status: 2,
            stderr: "docker-check: TIMEOUT must be a whole number of seconds, not '5; reboot'\n",
        });
    });
});

/** The repository's root: the project directory the command provider runs the delete in. */
const ROOT = path.join(__dirname, "..");

describe("removing the builders (the registration's delete)", () => {
    /** Runs the delete as the provider does: its command line in the project directory, its data in the environment. */
    function remove(
        box: ReturnType<typeof sandbox>,
        name: string,
        builders: string[],
        owner = "native-build-fleet/dev",
        project = ROOT,
        pin: Record<string, string> = {},
        asUser?: { uid: number; gid: number },
    ) {
        const [shell, ...flags] = REMOVE_BUILDERS_INTERPRETER;
        return spawnSync(shell, [...flags, REMOVE_BUILDERS_COMMAND], {
            cwd: project,
            env: { ...box.env, ...removeBuildersEnvironment(name, builders, owner), ...pin },
            encoding: "utf8",
            // As an ordinary user when the tests run as root: bash imports no PS4 for root.
            ...(asUser ?? {}),
        });
    }
    const registered = (box: ReturnType<typeof sandbox>, ...names: string[]) =>
        names.forEach((n) => {
            fs.mkdirSync(path.join(box.home, ".docker", "buildx", "instances"), { recursive: true });
            fs.writeFileSync(path.join(box.home, ".docker", "buildx", "instances", n), "{}");
        });

    test("removes the builders the stack's directory lists as its own, then the stack's SSH files", () => {
        const box = sandbox("nbf-remove-");
        // fleet-dev-x86-0 answers no more: only its local entry can go.
        box.stub("docker", '[ "$3" = fleet-dev-x86-0 ] && exit 1; exit 0');
        const dir = path.join(box.home, ".ssh", "native-build-fleet", "fleet-dev");
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "builders"), "fleet-dev\nfleet-dev-x86-0\n");
        registered(box, "fleet-dev", "fleet-dev-x86-0", "fleet-dev-arm-0");
        const result = remove(box, "fleet-dev", ["fleet-dev", "fleet-dev-x86-0", "fleet-dev-arm-0", "fleet-dev-gone"]);
        expect(result.status).toBe(0);
        expect(box.calls("docker")).toEqual([
            "buildx rm fleet-dev",
            "buildx rm fleet-dev-x86-0",
            "buildx rm --keep-daemon fleet-dev-x86-0",
        ]);
        expect(fs.existsSync(dir)).toBe(false);
    });

    test("leaves another stack's same-named builder directory, builders and BuildKit containers alone", () => {
        const box = sandbox("nbf-remove-");
        box.stub("docker", "exit 0");
        const dir = path.join(box.home, ".ssh", "native-build-fleet", "fleet-dev");
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "owner"), "native-build-fleet/prod\n");
        fs.writeFileSync(path.join(dir, "builders"), "fleet-dev\nfleet-dev-x86-0\n");
        registered(box, "fleet-dev", "fleet-dev-x86-0");
        const result = remove(box, "fleet-dev", ["fleet-dev", "fleet-dev-x86-0"], "native-build-fleet/dev");
        expect(result).toMatchObject({
            status: 0,
            stderr: `remove-builders: ${dir} belongs to stack native-build-fleet/prod, not native-build-fleet/dev; left it and its builders as they are\n`,
        });
        expect(box.calls("docker")).toEqual([]);
        expect(fs.existsSync(path.join(dir, "builders"))).toBe(true);
    });

    test("removes the nodes through the stack's own ssh wrapper, which reads no user ssh_config", () => {
        const box = sandbox("nbf-remove-");
        box.stub("docker", 'command -v ssh > "$HOME/ssh-used"');
        const dir = path.join(box.home, ".ssh", "native-build-fleet", "fleet-dev");
        fs.mkdirSync(path.join(dir, "bin"), { recursive: true });
        fs.writeFileSync(path.join(dir, "bin", "ssh"), "#!/bin/sh\n", { mode: 0o700 });
        fs.writeFileSync(path.join(dir, "owner"), "native-build-fleet/dev\n");
        fs.writeFileSync(path.join(dir, "builders"), "fleet-dev\n");
        registered(box, "fleet-dev");
        expect(remove(box, "fleet-dev", ["fleet-dev"]).status).toBe(0);
        expect(fs.readFileSync(path.join(box.home, "ssh-used"), "utf8").trim()).toBe(path.join(dir, "bin", "ssh"));
    });

    test("refuses a builder name that would reach outside the stack's directory", () => {
        const box = sandbox("nbf-remove-");
        box.stub("docker", "exit 0");
        const root = path.join(box.home, ".ssh", "native-build-fleet");
        fs.mkdirSync(path.join(root, "other"), { recursive: true });
        for (const name of ["", "..", "a/b"]) {
            expect(remove(box, name, ["other"])).toMatchObject({
                status: 2,
                stderr: `remove-builders: NBF_BUILDER must be a builder name, not '${name}'\n`,
            });
        }
        expect(fs.existsSync(path.join(root, "other"))).toBe(true);
        expect(box.calls("docker")).toEqual([]);
    });

    describe("runs only the checkout's copy of remove-builders.sh that the state pins", () => {
        /**
         * A sandbox whose stack registered fleet-dev, and a project directory (a checkout) holding
         * the delete's two scripts, as this repository has them.
         */
        function checkout() {
            const box = sandbox("nbf-pinned-");
            box.stub("docker", "exit 0");
            const dir = path.join(box.home, ".ssh", "native-build-fleet", "fleet-dev");
            fs.mkdirSync(dir, { recursive: true });
            fs.writeFileSync(path.join(dir, "owner"), "native-build-fleet/dev\n");
            fs.writeFileSync(path.join(dir, "builders"), "fleet-dev\n");
            registered(box, "fleet-dev");
            const project = path.join(box.dir, "project");
            fs.mkdirSync(path.join(project, "runner"), { recursive: true });
            for (const f of ["runner/remove-builders.sh", "runner/run-pinned.sh"]) {
                fs.copyFileSync(path.join(ROOT, f), path.join(project, f));
            }
            const script = path.join(project, "runner", "remove-builders.sh");
            return {
                box,
                dir,
                project,
                script,
                run: (pin: Record<string, string> = {}) =>
                    remove(box, "fleet-dev", ["fleet-dev"], undefined, project, pin),
            };
        }
        const sha256 = (file: string) => execFileSync("sha256sum", [file], { encoding: "utf8" }).split(" ")[0];
        const refusal = (reason: string) =>
            `run-pinned: refusing to run runner/remove-builders.sh: ${reason}; run \`pulumi destroy\` from a checkout of the commit that last ran \`pulumi up\` on this stack, or run \`pulumi up\` from this checkout first so the state pins its copy\n`;

        test("pins the file's SHA-256 in the environment, never its text", () => {
            const env = removeBuildersEnvironment("fleet-dev", ["fleet-dev"], "native-build-fleet/dev");
            expect(env.NBF_REMOVE_BUILDERS_SHA256).toBe(sha256(path.join(ROOT, "runner", "remove-builders.sh")));
            expect(Object.values(env).join("\n")).not.toContain("set -uo pipefail");
        });

        test("runs the checkout's own file, whatever its version, when the state pins its SHA-256", () => {
            const c = checkout();
            // A later version of the script, pinned by the `up` that ran it.
            const text = fs.readFileSync(c.script, "utf8");
            fs.writeFileSync(c.script, text.replace("set -uo pipefail\n", 'set -uo pipefail\ntouch "$HOME/ran"\n'));
            expect(c.run({ NBF_REMOVE_BUILDERS_SHA256: sha256(c.script) })).toMatchObject({ status: 0, stderr: "" });
            expect(fs.existsSync(path.join(c.box.home, "ran"))).toBe(true);
            expect(c.box.calls("docker")).toEqual(["buildx rm fleet-dev"]);
            expect(fs.existsSync(c.dir)).toBe(false);
        });

        test("refuses a tampered file, and never runs its text", () => {
            const c = checkout();
            const text = fs.readFileSync(c.script, "utf8");
            fs.writeFileSync(
                c.script,
                text.replace("set -uo pipefail\n", 'set -uo pipefail\ntouch "$HOME/tampered"\n'),
            );
            const pinned = removeBuildersEnvironment("fleet-dev", [], "").NBF_REMOVE_BUILDERS_SHA256;
            expect(c.run()).toMatchObject({
                status: 1,
                stderr: refusal(`its SHA-256 is ${sha256(c.script)}, but the state pins ${pinned}`),
            });
            expect(fs.existsSync(path.join(c.box.home, "tampered"))).toBe(false);
            expect(c.box.calls("docker")).toEqual([]);
            expect(fs.existsSync(path.join(c.dir, "builders"))).toBe(true);
        });

        test("refuses to run anything when the state pins no digest", () => {
            const c = checkout();
            expect(c.run({ NBF_REMOVE_BUILDERS_SHA256: "" })).toMatchObject({
                status: 1,
                stderr: refusal("the state pins no SHA-256 for it (got '')"),
            });
            expect(c.box.calls("docker")).toEqual([]);
            expect(fs.existsSync(path.join(c.dir, "builders"))).toBe(true);
        });

        // Whoever writes the state can add entries to the delete's environment; bash would run
        // code from each of these before or instead of any line of the scripts.
        test.each([
            ["BASH_ENV, a file bash sources first", { BASH_ENV: "MARK.sh" }],
            ["an imported function that replaces exec", { "BASH_FUNC_exec%%": '() { touch "MARK"; }' }],
            ["an imported function that replaces cat", { "BASH_FUNC_cat%%": '() { touch "MARK"; }' }],
            ["an imported function that replaces sha256sum", { "BASH_FUNC_sha256sum%%": '() { touch "MARK"; }' }],
            ["SHELLOPTS=xtrace with a PS4 that runs a command", { SHELLOPTS: "xtrace", PS4: '$(touch "MARK")' }],
            [
                "an imported function a bash child of the script would run",
                { "BASH_FUNC_echo%%": '() { touch "MARK"; }' },
            ],
        ])("runs no code from the environment the state adds: %s", (_, attack) => {
            const c = checkout();
            const mark = path.join(c.box.dir, "attacked");
            fs.writeFileSync(`${mark}.sh`, `touch "${mark}"\n`);
            const env = Object.fromEntries(Object.entries(attack).map(([k, v]) => [k, v.replace("MARK", mark)]));
            // bash imports no PS4 as root (bash 4.4+), so the xtrace attack needs an ordinary user.
            const root = process.getuid?.() === 0;
            if (root) [c.box.dir, c.project, c.box.home].forEach((d) => fs.chmodSync(d, 0o777));
            remove(
                c.box,
                "fleet-dev",
                ["fleet-dev"],
                undefined,
                c.project,
                env,
                root ? { uid: 65534, gid: 65534 } : undefined,
            );
            expect(fs.existsSync(mark)).toBe(false);
        });

        test("refuses a missing file", () => {
            const c = checkout();
            fs.rmSync(c.script);
            expect(c.run()).toMatchObject({
                status: 1,
                stderr: refusal(`there is no such file in ${c.project}`),
            });
            expect(c.box.calls("docker")).toEqual([]);
            expect(fs.existsSync(path.join(c.dir, "builders"))).toBe(true);
        });
    });
});

describe("idle power-off on the host", () => {
    test("passes shellcheck", () => {
        expect(shellcheck(scriptFile("host/idle-check.sh"), "bash")).toBe("");
    });

    test("refuses a minute count that is not a whole number", () => {
        const result = spawnSync(
            "bash",
            ["-c", scriptFile("host/idle-check.sh"), "idle-check.sh", "ec2-user", "30; reboot"],
            { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
        );
        expect(result.status).toBe(2);
        expect(result.stderr).toBe("idle-check: MINUTES must be a whole number, not '30; reboot'\n");
    });

    /** Runs the check with stub ps (printing `processes`), systemctl and logger; returns what it did. */
    function check(processes: string[], stampAgeMinutes?: number, logins: string[] = []) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-idle-"));
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(
            path.join(bin, "ps"),
            `#!/bin/sh\n[ "$2" = ec2-user ] || exit 1\nprintf '${processes.map((p) => `${p}\\n`).join("")}'\n`,
            { mode: 0o755 },
        );
        fs.writeFileSync(path.join(bin, "systemctl"), `#!/bin/sh\necho "$*" >> ${dir}/systemctl.log\n`, {
            mode: 0o755,
        });
        fs.writeFileSync(path.join(bin, "logger"), "#!/bin/sh\n", { mode: 0o755 });
        fs.writeFileSync(
            path.join(bin, "journalctl"),
            `#!/bin/sh\nprintf '${logins.map((l) => `${l}\\n`).join("")}'\n`,
            { mode: 0o755 },
        );
        const stamp = path.join(dir, "run", "last-active");
        if (stampAgeMinutes !== undefined) {
            fs.mkdirSync(path.dirname(stamp));
            fs.writeFileSync(stamp, "");
            const then = Date.now() / 1000 - stampAgeMinutes * 60;
            fs.utimesSync(stamp, then, then);
        }
        // stdin is /dev/null, as systemd gives the timer's unit: Node's default pipe is a socket,
        // which makes bash read ~/.bashrc as if rshd had started it (bash(1), INVOCATION), 2 s
        // a run with this machine's ~/.bashrc.
        const result = spawnSync("bash", ["-c", scriptFile("host/idle-check.sh"), "idle-check.sh", "ec2-user", "30"], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
            env: { PATH: `${bin}:${process.env.PATH ?? ""}`, NBF_IDLE_STAMP: stamp },
        });
        const log = path.join(dir, "systemctl.log");
        return {
            status: result.status,
            stderr: result.stderr,
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
        expect(
            check([], 31, ["Accepted publickey for ec2-user from 203.0.113.7 port 50022 ssh2: ED25519 SHA256:abc"]),
        ).toMatchObject({ poweredOff: false });
        expect(
            check([], 31, ["Accepted publickey for ec2-user2 from 203.0.113.7 port 50022 ssh2: ED25519 SHA256:abc"]),
        ).toMatchObject({ poweredOff: true });
    });

    test("a connected build (an SSH session of the build user) resets the clock", () => {
        const result = check(["sshd-session", "docker"], 45);
        expect(result).toMatchObject({ status: 0, poweredOff: false });
        expect(result.stampAgeMinutes).toBeLessThan(1);
    });
});
