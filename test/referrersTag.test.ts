// The referrers tag the sign step keeps (runner/referrersTag.ts) and the registry client it
// uses (runner/registryClient.ts), against a loopback registry over real HTTPS
// (test/registryStandIn.ts): authentication, TLS trust, and what is written where.

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    attachedTo,
    MAX_PIN_WRITES,
    MAX_REFERRER_PAGES,
    missingPredicates,
    nextPage,
    pinBackoff,
    pinReferrers,
    referrersPage,
    referrersTag,
    repositoryAndDigest,
    SIGNATURE_PREDICATE,
    tagIndex,
} from "../runner/referrersTag";
import { apiHost, parseChallenge, RegistryClient, RegistryResponse, systemCaFiles } from "../runner/registryClient";
import { registryStandIn, StandIn } from "./registryStandIn";

const CREDENTIALS = "fleet:registry-password";
const SUBJECT = `sha256:${"c".repeat(64)}`;
const PROVENANCE = "https://slsa.dev/provenance/v1";
const open: StandIn[] = [];
afterEach(async () => Promise.all(open.splice(0).map((r) => r.close())));

async function standIn(
    ...args: Parameters<typeof registryStandIn>
): Promise<{ registry: StandIn; client: RegistryClient }> {
    const registry = await registryStandIn(...args);
    open.push(registry);
    return { registry, client: new RegistryClient(registry.host, CREDENTIALS, { SSL_CERT_FILE: registry.caFile }) };
}

describe("pinning a digest's referrers under its tag", () => {
    test("on a registry with the referrers API, writes the API's list under sha256-<hex>, and nothing when the tag lists it already", async () => {
        const { registry, client } = await standIn("api", CREDENTIALS);
        const bundles = [
            registry.attach("app", SUBJECT, PROVENANCE),
            registry.attach("app", SUBJECT, SIGNATURE_PREDICATE),
        ];
        expect(await attachedTo(client, registry.host, "app", SUBJECT)).toEqual([]);
        expect(await pinReferrers(client, registry.host, "app", SUBJECT)).toBe("api");
        const tagged = await attachedTo(client, registry.host, "app", SUBJECT);
        expect(tagged.map((m) => m.digest)).toEqual(bundles);
        expect(tagged.map((m) => [m.artifactType, m.annotations?.["dev.sigstore.bundle.predicateType"]])).toEqual([
            ["application/vnd.dev.sigstore.bundle.v0.3+json", PROVENANCE],
            ["application/vnd.dev.sigstore.bundle.v0.3+json", SIGNATURE_PREDICATE],
        ]);
        registry.requests.splice(0);
        await pinReferrers(client, registry.host, "app", SUBJECT);
        expect(registry.requests).toEqual([
            `GET /v2/app/referrers/${SUBJECT}`,
            `GET /v2/app/manifests/${referrersTag(SUBJECT)}`,
        ]);
    });

    test("on a registry without it (a 404), leaves the tag cosign keeps alone, and reads each bundle's predicate type from its manifest", async () => {
        const { registry, client } = await standIn("tag-schema", CREDENTIALS);
        const bundle = registry.attach("team/app", SUBJECT, PROVENANCE);
        expect(await pinReferrers(client, registry.host, "team/app", SUBJECT)).toBe("tag-schema");
        expect(registry.requests.filter((r) => r.startsWith("PUT"))).toEqual([]);
        registry.requests.splice(0);
        expect(
            (await attachedTo(client, registry.host, "team/app", SUBJECT)).map(
                (m) => m.annotations?.["dev.sigstore.bundle.predicateType"],
            ),
        ).toEqual([PROVENANCE]);
        // go-containerregistry's index lists bundles without annotations: one more request per bundle.
        expect(registry.requests).toEqual([
            `GET /v2/team/app/manifests/${referrersTag(SUBJECT)}`,
            `GET /v2/team/app/manifests/${bundle}`,
        ]);
    });

    test("gets a Bearer token from the registry's realm with the credentials, as Docker Hub, GHCR and GitLab ask", async () => {
        const { registry, client } = await standIn("api", CREDENTIALS, "bearer");
        registry.attach("app", SUBJECT, PROVENANCE);
        expect(await pinReferrers(client, registry.host, "app", SUBJECT)).toBe("api");
        expect(registry.tags.has(`app:${referrersTag(SUBJECT)}`)).toBe(true);
    });

    test.each(["basic", "bearer"] as const)(
        "refuses wrong credentials (%s) naming the registry, the status and the permissions needed",
        async (auth) => {
            const { registry } = await standIn("api", CREDENTIALS, auth);
            const wrong = new RegistryClient(registry.host, "fleet:wrong", { SSL_CERT_FILE: registry.caFile });
            await expect(attachedTo(wrong, registry.host, "app", SUBJECT)).rejects.toThrow(
                new RegExp(
                    `^${registry.host} answered 401 to reading app:${referrersTag(SUBJECT)}: .*ecr:BatchGetImage and ecr:PutImage`,
                ),
            );
        },
    );

    test("does not trust a registry whose certificate no trusted CA signed", async () => {
        const { registry } = await standIn("api", CREDENTIALS);
        const untrusting = new RegistryClient(registry.host, CREDENTIALS, {
            SSL_CERT_FILE: path.join(os.tmpdir(), "nbf-no-such-ca.pem"),
        });
        await expect(attachedTo(untrusting, registry.host, "app", SUBJECT)).rejects.toThrow(/self.signed certificate/);
    });
});

