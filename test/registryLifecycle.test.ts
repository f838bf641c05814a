// The ECR lifecycle policy the program writes, run through an evaluator of ECR's documented
// rules (test/ecrLifecycle.ts) over a model repository: what a fleet stack leaves in one
// image's repository after a few builds, with cosign signatures and attestations stored
// either as bare OCI referrers (what cosign v3 writes to a registry with the referrers API,
// such as ECR) or also listed under cosign's `sha256-<hex>` tag (the OCI referrers tag
// schema, which cosign writes where the API is missing, and which the sign step writes on a
// registry with the API: runner/referrersTag.ts). The last tests build the repository from
// what the sign step's own code writes to a loopback registry that serves the API.

import { lifecyclePolicy } from "../components/registry";
import { cacheTag, platformTag } from "../config/schema";
import { listed, pinReferrers, referrersTag, SIGNATURE_PREDICATE } from "../runner/referrersTag";
import { RegistryClient } from "../runner/registryClient";
import { PREDICATE_TYPES } from "../runner/signing";
import { expiredBy, LifecycleRule, matchesTags, RepoImage, validatePolicy } from "./ecrLifecycle";
import { registryStandIn } from "./registryStandIn";

const DAYS = 14;
const rules = (policy: string) => (JSON.parse(policy) as { rules: LifecycleRule[] }).rules;
/** The policy the program wrote before signing existed (one rule: untagged images after N days). */
const BEFORE_SIGNING: LifecycleRule[] = [
    {
        rulePriority: 1,
        description: `native-build-fleet: expire untagged images after ${DAYS} days`,
        selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: DAYS },
        action: { type: "expire" },
    },
];

const d = (name: string) => `sha256:${Buffer.from(name).toString("hex").padEnd(64, "0").slice(0, 64)}`;
const PLATFORMS = ["linux/amd64", "linux/arm64"];

interface Build {
    /** The index and its platform images. */
    images: RepoImage[];
    /** Signature on the index, provenance and SBOM on each platform image: untagged referrers. */
    attached: RepoImage[];
    /** Per subject, an index under its `sha256-<hex>` tag listing what is attached to it. */
    pins: RepoImage[];
}

/** One build of the image: its index under `tags`, a platform image per platform, and what signing attached. */
function build(id: string, tags: string[], age: number, pinned: boolean): Build {
    const platforms = PLATFORMS.map((p) => ({
        digest: d(`${id}-${p}`),
        tags: tags.map((t) => platformTag(t, p)),
        pushedDaysAgo: age,
    }));
    const index = { digest: d(`${id}-index`), tags, pushedDaysAgo: age, manifests: platforms.map((p) => p.digest) };
    const attached = [
        { digest: d(`${id}-sig`), tags: [], pushedDaysAgo: age, subject: index.digest },
        ...platforms.flatMap((p) =>
            ["prov", "sbom"].map((kind) => ({
                digest: d(`${id}-${p.digest}-${kind}`),
                tags: [],
                pushedDaysAgo: age,
                subject: p.digest,
            })),
        ),
    ];
    const pins = !pinned
        ? []
        : [index, ...platforms].map((subject) => ({
              digest: d(`${id}-pin-${subject.digest}`),
              tags: [referrersTag(subject.digest)],
              pushedDaysAgo: age,
              manifests: attached.filter((a) => a.subject === subject.digest).map((a) => a.digest),
          }));
    return { images: [index, ...platforms], attached, pins };
}

const all = (b: Build) => [...b.images, ...b.attached, ...b.pins];
const digests = (images: RepoImage[]) => images.map((i) => i.digest);

/**
 * The repository after: a build 100 days ago superseded 40 days ago by the build the stack
 * exports now (so the exported one is older than the expiry), a build of a branch tag
 * superseded 3 days ago, cache manifests current (tagged), old and recent (untagged), and a
 * stray untagged image.
 */
