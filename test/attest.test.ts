// The sign step's entry point run for real against stub cosign, syft, docker and git: what
// it signs and attests, what it skips, where secrets go, and that nothing is left behind.

import * as fs from "fs";
import * as path from "path";
import { attest, AttestSpec, previousReport, reason, samePublicKey, signerId } from "../runner/attest";
import { SigningConfig } from "../config/signing";
import { sandbox } from "./sandbox";

const PUB = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEstubkeyAAAA\n-----END PUBLIC KEY-----\n";
const OTHER_PUB = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEotherkeyBBBB\n-----END PUBLIC KEY-----\n";
const PRIVATE = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nsecret-private-key-body\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----";
const AMD = `sha256:${"a".repeat(64)}`;
const ARM = `sha256:${"b".repeat(64)}`;
const INDEX = `sha256:${"f".repeat(64)}`;
const REPO = "registry.e2e.test:5000/nbf-e2e/probe";
const KEY: SigningConfig = { mode: "key", publicKey: PUB, transparencyLog: false };

function spec(signing: SigningConfig = KEY): AttestSpec {
    return {
        registry: "registry.e2e.test:5000", signing,
        indexes: [`${REPO}:latest@${INDEX}`, `${REPO}:v1@${INDEX}`],
        platforms: [
            { platform: "linux/amd64", ref: `${REPO}@${AMD}`, host: "amd", node: "nbf-e2e-amd", test: { command: ["uname", "-m"], output: "x86_64" } },
            { platform: "linux/arm64", ref: `${REPO}@${ARM}`, host: "arm", node: "nbf-e2e-arm", test: { command: ["uname", "-m"], output: "aarch64" } },
        ],
        build: { stack: "native-build-fleet/e2e", builderName: "nbf-e2e", context: "app", buildArgs: { VCS_REF: "c0ffee" }, secrets: ["token"], ssh: [], source: "https://example.invalid/app" },
    };
}

/** Stubs that log their calls; cosign copies each predicate and records its password variable and key file's mode. */
function box(publicKey = PUB) {
    const b = sandbox("nbf-attest-");
    const project = path.join(b.dir, "project");
    fs.mkdirSync(path.join(project, "app"), { recursive: true });
    fs.writeFileSync(path.join(project, "app", "Dockerfile"), "FROM registry.e2e.test:5000/busybox:e2e AS build\nFROM scratch\n");
    fs.writeFileSync(path.join(b.dir, "pub.pem"), publicKey);
    b.stub("cosign", [
        `echo "$1 COSIGN_PASSWORD=\${COSIGN_PASSWORD-unset} dir=$(stat -c %a "$(dirname "$DOCKER_CONFIG/x")")" >> '${b.dir}/cosign-env'`,
        `case "$1" in`,
        `  version) exit 0;;`,
        `  public-key) stat -c %a "$3" > '${b.dir}/key-mode'; cp "$3" '${b.dir}/key-copy'; cat '${b.dir}/pub.pem';;`,
        `  signing-config) echo '{}' > "$4";;`,
        `  attest) for a; do [ "$prev" = --predicate ] && cp "$a" '${b.dir}'/predicate-$(ls '${b.dir}' | grep -c ^predicate-); prev=$a; done;;`,
        `esac`,
    ].join("\n"));
    b.stub("syft", `[ "$1" = version ] && exit 0; out=\${4#spdx-json=}; echo '{"spdxVersion":"SPDX-2.3","packages":[{"name":"busybox"}]}' > "$out"`);
    b.stub("docker", [
        `case "$*" in`,
        `  *"inspect --raw"*) printf 'base-index';;`,
        `  "buildx inspect "*) printf 'Name: x\\nBuildKit version: v0.31.0\\n';;`,
        `  *"{{json .Image}}"*) echo '{"created":"2026-12-06T21:00:00Z"}';;`,
        `esac`,
    ].join("\n"));
    b.stub("git", `case "$1" in rev-parse) echo 0123456789abcdef;; status) echo ' M app/x';; esac`);
    return { ...b, project };
}

async function inProject<T>(dir: string, f: () => Promise<T>): Promise<T> {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
        return await f();
    } finally {
        process.chdir(cwd);
    }
}

const secrets = { credentials: "e2e:registry-password", signingKey: PRIVATE, signingKeyPassword: "key-password" };