/** A registry that answers from a table of `METHOD path` → response, and records what it was sent. */
function scripted(answers: Record<string, RegistryResponse>): { client: RegistryClient; sent: string[] } {
    const sent: string[] = [];
    const client = {
        request: (method: string, repository: string, rest: string, _h: unknown, body?: string) => {
            sent.push(`${method} ${repository} ${rest}${body === undefined ? "" : ` ${body}`}`);
            return Promise.resolve(answers[`${method} ${rest}`] ?? { status: 404, headers: {}, body: "" });
        },
    };
    return { client: client as unknown as RegistryClient, sent };
}
const page = (digests: string[], link?: string): RegistryResponse => ({
    status: 200,
    headers: link === undefined ? {} : { link },
    body: JSON.stringify({ manifests: digests.map((digest) => ({ digest })) }),
});

describe("reading the referrers API's pages", () => {
    test.each<[string, string, string | undefined]>([
        ["no Link header", "", undefined],
        [
            "a relative link",
            `</v2/team/app/referrers/${SUBJECT}?n=2&last=x>; rel="next"`,
            `referrers/${SUBJECT}?n=2&last=x`,
        ],
        [
            "an absolute link on the registry",
            `<https://registry.example:5000/v2/team/app/referrers/${SUBJECT}?last=x>; rel=next`,
            `referrers/${SUBJECT}?last=x`,
        ],
    ])("follows %s", (_, link, next) => {
        expect(nextPage(link, "registry.example:5000", "team/app")).toBe(next);
    });

    test.each([
        ["another host", `<https://elsewhere.example/v2/team/app/referrers/${SUBJECT}>; rel="next"`],
        ["another repository", `</v2/team/other/referrers/${SUBJECT}>; rel="next"`],
        ["a path that is not the referrers API", `</v2/team/app/manifests/latest>; rel="next"`],
    ])("refuses a link to %s, so credentials never leave the repository's API", (_, link) => {
        expect(() => nextPage(link, "registry.example:5000", "team/app")).toThrow(
            "outside the repository's referrers API",
        );
    });

    test("refuses a page that is not an image index instead of reading it as empty", () => {
        expect(() => referrersPage("<html>", "the referrers")).toThrow(
            "the referrers: the registry's answer is not JSON",
        );
        expect(() => referrersPage("{}", "the referrers")).toThrow("not an image index");
        expect(referrersPage(JSON.stringify({ manifests: [{ digest: "sha256:1" }] }), "x")).toEqual([
            { digest: "sha256:1" },
        ]);
    });

    test("stops, naming the registry, when the pages lead back to one already read", async () => {
        const first = `referrers/${SUBJECT}`;
        const { client, sent } = scripted({ [`GET ${first}`]: page(["sha256:1"], `</v2/app/${first}>; rel="next"`) });
        await expect(pinReferrers(client, "r.example", "app", SUBJECT)).rejects.toThrow(
            `its pages lead back to ${first}`,
        );
        expect(sent).toHaveLength(1);
    });

    test(`stops after ${MAX_REFERRER_PAGES} pages`, async () => {
        const answers: Record<string, RegistryResponse> = {};
        for (let i = 0; i <= MAX_REFERRER_PAGES; i++) {
            const rest = i === 0 ? `referrers/${SUBJECT}` : `referrers/${SUBJECT}?last=${i}`;
            answers[`GET ${rest}`] = page([`sha256:${i}`], `</v2/app/referrers/${SUBJECT}?last=${i + 1}>; rel="next"`);
        }
        const { client, sent } = scripted(answers);
        await expect(pinReferrers(client, "r.example", "app", SUBJECT)).rejects.toThrow(
            `run past ${MAX_REFERRER_PAGES}`,
        );
        expect(sent).toHaveLength(MAX_REFERRER_PAGES);
    });

    test("keeps what the tag listed already when the API lists less: an earlier pin is never dropped", async () => {
        const { client, sent } = stateful({
            [`GET referrers/${SUBJECT}`]: page(["sha256:new"]),
            [`GET manifests/${referrersTag(SUBJECT)}`]: page(["sha256:old"]),
        });
        expect(await pinReferrers(client, "r.example", "app", SUBJECT, noWait)).toBe("api");
        const put = sent.find((s) => s.startsWith("PUT "))!;
        expect(JSON.parse(put.slice(put.indexOf("{"))).manifests.map((m: { digest: string }) => m.digest)).toEqual([
            "sha256:old",
            "sha256:new",
        ]);
        expect(sent.filter((s) => s.startsWith("PUT "))).toHaveLength(1);
    });
});

