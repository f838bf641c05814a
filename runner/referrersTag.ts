// Keeps a signed digest's signatures and attestations under its referrers tag
// (`sha256-<hex>`), so an untagged-expiry lifecycle rule never deletes them, and reads that
// tag back to tell whether they are still in the registry.
//
// cosign v3 stores each signature and attestation as a Sigstore bundle manifest whose
// `subject` is the signed digest. On a registry without the OCI referrers API (Debian's
// docker-registry, the acceptance run's) go-containerregistry also lists it in an index under
// the referrers tag; on one with the API (ECR: "Amazon ECR support for OCI v1.1 ... reference
// artifacts that are defined by the OCI Referrers API", ECR User Guide, images.html) it is
// pushed untagged and nothing else, and ECR's untagged rule expires it while the signed image
// lives on (components/registry.ts, test/registryLifecycle.test.ts). So after signing, the
// referrers list the API serves is written under the tag, as the tag schema does
// (opencontainers/distribution-spec spec.md, "Referrers Tag Schema" and "Unavailable
// Referrers API"): ECR keeps what a tagged index lists.

import { RegistryClient, RegistryResponse } from "./registryClient";
import { RunnerError } from "./process";

const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json";
/** The manifest annotation cosign v3 gives each bundle (sigstore/cosign pkg/oci/remote/write.go `BundlePredicateType`). */
export const BUNDLE_PREDICATE_TYPE = "dev.sigstore.bundle.predicateType";
/** The predicate type of a `cosign sign` bundle (sigstore/cosign pkg/types/predicate.go `CosignSignPredicateType`). */
export const SIGNATURE_PREDICATE = "https://sigstore.dev/cosign/sign/v1";

interface Descriptor {
    mediaType?: string;
    digest: string;
    size?: number;
    artifactType?: string;
    annotations?: Record<string, string>;
}

/** The tag the referrers tag schema gives what is attached to `digest`: `<alg>-<hex>`. */
export function referrersTag(digest: string): string {
    return digest.replace(":", "-");
}

/** `<registry>/<repository>@sha256:…` → the repository path and digest the API names. */
export function repositoryAndDigest(registry: string, ref: string): { repository: string; digest: string } {
    const at = ref.lastIndexOf("@");
    const name = ref.slice(0, at);
    if (!name.startsWith(`${registry}/`)) {
        throw new Error(`internal: ${ref} is not in the registry ${registry}`);
    }
    return { repository: name.slice(registry.length + 1), digest: ref.slice(at + 1) };
}

/** The descriptors an index document lists; none when it is not one. */
export function listed(document: string): Descriptor[] {
    try {
        const index = JSON.parse(document) as { manifests?: Descriptor[] };
        return Array.isArray(index.manifests) ? index.manifests : [];
    } catch {
        return [];
    }
}

/** How many pages of one digest's referrers the sign step reads before it calls the registry broken. */
export const MAX_REFERRER_PAGES = 100;

/** One page of the referrers API: an image index, or the registry is not answering as it should. */
export function referrersPage(document: string, what: string): Descriptor[] {
    let index: { manifests?: unknown };
    try {
        index = JSON.parse(document) as { manifests?: unknown };
    } catch {
        throw new RunnerError(`${what}: the registry's answer is not JSON`);
    }
    if (!Array.isArray(index.manifests)) {
        throw new RunnerError(`${what}: the registry's answer is not an image index (no manifests list)`);
    }
    return index.manifests as Descriptor[];
}

/**
 * The next page from a Link header, as a path under `/v2/<repository>/`, or none. The link may
 * be relative or absolute (RFC 8288); an absolute one must stay on the registry and the
 * repository, so the client never sends its credentials elsewhere.
 */
