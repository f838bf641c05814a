// The deploy example's check before it uses a digest (examples/deploy/verify.ts): the signer
// the deploy pins and its refusal of a fleet stack that exports another ("signer changed"), the
// cosign command lines for each key source, run against a stub cosign on PATH that passes, finds
// no signature, or finds one by someone else; and the messages a deploy prints for each.

import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { parseTrustedSigner, signerFlags, TrustedSigner, VerifyError } from "../examples/deploy/signer";
import {
    checksFor,
    explain,
    ImageOutput,
    main,
    parseArgs,
    provenanceProblem,
    verifyImage,
} from "../examples/deploy/verify";
import { sandbox } from "./sandbox";

const REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/service";
const INDEX = `${REPO}@sha256:${"a".repeat(64)}`;
const AMD = `${REPO}@sha256:${"b".repeat(64)}`;
const ARM = `${REPO}@sha256:${"c".repeat(64)}`;
const PUBLIC_KEY = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfleet\n-----END PUBLIC KEY-----\n";
/** Someone else's key, as a writer of the fleet stack's outputs would export it with their images. */
const OTHER_KEY = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEevil\n-----END PUBLIC KEY-----\n";
const KMS_KEY = "awskms:///arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const IDENTITY = "https://github.com/acme/fleet/.github/workflows/up.yml@refs/heads/main";
const GITHUB = "https://token.actions.githubusercontent.com";
/** What the deploy pins in its own config, for each key source. */
const PIN_KEY: TrustedSigner = { mode: "key", publicKey: PUBLIC_KEY };
const PIN_KMS: TrustedSigner = { mode: "kms", key: KMS_KEY };
const PIN_KEYLESS: TrustedSigner = { mode: "keyless", identity: IDENTITY, issuer: GITHUB };
const sha256 = (pem: string) =>
    createHash("sha256")
        .update(Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64"))
        .digest("hex");

function image(signature: ImageOutput["signature"]): ImageOutput {
    return { ref: INDEX, platforms: { "linux/amd64": { ref: AMD }, "linux/arm64": { ref: ARM } }, signature };
}
const KEY = image({ mode: "key", publicKey: PUBLIC_KEY });
const KMS = image({ mode: "kms", kmsKey: KMS_KEY });
const KEYLESS = image({ mode: "keyless", certificateIdentity: IDENTITY, certificateOidcIssuer: GITHUB });

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
if [ "$1" = verify-attestation ] && [ -n "\${STUB_ENVELOPES:-}" ]; then cat "$STUB_ENVELOPES"; fi
case "\${COSIGN_STUB:-pass}" in
    unsigned) echo "Error: no signatures found" >&2; exit 1 ;;
    foreign) echo "Error: invalid signature when validating ASN.1 encoded signature" >&2; exit 1 ;;
    no-provenance) if [ "$1" = verify-attestation ]; then echo "Error: none of the attestations matched the predicate type: https://slsa.dev/provenance/v1, found: https://spdx.dev/Document" >&2; exit 1; fi ;;
