// Generated shell: snapshots, shellcheck, and the scripts run for real against stub
// `docker` and `getent` commands in a throwaway home directory.

import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { BuilderSpec, ensureBuilderScript, registerBuilderScript, removeBuilderScript, specFingerprint } from "../shell/builder";
import { heredoc, shq } from "../shell/quote";
import { bootWaitScript, dockerCheckScript } from "../shell/readiness";
import { userData } from "../shell/userData";
import { idleCheckScript } from "../shell/idle";

const HOST_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ==\n-----END OPENSSH PRIVATE KEY-----\n";
const HOST_PUB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfArm0";

function spec(overrides: Partial<BuilderSpec> = {}): BuilderSpec {
    return {
        name: "fleet-dev",
        nodes: [
            { name: "fleet-dev-x86-0", address: "203.0.113.11", port: 22, user: "ec2-user", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIX86 comment", hostKeyAlias: "i-0x86", platforms: ["linux/amd64", "linux/386"] },
            { name: "fleet-dev-arm-0", address: "203.0.113.10", port: 2222, user: "ec2-user", hostKey: HOST_PUB, hostKeyAlias: "i-0arm", platforms: ["linux/arm64"] },
        ],
        driverOptions: {},
        ...overrides,
    };
}

/** `buildx inspect` output with the arm node down, as buildx 0.35 prints it. */
const INSPECT_ONE_DOWN = [
    "Name:          fleet-dev", "Driver:        docker-container", "", "Nodes:",
    "Name:           fleet-dev-x86-0", "Endpoint:       ssh://fleet-dev-x86-0", "Status:         running", "",
    "Name:           fleet-dev-arm-0", "Endpoint:       ssh://fleet-dev-arm-0",
    "Error:          ssh: connect to host 203.0.113.10 port 2222: Connection refused",
].join("\\n");

function shellcheck(script: string, shell: "bash" | "sh"): string {
    const result = spawnSync("shellcheck", ["--shell", shell, "--severity", "style", "-"], { input: script, encoding: "utf8" });
    if (result.error) {
        throw new Error(`shellcheck is not installed (${result.error.message}); run the install command from README.md`);
    }
    return result.stdout;
}

describe("user data", () => {
    const native = userData({ sshUser: "ec2-user", authorizedKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperator ops", hostPrivateKey: HOST_KEY, hostPublicKey: HOST_PUB, emulate: [], binfmtImage: "tonistiigi/binfmt:latest" });
    const emulating = userData({ sshUser: "ec2-user", authorizedKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperator ops", hostPrivateKey: HOST_KEY, hostPublicKey: HOST_PUB, emulate: ["linux/arm/v7", "linux/s390x"], binfmtImage: "tonistiigi/binfmt:latest" });

    const idle = userData({ sshUser: "ec2-user", authorizedKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOperator ops", hostPrivateKey: HOST_KEY, hostPublicKey: HOST_PUB, emulate: [], binfmtImage: "tonistiigi/binfmt:latest", idleMinutes: 30 });

    test("matches the reviewed scripts", () => {
        expect(native).toMatchSnapshot("native pool");
        expect(emulating).toMatchSnapshot("emulating pool");
        expect(idle).toMatchSnapshot("pool that powers off when idle");
    });

    test("passes shellcheck", () => {
        expect(shellcheck(native, "bash")).toBe("");
        expect(shellcheck(emulating, "bash")).toBe("");
        expect(shellcheck(idle, "bash")).toBe("");
        expect(shellcheck(idleCheckScript("ec2-user", 30), "bash")).toBe("");
    });

    test("installs the idle power-off timer only on pools with idleMinutes", () => {
        expect(native).not.toContain("native-build-fleet-idle");
        expect(idle).toContain("systemctl enable --now native-build-fleet-idle.timer");
    });

    test("never registers QEMU handlers on a native pool", () => {
        expect(native).not.toMatch(/binfmt/);
        expect(emulating).toContain("--install arm,s390x");
    });

    test("locks sshd to the provisioned key and to key-only logins without root", () => {
        expect(native).toContain("HostKeyAlgorithms ssh-ed25519");
        expect(native).toContain("PasswordAuthentication no");
        expect(native).toContain("PermitRootLogin no");
        expect(native).toContain('AllowUsers $user');
        expect(native).not.toMatch(/-H tcp|2375|2376/);
    });

    test("refuses a key that would end its here-document early", () => {
        expect(() => heredoc("NBF_HOST_KEY", "x\nNBF_HOST_KEY\ny")).toThrow(/contains its delimiter/);
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

describe("builder registration scripts", () => {
    test("match the reviewed scripts and pass shellcheck", () => {
        for (const [label, script] of [["ensure", ensureBuilderScript(spec(), false)], ["ensure and verify", ensureBuilderScript(spec(), true)], ["register", registerBuilderScript(spec())], ["remove", removeBuilderScript("fleet-dev")]]) {
            expect(script).toMatchSnapshot(label);
            expect(shellcheck(script, "bash")).toBe("");
        }
    });

    test("register every node in order with exactly its declared platforms, over pinned SSH", () => {
        const box = sandbox();
        const result = box.run(ensureBuilderScript(spec({ driverOptions: { image: "moby/buildkit:v0.31.0", network: "host" }, buildkitdConfig: "[registry.\"registry.example.com\"]\n  ca = [\"/etc/ca.pem\"]\n" }), false));
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        expect(box.calls()).toEqual([
            "buildx rm --keep-daemon fleet-dev",
            `buildx create --name fleet-dev --driver docker-container --driver-opt image=moby/buildkit:v0.31.0 --driver-opt network=host --buildkitd-config ${box.home}/.ssh/native-build-fleet/fleet-dev/buildkitd.toml --node fleet-dev-x86-0 --platform linux/amd64,linux/386 ssh://fleet-dev-x86-0`,
            `buildx create --append --name fleet-dev --driver docker-container --driver-opt image=moby/buildkit:v0.31.0 --driver-opt network=host --buildkitd-config ${box.home}/.ssh/native-build-fleet/fleet-dev/buildkitd.toml --node fleet-dev-arm-0 --platform linux/arm64 ssh://fleet-dev-arm-0`,
        ]);

        const dir = path.join(box.home, ".ssh", "native-build-fleet", "fleet-dev");
        expect(fs.readFileSync(path.join(dir, "id_fleet"), "utf8")).toBe("PRIVATE KEY MATERIAL\n");
        expect(fs.readFileSync(path.join(dir, "buildkitd.toml"), "utf8")).toBe('[registry."registry.example.com"]\n  ca = ["/etc/ca.pem"]\n');
        expect(fs.statSync(path.join(dir, "id_fleet")).mode & 0o777).toBe(0o600);
        expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
        expect(fs.readFileSync(path.join(dir, "known_hosts"), "utf8")).toBe(
            "i-0x86 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIX86\ni-0arm ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyOfArm0\n");
        expect(fs.readFileSync(path.join(box.home, ".ssh", "config"), "utf8").split("\n")[0]).toBe(box.include);
    });

    test("write an ssh configuration OpenSSH resolves to strict checking against the pinned key", () => {
        const box = sandbox();
        expect(box.run(ensureBuilderScript(spec(), false)).status).toBe(0);
        const resolved = execFileSync("ssh", ["-G", "-F", path.join(box.home, ".ssh", "config"), "fleet-dev-arm-0"], { env: box.env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        const option = (key: string) => resolved.split("\n").find((line) => line.startsWith(`${key} `))?.slice(key.length + 1);
        expect(option("hostname")).toBe("203.0.113.10");
        expect(option("port")).toBe("2222");
        expect(option("user")).toBe("ec2-user");
        expect(option("stricthostkeychecking")).toBe("true");
        expect(option("hostkeyalias")).toBe("i-0arm");
        expect(option("batchmode")).toBe("yes");
        expect(option("userknownhostsfile")).toBe(path.join(box.home, ".ssh", "native-build-fleet", "fleet-dev", "known_hosts"));
        expect(option("identityfile")).toBe(path.join(box.home, ".ssh", "native-build-fleet", "fleet-dev", "id_fleet"));
    });

    test("contact no host and change nothing when the same builder is already registered", () => {
        const box = sandbox();
        expect(box.run(ensureBuilderScript(spec(), false)).status).toBe(0);
        box.markRegistered("fleet-dev");
        const before = box.calls().length;
        const again = box.run(ensureBuilderScript(spec(), false));
        expect(again.status).toBe(0);
        expect(box.calls().length).toBe(before);
        expect(fs.readFileSync(path.join(box.home, ".ssh", "config"), "utf8").split(box.include).length).toBe(2);
    });

    test("re-register on a machine that has never seen the builder", () => {
        const box = sandbox();
        expect(box.run(ensureBuilderScript(spec(), false)).status).toBe(0);
        // The fingerprint is there but buildx's record is not: a fresh runner with a cached home.
        const again = box.run(ensureBuilderScript(spec(), false));
        expect(again.status).toBe(0);
        expect(box.calls().filter((c) => c.startsWith("buildx create")).length).toBe(4);
    });

    test("re-register when a node changes, keeping the nodes' BuildKit state", () => {
        const box = sandbox();
        box.run(ensureBuilderScript(spec(), false));
        box.markRegistered("fleet-dev");
        const changed = spec();
        changed.nodes[1].address = "203.0.113.99";
        expect(box.run(ensureBuilderScript(changed, false)).status).toBe(0);
        expect(box.calls().slice(-3)[0]).toBe("buildx rm --keep-daemon fleet-dev");
    });


    test("fail naming the node and its platforms when a node does not start", () => {
        const box = sandbox(`if [ "$2" = inspect ]; then printf '${INSPECT_ONE_DOWN}\\n'; fi`);
        for (const script of [registerBuilderScript(spec()), ensureBuilderScript(spec(), true)]) {
            const result = box.run(script);
            expect(result.status).toBe(1);
            expect(result.stderr).toContain("build node fleet-dev-arm-0 (linux/arm64) is not available: ssh: connect to host 203.0.113.10 port 2222: Connection refused\n");
            expect(result.stderr).toContain("so nothing was built");
            expect(result.stderr).not.toContain("fleet-dev-x86-0");
        }
    });

    test("report the verdict ssh prints after its banner, such as a host key that changed", () => {
        const inspect = [
            "Name: fleet-dev", "Nodes:", "Name: fleet-dev-x86-0", "Status: running", "",
            "Name: fleet-dev-arm-0", "Endpoint: ssh://fleet-dev-arm-0",
            "Error: error during connect: ... stderr=@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
            "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
            "The fingerprint for the ED25519 key sent by the remote host is",
            "SHA256:x3a0c9ZB7VqO5u1yT4.",
            "Offending ED25519 key in /home/u/.ssh/native-build-fleet/fleet-dev/known_hosts:2",
            "Host key verification failed.",
        ].join("\\n");
        const box = sandbox(`if [ "$2" = inspect ]; then printf '${inspect}\\n'; fi`);
        const result = box.run(ensureBuilderScript(spec(), true));
        expect(result.status).toBe(1);
        expect(result.stderr.split("\n")[0]).toBe("build node fleet-dev-arm-0 (linux/arm64) is not available: error during connect: ... stderr=@@@@@@@@@@@@@@@@@@@@@@@@@@@@ ... Host key verification failed.");
    });

    test("verify nodes only when asked: updates do, previews do not", () => {
        const box = sandbox(`if [ "$2" = inspect ]; then printf '${INSPECT_ONE_DOWN}\\n'; fi`);
        expect(box.run(ensureBuilderScript(spec(), false)).status).toBe(0);
        expect(box.calls()).not.toContain("buildx inspect --bootstrap fleet-dev");
    });

    test("pass when every node starts", () => {
        const box = sandbox(`if [ "$2" = inspect ]; then printf 'Name: fleet-dev\\nNodes:\\nName: fleet-dev-x86-0\\nStatus: running\\n'; fi`);
        const result = box.run(ensureBuilderScript(spec(), true));
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        expect(box.calls()).toContain("buildx inspect --bootstrap fleet-dev");
    });

    test("remove the builder and its SSH files, falling back to the local entry when hosts are gone", () => {
        const box = sandbox(`if [ "$2" = rm ] && [ "$3" != --keep-daemon ]; then exit 1; fi`);
        box.run(ensureBuilderScript(spec(), false));
        box.markRegistered("fleet-dev");
        const result = box.run(removeBuilderScript("fleet-dev"));
        expect(result.status).toBe(0);
        expect(box.calls().slice(-2)).toEqual(["buildx rm fleet-dev", "buildx rm --keep-daemon fleet-dev"]);
        expect(fs.existsSync(path.join(box.home, ".ssh", "native-build-fleet", "fleet-dev"))).toBe(false);
    });
});

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

describe("waking idle hosts before an update builds", () => {
    const wake = { instanceIds: ["i-0x86", "i-0arm"], region: "eu-west-1" };
    const RUNNING = "Name: fleet-dev\\nNodes:\\nName: fleet-dev-x86-0\\nStatus: running\\n";

    /** Adds an `aws` stub reporting `states` (`<id> <state>` lines), and a `sleep` that returns at once. */
    function withAws(box: ReturnType<typeof sandbox>, states: string) {
        const dir = path.dirname(box.home);
        const log = path.join(dir, "aws.log");
        fs.writeFileSync(path.join(dir, "bin", "aws"), [
            "#!/bin/bash",
            `echo "$*" >> ${shq(log)}`,
            `case "$*" in *describe-instances*) printf '${states}\\n' ;; esac`,
        ].join("\n"), { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "bin", "sleep"), "#!/bin/sh\n", { mode: 0o755 });
        // ssh answers once it has been asked `$HOME/ssh-fails` times.
        fs.writeFileSync(path.join(dir, "bin", "ssh"), [
            "#!/bin/bash",
            `echo "ssh $*" >> ${shq(log)}`,
            "n=$(cat \"$HOME/ssh-calls\" 2>/dev/null || echo 0); echo $((n + 1)) > \"$HOME/ssh-calls\"",
            "[ \"$n\" -ge \"$(cat \"$HOME/ssh-fails\" 2>/dev/null || echo 0)\" ]",
        ].join("\n"), { mode: 0o755 });
        return () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n").filter((l) => !l.startsWith("ssh ")) : []);
    }

    test("start stopped hosts, wait until EC2 reports them running, then check the nodes", () => {
        const box = sandbox(`if [ "$2" = inspect ]; then printf '${RUNNING}'; fi`);
        const aws = withAws(box, "i-0x86\\tstopped\\ni-0arm\\trunning");
        const result = box.run(ensureBuilderScript(spec({ wake }), true));
        expect(result.status).toBe(0);
        expect(result.stderr).toBe("starting idle build hosts: i-0x86\n");
        expect(aws()).toEqual([
            "ec2 --region eu-west-1 describe-instances --instance-ids i-0x86 i-0arm --query Reservations[].Instances[].[InstanceId,State.Name] --output text",
            "ec2 --region eu-west-1 start-instances --instance-ids i-0x86",
            "ec2 --region eu-west-1 wait instance-running --instance-ids i-0x86",
        ]);
        expect(box.calls()).toContain("buildx inspect --bootstrap fleet-dev");
    });

    test("wait for a host that is still stopping before starting it", () => {
        const box = sandbox(`if [ "$2" = inspect ]; then printf '${RUNNING}'; fi`);
        const aws = withAws(box, "i-0x86\\tstopping\\ni-0arm\\tstopped");
        expect(box.run(ensureBuilderScript(spec({ wake }), true)).status).toBe(0);
        expect(aws().slice(1)).toEqual([
            "ec2 --region eu-west-1 wait instance-stopped --instance-ids i-0x86",
            "ec2 --region eu-west-1 start-instances --instance-ids i-0x86 i-0arm",
            "ec2 --region eu-west-1 wait instance-running --instance-ids i-0x86 i-0arm",
        ]);
    });

    test("give started hosts time to boot: retry the node check until they answer", () => {
        const box = sandbox([
            `if [ "$2" = inspect ]; then`,
            `    n=$(cat "$HOME/inspects" 2>/dev/null || echo 0); echo $((n + 1)) > "$HOME/inspects"`,
            `    if [ "$n" -lt 2 ]; then printf '${INSPECT_ONE_DOWN}'; else printf '${RUNNING}'; fi`,
            "fi",
        ].join("\n"));
        withAws(box, "i-0x86\\tstopped\\ni-0arm\\tstopped");
        const result = box.run(ensureBuilderScript(spec({ wake }), true));
        expect(result.status).toBe(0);
        expect(box.calls().filter((c) => c === "buildx inspect --bootstrap fleet-dev")).toHaveLength(3);
    });

    test("running hosts get one node check, as without idle pools", () => {
        const box = sandbox(`if [ "$2" = inspect ]; then printf '${INSPECT_ONE_DOWN}'; fi`);
        const aws = withAws(box, "i-0x86\\trunning\\ni-0arm\\trunning");
        const result = box.run(ensureBuilderScript(spec({ wake }), true));
        expect(result.status).toBe(1);
        expect(result.stderr).toContain("build node fleet-dev-arm-0 (linux/arm64) is not available");
        expect(aws()).toHaveLength(1);
        expect(box.calls().filter((c) => c === "buildx inspect --bootstrap fleet-dev")).toHaveLength(1);
    });

    test("a terminated host is an error that says how to replace it", () => {
        const box = sandbox();
        withAws(box, "i-0x86\\tterminated\\ni-0arm\\tstopped");
        const result = box.run(ensureBuilderScript(spec({ wake }), true));
        expect(result.status).toBe(1);
        expect(result.stderr).toBe("build host i-0x86 is terminated; run pulumi up --refresh to replace it\n");
    });

    test("a preview never starts a host, nor registers the builder, which would contact stopped ones", () => {
        const box = sandbox();
        const aws = withAws(box, "i-0x86\\tstopped\\ni-0arm\\tstopped");
        const result = box.run(ensureBuilderScript(spec({ wake }), false));
        expect(result.status).toBe(0);
        expect(result.stdout).toBe(`${specFingerprint(spec())}\n`);
        expect(aws()).toEqual([]);
        expect(box.calls()).toEqual([]);
    });

    test("after starting hosts, wait until every node answers over SSH before registering the builder", () => {
        const box = sandbox(`if [ "$2" = inspect ]; then printf '${RUNNING}'; fi`);
        withAws(box, "i-0x86\\tstopped\\ni-0arm\\trunning");
        fs.writeFileSync(path.join(box.home, "ssh-fails"), "2");
        const result = box.run(ensureBuilderScript(spec({ wake }), true));
        expect(result.status).toBe(0);
        const log = fs.readFileSync(path.join(path.dirname(box.home), "aws.log"), "utf8").trim().split("\n");
        expect(log.filter((l) => l.startsWith("ssh "))).toEqual([
            "ssh -o ConnectTimeout=10 fleet-dev-x86-0 true", "ssh -o ConnectTimeout=10 fleet-dev-x86-0 true",
            "ssh -o ConnectTimeout=10 fleet-dev-x86-0 true", "ssh -o ConnectTimeout=10 fleet-dev-arm-0 true",
        ]);
        expect(box.calls()[1]).toMatch(/^buildx create/);
    });

    test("a host EC2 no longer knows is an error that says how to replace it", () => {
        const box = sandbox();
        const dir = path.dirname(box.home);
        withAws(box, "");
        fs.writeFileSync(path.join(dir, "bin", "aws"), "#!/bin/sh\necho 'An error occurred (InvalidInstanceID.NotFound)' >&2\nexit 254\n", { mode: 0o755 });
        const result = box.run(ensureBuilderScript(spec({ wake }), true));
        expect(result.status).toBe(1);
        expect(result.stderr).toContain("could not read the states of the idle build hosts: An error occurred (InvalidInstanceID.NotFound)");
        expect(result.stderr).toContain("pulumi up --refresh");
    });

    test("pass shellcheck", () => {
        expect(shellcheck(ensureBuilderScript(spec({ wake }), true), "bash")).toBe("");
    });
});

describe("idle power-off on the host", () => {
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
        const result = spawnSync("bash", ["-c", idleCheckScript("ec2-user", 30)], {
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
