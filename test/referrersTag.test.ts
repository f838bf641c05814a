// The referrers tag the sign step keeps (runner/referrersTag.ts) and the registry client it
// uses (runner/registryClient.ts), against a loopback registry over real HTTPS
// (test/registryStandIn.ts): authentication, TLS trust, and what is written where.

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    attachedTo,
    missingPredicates,
    pinReferrers,
    referrersTag,
    repositoryAndDigest,
    SIGNATURE_PREDICATE,
    tagIndex,
} from "../runner/referrersTag";
import { apiHost, parseChallenge, RegistryClient, systemCaFiles } from "../runner/registryClient";
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
