// OpenSSH public key lines, read the way sshd reads them: the base64 field is the key blob
// in the SSH wire format (RFC 4253 §6.6: a uint32 length and the key type string, then the
// type's fields), so a line whose data is another type's key, or not a key at all, is
// refused here instead of failing a login or a host-key check later.

export const ED25519 = "ssh-ed25519";
const ECDSA = ["ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"];
/** Key types the fleet accepts: what OpenSSH 9 offers by default without a security key. */
export const KEY_TYPES: readonly string[] = [ED25519, ...ECDSA, "ssh-rsa"];

/** Uncompressed point sizes (0x04 || X || Y) of the NIST curves (RFC 5656 §3.1). */
const POINT_BYTES: Record<string, number> = { nistp256: 65, nistp384: 97, nistp521: 133 };

export type KeyResult = { ok: true; type: string; line: string } | { ok: false; reason: string };

/** Reads SSH wire-format strings and mpints off a blob. */
class Reader {
    private at = 0;
    constructor(private readonly blob: Buffer) {}
    string(): Buffer | undefined {
        if (this.at + 4 > this.blob.length) {
            return undefined;
        }
        const length = this.blob.readUInt32BE(this.at);
        if (this.at + 4 + length > this.blob.length) {
            return undefined;
        }
        const value = this.blob.subarray(this.at + 4, this.at + 4 + length);
        this.at += 4 + length;
        return value;
    }
    done(): boolean {
        return this.at === this.blob.length;
    }
}

/** Checks the fields after the type string; returns why they are not a key of `type`. */
function bodyProblem(type: string, reader: Reader): string | undefined {
    if (type === ED25519) {
        const key = reader.string();
        return key?.length === 32 && reader.done()
            ? undefined
            : "its data is not a whole ed25519 key (a 32-byte public key)";
    }
    if (ECDSA.includes(type)) {
        const curve = type.slice("ecdsa-sha2-".length);
        const named = reader.string()?.toString("latin1");
        const point = reader.string();
        if (named !== curve) {
            return `its data names the curve ${named ?? "(none)"}, not ${curve}`;
        }
        return point?.length === POINT_BYTES[curve] && point[0] === 4 && reader.done()
            ? undefined
            : `its data is not a whole ${curve} point`;
    }
    const exponent = reader.string();
    const modulus = reader.string();
    if (!exponent || !modulus || !reader.done()) {
        return "its data is not a whole RSA key (exponent and modulus)";
    }
    const start = modulus.findIndex((byte) => byte !== 0);
    const bits = start < 0 ? 0 : (modulus.length - start - 1) * 8 + (32 - Math.clz32(modulus[start]));
    // NIST SP 800-131A Rev. 2 disallows RSA keys shorter than 2048 bits.
    return bits < 2048
        ? `it is a ${bits}-bit RSA key, shorter than the 2048 bits NIST SP 800-131A allows; use an ed25519 key`
        : undefined;
}

/**
 * Reads one public key line (`<type> <base64> [comment]`), as in a .pub file. `what` names
 * the key in messages ("the host's public key"). Never echoes the line: a private key
 * pasted by mistake must not end up in a log.
 */
export function readPublicKey(input: string, what: string): KeyResult {
    const line = input.trim();
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(line) || line.startsWith("-----BEGIN")) {
        return {
            ok: false,
            reason: `is a private key; give ${what}, the one line of the .pub file, and since the private key is now in the stack's history in plain text, replace it`,
        };
    }
    if (line.includes("\n")) {
        return { ok: false, reason: `holds more than one line; give ${what} as one line` };
    }
    const [type, data] = line.split(/\s+/);
    const at = line.split(/\s+/).findIndex((field) => KEY_TYPES.includes(field));
    if (!KEY_TYPES.includes(type ?? "")) {
        if (at > 0) {
            return {
                ok: false,
                reason: `has ${at === 1 ? "a field" : "fields"} before the key type (a known_hosts host name or authorized_keys options); give only "<type> <base64> [comment]"`,
            };
        }
        if (/^sk-/.test(type ?? "")) {
            return {
                ok: false,
                reason: `is a security-key (FIDO) key, which needs a touch at every connection, and buildx connects unattended; use ${KEY_TYPES.join(", ")}`,
            };
        }
        return {
            ok: false,
            reason: `must be ${what}: one OpenSSH public key line of type ${KEY_TYPES.join(", ")}, such as the contents of a .pub file`,
        };
    }
    if (
        data === undefined ||
        !/^[A-Za-z0-9+/]+={0,2}$/.test(data) ||
        data.length % 4 !== 0 ||
        Buffer.from(data, "base64").toString("base64") !== data
    ) {
        return {
            ok: false,
            reason: `is not a whole key line: the field after ${type} is not base64 key data; copy the line unchanged from the .pub file`,
        };
    }
    const reader = new Reader(Buffer.from(data, "base64"));
    const inner = reader.string()?.toString("latin1");
    if (inner !== type) {
        return {
            ok: false,
            reason:
                inner !== undefined && /^[a-z0-9@.-]{3,64}$/.test(inner)
                    ? `names ${type}, but its data is a ${inner} key; copy the line unchanged from the .pub file`
                    : `names ${type}, but its data is not an OpenSSH public key; copy the line unchanged from the .pub file`,
        };
    }
    const problem = bodyProblem(type, reader);
    return problem
        ? { ok: false, reason: `${problem}; copy the line unchanged from the .pub file` }
        : { ok: true, type, line };
}
