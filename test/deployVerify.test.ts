// The deploy example's check before it uses a digest (examples/deploy/verify.ts): the cosign
// command lines for each key source, run against a stub cosign on PATH that passes, finds no
// signature, or finds one by someone else; and the messages a deploy prints for each.

import * as fs from "fs";
import * as path from "path";
import {
    checksFor,
    explain,
    ImageOutput,
    main,
    parseArgs,
    signerFlags,
    verifyImage,
    VerifyError,
} from "../examples/deploy/verify";
import { sandbox } from "./sandbox";

const REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/service";
const INDEX = `${REPO}@sha256:${"a".repeat(64)}`;
const AMD = `${REPO}@sha256:${"b".repeat(64)}`;
const ARM = `${REPO}@sha256:${"c".repeat(64)}`;
const PUBLIC_KEY = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfleet\n-----END PUBLIC KEY-----\n";

function image(signature: ImageOutput["signature"]): ImageOutput {
    return { ref: INDEX, platforms: { "linux/amd64": { ref: AMD }, "linux/arm64": { ref: ARM } }, signature };
}
const KEY = image({ mode: "key", publicKey: PUBLIC_KEY });
const KMS = image({
    mode: "kms",
    kmsKey: "awskms:///arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
});
const KEYLESS = image({
    mode: "keyless",
    certificateIdentity: "https://github.com/acme/fleet/.github/workflows/up.yml@refs/heads/main",
    certificateOidcIssuer: "https://token.actions.githubusercontent.com",
});

/**
 * A cosign that logs its calls, copies the key file it is given (and its mode) for the test to
 * read, and answers as COSIGN_STUB says: pass, unsigned, a foreign signature, no provenance.
 */
function cosignSandbox() {
    const box = sandbox("nbf-verify-");
    box.stub(
        "cosign",
        `
key=""; prev=""
for a in "$@"; do [ "$prev" = "--key" ] && key=$a; prev=$a; done
if [ -f "$key" ]; then cp "$key" '${box.dir}/seen-key'; stat -c %a "$key" > '${box.dir}/key-mode'; fi
case "\${COSIGN_STUB:-pass}" in
    unsigned) echo "Error: no signatures found" >&2; exit 1 ;;
    foreign) echo "Error: invalid signature when validating ASN.1 encoded signature" >&2; exit 1 ;;
    no-provenance) if [ "$1" = verify-attestation ]; then echo "Error: none of the attestations matched the predicate type: https://slsa.dev/provenance/v1, found: https://spdx.dev/Document" >&2; exit 1; fi ;;
esac
exit 0`,
    );
    return box;
}

