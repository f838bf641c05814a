// A pure evaluator of ECR lifecycle policies, as AWS documents them, for testing the policy
// the program writes (components/registry.ts) against a model repository. Every step cites
// "Lifecycle policy evaluation rules" in the Amazon ECR User Guide,
// https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html (quoted as
// [E]), and the properties page lifecycle_policy_parameters.html ([P]). Only the expire
// action is modelled (the program archives nothing).

export interface LifecycleRule {
    rulePriority: number;
    description?: string;
    selection: {
        tagStatus: "tagged" | "untagged" | "any";
        tagPatternList?: string[];
        tagPrefixList?: string[];
        countType: "imageCountMoreThan" | "sinceImagePushed";
        countUnit?: "days";
        countNumber: number;
    };
    action: { type: "expire" };
}

/** One manifest in the repository, as ECR lists it (an "image"). */
export interface RepoImage {
    digest: string;
    tags: string[];
    /** Days since it was pushed. */
    pushedDaysAgo: number;
    /** For an index (manifest list): the digests it lists. */
    manifests?: string[];
    /** For an OCI referrer (signature, attestation): the digest of its subject. */
    subject?: string;
}

/** `*` matches any run of characters, the rest literally ([E], tagPatternList). */
function wildcard(pattern: string, tag: string): boolean {
    const parts = pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
    return new RegExp(`^${parts.join(".*")}$`).test(tag);
}

/**
 * Whether `image` meets the rule's tagging requirements: `untagged` selects images without
 * tags, `any` all images ([P] tagStatus); with `tagged`, "an image is successfully matched if
 * all of the tags in the tagPatternList or tagPrefixList value are matched against any of the
 * image's tags" ([E]).
 */
export function matchesTags(rule: LifecycleRule, image: RepoImage): boolean {
    const { tagStatus, tagPatternList, tagPrefixList } = rule.selection;
    if (tagStatus === "any") {
        return true;
    }
    if (tagStatus === "untagged") {
        return image.tags.length === 0;
    }
    if (image.tags.length === 0) {
        return false;
    }
    if (tagPatternList) {
        return tagPatternList.every((p) => image.tags.some((t) => wildcard(p, t)));
    }
    return (tagPrefixList ?? []).every((p) => image.tags.some((t) => t.startsWith(p)));
}

/** The documented constraints on a policy ([P], [E]); throws on the first one broken. */
export function validatePolicy(rules: LifecycleRule[]): void {
    const priorities = rules.map((r) => r.rulePriority);
    if (new Set(priorities).size !== priorities.length) {
        throw new Error("rulePriority values must be unique");
    }
    const byPriority = [...rules].sort((a, b) => a.rulePriority - b.rulePriority);
    if (byPriority.some((r, i) => r.selection.tagStatus === "any" && i !== byPriority.length - 1)) {
        throw new Error("a rule with tagStatus any must have the highest rulePriority");
    }
    if (rules.filter((r) => r.selection.tagStatus === "untagged").length > 1) {
        throw new Error("only one rule may select untagged images");
    }
    for (const { selection: s } of rules) {
        const lists = [s.tagPatternList, s.tagPrefixList].filter((l) => l !== undefined);
        if (s.tagStatus === "tagged" ? lists.length !== 1 : lists.length !== 0) {
            throw new Error("tagged rules take exactly one of tagPatternList and tagPrefixList; other rules neither");
        }
        if ((s.tagPatternList ?? []).some((p) => (p.match(/\*/g) ?? []).length > 4)) {
            throw new Error("at most four wildcards per tag pattern");
        }
        if ((s.countType === "sinceImagePushed") !== (s.countUnit === "days")) {
            throw new Error("countUnit days goes with sinceImagePushed only");
        }
    }
}

/**
 * The digests the policy expires from `images`. All rules are evaluated at once and applied
 * by priority, lowest number first; an image matching a rule's tagging requirements can be
 * expired by that rule only, never by one of lower priority, yet still counts for lower rules
 * as if not expired ([E], bullets 2-5). Images referenced by an index are kept while that
 * index stays ([E]: "If an image is referenced by a manifest list, it cannot be expired ...
 * without the manifest list being deleted ... first"), and referrers go with their subject
 * ([E]: "When reference artifacts are present in a repository, Amazon ECR lifecycle policies
 * automatically expire ... those artifacts within 24 hours of the deletion ... of the subject
 * image"). Nothing in the documentation exempts a referrer from the rules themselves: it is
 * an image like any other, untagged unless someone tags it.
 */
export function expiredBy(rules: LifecycleRule[], images: RepoImage[]): Set<string> {
    validatePolicy(rules);
    const claimedBy = new Map<string, LifecycleRule>();
    for (const rule of [...rules].sort((a, b) => a.rulePriority - b.rulePriority)) {
        images
            .filter((i) => !claimedBy.has(i.digest) && matchesTags(rule, i))
            .forEach((i) => claimedBy.set(i.digest, rule));
    }
    const marked = new Set<string>();
    for (const rule of rules) {
        // "Expiration is always ordered by pushed_at_time, and always expires older images before newer ones" ([E]).
        const candidates = images.filter((i) => matchesTags(rule, i)).sort((a, b) => a.pushedDaysAgo - b.pushedDaysAgo);
        const { countType, countNumber } = rule.selection;
        const selected =
            countType === "imageCountMoreThan"
                ? candidates.slice(countNumber)
                : candidates.filter((i) => i.pushedDaysAgo > countNumber);
        selected.filter((i) => claimedBy.get(i.digest) === rule).forEach((i) => marked.add(i.digest));
    }
    // To a fixed point: an index that stays keeps what it lists; a subject that goes takes its referrers.
    const expired = new Set(marked);
    for (let changed = true; changed;) {
        changed = false;
        for (const image of images) {
            const heldByIndex = images.some(
                (i) => !expired.has(i.digest) && (i.manifests ?? []).includes(image.digest),
            );
            if (expired.has(image.digest) && heldByIndex) {
                expired.delete(image.digest);
                changed = true;
            } else if (
                !expired.has(image.digest) &&
                !heldByIndex &&
                image.subject !== undefined &&
                expired.has(image.subject)
            ) {
                expired.add(image.digest);
                changed = true;
            }
        }
    }
    return expired;
}
