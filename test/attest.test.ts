// The sign step's entry point run for real against stub cosign, syft, docker and git and a
// loopback registry (test/registryStandIn.ts) to which each stub cosign call attaches its
// bundle: what it signs and attests, what it skips and what it asks the registry to decide,
// where secrets go, and that nothing is left behind.

import * as fs from "fs";
import * as path from "path";
import { attest, AttestSpec, previousReport, reason, samePublicKey, signerId } from "../runner/attest";
import { SigningConfig } from "../config/signing";
import { listed, pinReferrers, referrersTag, repositoryAndDigest, SIGNATURE_PREDICATE } from "../runner/referrersTag";
import { RegistryClient } from "../runner/registryClient";
import { PREDICATE_TYPES } from "../runner/signing";
import { oncePerKey, together } from "../runner/together";
import { registryStandIn, StandIn } from "./registryStandIn";
import { sandbox } from "./sandbox";

const PUB = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEstubkeyAAAA\n-----END PUBLIC KEY-----\n";
const OTHER_PUB =
    "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEotherkeyBBBB\n-----END PUBLIC KEY-----\n";
const PRIVATE =
    "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nsecret-private-key-body\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----";
const AMD = `sha256:${"a".repeat(64)}`;
const ARM = `sha256:${"b".repeat(64)}`;
const INDEX = `sha256:${"f".repeat(64)}`;
const CREDENTIALS = "e2e:registry-password";
const KEY: SigningConfig = { mode: "key", publicKey: PUB, transparencyLog: false };

let registry: StandIn;
let REPO = "";
beforeEach(async () => {
    registry = await registryStandIn("api", CREDENTIALS);
    REPO = `${registry.host}/nbf-e2e/probe`;
});
afterEach(() => registry.close());

function spec(signing: SigningConfig = KEY): AttestSpec {
    return {
        registry: registry.host,
        signing,
        indexes: [`${REPO}:latest@${INDEX}`, `${REPO}:v1@${INDEX}`],
        platforms: [
            {
                platform: "linux/amd64",
                ref: `${REPO}@${AMD}`,
                host: "amd",
                node: "nbf-e2e-amd",
                test: { command: ["uname", "-m"], output: "x86_64" },
            },
            {
                platform: "linux/arm64",
                ref: `${REPO}@${ARM}`,
                host: "arm",
                node: "nbf-e2e-arm",
                test: { command: ["uname", "-m"], output: "aarch64" },
            },
        ],
        build: {
            stack: "native-build-fleet/e2e",
            builderName: "nbf-e2e",
            context: "app",
            buildArgs: { VCS_REF: "c0ffee" },
            secrets: ["token"],
            ssh: [],
            source: "https://example.invalid/app",
        },
    };
}

/**
 * Each stub call's start and end (ns) go to `timeline`, `<start> <end> <cmd> <args>`, written
 * when it exits, and its start alone to `started`; NBF_STUB_DELAY (seconds) makes every call
 * that long. With NBF_STUB_BARRIER=<n>, each `syft scan` and `cosign sign` waits until n of
 * them have started, and each `version` probe until both have: a call that runs alone fails
 * after 5 s and is written to `alone`.
 */
function timed(dir: string, cmd: string, body: string): string {
    return [
        `t0=$(date +%s%N); echo "$t0 ${cmd} $*" >> '${dir}/started'`,
        `trap 'echo "$t0 $(date +%s%N) ${cmd} $*" >> "${dir}/timeline"' EXIT`,
        `case "${cmd} $1" in "syft scan"|"cosign sign") group=work need=$NBF_STUB_BARRIER;; *" version") group=version need=2;; *) group=;; esac`,
        `if [ -n "$NBF_STUB_BARRIER" ] && [ -n "$group" ]; then`,
        `  touch '${dir}'/arrived-$group-$$`,
        `  for i in $(seq 50); do [ "$(ls '${dir}' | grep -c ^arrived-$group-)" -ge "$need" ] && break; sleep 0.1; done`,
        `  [ "$(ls '${dir}' | grep -c ^arrived-$group-)" -ge "$need" ] || { echo "ran alone: $*" | tee -a '${dir}/alone' >&2; exit 1; }`,
        `fi`,
        `sleep "\${NBF_STUB_DELAY:-0}"`,
        body,
    ].join("\n");
}