function repository(pinned: boolean) {
    const old = build("old", [], 100, pinned);
    const current = build("current", ["latest", "v1.2.0"], 40, pinned);
    const branch = build("branch", [], 3, pinned);
    const cacheNow = PLATFORMS.map((p) => ({ digest: d(`cache-now-${p}`), tags: [cacheTag(p)], pushedDaysAgo: 1 }));
    const cacheOld = PLATFORMS.map((p) => ({ digest: d(`cache-old-${p}`), tags: [], pushedDaysAgo: 40 }));
    const cacheRecent = PLATFORMS.map((p) => ({ digest: d(`cache-recent-${p}`), tags: [], pushedDaysAgo: 2 }));
    const stray = { digest: d("stray"), tags: [], pushedDaysAgo: 300 };
    return {
        images: [...all(old), ...all(current), ...all(branch), ...cacheNow, ...cacheOld, ...cacheRecent, stray],
        old,
        current,
        branch,
        cacheNow,
        cacheOld,
        cacheRecent,
        stray,
    };
}

describe("the evaluator follows ECR's documented rules", () => {
    test("matches tag patterns with wildcards against any of an image's tags", () => {
        const rule: LifecycleRule = {
            ...BEFORE_SIGNING[0],
            selection: {
                tagStatus: "tagged",
                tagPatternList: ["sha256-*"],
                countType: "imageCountMoreThan",
                countNumber: 1,
            },
        };
        expect(matchesTags(rule, { digest: "x", tags: ["v1", "sha256-ab"], pushedDaysAgo: 0 })).toBe(true);
        expect(matchesTags(rule, { digest: "x", tags: ["v1"], pushedDaysAgo: 0 })).toBe(false);
        expect(matchesTags(rule, { digest: "x", tags: [], pushedDaysAgo: 0 })).toBe(false);
    });

    test("refuses what ECR refuses: two untagged rules, an any rule that is not last", () => {
        expect(() => validatePolicy([...BEFORE_SIGNING, { ...BEFORE_SIGNING[0], rulePriority: 2 }])).toThrow(
            /only one rule may select untagged/,
        );
        expect(() =>
            validatePolicy([
                {
                    ...BEFORE_SIGNING[0],
                    rulePriority: 0,
                    selection: { ...BEFORE_SIGNING[0].selection, tagStatus: "any" },
                },
                BEFORE_SIGNING[0],
            ]),
        ).toThrow(/tagStatus any must have the highest/);
    });

    test("a higher-priority rule's claim keeps an image from a lower one, and an index keeps what it lists", () => {
        const images: RepoImage[] = [
            { digest: "index", tags: [], pushedDaysAgo: 1, manifests: ["child"] },
            { digest: "child", tags: [], pushedDaysAgo: 50 },
            { digest: "kept", tags: ["keep-me"], pushedDaysAgo: 50 },
        ];
        const keepRule: LifecycleRule = {
            rulePriority: 1,
            selection: {
                tagStatus: "tagged",
                tagPrefixList: ["keep"],
                countType: "imageCountMoreThan",
                countNumber: 5,
            },
            action: { type: "expire" },
        };
        const anyRule: LifecycleRule = {
            rulePriority: 2,
            selection: { tagStatus: "any", countType: "sinceImagePushed", countUnit: "days", countNumber: 10 },
            action: { type: "expire" },
        };
        expect([...expiredBy([keepRule, anyRule], images)]).toEqual([]);
        expect([...expiredBy([anyRule], images)]).toEqual(["kept"]);
    });
});

