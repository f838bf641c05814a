// An OCI registry on loopback, over real HTTPS with its own certificate, for the sign step's
// registry requests (runner/registryClient.ts, runner/referrersTag.ts). It stores manifests
// and tags, and serves the referrers API like ECR (`api`) or answers it 404 like Debian's
// docker-registry (`tag-schema`). `attach` does what `cosign sign|attest` does to such a
// registry: a Sigstore bundle manifest with the subject, and on a registry without the API
// also the subject's `sha256-<hex>` tag index (go-containerregistry's fallback, which cosign
// v3 uses: sigstore/cosign pkg/oci/remote/write.go WriteReferrer).

import { createHash } from "crypto";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as https from "https";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";

const INDEX = "application/vnd.oci.image.index.v1+json";
const BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json";

export interface Manifest {
    mediaType: string;
    body: string;
    subject?: string;
    artifactType?: string;
    annotations?: Record<string, string>;
}

export interface StandIn {
    /** `127.0.0.1:<port>`. */
    host: string;
    /** A file holding the certificate to trust (SSL_CERT_FILE). */
    caFile: string;
    manifests: Map<string, Manifest>;
    /** `<repository>:<tag>` → digest. */
    tags: Map<string, string>;
    /** Every request as `METHOD path`, after authentication. */
    requests: string[];
    /** Called before each request is answered (the tests replay stub cosign's calls, or a second writer's, there). */
    beforeRequest: (method: string, path: string) => void;
    /** What another client's PUT of an index under `<repository>:<tag>` listing `digests` does. */
    putIndex: (repository: string, tag: string, digests: string[]) => void;
    attach: (repository: string, subject: string, predicateType: string) => string;
    close: () => Promise<void>;
}

let cert: { key: string; cert: string; file: string } | undefined;
afterAll(() => cert && fs.rmSync(path.dirname(cert.file), { recursive: true, force: true }));

/** One self-signed certificate for 127.0.0.1 per test file (openssl, as e2e/services.sh makes the registry's). */
function certificate(): { key: string; cert: string; file: string } {
    if (cert === undefined) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-standin-"));
        execFileSync(
            "openssl",
            [
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-keyout",
                path.join(dir, "key.pem"),
                "-out",
                path.join(dir, "cert.pem"),
            ],
            { stdio: "ignore" },
        );
        cert = {
            key: fs.readFileSync(path.join(dir, "key.pem"), "utf8"),
            cert: fs.readFileSync(path.join(dir, "cert.pem"), "utf8"),
            file: path.join(dir, "cert.pem"),
        };
    }
    return cert;
}

export const digestOf = (body: string) => `sha256:${createHash("sha256").update(body).digest("hex")}`;