esac
exit 0`,
    );
    return box;
}

describe("the pinned signer", () => {
    test.each<[string, unknown, TrustedSigner]>([
        ["a key pair's public key", { mode: "key", publicKey: PUBLIC_KEY }, PIN_KEY],
        ["an AWS KMS key URI", { mode: "kms", key: KMS_KEY }, PIN_KMS],
        ["a keyless identity and issuer", { mode: "keyless", identity: IDENTITY, issuer: GITHUB }, PIN_KEYLESS],
        [
            "a keyless identity pattern and issuer",
            { mode: "keyless", identityRegexp: "^https://github\\.com/acme/fleet/.*$", issuer: GITHUB },
            { mode: "keyless", identityRegexp: "^https://github\\.com/acme/fleet/.*$", issuer: GITHUB },
        ],
    ])("takes %s, in the fleet's signing shape", (_, raw, pinned) => {
        expect(parseTrustedSigner(raw, "trustedSigner")).toEqual(pinned);
    });

    test.each([undefined, null, ""])(
        "refuses a deploy that pins nothing (%p), naming the key and how to set it",
        (raw) => {
            expect(() => parseTrustedSigner(raw, "trustedSigner")).toThrow(
                /^trustedSigner is not set: this deploy verifies images only against a signer it pins itself, never the one the fleet stack exports.*`pulumi config set --path trustedSigner\.mode key`/,
            );
        },
    );

    test.each<[string, unknown, RegExp]>([
        ["no mode", { publicKey: PUBLIC_KEY }, /trustedSigner\.mode: must be "key", "kms" or "keyless"/],
        ["a bare string", "awskms:///alias/fleet", /^trustedSigner must be an object \{mode: key, publicKey\}/],
        [
            "a public key that is not PEM",
            { mode: "key", publicKey: "fleet" },
            /trustedSigner\.publicKey: must be the fleet's cosign public key in PEM form/,
        ],
        [
            "a KMS key that is not a URI",
            { mode: "kms", key: "alias/fleet" },
            /trustedSigner\.key: must be the fleet's AWS KMS key URI/,
        ],
        ["a misspelt field", { mode: "kms", key: KMS_KEY, kmskey: KMS_KEY }, /trustedSigner: .*kmskey/],
        [
            "keyless with neither identity nor pattern",
            { mode: "keyless", issuer: GITHUB },
            /trustedSigner\.identity: set exactly one of identity and identityRegexp/,
        ],
        [
            "an unanchored pattern",
            { mode: "keyless", identityRegexp: "acme/fleet", issuer: GITHUB },
            /trustedSigner\.identityRegexp: must be a regular expression anchored with \^ and \$/,
        ],
        [
            "an issuer that is not an https URL",
            { mode: "keyless", identity: IDENTITY, issuer: "gitlab.com" },
            /trustedSigner\.issuer: must be the OIDC issuer URL/,
        ],
    ])("refuses %s, naming the key", (_, raw, message) => {
        expect(() => parseTrustedSigner(raw, "trustedSigner")).toThrow(message);
    });

    test.each<[string, ImageOutput, TrustedSigner, string, string]>([
        [
            "another public key",
            image({ mode: "key", publicKey: OTHER_KEY }),
            PIN_KEY,
            `public key sha256:${sha256(OTHER_KEY)}`,
            `public key sha256:${sha256(PUBLIC_KEY)}`,
        ],
        [
            "another KMS key",
            image({ mode: "kms", kmsKey: "awskms:///alias/evil" }),
            PIN_KMS,
            "KMS key awskms:///alias/evil",
            `KMS key ${KMS_KEY}`,
        ],
        [
            "another keyless identity",
            image({
                mode: "keyless",
                certificateIdentity: "https://github.com/evil/fleet/.github/workflows/up.yml@refs/heads/main",
                certificateOidcIssuer: GITHUB,
            }),
            PIN_KEYLESS,
            `keyless identity https://github.com/evil/fleet/.github/workflows/up.yml@refs/heads/main from ${GITHUB}`,
            `keyless identity ${IDENTITY} from ${GITHUB}`,
        ],
        [
            "the same identity from another issuer",
            image({
                mode: "keyless",
                certificateIdentity: IDENTITY,
                certificateOidcIssuer: "https://issuer.evil.example",
            }),
            PIN_KEYLESS,
            `keyless identity ${IDENTITY} from https://issuer.evil.example`,
            `keyless identity ${IDENTITY} from ${GITHUB}`,
        ],
        [
            "a pattern where the deploy pinned one identity",
            image({
                mode: "keyless",
                certificateIdentityRegexp: "^https://github\\.com/.*$",
                certificateOidcIssuer: GITHUB,
            }),
            PIN_KEYLESS,
            `keyless identity pattern ^https://github\\.com/.*$ from ${GITHUB}`,
            `keyless identity ${IDENTITY} from ${GITHUB}`,
        ],
        [
            "a key where the deploy pinned KMS",
            image({ mode: "key", publicKey: OTHER_KEY }),
            PIN_KMS,
            `public key sha256:${sha256(OTHER_KEY)}`,
            `KMS key ${KMS_KEY}`,
        ],
    ])(
        "refuses a fleet stack that exports %s: signer changed, naming both, before running cosign",
        async (_, output, pinned, exported, trusted) => {
            const box = cosignSandbox();
            const error = await verifyImage({ service: output }, "service", { env: box.env, signer: pinned }).then(
                () => new Error("passed"),
                (e: unknown) => e as Error,
            );
            expect(error).toBeInstanceOf(VerifyError);
            expect(error.message).toContain(
                `images.service: signer changed: the fleet stack exports ${exported}, but this deploy trusts ${trusted}.`,
            );
            expect(box.calls("cosign")).toEqual([]);
        },
    );

    test("takes the same public key wrapped or indented differently as the same signer, and hands cosign the pinned copy", async () => {
        const box = cosignSandbox();
        const rewrapped = PUBLIC_KEY.replace("MFkwEwYHKoZIzj0CAQYI", "MFkwEwYHKoZIzj0CAQYI\n  ").replace(/\n/g, "\r\n");
        await expect(
            verifyImage({ service: image({ mode: "key", publicKey: rewrapped }) }, "service", {
                env: box.env,
                signer: PIN_KEY,
            }),
        ).resolves.toBe(INDEX);
        expect(box.read("seen-key")).toBe(PUBLIC_KEY);
    });
});