export function nextPage(link: string, registry: string, repository: string): string | undefined {
    const target = /<([^>]*)>\s*;\s*rel="?next"?/.exec(link)?.[1];
    if (target === undefined) {
        return undefined;
    }
    const base = new URL(`https://${registry}/`);
    const url = new URL(target, base);
    const prefix = `/v2/${repository}/`;
    if (url.host !== base.host || !url.pathname.startsWith(`${prefix}referrers/`)) {
        throw new RunnerError(
            `the registry ${registry} pages the referrers of ${repository} to ${url.host}${url.pathname}, outside the repository's referrers API`,
        );
    }
    return `${url.pathname.slice(prefix.length)}${url.search}`;
}

/** Which of `wanted` (predicate types) no bundle in the list carries. */
export function missingPredicates(manifests: Descriptor[], wanted: string[]): string[] {
    const present = new Set(manifests.map((m) => m.annotations?.[BUNDLE_PREDICATE_TYPE]));
    return wanted.filter((w) => !present.has(w));
}

/** The referrers index document written under the tag: the API's list, as the tag schema holds it. */
export function tagIndex(manifests: Descriptor[]): string {
    return JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests });
}

function failure(what: string, registry: string, r: RegistryResponse): RunnerError {
    const denied =
        r.status === 401 || r.status === 403
            ? "; the stack's registry credentials must be allowed to read and push tags in this repository (ECR: ecr:BatchGetImage and ecr:PutImage)"
            : "";
    return new RunnerError(
        `${registry} answered ${r.status} to ${what}: ${r.body.trim().slice(0, 300) || "no body"}${denied}`,
    );
}

/**
 * What the referrers tag of `digest` lists now, each bundle with its annotations; an empty list
 * when there is no tag. One request where the list carries the annotations (the referrers API's,
 * which the step writes under the tag on ECR); plus one per bundle where it does not:
 * go-containerregistry's fallback index, which cosign writes on a registry without the API,
 * gives each bundle's artifactType only (read from Debian's docker-registry 2.8.2), so the
 * predicate type is read from the bundle's own manifest.
 */
export async function attachedTo(
    client: RegistryClient,
    registry: string,
    repository: string,
    digest: string,
): Promise<Descriptor[]> {
    return Promise.all(
        (await readTag(client, registry, repository, digest)).map(async (m) => {
            if (m.annotations !== undefined || (m.artifactType !== undefined && m.artifactType !== BUNDLE)) {
                return m;
            }
            const bundle = await client.request("GET", repository, `manifests/${m.digest}`, { accept: OCI_MANIFEST });
            if (bundle.status === 404) {
                return m;
            }
            if (bundle.status !== 200) {
                throw failure(`reading ${repository}@${m.digest}`, registry, bundle);
            }
            return {
                ...m,
                annotations: (JSON.parse(bundle.body) as { annotations?: Record<string, string> }).annotations ?? {},
            };
        }),
    );
}

/** The referrers API's list for `digest`, every page; none when the API answers 404 (the registry has none). */
async function listReferrers(
    client: RegistryClient,
    registry: string,
    repository: string,
    digest: string,
): Promise<Descriptor[] | undefined> {
    const manifests: Descriptor[] = [];
    const seen = new Set<string>();
    for (let rest: string | undefined = `referrers/${digest}`; rest !== undefined;) {
        if (seen.has(rest) || seen.size >= MAX_REFERRER_PAGES) {
            throw new RunnerError(
                `listing the referrers of ${repository}@${digest} on ${registry}: its pages ${seen.has(rest) ? `lead back to ${rest}` : `run past ${MAX_REFERRER_PAGES}`}; the registry's referrers API is not answering as the distribution-spec says`,
            );
        }
        seen.add(rest);
        const r = await client.request("GET", repository, rest, { accept: OCI_INDEX });
        if (r.status === 404 && manifests.length === 0) {
            return undefined;
        }
        if (r.status !== 200) {
            throw failure(`listing the referrers of ${repository}@${digest}`, registry, r);
        }
        manifests.push(...referrersPage(r.body, `the referrers of ${repository}@${digest} on ${registry}`));
        rest = nextPage(String(r.headers.link ?? ""), registry, repository);
    }
    return manifests;
}