describe("the attest entry point", () => {
    test("attests provenance and an SBOM on each platform digest, then signs the index once, all by digest", async () => {
        const b = box();
        const report = await inProject(b.project, () => attest(spec(), secrets, b.runner()));
        const cosign = b.calls("cosign").filter((c) => /^(attest|sign) /.test(c));
        expect(cosign.map((c) => `${c.split(" ")[0]} ${c.split(" ").pop()}`)).toEqual([
            `attest ${REPO}@${AMD}`, `attest ${REPO}@${AMD}`, `attest ${REPO}@${ARM}`, `attest ${REPO}@${ARM}`, `sign ${REPO}@${INDEX}`,
        ]);
        expect(cosign.filter((c) => c.startsWith("attest")).map((c) => /--type (\S+)/.exec(c)?.[1])).toEqual(["slsaprovenance1", "spdxjson", "slsaprovenance1", "spdxjson"]);
        expect(b.calls("syft").filter((c) => c.startsWith("scan")).map((c) => c.split(" ")[1])).toEqual([`registry:${REPO}@${AMD}`, `registry:${REPO}@${ARM}`]);
        const who = signerId(KEY);
        expect(report).toEqual({ signed: { [`${REPO}@${AMD}`]: who, [`${REPO}@${ARM}`]: who, [`${REPO}@${INDEX}`]: who } });
    });

    test("writes provenance naming the commit, the dirty tree, the Dockerfile's digest, the base image by digest and the smoke test", async () => {
        const b = box();
        await inProject(b.project, () => attest(spec(), secrets, b.runner()));
        const provenance = JSON.parse(b.read("predicate-0"));
        expect(provenance.buildDefinition.externalParameters.source).toEqual({ repository: "https://example.invalid/app", commit: "0123456789abcdef", dirty: true });
        expect(provenance.buildDefinition.externalParameters.dockerfile.sha256).toMatch(/^[a-f0-9]{64}$/);
        expect(provenance.buildDefinition.externalParameters.secrets).toEqual(["token"]);
        expect(provenance.buildDefinition.resolvedDependencies[1]).toMatchObject({ name: "registry.e2e.test:5000/busybox:e2e", digest: { sha256: expect.stringMatching(/^[a-f0-9]{64}$/) } });
        expect(provenance.runDetails.builder.version).toEqual({ buildkit: "v0.31.0" });
        expect(provenance.runDetails.metadata.finishedOn).toBe("2026-12-06T21:00:00Z");
        expect(JSON.parse(b.read("predicate-1")).spdxVersion).toBe("SPDX-2.3");
    });

    test("leaves finishedOn out of a reproducible build's provenance: its config's created time is SOURCE_DATE_EPOCH, and the epoch is in its build args", async () => {
        const b = box();
        const reproducible = spec();
        reproducible.build.buildArgs = { VCS_REF: "c0ffee", SOURCE_DATE_EPOCH: "1796591007" };
        await inProject(b.project, () => attest(reproducible, secrets, b.runner()));
        const provenance = JSON.parse(b.read("predicate-0"));
        expect(provenance.runDetails.metadata.finishedOn).toBeUndefined();
        expect(provenance.buildDefinition.externalParameters.buildArgs).toEqual({ VCS_REF: "c0ffee", SOURCE_DATE_EPOCH: "1796591007" });
    });

    test("keeps every secret out of argv and attestations: the key in a 0600 file in a 0700 dir, its password only in cosign's COSIGN_PASSWORD, all removed after", async () => {
        const b = box();
        await inProject(b.project, () => attest(spec(), secrets, b.runner()));
        const argv = [...b.calls("cosign"), ...b.calls("syft"), ...b.calls("docker"), ...b.calls("git")].join("\n");
        expect(argv).not.toMatch(/secret-private-key-body|key-password|registry-password/);
        expect(b.read("key-mode").trim()).toBe("600");
        expect(b.read("key-copy").trim()).toBe(PRIVATE);
        const env = b.read("cosign-env").trim().split("\n");
        expect([...new Set(env.filter((l) => !l.startsWith("version ")).map((l) => l.slice(l.indexOf(" ") + 1)))]).toEqual(["COSIGN_PASSWORD=key-password dir=700"]);
        expect(env.find((l) => l.startsWith("version "))).toMatch(/COSIGN_PASSWORD=unset/);
        for (const f of fs.readdirSync(b.dir).filter((n) => n.startsWith("predicate-"))) {
            expect(b.read(f)).not.toMatch(/secret-private-key-body|key-password|registry-password/);
        }
        const keyDir = path.dirname(b.calls("cosign").find((c) => c.startsWith("public-key"))!.split(" ")[2]);
        expect(fs.existsSync(keyDir)).toBe(false);
    });

    test("signs only digests its previous run did not: one changed platform re-attests that one and signs the new index", async () => {
        const b = box();
        const who = signerId(KEY);
        const previous = JSON.stringify({ signed: { [`${REPO}@${AMD}`]: who, [`${REPO}@sha256:${"9".repeat(64)}`]: who } });
        const report = await inProject(b.project, () => attest(spec(), secrets, b.runner({ PULUMI_COMMAND_STDOUT: previous })));
        const cosign = b.calls("cosign").filter((c) => /^(attest|sign) /.test(c)).map((c) => `${c.split(" ")[0]} ${c.split(" ").pop()}`);
        expect(cosign).toEqual([`attest ${REPO}@${ARM}`, `attest ${REPO}@${ARM}`, `sign ${REPO}@${INDEX}`]);
        expect(Object.keys(report.signed).sort()).toEqual([AMD, ARM, INDEX].map((d) => `${REPO}@${d}`).sort());
    });

    test("signs nothing when every digest was signed by the same signer, and everything again for a new key", async () => {
        const b = box();
        const who = signerId(KEY);
        const previous = JSON.stringify({ signed: { [`${REPO}@${AMD}`]: who, [`${REPO}@${ARM}`]: who, [`${REPO}@${INDEX}`]: who } });
        await inProject(b.project, () => attest(spec(), secrets, b.runner({ PULUMI_COMMAND_STDOUT: previous })));
        expect(b.calls("cosign").filter((c) => /^(attest|sign) /.test(c))).toEqual([]);
        expect(b.calls("syft").filter((c) => c.startsWith("scan"))).toEqual([]);
        const old = JSON.stringify({ signed: { [`${REPO}@${AMD}`]: "key:other", [`${REPO}@${ARM}`]: "key:other", [`${REPO}@${INDEX}`]: "key:other" } });
        const c = box();
        await inProject(c.project, () => attest(spec(), secrets, c.runner({ PULUMI_COMMAND_STDOUT: old })));
        expect(c.calls("cosign").filter((l) => /^(attest|sign) /.test(l))).toHaveLength(5);
    });

    test("signs the same digests again in another repository: a report names repository and digest, not the digest alone", async () => {
        const b = box();
        const who = signerId(KEY);
        const elsewhere = JSON.stringify({ signed: Object.fromEntries([AMD, ARM, INDEX].map((d) => [`registry.old.example/app@${d}`, who])) });
        const report = await inProject(b.project, () => attest(spec(), secrets, b.runner({ PULUMI_COMMAND_STDOUT: elsewhere })));
        expect(b.calls("cosign").filter((c) => /^(attest|sign) /.test(c))).toHaveLength(5);
        expect(Object.keys(report.signed).sort()).toEqual([AMD, ARM, INDEX].map((d) => `${REPO}@${d}`).sort());
    });

    test("refuses a private key that is not the half of signing.publicKey, naming both keys and the fix, before signing anything", async () => {
        const b = box(OTHER_PUB);
        await expect(inProject(b.project, () => attest(spec(), secrets, b.runner()))).rejects.toThrow(
            /signingKey is not the private half of signing\.publicKey.*cosign public-key --key cosign\.key/);
        expect(b.calls("cosign").filter((c) => /^(attest|sign) /.test(c))).toEqual([]);
    });

    test("fails fast naming a missing tool", async () => {
        const b = box();
        fs.rmSync(path.join(b.bin, "syft"));
        await expect(attest(spec(), secrets, b.runner({ PATH: b.bin }))).rejects.toThrow(/syft is not on PATH on this machine; install cosign v3 and syft/);
    });

    test("keyless outside a CI with an OIDC token fails saying where it works", async () => {
        const b = box();
        const keyless: SigningConfig = { mode: "keyless", identity: "me", issuer: "https://gitlab.com" };
        await expect(attest(spec(keyless), { credentials: "u:p" }, b.runner())).rejects.toThrow(/no OIDC token for Fulcio.*id-token: write.*SIGSTORE_ID_TOKEN/);
    });

    test("keyless on GitLab leaves the token in the environment cosign reads, and writes no offline files", async () => {
        const b = box();
        const keyless: SigningConfig = { mode: "keyless", identity: "me", issuer: "https://gitlab.com" };
        await inProject(b.project, () => attest(spec(keyless), { credentials: "u:p" }, b.runner({ GITLAB_CI: "true", SIGSTORE_ID_TOKEN: "eyJ-token" })));
        const calls = b.calls("cosign");
        expect(calls.some((c) => c.startsWith("signing-config") || c.startsWith("public-key"))).toBe(false);
        expect(calls.find((c) => c.startsWith("sign "))).toBe(`sign --yes ${REPO}@${INDEX}`);
        expect(calls.join("\n")).not.toContain("eyJ-token");
    });
});