describe("cosign command lines", () => {
    test.each<[string, TrustedSigner, string[]]>([
        ["a key pair: the pinned public key, from a file", PIN_KEY, ["--key", "/tmp/k/cosign.pub"]],
        ["an AWS KMS key: the pinned key URI itself", PIN_KMS, ["--key", KMS_KEY]],
        [
            "keyless: the pinned identity and issuer",
            PIN_KEYLESS,
            ["--certificate-identity", IDENTITY, "--certificate-oidc-issuer", GITHUB],
        ],
    ])("ties verification to the pinned signer for %s", (_, pinned, flags) => {
        expect(signerFlags(pinned, "/tmp/k/cosign.pub")).toEqual(flags);
    });

    test("verifies the index signature, then provenance and SBOM on every platform digest, passing extra flags on", () => {
        const checks = checksFor("service", KMS, PIN_KMS, "/unused", ["--trusted-root", "/t.json"]);
        const key = ["--key", KMS_KEY];
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
        expect(() => checksFor("service", output, PIN_KEY, "/k")).toThrow(message);
    });
});

describe("running cosign", () => {
    test.each<[string, ImageOutput, TrustedSigner]>([
        ["key", KEY, PIN_KEY],
        ["kms", KMS, PIN_KMS],
        ["keyless", KEYLESS, PIN_KEYLESS],
    ])("a %s-signed image passes and yields its index digest", async (_, output, signer) => {
        const box = cosignSandbox();
        await expect(verifyImage({ service: output }, "service", { env: box.env, signer })).resolves.toBe(INDEX);
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

    test("hands cosign the pinned public key in a private file that is gone afterwards", async () => {
        const box = cosignSandbox();
        await verifyImage({ service: KEY }, "service", { env: box.env, signer: PIN_KEY });
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
        const error = await verifyImage({ service: KEY }, "service", {
            env: { ...box.env, COSIGN_STUB: mode },
            signer: PIN_KEY,
        }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(VerifyError);
        expect((error as Error).message).toMatch(message);
        expect(box.calls("cosign")).toHaveLength(mode === "no-provenance" ? 2 : 1);
    });

    test("an unsigned stack fails without running cosign", async () => {
        const box = cosignSandbox();
        await expect(
            verifyImage({ service: image(undefined) }, "service", { env: box.env, signer: PIN_KEY }),
        ).rejects.toThrow(/has no signature/);
        expect(box.calls("cosign")).toEqual([]);
    });

    test("says so when cosign is not installed", async () => {
        const box = sandbox("nbf-verify-");
        const error = await verifyImage({ service: KMS }, "service", { env: { PATH: box.bin }, signer: PIN_KMS }).then(
            () => new Error("passed"),
            (e: unknown) => e as Error,
        );
        expect(error.message).toMatch(/^service: cosign is not installed or not on PATH/);
    });

    test("keeps cosign's last meaningful line for failures it does not recognise", () => {
        const check = checksFor("service", KMS, PIN_KMS, "/k")[0];
        expect(explain("service", check, 1, "WARNING: something\nError: GET https://x/v2/: UNAUTHORIZED\n")).toBe(
            `service: the signature of ${INDEX} did not verify: Error: GET https://x/v2/: UNAUTHORIZED`,
        );
    });
});

describe("the command", () => {
    /** The fleet's outputs and the deploy's pin, as files in the sandbox. */
    function files(box: ReturnType<typeof cosignSandbox>, outputs: unknown, signer: string) {
        const out = path.join(box.dir, "outputs.json");
        fs.writeFileSync(out, JSON.stringify(outputs));
        const pin = path.join(box.dir, signer.startsWith("-----") ? "cosign.pub" : "signer.json");
        fs.writeFileSync(pin, signer);
        return { out, pin };
    }
    const run = async (argv: string[], env: NodeJS.ProcessEnv) => {
        const out: string[] = [];
        const err: string[] = [];
        const code = await main(
            argv,
            env,
            (l) => out.push(l),
            (l) => err.push(l),
        );
        return { code, out, err };
    };

    test.each([
        ["the fleet's cosign.pub as it is", PUBLIC_KEY],
        ["the trustedSigner object in JSON", JSON.stringify(PIN_KEY)],
    ])("verifies every image against --signer given as %s and prints each reference", async (_, signer) => {
        const box = cosignSandbox();
        const { out, pin } = files(box, { images: { service: KEY, worker: KEY }, hosts: {} }, signer);
        expect(await run(["--signer", pin, out, "--", "--insecure-ignore-tlog=true"], box.env)).toEqual({
            code: 0,
            out: [`verified service: ${INDEX}`, `verified worker: ${INDEX}`],
            err: [],
        });
        expect(box.calls("cosign").every((c) => c.includes("--insecure-ignore-tlog=true"))).toBe(true);
        expect(box.read("seen-key")).toBe(PUBLIC_KEY);
    });

    test("exits 1 with signer changed when the outputs name another key than --signer, running no cosign", async () => {
        const box = cosignSandbox();
        const { out, pin } = files(
            box,
            { images: { service: image({ mode: "key", publicKey: OTHER_KEY }) } },
            PUBLIC_KEY,
        );
        const { code, err } = await run(["--signer", pin, out], box.env);
        expect(code).toBe(1);
        expect(err).toEqual([
            expect.stringMatching(
                /^verify: images\.service: signer changed: the fleet stack exports public key sha256:/,
            ),
        ]);
        expect(box.calls("cosign")).toEqual([]);
    });

    test("exits 1 without --signer, saying the pin is missing and why, running no cosign", async () => {
        const box = cosignSandbox();
        const { out } = files(box, { images: { service: KEY } }, PUBLIC_KEY);
        const { code, err } = await run([out], box.env);
        expect(code).toBe(1);
        expect(err).toEqual([
            expect.stringMatching(
                /^verify: --signer is missing: images are verified only against a signer you pin, never the one the fleet stack exports/,
            ),
        ]);
        expect(box.calls("cosign")).toEqual([]);
    });

    test("exits 1 with the reason on an unsigned image", async () => {
        const box = cosignSandbox();
        const { out, pin } = files(box, { service: KEY, legacy: image(undefined) }, PUBLIC_KEY);
        const { code, err } = await run([out, "legacy", "--signer", pin], box.env);
        expect(code).toBe(1);
        expect(err).toEqual([expect.stringMatching(/^verify: images\.legacy has no signature/)]);
    });

    test("takes named images, or all of them, the pin from --signer, and flags after --", () => {
        const read = (file: string) =>
            file === "pin.json" ? JSON.stringify(PIN_KMS) : JSON.stringify({ images: { a: KEY, b: KMS } });
        expect(parseArgs(["--signer", "pin.json", "o.json"], read)).toMatchObject({
            names: ["a", "b"],
            signer: PIN_KMS,
            extraArgs: [],
        });
        expect(parseArgs(["o.json", "b", "--signer", "pin.json", "--", "--x"], read)).toMatchObject({
            names: ["b"],
            extraArgs: ["--x"],
        });
        expect(() => parseArgs([], read)).toThrow(/^usage: verify --signer SIGNER OUTPUTS\.json/);
        expect(() => parseArgs(["--signer", "o.json", "o.json"], read)).toThrow(
            /^the trusted signer is not valid:\n {2}- --signer o\.json\.mode: /,
        );
    });
});

/** A DSSE envelope as cosign verify-attestation prints it, around an in-toto statement. */
const envelope = (predicateType: string, subjects: string[]) =>
    JSON.stringify({
        payloadType: "application/vnd.in-toto+json",
        payload: Buffer.from(
            JSON.stringify({
                _type: "https://in-toto.io/Statement/v1",
                predicateType,
                subject: subjects.map((ref) => {
                    const [name, hex] = ref.split("@sha256:");
                    return { name, digest: { sha256: hex } };
                }),
                predicate: {},
            }),
        ).toString("base64"),
        signatures: [{ sig: "MEUC" }],
    });
const SLSA = "https://slsa.dev/provenance/v1";
/** Another image of the same fleet, signed by the same key. */
const OTHER_REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/admin-tool";
const OTHER_AMD = `${OTHER_REPO}@sha256:${"b".repeat(64)}`;

describe("the provenance a deploy expects (the image swap)", () => {
    test.each<[string, string, string | RegExp | undefined]>([
        ["names the repository and the digest", envelope(SLSA, [AMD]), undefined],
        [
            "was made for another image",
            envelope(SLSA, [OTHER_AMD]),
            `its signed provenance was made for ${OTHER_AMD}, not ${AMD}`,
        ],
        ["names another digest of the repository", envelope(SLSA, [ARM]), /was made for .*c{64}, not/],
        ["is an SBOM, not provenance", envelope("https://spdx.dev/Document", [AMD]), /no SLSA provenance statement/],
        ["is not an envelope", "Verification for ... --\nnot json", /no SLSA provenance statement/],
    ])("a statement that %s", (_, stdout, problem) => {
        const found = provenanceProblem(`${stdout}\n`, AMD, REPO);
        if (problem === undefined) expect(found).toBeUndefined();
        else expect(found).toMatch(problem);
    });

    test("refuses outputs that point the image at another repository, running no cosign", async () => {
        const box = cosignSandbox();
        const swapped = { ...KEY, ref: `${OTHER_REPO}@sha256:${"a".repeat(64)}` };
        await expect(
            verifyImage({ service: swapped }, "service", { env: box.env, signer: PIN_KEY, repository: REPO }),
        ).rejects.toThrow(`images.service.ref is in ${OTHER_REPO}, but this deploy expects ${REPO}`);
        expect(box.calls("cosign")).toEqual([]);
    });

    test("passes when the signed provenance names the expected repository and each platform digest", async () => {
        const box = cosignSandbox();
        const file = path.join(box.dir, "envelopes");
        fs.writeFileSync(file, `${envelope(SLSA, [AMD])}\n${envelope(SLSA, [ARM])}\n`);
        await expect(
            verifyImage({ service: KEY }, "service", {
                env: { ...box.env, STUB_ENVELOPES: file },
                signer: PIN_KEY,
                repository: REPO,
            }),
        ).resolves.toBe(INDEX);
    });

    test("refuses a digest the fleet signed for another image, though its signatures verify", async () => {
        const box = cosignSandbox();
        const file = path.join(box.dir, "envelopes");
        // The outputs were rewritten to hold the other image's digests under this repository's name.
        fs.writeFileSync(file, `${envelope(SLSA, [OTHER_AMD])}\n`);
        const error = await verifyImage({ service: KEY }, "service", {
            env: { ...box.env, STUB_ENVELOPES: file },
            signer: PIN_KEY,
            repository: REPO,
        }).catch((e: unknown) => e);
        expect((error as Error).message).toBe(
            `service: the provenance attestation (linux/amd64) of ${AMD} is not for this image: ` +
                `its signed provenance was made for ${OTHER_AMD}, not ${AMD}; do not deploy it`,
        );
    });

    test("takes the expected repository from --repository", () => {
        const read = (file: string) =>
            file === "signer.pub" ? PUBLIC_KEY : JSON.stringify({ images: { service: KEY } });
        expect(parseArgs(["--signer", "signer.pub", "--repository", REPO, "out.json", "service"], read)).toMatchObject({
            names: ["service"],
            repository: REPO,
        });
    });
});