/** Stubs that log their calls; cosign copies each predicate (as predicate-<type>-<hex>) and records its password variable and key file's mode. */
function box(publicKey = PUB) {
    const b = sandbox("nbf-attest-");
    const stub = (cmd: string, body: string) => b.stub(cmd, timed(b.dir, cmd, body));
    const project = path.join(b.dir, "project");
    fs.mkdirSync(path.join(project, "app"), { recursive: true });
    fs.writeFileSync(
        path.join(project, "app", "Dockerfile"),
        "FROM registry.e2e.test:5000/busybox:e2e AS build\nFROM scratch\n",
    );
    fs.writeFileSync(path.join(b.dir, "pub.pem"), publicKey);
    stub(
        "cosign",
        [
            `echo "$1 COSIGN_PASSWORD=\${COSIGN_PASSWORD-unset} dir=$(stat -c %a "$(dirname "$DOCKER_CONFIG/x")")" >> '${b.dir}/cosign-env'`,
            `case "$1" in`,
            `  version) exit 0;;`,
            `  public-key) stat -c %a "$3" > '${b.dir}/key-mode'; cp "$3" '${b.dir}/key-copy'; cat '${b.dir}/pub.pem';;`,
            `  signing-config) echo '{}' > "$4";;`,
            `  attest) for a; do [ "$prev" = --predicate ] && p=$a; [ "$prev" = --type ] && t=$a; prev=$a; done; cp "$p" '${b.dir}'/predicate-$t-\${prev##*:};;`,
            `esac`,
        ].join("\n"),
    );
    stub(
        "syft",
        `[ "$1" = version ] && exit 0; out=\${4#spdx-json=}; echo '{"spdxVersion":"SPDX-2.3","packages":[{"name":"busybox"}]}' > "$out"`,
    );
    stub(
        "docker",
        [
            `case "$*" in`,
            `  *"inspect --raw"*) printf 'base-index';;`,
            `  "buildx inspect "*) printf 'Name: x\\nBuildKit version: v0.31.0\\n';;`,
            `  *"{{json .Image}}"*) echo '{"created":"2026-12-06T21:00:00Z"}';;`,
            `esac`,
        ].join("\n"),
    );
    stub("git", `case "$1" in rev-parse) echo 0123456789abcdef;; status) echo ' M app/x';; esac`);
    follow(registry, () => b.calls("cosign"));
    // The runner trusts the stand-in's certificate as cosign would trust a registry's CA.
    return {
        ...b,
        project,
        runner: (extra: NodeJS.ProcessEnv = {}) => b.runner({ SSL_CERT_FILE: registry.caFile, ...extra }),
    };
}

const PREDICATE_OF: Record<string, string> = {
    slsaprovenance1: PREDICATE_TYPES.provenance.uri,
    spdxjson: PREDICATE_TYPES.sbom.uri,
};