describe("the pieces", () => {
    test.each([
        ["the same key in another layout", PUB, PUB.replace(/\n/g, "\r\n"), true],
        ["another key", PUB, OTHER_PUB, false],
        ["nothing", "", "", false],
    ])("compares public keys: %s", (_, a, b, same) => {
        expect(samePublicKey(a, b)).toBe(same);
    });

    test.each([
        ["nothing", undefined, {}],
        ["not JSON", "signed", {}],
        ["a report", JSON.stringify({ signed: { [AMD]: "key:x" } }), { [AMD]: "key:x" }],
    ])("reads the previous report from %s", (_, stdout, signed) => {
        expect(previousReport(stdout).signed).toEqual(signed);
    });

    test.each([
        ["docker's error line, not its usage hint", "unknown flag: --raw\nSee 'docker --help'.\n", "unknown flag: --raw"],
        ["buildx's error", "#0 resolving\nERROR: failed to resolve: not found\n", "ERROR: failed to resolve: not found"],
        ["the first line otherwise", "a\nb\n", "a"],
        ["nothing", "", "no output"],
    ])("reports why a base image was not resolved: %s", (_, output, why) => {
        expect(reason(output)).toBe(why);
    });

    test("a signer without Rekor is another signer than one with it", () => {
        expect(signerId({ ...KEY, transparencyLog: true })).not.toBe(signerId(KEY));
    });
});