/** The scripted registry, except that a PUT of a manifest is what later GETs of it answer. */
function stateful(answers: Record<string, RegistryResponse>): { client: RegistryClient; sent: string[] } {
    const { client, sent } = scripted(answers);
    const request = client.request.bind(client);
    (client as { request: unknown }).request = async (
        method: "GET" | "PUT",
        repository: string,
        rest: string,
        h: Record<string, string>,
        body?: string,
    ) => {
        const r = await request(method, repository, rest, h, body);
        if (method === "PUT") {
            answers[`GET ${rest}`] = { status: 200, headers: {}, body: body! };
            return { status: 201, headers: {}, body: "" };
        }
        return r;
    };
    return { client, sent };
}
const noWait = { sleep: () => Promise.resolve(), random: () => 0.5 };

describe("two writers pinning the same digest at once (two stacks that built one commit)", () => {
    /** The other writer's bundle, and what it PUTs: the tag as it read it before our write, plus its bundle. */
    async function race(when: "between our read and our write" | "after our write") {
        const { registry, client } = await standIn("api", CREDENTIALS);
        const old = registry.attach("app", SUBJECT, SIGNATURE_PREDICATE);
        registry.putIndex("app", referrersTag(SUBJECT), [old]);
        const ours = registry.attach("app", SUBJECT, PROVENANCE);
        let theirs = "";
        let ourPuts = 0;
        registry.beforeRequest = (method, at) => {
            const tag = at === `/v2/app/manifests/${referrersTag(SUBJECT)}`;
            const fire =
                when === "after our write" ? method === "GET" && tag && ourPuts === 1 : method === "PUT" && tag;
            ourPuts += method === "PUT" ? 1 : 0;
            if (fire && theirs === "") {
                theirs = registry.attach("app", SUBJECT, "https://spdx.dev/Document");
                registry.putIndex("app", referrersTag(SUBJECT), [old, theirs]);
            }
        };
        const sleeps: number[] = [];
        const pinned = await pinReferrers(client, registry.host, "app", SUBJECT, {
            sleep: (ms) => Promise.resolve(void sleeps.push(ms)),
            random: () => 0.5,
        });
        // What the sign step reads next (runner/attest.ts keepAttached), and a deploy later.
        const tagged = (await attachedTo(client, registry.host, "app", SUBJECT)).map((m) => m.digest);
        return {
            pinned,
            tagged,
            old,
            ours,
            theirs,
            sleeps,
            puts: registry.requests.filter((r) => r.startsWith("PUT")),
        };
    }

    test.each(["between our read and our write", "after our write"] as const)(
        "keeps both writers' entries when the other PUTs %s, writing again after a pause",
        async (when) => {
            const { pinned, tagged, old, ours, theirs, sleeps, puts } = await race(when);
            expect(pinned).toBe("api");
            expect(theirs).not.toBe("");
            expect([...tagged].sort()).toEqual([old, ours, theirs].sort());
            expect(puts).toHaveLength(2);
            expect(sleeps).toEqual([pinBackoff(1, () => 0.5)]);
        },
    );

    test(`gives up after ${MAX_PIN_WRITES} writes against a writer that keeps replacing the tag, naming the digest and what to do`, async () => {
        const { registry, client } = await standIn("api", CREDENTIALS);
        const ours = registry.attach("app", SUBJECT, PROVENANCE);
        const theirs = registry.attach("app", SUBJECT, SIGNATURE_PREDICATE);
        let last = "";
        registry.beforeRequest = (method, at) => {
            // After each of our PUTs, the other writer's stale view lands again, without ours.
            if (last === "PUT" && method === "GET") {
                registry.putIndex("app", referrersTag(SUBJECT), [theirs]);
            }
            last = at.includes("/manifests/") ? method : last;
        };
        const sleeps: number[] = [];
        await expect(
            pinReferrers(client, registry.host, "app", SUBJECT, {
                sleep: (ms) => Promise.resolve(void sleeps.push(ms)),
                random: () => 0,
            }),
        ).rejects.toThrow(
            new RegExp(
                `^the referrers tag app:${referrersTag(SUBJECT)} on ${registry.host} still lacks ${ours} after ${MAX_PIN_WRITES} writes: ` +
                    `another writer \\(a second stack or run signing ${SUBJECT}\\) keeps replacing it\\. .*run pulumi up again once the other run is done`,
            ),
        );
        expect(registry.requests.filter((r) => r.startsWith("PUT"))).toHaveLength(MAX_PIN_WRITES);
        expect(sleeps).toEqual([125, 250, 500, 1000]);
        // What the other writer added stays listed whatever happens.
        expect(registry.tags.has(`app:${referrersTag(SUBJECT)}`)).toBe(true);
    });

    test.each([
        [1, 0, 125],
        [1, 0.999, 375],
        [2, 0.5, 500],
        [4, 0.5, 2000],
    ])("write %i waits a jittered, doubling pause (random %f: %i ms)", (write, random, ms) => {
        expect(pinBackoff(write, () => random)).toBe(ms);
    });
});

