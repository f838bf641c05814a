// The EC2 hosts' user data: a #cloud-config validated by cloud-init's own schema check,
// sshd's drop-in checked by sshd itself, the host scripts shellchecked and run for real
// against stub system commands in a scratch directory.

import { spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse } from "yaml";
import { credentialKinds } from "../policy/rules";
import { HOST_SCRIPT_DIR } from "../host/idle";
import { SCRIPT_FILES as HOST_SCRIPTS, scriptFile } from "../host/scriptFiles";
import { SCRIPT_FILES as RUNNER_SCRIPTS, scriptFile as runnerScriptFile } from "../runner/scriptFiles";
import { cloudConfig, SSHD_DROP_IN, sshdConfig, USER_DATA_LIMIT, userData, UserDataArgs } from "../host/userData";
import { READY_MARKER } from "../host/readyMarker";

const OPERATOR = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK4u+Qp5JupFSF/annFZXF+YPlvZIGM9o51x7gCIAv3z ops@example";
const base: UserDataArgs = {
    sshUser: "ec2-user",
    authorizedKey: OPERATOR,
    emulate: [],
    binfmtImage: "tonistiigi/binfmt:latest",
};
const pools: [string, UserDataArgs][] = [
    ["a native pool", base],
    ["an emulating pool", { ...base, emulate: ["linux/arm/v7", "linux/s390x", "linux/arm/v6"] }],
    ["a pool that powers off when idle", { ...base, idleMinutes: 30 }],
    [
        "an emulating pool that powers off when idle",
        { ...base, sshUser: "builder", emulate: ["linux/riscv64"], idleMinutes: 45 },
    ],
];
/** The native pool and the one with every optional part: between them, every line the renderer can write. */
const extremes = [pools[0], pools[3]];

const scratch = () => fs.mkdtempSync(path.join(os.tmpdir(), "nbf-cloud-config-"));

/** Runs a tool the suite depends on; a missing tool fails the test with the install command. */
function tool(
    command: string,
    args: string[],
    options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): SpawnSyncReturns<string> {
    const result = spawnSync(command, args, { encoding: "utf8", ...options });
    if (result.error !== undefined && "code" in result.error && result.error.code === "ENOENT") {
        throw new Error(
            `${command} is not installed; run scripts/install.sh (apt-get install cloud-init openssh-server shellcheck)`,
        );
    }
    return result;
}

function cloudInitSchema(document: string): SpawnSyncReturns<string> {
    const file = path.join(scratch(), "user-data");
    fs.writeFileSync(file, document);
    return tool("cloud-init", ["schema", "-c", file]);
}

