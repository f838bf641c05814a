// Refuses an sshPrivateKey that could never log in, before anything is created: an encrypted
// key (nothing here can type its passphrase: the readiness check and buildx's ssh run in
// BatchMode), text that is not a private key, or the private half of another key than
// ssh.publicKey, which EC2 hosts install as their only authorized key. The key itself is
// never part of a message.

import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { privateRoot } from "./privateRoot";
import { ConfigError, Problem } from "./schema";

const SET_AGAIN =
    "set it again from the unencrypted key file: pulumi config set --secret sshPrivateKey < ~/.ssh/id_ed25519";

/**
 * What `ssh-keygen -y` makes of the key: its public line, or why it has none. The key is
 * written 0600 into a private temporary directory (OpenSSH refuses a key others can read)
 * and removed at once; `-P ''` makes an encrypted key fail instead of asking. The directory
 * is `nbf-key-<pid>-…` under the private root, where the CI clean-up
 * (scripts/ci-remove-builder.sh) and the runner's sweep remove it if this process is killed
 * before the `finally` runs.
 */
export function derivePublicKey(privateKey: string): { publicKey: string } | { error: string } {
    const dir = fs.mkdtempSync(path.join(privateRoot(), `nbf-key-${process.pid}-`));
    try {
        const file = path.join(dir, "key");
        fs.writeFileSync(file, `${privateKey.trim()}\n`, { mode: 0o600 });
        const result = spawnSync("ssh-keygen", ["-y", "-P", "", "-f", file], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
            timeout: 10_000,
        });
        if (result.error) {
            return {
                error: `could not be checked: ssh-keygen (the OpenSSH client, which buildx needs for ssh:// nodes) is not on PATH (${(result.error as NodeJS.ErrnoException).code ?? result.error.message})`,
            };
        }
        return result.status === 0 ? { publicKey: result.stdout.trim() } : { error: result.stderr };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** The problems of `privateKey` (undefined or empty: none here, the schema reports it missing). */
export function privateKeyProblems(privateKey: string | undefined, publicKey: string): Problem[] {
    if (privateKey === undefined || privateKey.trim() === "") {
        return [];
    }
    const problem = (message: string): Problem[] => [{ path: "sshPrivateKey", message }];
    if (/^(ssh-|ecdsa-sha2-|sk-)\S+ [A-Za-z0-9+/=]+/.test(privateKey.trim())) {
        return problem(`is a public key; it must be the private key (the file without .pub), ${SET_AGAIN}`);
    }
    const derived = derivePublicKey(privateKey);
    if ("error" in derived) {
        if (derived.error.startsWith("could not be checked")) {
            return problem(derived.error);
        }
        if (/passphrase/i.test(derived.error)) {
            return problem(
                "is encrypted with a passphrase, which the readiness check and buildx cannot enter; give an unencrypted copy " +
                    "(ssh-keygen -p -N '' -f <copy of the key>), or a key made for the fleet, and keep it only as a Pulumi secret: " +
                    "pulumi config set --secret sshPrivateKey < <unencrypted key>",
            );
        }
        return problem(`is not an OpenSSH private key that ssh-keygen can read; ${SET_AGAIN}`);
    }
    const [ownType, ownBody] = derived.publicKey.split(/\s+/);
    const [wantType, wantBody] = publicKey.trim().split(/\s+/);
    if (publicKey.trim() !== "" && (ownType !== wantType || ownBody !== wantBody)) {
        return problem(
            `does not belong to ssh.publicKey (${wantType} …${(wantBody ?? "").slice(-8)}): it is the private half of a ${ownType} key ending …${ownBody.slice(-8)}, ` +
                "so EC2 hosts, which authorize only ssh.publicKey, would refuse it; set ssh.publicKey to its public half (ssh-keygen -y -f <key>) or set sshPrivateKey to the matching key",
        );
    }
    return [];
}

/** Throws a ConfigError when sshPrivateKey cannot log in (see privateKeyProblems). */
export function checkPrivateKey(privateKey: string | undefined, publicKey: string): void {
    const problems = privateKeyProblems(privateKey, publicKey);
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
}