/** Before each request, the registry gets the bundle of every stub cosign `attest` or `sign` call it has not seen. */
function follow(standIn: StandIn, calls: () => string[]): void {
    let seen = 0;
    standIn.beforeRequest = () => {
        const writes = calls().filter((c) => /^(attest|sign) /.test(c));
        for (const call of writes.slice(seen)) {
            const { repository, digest } = repositoryAndDigest(standIn.host, call.split(" ").pop()!);
            const type = /--type (\S+)/.exec(call)?.[1];
            standIn.attach(repository, digest, type ? PREDICATE_OF[type] : SIGNATURE_PREDICATE);
        }
        seen = writes.length;
    };
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

const ATTESTED = [PREDICATE_TYPES.provenance.uri, PREDICATE_TYPES.sbom.uri];

/** The stub cosign's pushes per subject, in the order each subject got them: `attest <type>` or `sign`. */
function pushes(calls: string[]): Record<string, string[]> {
    const per: Record<string, string[]> = {};
    for (const c of calls.filter((l) => /^(attest|sign) /.test(l))) {
        const type = /--type (\S+)/.exec(c)?.[1];
        (per[c.split(" ").pop()!] ??= []).push(type === undefined ? "sign" : `attest ${type}`);
    }
    return per;
}

/** A digest the registry holds bundles of these types for, listed under its referrers tag by the step's own code. */
async function signedBefore(digest: string, types: string[]): Promise<void> {
    types.forEach((t) => registry.attach("nbf-e2e/probe", digest, t));
    await pinReferrers(
        new RegistryClient(registry.host, CREDENTIALS, { SSL_CERT_FILE: registry.caFile }),
        registry.host,
        "nbf-e2e/probe",
        digest,
    );
}

/** The predicate types of the bundles listed under a digest's referrers tag (each read from its manifest), sorted. */
function tagged(digest: string): string[] {
    const index = registry.tags.get(`nbf-e2e/probe:${referrersTag(digest)}`);
    return listed(index === undefined ? "" : (registry.manifests.get(index)?.body ?? ""))
        .map((m) => registry.manifests.get(m.digest)?.annotations?.["dev.sigstore.bundle.predicateType"] ?? "")
        .sort();
}

const secrets = { credentials: CREDENTIALS, signingKey: PRIVATE, signingKeyPassword: "key-password" };

describe("the attest entry point", () => {
    test("attests provenance and an SBOM on each platform digest, then signs the index once, all by digest", async () => {
        const b = box();
        const report = await inProject(b.project, () => attest(spec(), secrets, b.runner()));
        expect(pushes(b.calls("cosign"))).toEqual({
            [`${REPO}@${AMD}`]: ["attest slsaprovenance1", "attest spdxjson"],
            [`${REPO}@${ARM}`]: ["attest slsaprovenance1", "attest spdxjson"],
            [`${REPO}@${INDEX}`]: ["sign"],
        });
        expect(
            b
                .calls("syft")
                .filter((c) => c.startsWith("scan"))
                .map((c) => c.split(" ")[1])
                .sort(),
        ).toEqual([`registry:${REPO}@${AMD}`, `registry:${REPO}@${ARM}`]);
        const who = signerId(KEY);
        expect(report).toEqual({
            signed: { [`${REPO}@${AMD}`]: who, [`${REPO}@${ARM}`]: who, [`${REPO}@${INDEX}`]: who },
        });
    });

    test("writes provenance naming the commit, the dirty tree, the Dockerfile's digest, the base image by digest and the smoke test", async () => {
        const b = box();
        await inProject(b.project, () => attest(spec(), secrets, b.runner()));
        const provenance = JSON.parse(b.read(`predicate-slsaprovenance1-${AMD.slice(7)}`));
        expect(provenance.buildDefinition.externalParameters.source).toEqual({
            repository: "https://example.invalid/app",
            commit: "0123456789abcdef",
            dirty: true,
        });
        expect(provenance.buildDefinition.externalParameters.dockerfile.sha256).toMatch(/^[a-f0-9]{64}$/);
        expect(provenance.buildDefinition.externalParameters.secrets).toEqual(["token"]);
        expect(provenance.buildDefinition.resolvedDependencies[1]).toMatchObject({
            name: "registry.e2e.test:5000/busybox:e2e",
            digest: { sha256: expect.stringMatching(/^[a-f0-9]{64}$/) },
        });
        expect(provenance.runDetails.builder.version).toEqual({ buildkit: "v0.31.0" });
        expect(provenance.runDetails.metadata.finishedOn).toBe("2026-12-06T21:00:00Z");
        expect(JSON.parse(b.read(`predicate-spdxjson-${AMD.slice(7)}`)).spdxVersion).toBe("SPDX-2.3");
    });

    test("leaves finishedOn out of a reproducible build's provenance: its config's created time is SOURCE_DATE_EPOCH, and the epoch is in its build args", async () => {
        const b = box();
        const reproducible = spec();
        reproducible.build.buildArgs = { VCS_REF: "c0ffee", SOURCE_DATE_EPOCH: "1796591007" };
        await inProject(b.project, () => attest(reproducible, secrets, b.runner()));
        const provenance = JSON.parse(b.read(`predicate-slsaprovenance1-${AMD.slice(7)}`));
        expect(provenance.runDetails.metadata.finishedOn).toBeUndefined();
        expect(provenance.buildDefinition.externalParameters.buildArgs).toEqual({
            VCS_REF: "c0ffee",
            SOURCE_DATE_EPOCH: "1796591007",
        });
    });

    test("keeps every secret out of argv and attestations: the key in a 0600 file in a 0700 dir, its password only in cosign's COSIGN_PASSWORD, all removed after", async () => {
        const b = box();
        await inProject(b.project, () => attest(spec(), secrets, b.runner()));
        const argv = [...b.calls("cosign"), ...b.calls("syft"), ...b.calls("docker"), ...b.calls("git")].join("\n");
        expect(argv).not.toMatch(/secret-private-key-body|key-password|registry-password/);
        expect(b.read("key-mode").trim()).toBe("600");
        expect(b.read("key-copy").trim()).toBe(PRIVATE);
        const env = b.read("cosign-env").trim().split("\n");
        expect([
            ...new Set(env.filter((l) => !l.startsWith("version ")).map((l) => l.slice(l.indexOf(" ") + 1))),
        ]).toEqual(["COSIGN_PASSWORD=key-password dir=700"]);
        expect(env.find((l) => l.startsWith("version "))).toMatch(/COSIGN_PASSWORD=unset/);
        for (const f of fs.readdirSync(b.dir).filter((n) => n.startsWith("predicate-"))) {
            expect(b.read(f)).not.toMatch(/secret-private-key-body|key-password|registry-password/);
        }
        const keyDir = path.dirname(
            b
                .calls("cosign")
                .find((c) => c.startsWith("public-key"))!
                .split(" ")[2],
        );
        expect(fs.existsSync(keyDir)).toBe(false);
    });

    test("signs only digests its previous run did not: one changed platform re-attests that one and signs the new index", async () => {
        const b = box();
        const who = signerId(KEY);
        await signedBefore(AMD, ATTESTED);
        const previous = JSON.stringify({
            signed: { [`${REPO}@${AMD}`]: who, [`${REPO}@sha256:${"9".repeat(64)}`]: who },
        });
        const report = await inProject(b.project, () =>
            attest(spec(), secrets, b.runner({ PULUMI_COMMAND_STDOUT: previous })),
        );
        expect(pushes(b.calls("cosign"))).toEqual({
            [`${REPO}@${ARM}`]: ["attest slsaprovenance1", "attest spdxjson"],
            [`${REPO}@${INDEX}`]: ["sign"],
        });
        expect(Object.keys(report.signed).sort()).toEqual([AMD, ARM, INDEX].map((d) => `${REPO}@${d}`).sort());
    });

    test("signs nothing when every digest was signed by the same signer and is still in the registry, asking it once per digest; everything again for a new key", async () => {
        const b = box();
        const who = signerId(KEY);
        await signedBefore(AMD, ATTESTED);
        await signedBefore(ARM, ATTESTED);
        await signedBefore(INDEX, [SIGNATURE_PREDICATE]);
        registry.requests.splice(0);
        const previous = JSON.stringify({
            signed: { [`${REPO}@${AMD}`]: who, [`${REPO}@${ARM}`]: who, [`${REPO}@${INDEX}`]: who },
        });
        await inProject(b.project, () => attest(spec(), secrets, b.runner({ PULUMI_COMMAND_STDOUT: previous })));
        expect(b.calls("cosign").filter((c) => /^(attest|sign) /.test(c))).toEqual([]);
        expect(b.calls("syft").filter((c) => c.startsWith("scan"))).toEqual([]);
        expect(registry.requests).toEqual(
            [AMD, ARM, INDEX].map((d) => `GET /v2/nbf-e2e/probe/manifests/${referrersTag(d)}`),
        );
        const old = JSON.stringify({
            signed: {
                [`${REPO}@${AMD}`]: "key:other",
                [`${REPO}@${ARM}`]: "key:other",
                [`${REPO}@${INDEX}`]: "key:other",
            },
        });
        const c = box();
        await inProject(c.project, () => attest(spec(), secrets, c.runner({ PULUMI_COMMAND_STDOUT: old })));
        expect(c.calls("cosign").filter((l) => /^(attest|sign) /.test(l))).toHaveLength(5);
    });

    test("signs again what the last run signed but the registry lost: an expired SBOM, a signature deleted by hand", async () => {
        const b = box();
        const first = await inProject(b.project, () => attest(spec(), secrets, b.runner()));
        const before = b.calls("cosign").filter((c) => /^(attest|sign) /.test(c)).length;
        // The SBOM of arm64 expires; the index's signature is deleted with its referrers tag.
        const armTag = JSON.parse(
            registry.manifests.get(registry.tags.get(`nbf-e2e/probe:${referrersTag(ARM)}`)!)!.body,
        ) as { manifests: { digest: string; annotations: Record<string, string> }[] };
        armTag.manifests
            .filter((m) => m.annotations["dev.sigstore.bundle.predicateType"] === PREDICATE_TYPES.sbom.uri)
            .forEach((m) => registry.manifests.delete(m.digest));
        registry.tags.set(`nbf-e2e/probe:${referrersTag(ARM)}`, "sha256:gone");
        listed(registry.manifests.get(registry.tags.get(`nbf-e2e/probe:${referrersTag(INDEX)}`)!)!.body).forEach((m) =>
            registry.manifests.delete(m.digest),
        );
        registry.tags.delete(`nbf-e2e/probe:${referrersTag(INDEX)}`);
        const b2 = b.runner({ PULUMI_COMMAND_STDOUT: JSON.stringify(first) });
        await inProject(b.project, () => attest(spec(), secrets, b2));
        expect(
            pushes(
                b
                    .calls("cosign")
                    .filter((c) => /^(attest|sign) /.test(c))
                    .slice(before),
            ),
        ).toEqual({
            [`${REPO}@${ARM}`]: ["attest slsaprovenance1", "attest spdxjson"],
            [`${REPO}@${INDEX}`]: ["sign"],
        });
        expect(b2.logged.join("\n")).toContain(
            `${REPO}@${INDEX} was signed by the last update, but the registry no longer lists its ${SIGNATURE_PREDICATE} bundle under nbf-e2e/probe:${referrersTag(INDEX)}: signing it again`,
        );
        expect(tagged(INDEX)).toEqual([SIGNATURE_PREDICATE]);
    });

    test.each(["api", "tag-schema"] as const)(
        "leaves every signed digest's bundles listed under its sha256-<hex> tag on a registry with %s",
        async (mode) => {
            await registry.close();
            registry = await registryStandIn(mode, CREDENTIALS);
            REPO = `${registry.host}/nbf-e2e/probe`;
            const b = box();
            await inProject(b.project, () => attest(spec(), secrets, b.runner()));
            expect([AMD, ARM, INDEX].map(tagged)).toEqual([
                [...ATTESTED].sort(),
                [...ATTESTED].sort(),
                [SIGNATURE_PREDICATE],
            ]);
            // Without the referrers API cosign keeps the tag, and the step writes none itself.
            expect(registry.requests.filter((r) => r.startsWith("PUT"))).toHaveLength(mode === "api" ? 3 : 0);
        },
    );

    test("fails naming the digest and the missing bundle when the registry does not keep what cosign pushed", async () => {
        const b = box();
        // It keeps what was pushed for the arm64 image and the index, and drops the amd64 image's bundles.
        follow(registry, () => b.calls("cosign").filter((c) => !c.endsWith(AMD)));
        await expect(inProject(b.project, () => attest(spec(), secrets, b.runner()))).rejects.toThrow(
            new RegExp(
                `cosign reported success, but ${registry.host} lists no ${PREDICATE_TYPES.provenance.uri}, ${PREDICATE_TYPES.sbom.uri} bundle for ${REPO}@${AMD}`,
            ),
        );
    });

    test("signs the same digests again in another repository: a report names repository and digest, not the digest alone", async () => {
        const b = box();
        const who = signerId(KEY);
        const elsewhere = JSON.stringify({
            signed: Object.fromEntries([AMD, ARM, INDEX].map((d) => [`registry.old.example/app@${d}`, who])),
        });
        const report = await inProject(b.project, () =>
            attest(spec(), secrets, b.runner({ PULUMI_COMMAND_STDOUT: elsewhere })),
        );
        expect(b.calls("cosign").filter((c) => /^(attest|sign) /.test(c))).toHaveLength(5);
        expect(Object.keys(report.signed).sort()).toEqual([AMD, ARM, INDEX].map((d) => `${REPO}@${d}`).sort());
    });

    test("refuses a private key that is not the half of signing.publicKey, naming both keys and the fix, before signing anything", async () => {
        const b = box(OTHER_PUB);
        await expect(inProject(b.project, () => attest(spec(), secrets, b.runner()))).rejects.toThrow(
            /signingKey is not the private half of signing\.publicKey.*cosign public-key --key cosign\.key/,
        );
        expect(b.calls("cosign").filter((c) => /^(attest|sign) /.test(c))).toEqual([]);
    });

    test("fails fast naming a missing tool", async () => {
        const b = box();
        fs.rmSync(path.join(b.bin, "syft"));
        await expect(attest(spec(), secrets, b.runner({ PATH: b.bin }))).rejects.toThrow(
            /syft is not on PATH on this machine; install cosign v3 and syft/,
        );
    });

    test("keyless outside a CI with an OIDC token fails saying where it works", async () => {
        const b = box();
        const keyless: SigningConfig = { mode: "keyless", identity: "me", issuer: "https://gitlab.com" };
        await expect(attest(spec(keyless), { credentials: CREDENTIALS }, b.runner())).rejects.toThrow(
            /no OIDC token for Fulcio.*id-token: write.*SIGSTORE_ID_TOKEN/,
        );
    });

    test("keyless refuses, before signing anything, a run whose identity the stack's verifiers would reject: a v* tag run when signing.identity names main", async () => {
        const b = box();
        const main = "https://github.com/acme/fleet/.github/workflows/fleet.yml@refs/heads/main";
        const exact: SigningConfig = {
            mode: "keyless",
            identity: main,
            issuer: "https://token.actions.githubusercontent.com",
        };
        const tagRun = {
            GITHUB_ACTIONS: "true",
            ACTIONS_ID_TOKEN_REQUEST_URL: "https://token",
            GITHUB_WORKFLOW_REF: "acme/fleet/.github/workflows/fleet.yml@refs/tags/v1.2.0",
        };
        await expect(
            inProject(b.project, () => attest(spec(exact), { credentials: CREDENTIALS }, b.runner(tagRun))),
        ).rejects.toThrow(
            /this run's certificate identity is https:\/\/github\.com\/acme\/fleet\/\.github\/workflows\/fleet\.yml@refs\/tags\/v1\.2\.0, which signing\.identity \(.*@refs\/heads\/main\) does not accept.*set signing\.identityRegexp/,
        );
        expect(b.calls("cosign").filter((c) => /^(attest|sign) /.test(c))).toEqual([]);
        const pattern: SigningConfig = {
            ...exact,
            identity: undefined,
            identityRegexp:
                "^https://github\\.com/acme/fleet/\\.github/workflows/fleet\\.yml@refs/(heads/main|tags/v[^/]+)$",
        };
        await inProject(b.project, () => attest(spec(pattern), { credentials: CREDENTIALS }, b.runner(tagRun)));
        expect(b.calls("cosign").filter((c) => c.startsWith("sign "))).toEqual([
            `sign --oidc-provider github-actions --yes ${REPO}@${INDEX}`,
        ]);
    });

    test("keyless on GitLab leaves the token in the environment cosign reads, and writes no offline files", async () => {
        const b = box();
        const keyless: SigningConfig = { mode: "keyless", identity: "me", issuer: "https://gitlab.com" };
        await inProject(b.project, () =>
            attest(
                spec(keyless),
                { credentials: CREDENTIALS },
                b.runner({ GITLAB_CI: "true", SIGSTORE_ID_TOKEN: "eyJ-token" }),
            ),
        );
        const calls = b.calls("cosign");
        expect(calls.some((c) => c.startsWith("signing-config") || c.startsWith("public-key"))).toBe(false);
        expect(calls.find((c) => c.startsWith("sign "))).toBe(`sign --yes ${REPO}@${INDEX}`);
        expect(calls.join("\n")).not.toContain("eyJ-token");
    });
});

/** The stub calls that have ended, from the timeline: start and end in ms, the command and its arguments. */
function timeline(dir: string): { start: number; end: number; call: string }[] {
    const file = path.join(dir, "timeline");
    return (fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n") : []).map((l) => {
        const [start, end, ...call] = l.split(" ");
        return { start: Number(start) / 1e6, end: Number(end) / 1e6, call: call.join(" ") };
    });
}