describe("user data", () => {
    test.each(extremes)("for %s matches the reviewed document", (_, args) => {
        expect(userData(args)).toMatchSnapshot();
    });

    test.each(extremes)("for %s is valid cloud-config to cloud-init's schema check", (_, args) => {
        const result = cloudInitSchema(userData(args));
        expect(result.stderr).not.toMatch(/error/i);
        expect(result.stdout).toContain("Valid cloud-config");
        expect(result.status).toBe(0);
    });

    test("the schema check is real: it refuses a document cloud-init would misread", () => {
        const broken = userData(base)
            .replace("packages:\n  - docker", "packages: docker")
            .replace("  - ed25519", "  - ed25519\n  - dsa2");
        const result = cloudInitSchema(broken);
        expect(result.status).not.toBe(0);
        expect(result.stderr).toContain("packages: 'docker' is not of type 'array'");
        expect(result.stderr).toContain("ssh_genkeytypes.1: 'dsa2' is not one of");
    });

    test.each(pools)("for %s holds no private key material and fits EC2's 16 KB limit", (_, args) => {
        const document = userData(args);
        expect(credentialKinds(document)).toEqual([]);
        expect(document).not.toMatch(/PRIVATE KEY|ssh_host_ed25519_key\.pub|ssh_keys:/);
        expect(Buffer.byteLength(document)).toBeLessThanOrEqual(USER_DATA_LIMIT);
    });

    test("refuses to render a document EC2 would reject for its size", () => {
        expect(() => userData({ ...base, authorizedKey: `ssh-ed25519 ${"A".repeat(USER_DATA_LIMIT)}` })).toThrow(
            /the user data is \d+ bytes, more than the 16384 EC2 accepts/,
        );
    });

    test("lets the host generate its own ed25519 key, replacing any the AMI carries", () => {
        expect(cloudConfig(base)).toMatchObject({
            ssh_deletekeys: true,
            ssh_genkeytypes: ["ed25519"],
            ssh_pwauth: false,
            disable_root: true,
        });
    });

    test("creates only the build user, with no sudo, and its only key in a file root owns, where the user cannot add another", () => {
        const config = cloudConfig({ ...base, sshUser: "builder" });
        expect(config.users).toEqual([{ name: "builder", shell: "/bin/bash", lock_passwd: true }]);
        expect(config.write_files).toContainEqual({
            path: "/etc/ssh/authorized_keys/builder",
            content: `${OPERATOR}\n`,
            permissions: "0644",
            owner: "root:root",
        });
    });

    test("delivers the host scripts verbatim from the repository, and only those the pool needs", () => {
        const files = (args: UserDataArgs) =>
            (parse(userData(args)) as { write_files: { path: string; content: string; permissions: string }[] })
                .write_files;
        const idle = files({ ...base, idleMinutes: 30 });
        for (const name of ["boot.sh", "publish-host-key.sh", "idle-check.sh"]) {
            const delivered = idle.find((f) => f.path === `${HOST_SCRIPT_DIR}/${name}`);
            expect(delivered).toMatchObject({
                content: scriptFile(`host/${name}` as "host/boot.sh"),
                permissions: "0755",
            });
        }
        expect(files(base).map((f) => f.path)).toEqual([
            SSHD_DROP_IN,
            "/etc/ssh/authorized_keys/ec2-user",
            `${HOST_SCRIPT_DIR}/boot.sh`,
            `${HOST_SCRIPT_DIR}/publish-host-key.sh`,
        ]);
    });

    test("runs the boot script with the user, the readiness marker and the units to enable", () => {
        expect(cloudConfig(base).runcmd).toEqual([[`${HOST_SCRIPT_DIR}/boot.sh`, "ec2-user", READY_MARKER]]);
        expect(cloudConfig({ ...base, emulate: ["linux/s390x"], idleMinutes: 30 }).runcmd).toEqual([
            [
                `${HOST_SCRIPT_DIR}/boot.sh`,
                "ec2-user",
                READY_MARKER,
                "native-build-fleet-binfmt.service",
                "native-build-fleet-idle.timer",
            ],
        ]);
    });

    test("registers exactly the pool's QEMU handlers, and none on a native pool", () => {
        expect(userData(base)).not.toMatch(/binfmt\.service|--install/);
        expect(userData(pools[1][1])).toContain(
            "ExecStart=/usr/bin/docker run --privileged --rm tonistiigi/binfmt:latest --install arm,s390x\n",
        );
    });

    test("runs the idle check every minute with the pool's user and minutes, only on idle pools", () => {
        expect(userData(base)).not.toContain("native-build-fleet-idle");
        expect(userData({ ...base, sshUser: "builder", idleMinutes: 45 })).toContain(
            `ExecStart=${HOST_SCRIPT_DIR}/idle-check.sh builder 45\n`,
        );
    });

    test("installs Docker from the distribution without upgrading every package", () => {
        expect(cloudConfig(base)).toMatchObject({ package_update: false, packages: ["docker"] });
    });
});

describe("host scripts", () => {
    test.each([...HOST_SCRIPTS, ...RUNNER_SCRIPTS])("%s passes shellcheck", (name) => {
        const text = name.startsWith("host/")
            ? scriptFile(name as (typeof HOST_SCRIPTS)[number])
            : runnerScriptFile(name as (typeof RUNNER_SCRIPTS)[number]);
        const result = tool("shellcheck", ["--shell", "bash", "--severity", "style", "-"], { input: text });
        expect(result.stdout).toBe("");
        expect(result.status).toBe(0);
    });
});