/** The descriptors the referrers tag lists as written (none when there is no tag). */
async function readTag(
    client: RegistryClient,
    registry: string,
    repository: string,
    digest: string,
): Promise<Descriptor[]> {
    const r = await client.request("GET", repository, `manifests/${referrersTag(digest)}`, { accept: OCI_INDEX });
    if (r.status === 404) {
        return [];
    }
    if (r.status !== 200) {
        throw failure(`reading ${repository}:${referrersTag(digest)}`, registry, r);
    }
    return listed(r.body);
}

/** How many times the sign step writes one referrers tag before it gives up on a writer that keeps replacing it. */
export const MAX_PIN_WRITES = 5;

/** The pause before writing again, after another writer replaced the tag: doubling, jittered 50–150%, so two writers fall out of step. */
export function pinBackoff(write: number, random: () => number): number {
    return Math.round(250 * 2 ** (write - 1) * (0.5 + random()));
}

export interface PinOptions {
    sleep?: (ms: number) => Promise<void>;
    random?: () => number;
}

/**
 * Writes the referrers API's list for `digest` under its referrers tag, unless the tag lists
 * the same already. A 404 from the API means the registry has none, and cosign maintained the
 * tag itself. Returns which of the two the registry does.
 *
 * The write is a read-modify-write of one tag that another stack or run signing the same
 * digest (one commit built by two stacks) may do at the same time, and the last PUT would drop
 * the other's entries. The distribution-spec has no conditional PUT registries honour
 * (opencontainers/distribution-spec#251, "Document Conditional Requests", still open;
 * go-containerregistry#2205 is the same lost update in cosign's own fallback tag). So each
 * round re-lists the API and re-reads the tag after the last write: everything either listed,
 * plus everything the tag ever listed here, must be in it, or it is merged and written again
 * after a jittered pause. Whichever writer PUTs last then sees every bundle pushed before its
 * PUT in the API and keeps it; nothing another writer added is ever dropped.
 */
export async function pinReferrers(
    client: RegistryClient,
    registry: string,
    repository: string,
    digest: string,
    options: PinOptions = {},
): Promise<"api" | "tag-schema"> {
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const random = options.random ?? Math.random;
    const keep = new Map<string, Descriptor>();
    const round = async () => {
        const api = await listReferrers(client, registry, repository, digest);
        if (api === undefined) {
            return undefined;
        }
        const tagged = await readTag(client, registry, repository, digest);
        for (const m of [...tagged, ...api]) {
            if (!keep.has(m.digest)) {
                keep.set(m.digest, m);
            }
        }
        const present = new Set(tagged.map((m) => m.digest));
        return { tagged, missing: [...keep.values()].filter((m) => !present.has(m.digest)) };
    };
    for (let writes = 0; ; writes++) {
        let now = await round();
        if (now === undefined && writes === 0) {
            return "tag-schema";
        }
        if (now !== undefined && now.missing.length > 0 && writes > 0) {
            // What this run wrote was replaced: another writer read the tag before our PUT.
            if (writes === MAX_PIN_WRITES) {
                throw new RunnerError(
                    `the referrers tag ${repository}:${referrersTag(digest)} on ${registry} still lacks ${now.missing.map((m) => m.digest).join(", ")} after ${writes} writes: ` +
                        `another writer (a second stack or run signing ${digest}) keeps replacing it. Nothing is lost from the registry; run pulumi up again once the other run is done, ` +
                        "and it pins what is missing",
                );
            }
            await sleep(pinBackoff(writes, random));
            now = await round();
        }
        if (now === undefined) {
            throw new RunnerError(
                `${registry} stopped serving the referrers API for ${repository}@${digest} while the sign step pinned it (it answered 404 after listing it)`,
            );
        }
        if (now.missing.length === 0) {
            return "api";
        }
        const put = await client.request(
            "PUT",
            repository,
            `manifests/${referrersTag(digest)}`,
            { "content-type": OCI_INDEX },
            tagIndex([...now.tagged, ...now.missing]),
        );
        if (put.status !== 201) {
            throw failure(`writing ${repository}:${referrersTag(digest)}`, registry, put);
        }
    }
}