const overlap = (a: { start: number; end: number }, b: { start: number; end: number }) =>
    a.start < b.end && b.start < a.end;

describe("the sign step runs what does not depend on each other at once", () => {
    test("the platforms' scans and the index signature run at the same time, and so do the two version probes: each waits until the others have started", async () => {
        const b = box();
        await inProject(b.project, () => attest(spec(), secrets, b.runner({ NBF_STUB_BARRIER: "3" })));
        expect(fs.existsSync(path.join(b.dir, "alone"))).toBe(false);
        expect(pushes(b.calls("cosign"))[`${REPO}@${INDEX}`]).toEqual(["sign"]);
        expect(b.calls("syft").filter((c) => c.startsWith("scan"))).toHaveLength(2);
    });

    test("one subject's attests never overlap, and its referrers tag is written after its last push", async () => {
        const b = box();
        const puts: { at: number; path: string }[] = [];
        const replay = registry.beforeRequest;
        registry.beforeRequest = (method, where) => {
            if (method === "PUT") {
                puts.push({ at: Date.now(), path: where });
            }
            replay(method, where);
        };
        await inProject(b.project, () => attest(spec(), secrets, b.runner({ NBF_STUB_DELAY: "0.2" })));
        const calls = timeline(b.dir);
        const of = (digest: string, verb: string) =>
            calls.filter((c) => c.call.startsWith(`${verb} `) && c.call.endsWith(`${REPO}@${digest}`));
        for (const digest of [AMD, ARM]) {
            const [first, second] = of(digest, "cosign attest");
            expect(overlap(first, second)).toBe(false);
            const pin = puts.filter((p) => p.path.endsWith(`/manifests/${referrersTag(digest)}`));
            expect(pin).toHaveLength(1);
            expect(pin[0].at).toBeGreaterThanOrEqual(Math.max(first.end, second.end));
        }
    });

    test("asks git, each base image and each node's BuildKit once per step, not once per platform", async () => {
        const b = box();
        fs.writeFileSync(
            path.join(b.project, "app", "Dockerfile"),
            "FROM registry.e2e.test:5000/busybox:e2e AS build\nFROM registry.e2e.test:5000/busybox:e2e AS test\nFROM scratch\n",
        );
        await inProject(b.project, () => attest(spec(), secrets, b.runner()));
        const docker = b.calls("docker");
        expect(docker.filter((c) => c.includes("--raw"))).toEqual([
            "buildx imagetools inspect --raw registry.e2e.test:5000/busybox:e2e",
        ]);
        expect(docker.filter((c) => c.startsWith("buildx inspect ")).sort()).toEqual([
            "buildx inspect nbf-e2e-amd",
            "buildx inspect nbf-e2e-arm",
        ]);
        expect(b.calls("git").sort()).toEqual(["rev-parse HEAD", "status --porcelain"]);
        const c = box();
        const oneNode = spec();
        oneNode.platforms.forEach((p) => (p.node = "nbf-e2e-multi"));
        await inProject(c.project, () => attest(oneNode, secrets, c.runner()));
        expect(c.calls("docker").filter((l) => l.startsWith("buildx inspect "))).toEqual([
            "buildx inspect nbf-e2e-multi",
        ]);
        expect(c.calls("docker").filter((l) => l.includes("{{json .Image}}"))).toHaveLength(2);
    });

    test("a failing platform fails the step naming it, after the other platform's and the index's work has ended, with no child left and the key's directory gone", async () => {
        const b = box();
        const unhandled: unknown[] = [];
        const onUnhandled = (e: unknown) => unhandled.push(e);
        process.on("unhandledRejection", onUnhandled);
        try {
            b.stub(
                "syft",
                timed(
                    b.dir,
                    "syft",
                    `case "$*" in version) exit 0;; *${ARM.slice(7)}*) echo "ERROR: GET manifest: 500" >&2; exit 1;; esac; echo '{}' > "\${4#spdx-json=}"`,
                ),
            );
            await expect(
                inProject(b.project, () => attest(spec(), secrets, b.runner({ NBF_STUB_DELAY: "0.3" }))),
            ).rejects.toThrow(
                new RegExp(
                    `^syft could not read ${REPO}@${ARM} \\(linux/arm64\\) from the registry: ERROR: GET manifest: 500$`,
                ),
            );
            // Every stub call that started has ended (each writes its end on exit)...
            expect(timeline(b.dir)).toHaveLength(
                fs.readFileSync(path.join(b.dir, "started"), "utf8").trim().split("\n").length,
            );
            // ...including the amd64 image's two attests and the index's signature, which ran on.
            expect(pushes(b.calls("cosign"))).toEqual({
                [`${REPO}@${AMD}`]: ["attest slsaprovenance1", "attest spdxjson"],
                [`${REPO}@${INDEX}`]: ["sign"],
                [`${REPO}@${ARM}`]: ["attest slsaprovenance1"],
            });
            const keyDir = path.dirname(
                b
                    .calls("cosign")
                    .find((c) => c.startsWith("public-key"))!
                    .split(" ")[2],
            );
            expect(fs.existsSync(keyDir)).toBe(false);
            await new Promise((r) => setImmediate(r));
            expect(unhandled).toEqual([]);
        } finally {
            process.removeListener("unhandledRejection", onUnhandled);
        }
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
        [
            "docker's error line, not its usage hint",
            "unknown flag: --raw\nSee 'docker --help'.\n",
            "unknown flag: --raw",
        ],
        [
            "buildx's error",
            "#0 resolving\nERROR: failed to resolve: not found\n",
            "ERROR: failed to resolve: not found",
        ],
        ["the first line otherwise", "a\nb\n", "a"],
        ["nothing", "", "no output"],
    ])("reports why a base image was not resolved: %s", (_, output, why) => {
        expect(reason(output)).toBe(why);
    });

    test("together: the earliest failure wins, whatever its place, and only once every task has settled", async () => {
        const ended: string[] = [];
        const after = (ms: number, name: string, fail: boolean) =>
            new Promise<string>((resolve, reject) =>
                setTimeout(() => {
                    ended.push(name);
                    if (fail) {
                        reject(new Error(name));
                    } else {
                        resolve(name);
                    }
                }, ms),
            );
        await expect(
            together([after(60, "late", true), after(10, "early", true), after(120, "slow", false)]),
        ).rejects.toThrow(/^early$/);
        expect(ended).toEqual(["early", "late", "slow"]);
        await expect(together([after(20, "a", false), after(5, "b", false)])).resolves.toEqual(["a", "b"]);
    });

    test("oncePerKey: one call per key, shared by every caller", async () => {
        const asked: string[] = [];
        const ask = oncePerKey((k) => {
            asked.push(k);
            return Promise.resolve(k.toUpperCase());
        });
        expect(await Promise.all(["a", "b", "a", "a"].map(ask))).toEqual(["A", "B", "A", "A"]);
        expect(asked).toEqual(["a", "b"]);
    });

    test("a signer without Rekor is another signer than one with it", () => {
        expect(signerId({ ...KEY, transparencyLog: true })).not.toBe(signerId(KEY));
    });
});
