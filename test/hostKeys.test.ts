// Host keys without a private key in user data: the host publishes its own key on the
// console (host/publish-host-key.sh) and the runner reads it back through the EC2 API
// (runner/read-host-key.sh), both run for real; `aws` is a stub on PATH that replays
// console outputs. Nothing here talks to AWS.

import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { scriptFile } from "../runner/scriptFiles";
import { scriptFile as hostScriptFile } from "../host/scriptFiles";

const BEGIN = "-----BEGIN NATIVE-BUILD-FLEET HOST KEY-----";
const END = "-----END NATIVE-BUILD-FLEET HOST KEY-----";
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK4u+Qp5JupFSF/annFZXF+YPlvZIGM9o51x7gCIAv3z";
const OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMJQ3m0fCDBRlhzz5BUC2Ra1BHrfH6mEQwzxqg83QBXG";
const block = (...lines: string[]) => [BEGIN, ...lines, END].join("\n");
/** Boot noise around the block, with the serial console's CRLF line ends. */
const console_ = (...parts: string[]) =>
    [
        "[    0.000000] Linux version 6.1.0",
        "cloud-init[1234]: Cloud-init v. 22.2.2 running 'modules:final'",
        ...parts,
        "[  OK  ] Reached target multi-user.target",
    ].join("\r\n");

/**
 * Runs the reader with a stub `aws` that answers the n-th call with outputs[n] (the last
 * one repeating); an output starting with "ERROR " makes the call fail with that message.
 */
function read(outputs: string[], env: Record<string, string> = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-host-key-"));
    outputs.forEach((output, i) => fs.writeFileSync(path.join(dir, `output-${i}`), output));
    fs.writeFileSync(
        path.join(dir, "aws"),
        [
            "#!/bin/bash",
            `dir=${dir}`,
            'echo "$*" >> "$dir/calls"',
            'n=$(wc -l < "$dir/calls"); i=$((n - 1))',
            `[ -f "$dir/output-$i" ] || i=${outputs.length - 1}`,
            'if grep -q "^ERROR " "$dir/output-$i"; then sed "s/^ERROR //" "$dir/output-$i" >&2; exit 254; fi',
            'cat "$dir/output-$i"',
        ].join("\n"),
        { mode: 0o755 },
    );
    // stdin is not a socket (Node's default pipe), which would make bash read ~/.bashrc.
    const result = spawnSync("bash", ["-c", scriptFile("runner/read-host-key.sh")], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        env: {
            PATH: `${dir}:${process.env.PATH ?? ""}`,
            NBF_INSTANCE_ID: "i-0123456789abcdef0",
            NBF_REGION: "eu-west-1",
            NBF_POLL_SECONDS: "0",
            NBF_TIMEOUT_SECONDS: "60",
            ...env,
        },
    });
    const calls = fs.existsSync(path.join(dir, "calls"))
        ? fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n")
        : [];
    return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls };
}

describe("reading a host key from the console", () => {
    test("asks EC2 for the latest console output of the instance, in its region, until the key appears", () => {
        const result = read(["None", console_("still booting"), console_(block(KEY))]);
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        expect(result.stdout).toBe(`${KEY}\n`);
        expect(result.calls).toEqual(
            Array(3).fill(
                "ec2 get-console-output --region eu-west-1 --instance-id i-0123456789abcdef0 --latest --query Output --output text",
            ),
        );
    });

    test("uses the AWS CLI's default region when none is given", () => {
        expect(read([block(KEY)], { NBF_REGION: "" }).calls).toEqual([
            "ec2 get-console-output --instance-id i-0123456789abcdef0 --latest --query Output --output text",
        ]);
    });

    test("accepts the block twice, as /dev/console and ttyS0 both print it, when both hold the same key", () => {
        expect(read([console_(block(KEY), "systemd[1]: Started docker.service", block(KEY))]).stdout).toBe(`${KEY}\n`);
    });

    test("waits while the block is incomplete, and ignores an end marker cut off from its beginning", () => {
        const result = read([console_(END, BEGIN), console_(END, block(KEY))]);
        expect(result.status).toBe(0);
        expect(result.stdout).toBe(`${KEY}\n`);
        expect(result.calls).toHaveLength(2);
    });

    test.each<[string, string, string]>([
        [
            "two key lines",
            block(KEY, OTHER_KEY),
            "a host key block holds something other than exactly one ed25519 public key line",
        ],
        [
            "a line that is not a key",
            block("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBOx"),
            "a host key block holds something other than exactly one ed25519 public key line",
        ],
        [
            "a key with a comment",
            block(`${KEY} root@host`),
            "a host key block holds something other than exactly one ed25519 public key line",
        ],
        [
            "a key cut short",
            block(KEY.slice(0, -1)),
            "a host key block holds something other than exactly one ed25519 public key line",
        ],
        ["an empty block", block(), "a host key block holds something other than exactly one ed25519 public key line"],
        [
            "a blob of another key type behind the ed25519 name",
            block(`ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQC${"x".repeat(41)}`),
            "a host key block holds something other than exactly one ed25519 public key line",
        ],
        ["two different keys", `${block(KEY)}\n${block(OTHER_KEY)}`, "the console shows two different host keys"],
        ["a block inside another", `${BEGIN}\n${block(KEY)}`, "a host key block begins inside another"],
    ])("refuses %s, without waiting for more", (_, output, reason) => {
        const result = read([console_(output)]);
        expect(result.status).toBe(1);
        expect(result.stdout).toBe("");
        expect(result.stderr).toBe(
            `refusing the host key of i-0123456789abcdef0 from its console output: ${reason}; replace the instance (pulumi up --replace on its urn)\n`,
        );
        expect(result.calls).toHaveLength(1);
    });

    test("gives up at the deadline, saying the host never published its key", () => {
        const result = read([console_("no key here")], { NBF_TIMEOUT_SECONDS: "0" });
        expect(result.status).toBe(1);
        expect(result.stderr).toBe(
            "could not read the host key of i-0123456789abcdef0 from its console output (ec2:GetConsoleOutput) within 0s: the host has not written its host key to the console yet\n",
        );
    });

    test("gives up at the deadline with the AWS CLI's own error, such as missing permission", () => {
        const denied =
            "An error occurred (UnauthorizedOperation) when calling the GetConsoleOutput operation: You are not authorized to perform this operation.";
        const result = read([`ERROR ${denied}`], { NBF_TIMEOUT_SECONDS: "0" });
        expect(result.status).toBe(1);
        expect(result.stderr).toBe(
            `could not read the host key of i-0123456789abcdef0 from its console output (ec2:GetConsoleOutput) within 0s: ${denied}\n`,
        );
    });

    test("retries a failing call until it succeeds", () => {
        const result = read(["ERROR Throttling: Rate exceeded", block(KEY)]);
        expect(result.status).toBe(0);
        expect(result.stdout).toBe(`${KEY}\n`);
    });

    test("refuses to run without an instance id", () => {
        const result = read([block(KEY)], { NBF_INSTANCE_ID: "" });
        expect(result.status).not.toBe(0);
        expect(result.stderr).toContain("NBF_INSTANCE_ID names the instance");
        expect(result.calls).toEqual([]);
    });
});