describe("the pieces", () => {
    test.each<[string, string[], string[]]>([
        ["a platform image with both attestations", [PROVENANCE, "https://spdx.dev/Document"], []],
        ["one whose SBOM is gone", [PROVENANCE], ["https://spdx.dev/Document"]],
        ["an index with no signature", [], [SIGNATURE_PREDICATE]],
    ])("names what is missing from %s", (_, present, missing) => {
        const manifests = present.map((p, i) => ({
            digest: `sha256:${i}`,
            annotations: { "dev.sigstore.bundle.predicateType": p },
        }));
        const wanted = missing.includes(SIGNATURE_PREDICATE)
            ? [SIGNATURE_PREDICATE]
            : [PROVENANCE, "https://spdx.dev/Document"];
        expect(missingPredicates(manifests, wanted)).toEqual(missing);
    });

    test("the referrers tag of a digest is the OCI tag schema's <alg>-<hex>, and the index written there is an OCI index", () => {
        expect(referrersTag(`sha256:${"ab".repeat(32)}`)).toBe(`sha256-${"ab".repeat(32)}`);
        expect(JSON.parse(tagIndex([{ digest: SUBJECT }]))).toEqual({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.index.v1+json",
            manifests: [{ digest: SUBJECT }],
        });
    });

    test.each([
        [
            "an ECR repository",
            "111122223333.dkr.ecr.us-east-1.amazonaws.com",
            `111122223333.dkr.ecr.us-east-1.amazonaws.com/app@${SUBJECT}`,
            "app",
        ],
        [
            "a nested path on a registry with a port",
            "registry.example:5000",
            `registry.example:5000/team/app@${SUBJECT}`,
            "team/app",
        ],
    ])("splits %s reference into repository and digest", (_, registry, ref, repository) => {
        expect(repositoryAndDigest(registry, ref)).toEqual({ repository, digest: SUBJECT });
    });

    test("refuses a reference in another registry", () => {
        expect(() => repositoryAndDigest("a.example", `b.example/app@${SUBJECT}`)).toThrow(
            /not in the registry a\.example/,
        );
    });

    test.each([
        [
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:org/app:pull"',
            "bearer",
            { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:org/app:pull" },
        ],
        [
            'Basic realm="https://111122223333.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com"',
            "basic",
            { realm: "https://111122223333.dkr.ecr.us-east-1.amazonaws.com/", service: "ecr.amazonaws.com" },
        ],
    ])("reads the challenge %s", (header, scheme, params) => {
        expect(parseChallenge(header)).toEqual({ scheme, params });
    });

    test.each([
        ["docker.io", "registry-1.docker.io"],
        ["index.docker.io", "registry-1.docker.io"],
        ["ghcr.io", "ghcr.io"],
    ])("sends %s's API requests to %s", (registry, host) => {
        expect(apiHost(registry)).toBe(host);
    });

    test("trusts the CA files Go's crypto/x509 reads: SSL_CERT_FILE instead of the first system bundle, plus SSL_CERT_DIR, none that is missing", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-ca-"));
        fs.writeFileSync(path.join(dir, "extra.pem"), "");
        try {
            const exists = (f: string) =>
                ["/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem", "/mine.pem", dir].includes(f);
            expect(systemCaFiles({}, exists)).toEqual(["/etc/pki/tls/certs/ca-bundle.crt"]);
            expect(systemCaFiles({ SSL_CERT_FILE: "/mine.pem", SSL_CERT_DIR: `${dir}:/nowhere` }, exists)).toEqual([
                "/mine.pem",
                path.join(dir, "extra.pem"),
            ]);
            expect(systemCaFiles({ SSL_CERT_FILE: "/missing.pem" }, exists)).toEqual([]);
            expect(systemCaFiles({}, () => false)).toEqual([]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