/** Starts the stand-in; `credentials` is the only `user:password` it accepts, by Basic or through a Bearer token. */
export async function registryStandIn(
    mode: "api" | "tag-schema",
    credentials: string,
    auth: "basic" | "bearer" = "basic",
): Promise<StandIn> {
    const { key, cert: pem, file } = certificate();
    const basic = `Basic ${Buffer.from(credentials).toString("base64")}`;
    const token = "Bearer stand-in-token";
    const manifests = new Map<string, Manifest>();
    const tags = new Map<string, string>();
    const requests: string[] = [];
    const descriptor = (digest: string, m: Manifest) => ({
        mediaType: m.mediaType,
        digest,
        size: Buffer.byteLength(m.body),
        artifactType: m.artifactType,
        annotations: m.annotations,
    });
    const put = (repository: string, reference: string, m: Manifest) => {
        const digest = digestOf(m.body);
        manifests.set(digest, m);
        if (!reference.startsWith("sha256:")) {
            tags.set(`${repository}:${reference}`, digest);
        }
        return digest;
    };
    const standIn: StandIn = {
        host: "",
        caFile: file,
        manifests,
        tags,
        requests,
        beforeRequest: () => undefined,
        attach: (repository, subject, predicateType) => {
            const annotations = { "dev.sigstore.bundle.predicateType": predicateType };
            const body = JSON.stringify({
                schemaVersion: 2,
                mediaType: "application/vnd.oci.image.manifest.v1+json",
                artifactType: BUNDLE,
                subject: { digest: subject },
                annotations,
                n: manifests.size,
            });
            const digest = put(repository, digestOf(body), {
                mediaType: "application/vnd.oci.image.manifest.v1+json",
                body,
                subject,
                artifactType: BUNDLE,
                annotations,
            });
            if (mode === "tag-schema") {
                const tag = `${repository}:${subject.replace(":", "-")}`;
                const old = tags.get(tag);
                const listed = old ? (JSON.parse(manifests.get(old)!.body) as { manifests: unknown[] }).manifests : [];
                // go-containerregistry lists each bundle by artifactType, without its annotations.
                const entry = { ...descriptor(digest, manifests.get(digest)!), annotations: undefined };
                put(repository, subject.replace(":", "-"), {
                    mediaType: INDEX,
                    body: JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: [...listed, entry] }),
                });
            }
            return digest;
        },
        putIndex: (repository, tag, digests) => {
            const listed = digests.map((d) => descriptor(d, manifests.get(d)!));
            put(repository, tag, {
                mediaType: INDEX,
                body: JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: listed }),
            });
        },
        close: () => new Promise((resolve) => server.close(() => resolve())),
    };
    const server = https.createServer({ key, cert: pem }, (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            const url = new URL(req.url ?? "/", "https://stand-in");
            if (url.pathname === "/token") {
                const ok = req.headers.authorization === basic && url.searchParams.get("service") === "stand-in";
                res.writeHead(ok ? 200 : 401, { "content-type": "application/json" }).end(
                    ok ? JSON.stringify({ token: "stand-in-token" }) : "{}",
                );
                return;
            }
            if (req.headers.authorization !== (auth === "basic" ? basic : token)) {
                res.writeHead(401, {
                    "www-authenticate":
                        auth === "basic"
                            ? 'Basic realm="stand-in"'
                            : `Bearer realm="https://${standIn.host}/token",service="stand-in"`,
                }).end();
                return;
            }
            standIn.beforeRequest(req.method ?? "", url.pathname);
            requests.push(`${req.method} ${url.pathname}`);
            const m = /^\/v2\/(.+)\/(manifests|referrers)\/([^/]+)$/.exec(url.pathname);
            if (!m) {
                res.writeHead(404).end("404 page not found");
                return;
            }
            const [, repository, kind, reference] = m;
            if (kind === "referrers") {
                if (mode === "tag-schema") {
                    res.writeHead(404).end("404 page not found");
                    return;
                }
                const list = [...manifests]
                    .filter(([, v]) => v.subject === reference)
                    .map(([d, v]) => descriptor(d, v));
                res.writeHead(200, { "content-type": INDEX }).end(
                    JSON.stringify({ schemaVersion: 2, mediaType: INDEX, manifests: list }),
                );
            } else if (req.method === "PUT") {
                const body = Buffer.concat(chunks).toString();
                const digest = put(repository, reference, { mediaType: req.headers["content-type"] ?? "", body });
                res.writeHead(201, {
                    location: `/v2/${repository}/manifests/${digest}`,
                    "docker-content-digest": digest,
                }).end();
            } else {
                const digest = reference.startsWith("sha256:") ? reference : tags.get(`${repository}:${reference}`);
                const found = digest === undefined ? undefined : manifests.get(digest);
                if (found === undefined) {
                    res.writeHead(404, { "content-type": "application/json" }).end(
                        JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN" }] }),
                    );
                } else {
                    res.writeHead(200, { "content-type": found.mediaType, "docker-content-digest": digest! }).end(
                        found.body,
                    );
                }
            }
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    standIn.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    return standIn;
}