describe("the program's lifecycle policy", () => {
    const policy = rules(lifecyclePolicy(DAYS));

    test("is valid by ECR's documented constraints", () => {
        expect(() => validatePolicy(policy)).not.toThrow();
    });

    test("never expires the exported index, its platform images, or their signatures and attestations pinned under sha256-* tags", () => {
        const repo = repository(true);
        const expired = expiredBy(policy, repo.images);
        expect(repo.current.attached).toHaveLength(5);
        expect(digests(all(repo.current)).filter((digest) => expired.has(digest))).toEqual([]);
    });

    test("still expires superseded builds, old cache manifests and stray untagged images, and nothing recent", () => {
        const repo = repository(true);
        const expired = expiredBy(policy, repo.images);
        expect(
            digests([...repo.old.images, ...repo.cacheOld, repo.stray]).filter((digest) => !expired.has(digest)),
        ).toEqual([]);
        expect(
            digests([...all(repo.branch), ...repo.cacheRecent, ...repo.cacheNow]).filter((digest) =>
                expired.has(digest),
            ),
        ).toEqual([]);
    });

    test("leaves a superseded build's sha256-* indexes behind, with what they list: a known leak of a few KB per signed build", () => {
        const repo = repository(true);
        const expired = expiredBy(policy, repo.images);
        expect(digests([...repo.old.pins, ...repo.old.attached]).filter((digest) => expired.has(digest))).toEqual([]);
    });

    test("without pins, a superseded build's signatures go with it (ECR expires referrers with their subject)", () => {
        const repo = repository(false);
        const expired = expiredBy(policy, repo.images);
        expect(digests(repo.old.attached).filter((digest) => !expired.has(digest))).toEqual([]);
    });

    test.each<[string, () => LifecycleRule[]]>([
        ["the policy before signing", () => BEFORE_SIGNING],
        ["the program's policy", () => policy],
    ])(
        "%s expires bare referrers of the exported images, so on ECR signatures must also be pinned under a tag",
        (_, policyOf) => {
            const repo = repository(false);
            const expired = expiredBy(policyOf(), repo.images);
            expect(digests(repo.current.attached).filter((digest) => !expired.has(digest))).toEqual([]);
            // The images themselves stay: tagged, or listed by the tagged index.
            expect(digests(repo.current.images).filter((digest) => expired.has(digest))).toEqual([]);
        },
    );
});

describe("what the sign step leaves in a registry with the referrers API, under the program's policy", () => {
    /**
     * The exported build (index tagged `latest`, platform images tagged per platform), pushed
     * 40 days ago, signed and attested as cosign does on ECR (untagged bundles with a subject),
     * then, with `pin`, the step's pinReferrers for each digest: the registry's manifests and
     * tags as ECR would list its images.
     */
    async function signedRepository(
        pin: boolean,
    ): Promise<{ images: RepoImage[]; exported: string[]; attached: string[] }> {
        const registry = await registryStandIn("api", "fleet:pw");
        try {
            const exported = build("exported", ["latest"], 40, false).images;
            const attached = [
                registry.attach("app", exported[0].digest, SIGNATURE_PREDICATE),
                ...exported
                    .slice(1)
                    .flatMap((p) =>
                        [PREDICATE_TYPES.provenance.uri, PREDICATE_TYPES.sbom.uri].map((t) =>
                            registry.attach("app", p.digest, t),
                        ),
                    ),
            ];
            if (pin) {
                const client = new RegistryClient(registry.host, "fleet:pw", { SSL_CERT_FILE: registry.caFile });
                for (const subject of exported) {
                    await pinReferrers(client, registry.host, "app", subject.digest);
                }
            }
            const tagsOf = (digest: string) =>
                [...registry.tags].filter(([, d]) => d === digest).map(([t]) => t.slice("app:".length));
            const stored = [...registry.manifests].map(([digest, m]) => ({
                digest,
                tags: tagsOf(digest),
                pushedDaysAgo: 40,
                subject: m.subject,
                ...(m.mediaType.includes("index") ? { manifests: listed(m.body).map((l) => l.digest) } : {}),
            }));
            return { images: [...exported, ...stored], exported: exported.map((i) => i.digest), attached };
        } finally {
            await registry.close();
        }
    }

    test("keeps every signature and attestation of what the stack exports, long after the expiry", async () => {
        const repo = await signedRepository(true);
        const expired = expiredBy(rules(lifecyclePolicy(DAYS)), repo.images);
        expect(repo.attached).toHaveLength(5);
        expect([...repo.exported, ...repo.attached].filter((digest) => expired.has(digest))).toEqual([]);
    });

    test("without the step's tags, the same bundles expire while the images they sign stay", async () => {
        const repo = await signedRepository(false);
        const expired = expiredBy(rules(lifecyclePolicy(DAYS)), repo.images);
        expect(repo.attached.filter((digest) => !expired.has(digest))).toEqual([]);
        expect(repo.exported.filter((digest) => expired.has(digest))).toEqual([]);
    });
});

test("the referrers tag of a digest is the OCI tag schema's <alg>-<hex>", () => {
    expect(referrersTag(`sha256:${"ab".repeat(32)}`)).toBe(`sha256-${"ab".repeat(32)}`);
});