describe("sshd on the hosts", () => {
    const sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"].find((p) => fs.existsSync(p)) ?? "sshd";

    /**
     * Runs sshd's own check of the drop-in (with a scratch host key in place of the host's).
     * sshd insists on its privilege separation directory even for -t; where the machine has
     * none (no sshd running), the check runs in a user namespace with a private /run.
     */
    function checkConfig(
        config: string,
        flag: "-t" | "-T",
        extra: string[] = [],
        main?: string,
    ): SpawnSyncReturns<string> {
        const dir = scratch();
        tool("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "key")]);
        fs.writeFileSync(
            path.join(dir, "sshd_config"),
            config.replace("HostKey /etc/ssh/ssh_host_ed25519_key", `HostKey ${path.join(dir, "key")}`),
        );
        if (main !== undefined) {
            // The drop-in as the distribution's sshd_config includes it, ahead of its own options.
            fs.renameSync(path.join(dir, "sshd_config"), path.join(dir, "00-drop-in.conf"));
            fs.writeFileSync(path.join(dir, "sshd_config"), `Include ${path.join(dir, "00-drop-in.conf")}\n${main}`);
        }
        const args = [flag, "-f", path.join(dir, "sshd_config"), ...extra];
        if (fs.existsSync("/run/sshd")) {
            return tool(sshd, args);
        }
        const result = tool("unshare", [
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            'mount -t tmpfs none /run && mkdir -m 0755 /run/sshd && exec "$@"',
            "sh",
            sshd,
            ...args,
        ]);
        if (result.status !== 0 && /unshare|mount/.test(result.stderr)) {
            throw new Error(
                `cannot run sshd's check here: ${result.stderr.trim()}; create /run/sshd (mode 0755), as openssh-server's unit does`,
            );
        }
        return result;
    }

    test("sshd accepts the drop-in", () => {
        const result = checkConfig(sshdConfig("ec2-user"), "-t");
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
    });

    test("sshd's check is real: it refuses an option it does not know", () => {
        const result = checkConfig(`${sshdConfig("ec2-user")}AllowEverything yes\n`, "-t");
        expect(result.status).not.toBe(0);
        expect(result.stderr).toContain("Bad configuration option: AllowEverything");
    });

    test("admits only the build user's public key, presenting only the host's ed25519 key", () => {
        const effective = checkConfig(sshdConfig("builder"), "-T").stdout;
        for (const line of [
            "allowusers builder",
            "authenticationmethods publickey",
            "passwordauthentication no",
            "kbdinteractiveauthentication no",
            "permitrootlogin no",
            "hostkeyalgorithms ssh-ed25519",
            "authorizedkeyscommand none",
        ]) {
            expect(effective.split("\n")).toContain(line);
        }
    });

    test("EC2 Instance Connect is closed from sshd's first start, even with its AuthorizedKeysCommand on sshd's command line", () => {
        // Amazon Linux 2023: sshd_config includes the drop-ins first, then sets its own
        // options; the ec2-instance-connect package's sshd unit drop-in adds these flags.
        const main = "AuthorizedKeysFile .ssh/authorized_keys\nSubsystem sftp /usr/libexec/openssh/sftp-server\n";
        const eic = [
            "-o",
            "AuthorizedKeysCommand /opt/aws/bin/eic_run_authorized_keys %u %f",
            "-o",
            "AuthorizedKeysCommandUser ec2-instance-connect",
        ];
        const result = checkConfig(
            sshdConfig("builder"),
            "-T",
            [...eic, "-C", "user=builder,host=client.example,addr=192.0.2.1"],
            main,
        );
        expect(result.stderr).toBe("");
        const effective = result.stdout.split("\n");
        expect(effective).toContain("authorizedkeyscommand none");
        expect(effective).toContain("authorizedkeysfile /etc/ssh/authorized_keys/%u");
        expect(effective).toContain("subsystem sftp /usr/libexec/openssh/sftp-server");
    });

    test("refuses every forwarding, tunnels and X11, and allows 3 authentication attempts", () => {
        const effective = checkConfig(sshdConfig("ec2-user"), "-T").stdout.split("\n");
        for (const line of [
            "disableforwarding yes",
            "allowtcpforwarding no",
            "allowagentforwarding no",
            "allowstreamlocalforwarding no",
            "x11forwarding no",
            "permittunnel no",
            "gatewayports no",
            "permituserenvironment no",
            "maxauthtries 3",
        ]) {
            expect(effective).toContain(line);
        }
    });
});

describe("the boot script", () => {
    /** The host's script directory with stub system commands; returns what the boot did. */
    function boot(units: string[], failing: string[] = []) {
        const dir = scratch();
        const bin = path.join(dir, "bin");
        const scripts = path.join(dir, "lib");
        fs.mkdirSync(bin);
        fs.mkdirSync(scripts);
        fs.mkdirSync(path.join(dir, "ssh"));
        for (const name of ["boot.sh", "publish-host-key.sh"]) {
            fs.writeFileSync(path.join(scripts, name), scriptFile(`host/${name}` as "host/boot.sh"), { mode: 0o755 });
        }
        const log = path.join(dir, "calls");
        for (const command of ["rpm", "dnf", "sshd", "systemctl", "usermod"]) {
            fs.writeFileSync(
                path.join(bin, command),
                `#!/bin/sh\necho "${command} $*" >> ${log}\n${failing.includes(command) ? "exit 1" : ""}\n`,
                { mode: 0o755 },
            );
        }
        const console = path.join(dir, "console");
        fs.writeFileSync(console, "");
        const ready = path.join(dir, "state", "ready");
        const result = spawnSync(path.join(scripts, "boot.sh"), ["ec2-user", ready, ...units], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
            env: {
                PATH: `${bin}:${process.env.PATH ?? ""}`,
                NBF_SSH_DIR: path.join(dir, "ssh"),
                NBF_CONSOLES: `${console} ${path.join(dir, "absent")}`,
            },
        });
        return {
            status: result.status,
            stderr: result.stderr,
            calls: fs.existsSync(log) ? fs.readFileSync(log, "utf8").trim().split("\n") : [],
            console: fs.readFileSync(console, "utf8"),
            ready: fs.existsSync(ready),
            publicKey: () =>
                spawnSync("ssh-keygen", ["-y", "-f", path.join(dir, "ssh", "ssh_host_ed25519_key")], {
                    encoding: "utf8",
                })
                    .stdout.trim()
                    .split(" ")
                    .slice(0, 2)
                    .join(" "),
        };
    }

    test("publishes the host key first, removes EC2 Instance Connect, restarts sshd, starts Docker and the units, then marks the host ready", () => {
        const result = boot(["native-build-fleet-binfmt.service", "native-build-fleet-idle.timer"]);
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        expect(result.console).toBe(
            `\n-----BEGIN NATIVE-BUILD-FLEET HOST KEY-----\n${result.publicKey()}\n-----END NATIVE-BUILD-FLEET HOST KEY-----\n`,
        );
        expect(result.calls).toEqual([
            "rpm -q ec2-instance-connect",
            "dnf remove -y ec2-instance-connect",
            "systemctl daemon-reload",
            "sshd -t",
            "systemctl restart sshd",
            "systemctl enable --now docker",
            "usermod -aG docker ec2-user",
            "systemctl daemon-reload",
            "systemctl enable --now native-build-fleet-binfmt.service native-build-fleet-idle.timer",
        ]);
        expect(result.ready).toBe(true);
    });

    test("leaves an AMI without EC2 Instance Connect alone and enables no unit a native pool lacks", () => {
        const result = boot([], ["rpm"]);
        expect(result.status).toBe(0);
        expect(result.calls).toEqual([
            "rpm -q ec2-instance-connect",
            "sshd -t",
            "systemctl restart sshd",
            "systemctl enable --now docker",
            "usermod -aG docker ec2-user",
        ]);
    });

    test("never marks a host ready whose sshd configuration sshd refuses", () => {
        const result = boot([], ["rpm", "sshd"]);
        expect(result.status).not.toBe(0);
        expect(result.calls).toEqual(["rpm -q ec2-instance-connect", "sshd -t"]);
        expect(result.ready).toBe(false);
    });
});
