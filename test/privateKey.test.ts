// sshPrivateKey is refused before anything is created when it could never log in, and the
// refusal never repeats the key. Real keys, made here by ssh-keygen.

import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "../config/load";
import { privateKeyProblems } from "../config/privateKey";
import { privateRoot } from "../config/privateRoot";
import { makeProject, validConfig } from "./fixtures";
import { installMocks } from "./mocks";

installMocks();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-keys-"));

function keyPair(name: string, ...args: string[]): { privateKey: string; publicKey: string } {
    execFileSync("ssh-keygen", ["-q", "-C", `${name}@example`, "-f", path.join(dir, name), ...args]);
    return {
        privateKey: fs.readFileSync(path.join(dir, name), "utf8"),
        publicKey: fs.readFileSync(path.join(dir, `${name}.pub`), "utf8").trim(),
    };
}

const ed25519 = keyPair("ed25519", "-t", "ed25519", "-N", "");
const rsaPem = keyPair("rsa-pem", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "");
const ecdsa = keyPair("ecdsa", "-t", "ecdsa", "-b", "256", "-N", "");
const encrypted = keyPair("encrypted", "-t", "ed25519", "-N", "correct horse");
const other = keyPair("other", "-t", "ed25519", "-N", "");

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("sshPrivateKey", () => {
    test.each([
        ["an ed25519 key matching ssh.publicKey", ed25519.privateKey, ed25519.publicKey],
        ["a PEM RSA key matching ssh.publicKey", rsaPem.privateKey, rsaPem.publicKey],
        ["an ECDSA key matching ssh.publicKey", ecdsa.privateKey, ecdsa.publicKey],
        [
            "a key without its final newline, as `pulumi config set` stores it",
            ed25519.privateKey.trim(),
            ed25519.publicKey,
        ],
        [
            "a key matching ssh.publicKey given without its comment",
            ed25519.privateKey,
            ed25519.publicKey.split(" ").slice(0, 2).join(" "),
        ],
        ["any readable key when there is no ssh.publicKey (static hosts only)", other.privateKey, ""],
        ["nothing: the schema reports a missing key", undefined, ed25519.publicKey],
    ])("accepts %s", (_, privateKey, publicKey) => {
        expect(privateKeyProblems(privateKey, publicKey)).toEqual([]);
    });

    test.each([
        [
            "an encrypted key",
            encrypted.privateKey,
            encrypted.publicKey,
            /^is encrypted with a passphrase, which the readiness check and buildx cannot enter; give an unencrypted copy \(ssh-keygen -p -N '' -f/,
        ],
        [
            "text that is not a key",
            "my-deploy-password",
            "",
            /^is not an OpenSSH private key that ssh-keygen can read; set it again from the unencrypted key file/,
        ],
        ["a truncated key", ed25519.privateKey.slice(0, 120), ed25519.publicKey, /^is not an OpenSSH private key/],
        [
            "the public key pasted in its place",
            ed25519.publicKey,
            ed25519.publicKey,
            /^is a public key; it must be the private key \(the file without \.pub\)/,
        ],
        [
            "another key than ssh.publicKey",
            other.privateKey,
            ed25519.publicKey,
            /^does not belong to ssh.publicKey \(ssh-ed25519 …\S{8}\): it is the private half of a ssh-ed25519 key ending …\S{8}, so EC2 hosts/,
        ],
        [
            "an RSA key where ssh.publicKey is ed25519",
            rsaPem.privateKey,
            ed25519.publicKey,
            /it is the private half of a ssh-rsa key/,
        ],
    ])("refuses %s, naming sshPrivateKey and the fix, without echoing it", (_, privateKey, publicKey, message) => {
        const problems = privateKeyProblems(privateKey, publicKey);
        expect(problems).toHaveLength(1);
        expect(problems[0].path).toBe("sshPrivateKey");
        expect(problems[0].message).toMatch(message);
        const secretLines = privateKey.split("\n").filter((line) => line.length > 16 && !line.startsWith("-----"));
        for (const line of secretLines) {
            expect(problems[0].message).not.toContain(line.slice(0, 16));
        }
        expect(problems[0].message).not.toContain("my-deploy-password");
    });

    test("leaves no copy of the key in the temporary directory", () => {
        const keyDirs = () =>
            [os.tmpdir(), privateRoot()].flatMap((d) => fs.readdirSync(d).filter((f) => f.startsWith("nbf-key-")));
        const before = keyDirs();
        privateKeyProblems(encrypted.privateKey, encrypted.publicKey);
        expect(keyDirs()).toEqual(before);
    });

    describe("where the key is written while ssh-keygen reads it", () => {
        const repo = path.join(__dirname, "..");
        const sshKeygen = execFileSync("sh", ["-c", "command -v ssh-keygen"], { encoding: "utf8" }).trim();
        const uid = process.getuid?.() ?? "user";

        /** A scratch TMPDIR, and a PATH whose ssh-keygen records the key file and its modes, then does `then`. */
        function scratch(then: string) {
            const base = fs.mkdtempSync(path.join(dir, "run-"));
            const tmp = path.join(base, "tmp");
            const bin = path.join(base, "bin");
            fs.mkdirSync(tmp);
            fs.mkdirSync(bin);
            const record = path.join(base, "record");
            fs.writeFileSync(
                path.join(bin, "ssh-keygen"),
                [
                    "#!/bin/bash",
                    'f="${*: -1}"',
                    `{ echo "$f"; stat -c %a "$f" "$(dirname "$f")"; } > "${record}"`,
                    then,
                    "",
                ].join("\n"),
                { mode: 0o755 },
            );
            fs.writeFileSync(path.join(bin, "docker"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
            const recorded = () => fs.readFileSync(record, "utf8").trim().split("\n");
            return { base, tmp, bin, recorded };
        }

        /**
         * Runs the check in its own process, with TMPDIR and PATH set there: Jest gives the test
         * a copy of process.env, which child_process and os.tmpdir() never read.
         */
        function check(tmp: string, bin: string) {
            return spawnSync(
                process.execPath,
                [
                    "-r",
                    "ts-node/register/transpile-only",
                    "-e",
                    "console.log(JSON.stringify(require('./config/privateKey').derivePublicKey(process.env.KEY)))",
                ],
                {
                    cwd: repo,
                    encoding: "utf8",
                    env: { ...process.env, TMPDIR: tmp, PATH: `${bin}:${process.env.PATH}`, KEY: ed25519.privateKey },
                    stdio: ["ignore", "pipe", "inherit"],
                },
            );
        }

        test("is a 0600 file in a 0700 nbf-key-<pid>- directory of the private root, removed when the check ends", () => {
            const { tmp, bin, recorded } = scratch(`exec "${sshKeygen}" "$@"`);
            const child = check(tmp, bin);
            expect(child.status).toBe(0);
            expect(JSON.parse(child.stdout)).toEqual({ publicKey: ed25519.publicKey });
            const [file, fileMode, dirMode] = recorded();
            // The shape scripts/ci-remove-builder.sh and runner/process.ts sweepDead remove once the pid is gone.
            expect(path.dirname(path.dirname(file))).toBe(path.join(tmp, `nbf-${uid}`));
            expect(path.basename(path.dirname(file))).toMatch(new RegExp(`^nbf-[a-z]+-${child.pid}-`));
            expect([fileMode, dirMode]).toEqual(["600", "700"]);
            expect(fs.existsSync(path.dirname(file))).toBe(false);
        }, 60_000);

        test("is removed by the CI clean-up when the check is killed while ssh-keygen runs", () => {
            const { base, tmp, bin, recorded } = scratch("kill -9 $PPID");
            expect(check(tmp, bin).signal).toBe("SIGKILL");
            const [file] = recorded();
            expect(fs.readFileSync(file, "utf8")).toContain("PRIVATE KEY");
            const cleanup = spawnSync("bash", [path.join(repo, "scripts", "ci-remove-builder.sh"), "fleet-test"], {
                encoding: "utf8",
                stdio: ["ignore", "pipe", "pipe"],
                env: { PATH: `${bin}:${process.env.PATH}`, NBF_HOME: base, TMPDIR: tmp },
            });
            expect(cleanup.status).toBe(0);
            expect(fs.existsSync(file)).toBe(false);
            expect(fs.existsSync(path.join(tmp, `nbf-${uid}`))).toBe(false);
        }, 60_000);
    });

    test("is checked by loadConfig before any resource exists", () => {
        const root = makeProject();
        const raw = validConfig() as Record<string, any>;
        raw.ssh.publicKey = ed25519.publicKey;
        const config = { ...raw, sshPrivateKey: encrypted.privateKey };
        pulumi.runtime.setAllConfig(
            Object.fromEntries(
                Object.entries(config).map(([k, v]) => [
                    `native-build-fleet:${k}`,
                    typeof v === "string" ? v : JSON.stringify(v),
                ]),
            ),
            ["native-build-fleet:sshPrivateKey"],
        );
        expect(() => loadConfig(root, {})).toThrow(
            /nothing was created:\n {2}- sshPrivateKey: is encrypted with a passphrase/,
        );
    });
});
