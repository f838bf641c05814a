// A minimal OCI distribution client for the two things no installed tool does: read a
// digest's referrers list (the tag or the referrers API) and write it under its tag
// (runner/referrersTag.ts). HTTPS only, with the stack's registry `user:password`; it trusts
// what cosign and syft trust, so a registry they reach is one it reaches.

import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import * as tls from "tls";

export interface RegistryResponse {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
}

/**
 * Extra CA certificates, read as Go's crypto/x509 reads the system's on Linux: SSL_CERT_FILE,
 * else the first of its list of bundle files, and every file in each directory of
 * SSL_CERT_DIR, skipping what does not exist (go/src/crypto/x509/root_unix.go
 * loadSystemRoots, root_linux.go certFiles). A private registry's CA installed for cosign
 * (update-ca-certificates) is then trusted here too, which Node's bundled roots alone would
 * not do. Go's default directories are left out: on the systems that have both, the bundle
 * holds what they hold.
 */
export function systemCaFiles(env: NodeJS.ProcessEnv, exists: (file: string) => boolean = fs.existsSync): string[] {
    const bundles = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/ca-bundle.pem",
        "/etc/pki/tls/cacert.pem",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        "/etc/ssl/cert.pem",
    ];
    const file = (env.SSL_CERT_FILE ? [env.SSL_CERT_FILE] : bundles).filter(exists).slice(0, 1);
    const dirs = (env.SSL_CERT_DIR ?? "").split(":").filter((d) => d !== "" && exists(d));
    return [
        ...file,
        ...dirs.flatMap((d) =>
            fs
                .readdirSync(d)
                .map((f) => path.join(d, f))
                .filter((f) => fs.statSync(f).isFile()),
        ),
    ];
}

/** `Bearer realm="…",service="…",scope="…"` → scheme and parameters (RFC 7235 challenge, quoted values). */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
    const scheme = header.trim().split(/\s+/)[0].toLowerCase();
    const params: Record<string, string> = {};
    for (const m of header.matchAll(/(\w+)="([^"]*)"/g)) {
        params[m[1]] = m[2];
    }
    return { scheme, params };
}

/** Docker Hub's name is not the host its registry API answers on. */
export function apiHost(registry: string): string {
    return registry === "docker.io" || registry === "index.docker.io" ? "registry-1.docker.io" : registry;
}

export class RegistryClient {
    private authorization: string | undefined;
    private readonly ca: string[];

    constructor(
        private readonly registry: string,
        private readonly credentials: string,
        env: NodeJS.ProcessEnv,
    ) {
        this.ca = [...tls.rootCertificates, ...systemCaFiles(env).map((f) => fs.readFileSync(f, "utf8"))];
    }

    /** One request to `/v2/<repository>/<rest>`, authenticating once on a 401 (Basic, or a Bearer token from the realm). */
    async request(
        method: "GET" | "PUT",
        repository: string,
        rest: string,
        headers: Record<string, string> = {},
        body?: string,
    ): Promise<RegistryResponse> {
        const url = `https://${apiHost(this.registry)}/v2/${repository}/${rest}`;
        const first = await this.send(method, url, { ...headers, ...this.auth() }, body);
        const challenge = first.headers["www-authenticate"];
        if (first.status !== 401 || typeof challenge !== "string") {
            return first;
        }
        const { scheme, params } = parseChallenge(challenge);
        const basic = `Basic ${Buffer.from(this.credentials).toString("base64")}`;
        if (scheme === "basic") {
            this.authorization = basic;
        } else if (scheme === "bearer" && params.realm) {
            const query = new URLSearchParams({
                ...(params.service ? { service: params.service } : {}),
                scope: `repository:${repository}:pull,push`,
            });
            const token = await this.send("GET", `${params.realm}?${query.toString()}`, { authorization: basic });
            const parsed =
                token.status === 200 ? (JSON.parse(token.body) as { token?: string; access_token?: string }) : {};
            if (!parsed.token && !parsed.access_token) {
                return {
                    ...first,
                    body: `the token service ${params.realm} answered ${token.status}: ${token.body.slice(0, 200)}`,
                };
            }
            this.authorization = `Bearer ${parsed.token ?? parsed.access_token}`;
        } else {
            return first;
        }
        return this.send(method, url, { ...headers, ...this.auth() }, body);
    }

    private auth(): Record<string, string> {
        return this.authorization ? { authorization: this.authorization } : {};
    }

    private send(
        method: string,
        url: string,
        headers: Record<string, string>,
        body?: string,
    ): Promise<RegistryResponse> {
        return new Promise((resolve, reject) => {
            const req = https.request(
                url,
                {
                    method,
                    headers: {
                        ...headers,
                        ...(body !== undefined ? { "content-length": String(Buffer.byteLength(body)) } : {}),
                    },
                    ca: this.ca,
                    timeout: 60_000,
                },
                (res) => {
                    const chunks: Buffer[] = [];
                    res.on("data", (c: Buffer) => chunks.push(c));
                    res.on("end", () =>
                        resolve({
                            status: res.statusCode ?? 0,
                            headers: res.headers,
                            body: Buffer.concat(chunks).toString(),
                        }),
                    );
                    res.on("error", reject);
                },
            );
            req.on("timeout", () => req.destroy(new Error(`no answer from ${new URL(url).host} in 60 s`)));
            req.on("error", reject);
            req.end(body);
        });
    }
}