describe("cosign command lines", () => {
    test.each<[string, ImageOutput, string[]]>([
        ["a key pair: the exported public key, from a file", KEY, ["--key", "/tmp/k/cosign.pub"]],
        [
            "an AWS KMS key: the key URI itself",
            KMS,
            ["--key", "awskms:///arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
        ],
        [
            "keyless: the exact identity and issuer",
            KEYLESS,
            [
                "--certificate-identity",
                "https://github.com/acme/fleet/.github/workflows/up.yml@refs/heads/main",
                "--certificate-oidc-issuer",
                "https://token.actions.githubusercontent.com",
            ],
        ],
    ])("ties verification to the signer for %s", (_, output, flags) => {
        expect(signerFlags("service", output.signature!, "/tmp/k/cosign.pub")).toEqual(flags);
    });

    test("verifies the index signature, then provenance and SBOM on every platform digest, passing extra flags on", () => {
        const checks = checksFor("service", KMS, "/unused", ["--trusted-root", "/t.json"]);
        const key = ["--key", KMS.signature!.kmsKey!];
        expect(checks.map((c) => c.args)).toEqual([
            ["verify", ...key, "--trusted-root", "/t.json", INDEX],
            [
                "verify-attestation",
                ...key,
                "--type",
                "https://slsa.dev/provenance/v1",
                "--trusted-root",
                "/t.json",
                AMD,
            ],
            ["verify-attestation", ...key, "--type", "spdxjson", "--trusted-root", "/t.json", AMD],
            [
                "verify-attestation",
                ...key,
                "--type",
                "https://slsa.dev/provenance/v1",
                "--trusted-root",
                "/t.json",
                ARM,
            ],
            ["verify-attestation", ...key, "--type", "spdxjson", "--trusted-root", "/t.json", ARM],
        ]);
    });

    test.each<[string, ImageOutput | undefined, RegExp]>([
        [
            "an unsigned stack",
            image(undefined),
            /^images\.service has no signature: the fleet stack signs nothing.*Set `signing` in the fleet stack's config/,
        ],
        ["an image the stack does not export", undefined, /exports no image "service"/],
        [
            "a tag instead of a digest",
            { ...KEY, ref: `${REPO}:latest` },
            /images\.service\.ref is ".*:latest", not <repository>@sha256:<digest>/,
        ],
        [
            "a key pair without its public key",
            image({ mode: "key" }),
            /images\.service\.signature\.publicKey is missing for mode "key"/,
        ],
        [
            "keyless without an issuer",
            image({ mode: "keyless", certificateIdentity: "x" }),
            /signature\.certificateOidcIssuer is missing/,
        ],
        [
            "an unknown mode",
            image({ mode: "gpg" as "key" }),
            /signature\.mode is "gpg"; expected "key", "kms" or "keyless"/,
        ],
        ["no platform digests", { ...KEY, platforms: {} }, /platforms is empty/],
    ])("refuses %s before running cosign, naming the output", (_, output, message) => {
        expect(() => checksFor("service", output, "/k")).toThrow(message);
    });
});

describe("running cosign", () => {
    test.each<[string, ImageOutput]>([
        ["key", KEY],
        ["kms", KMS],
        ["keyless", KEYLESS],
    ])("a %s-signed image passes and yields its index digest", async (_, output) => {
        const box = cosignSandbox();
        await expect(verifyImage({ service: output }, "service", { env: box.env })).resolves.toBe(INDEX);
        expect(
            box.calls("cosign").map((c) => c.split(" ").slice(0, 1).concat(c.split(" ").slice(-1)).join(" ")),
        ).toEqual([
            `verify ${INDEX}`,
            `verify-attestation ${AMD}`,
            `verify-attestation ${AMD}`,
            `verify-attestation ${ARM}`,
            `verify-attestation ${ARM}`,
        ]);
    });

    test("hands cosign the exported public key in a private file that is gone afterwards", async () => {
        const box = cosignSandbox();
        await verifyImage({ service: KEY }, "service", { env: box.env });
        expect(box.read("seen-key")).toBe(PUBLIC_KEY);
        expect(box.read("key-mode").trim()).toBe("600");
        const keyPath = box.calls("cosign")[0].split(" ")[2];
        expect(fs.existsSync(path.dirname(keyPath))).toBe(false);
    });

    test.each<[string, RegExp]>([
        [
            "unsigned",
            /^service: the signature of .*@sha256:a{64} did not verify: nothing signed by the fleet's key is attached to it \(Error: no signatures found\)\. Either someone other than the fleet pushed it.*do not deploy it$/,
        ],
        [
            "foreign",
            /^service: the signature of .* did not verify: a signature is attached but does not match the fleet's signer \(Error: invalid signature.*\); do not deploy it$/,
        ],
        [
            "no-provenance",
            /^service: the provenance attestation \(linux\/amd64\) of .*@sha256:b{64} did not verify: nothing signed by the fleet's key is attached/,
        ],
    ])("fails the deploy on %s, saying which check and why, and stops at the first failure", async (mode, message) => {
        const box = cosignSandbox();
        const error = await verifyImage({ service: KEY }, "service", { env: { ...box.env, COSIGN_STUB: mode } }).catch(
            (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(VerifyError);
        expect((error as Error).message).toMatch(message);
        expect(box.calls("cosign")).toHaveLength(mode === "no-provenance" ? 2 : 1);
    });

    test("an unsigned stack fails without running cosign", async () => {
        const box = cosignSandbox();
        await expect(verifyImage({ service: image(undefined) }, "service", { env: box.env })).rejects.toThrow(
            /has no signature/,
        );
        expect(box.calls("cosign")).toEqual([]);
    });

    test("says so when cosign is not installed", async () => {
        const box = sandbox("nbf-verify-");
        const error = await verifyImage({ service: KMS }, "service", { env: { PATH: box.bin } }).then(
            () => new Error("passed"),
            (e: unknown) => e as Error,
        );
        expect(error.message).toMatch(/^service: cosign is not installed or not on PATH/);
    });

    test("keeps cosign's last meaningful line for failures it does not recognise", () => {
        const check = checksFor("service", KMS, "/k")[0];
        expect(explain("service", check, 1, "WARNING: something\nError: GET https://x/v2/: UNAUTHORIZED\n")).toBe(
            `service: the signature of ${INDEX} did not verify: Error: GET https://x/v2/: UNAUTHORIZED`,
        );
    });
});

describe("the command", () => {
    test("reads the fleet stack's outputs, verifies every image and prints each reference", async () => {
        const box = cosignSandbox();
        const file = path.join(box.dir, "outputs.json");
        fs.writeFileSync(file, JSON.stringify({ images: { service: KEY, worker: KMS }, hosts: {} }));
        const out: string[] = [];
        const err: string[] = [];
        expect(
            await main(
                [file, "--", "--insecure-ignore-tlog=true"],
                box.env,
                (l) => out.push(l),
                (l) => err.push(l),
            ),
        ).toBe(0);
        expect(out).toEqual([`verified service: ${INDEX}`, `verified worker: ${INDEX}`]);
        expect(err).toEqual([]);
        expect(box.calls("cosign").every((c) => c.includes("--insecure-ignore-tlog=true"))).toBe(true);
    });

    test("exits 1 with the reason on an unsigned image", async () => {
        const box = cosignSandbox();
        const file = path.join(box.dir, "outputs.json");
        fs.writeFileSync(file, JSON.stringify({ service: KEY, legacy: image(undefined) }));
        const err: string[] = [];
        expect(
            await main(
                [file, "legacy"],
                box.env,
                () => undefined,
                (l) => err.push(l),
            ),
        ).toBe(1);
        expect(err).toEqual([expect.stringMatching(/^verify: images\.legacy has no signature/)]);
    });

    test("takes named images, or all of them, and flags after --", () => {
        const read = () => ({ images: { a: KEY, b: KMS } });
        expect(parseArgs(["o.json"], read)).toMatchObject({ names: ["a", "b"], extraArgs: [] });
        expect(parseArgs(["o.json", "b", "--", "--x"], read)).toMatchObject({ names: ["b"], extraArgs: ["--x"] });
        expect(() => parseArgs([], read)).toThrow(/^usage: verify OUTPUTS\.json/);
    });
});