describe("publishing a host key on the console", () => {
    function publish(setup: (sshDir: string) => void = () => undefined, consoles?: string[]) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-publish-"));
        const sshDir = path.join(dir, "ssh");
        fs.mkdirSync(sshDir);
        setup(sshDir);
        const devices = consoles ?? [path.join(dir, "console"), path.join(dir, "ttyS0")];
        for (const device of devices.filter((d) => d.startsWith(dir))) {
            fs.writeFileSync(device, "");
        }
        const result = spawnSync("bash", ["-c", hostScriptFile("host/publish-host-key.sh")], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
            env: { PATH: process.env.PATH ?? "", NBF_SSH_DIR: sshDir, NBF_CONSOLES: devices.join(" ") },
        });
        const key = path.join(sshDir, "ssh_host_ed25519_key");
        return {
            ...result,
            devices,
            key,
            /** `type blob` of the private key, without the comment ssh-keygen -y appends. */
            publicKey: () =>
                spawnSync("ssh-keygen", ["-y", "-f", key], { encoding: "utf8" })
                    .stdout.trim()
                    .split(" ")
                    .slice(0, 2)
                    .join(" "),
        };
    }

    test("generates the host's own key when none exists, private to root, and writes its public half to every console", () => {
        const result = publish();
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        expect(fs.statSync(result.key).mode & 0o777).toBe(0o600);
        for (const device of result.devices) {
            expect(fs.readFileSync(device, "utf8")).toBe(`\n${block(result.publicKey())}\n`);
        }
    });

    test("publishes the key sshd presents, derived from the private key, whatever a stale .pub file says", () => {
        const result = publish((sshDir) => {
            spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(sshDir, "ssh_host_ed25519_key")]);
            fs.writeFileSync(path.join(sshDir, "ssh_host_ed25519_key.pub"), `${OTHER_KEY}\n`);
        });
        expect(result.status).toBe(0);
        expect(result.publicKey()).not.toBe(OTHER_KEY);
        expect(fs.readFileSync(result.devices[0], "utf8")).toContain(`\n${result.publicKey()}\n`);
    });

    test("round trip: what the host publishes is exactly what the runner reads back", () => {
        const result = publish();
        const output = console_(fs.readFileSync(result.devices[0], "utf8").replace(/\n/g, "\r\n"));
        expect(read([output]).stdout).toBe(`${result.publicKey()}\n`);
    });

    test("fails when no console can be written, so the boot stops before anything trusts the host", () => {
        const result = publish(undefined, ["/nonexistent/console"]);
        expect(result.status).toBe(1);
        expect(result.stderr).toBe("publish-host-key: could not write the host key to any of: /nonexistent/console\n");
    });

    test("refuses a host key that is not ed25519", () => {
        const result = publish((sshDir) => {
            spawnSync("ssh-keygen", ["-q", "-t", "ecdsa", "-N", "", "-f", path.join(sshDir, "ssh_host_ed25519_key")]);
        });
        expect(result.status).toBe(1);
        expect(result.stderr).toContain("is not an ed25519 key");
    });
});
