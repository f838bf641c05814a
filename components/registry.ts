// Where images go: one ECR repository per image (created here, since ECR does not
// create repositories on push), or an external registry the team already runs.

// Service modules, not @pulumi/aws's index, which loads every service (see components/fleet.ts).
import * as ecr from "@pulumi/aws/ecr";
import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { FleetConfig } from "../config/schema";

export interface FleetRegistryArgs {
    registry: FleetConfig["registry"];
    /** Repository names, one per image. */
    imageNames: string[];
    /** The external registry's password (a secret); unused for ECR. */
    password?: pulumi.Input<string>;
    tags: Record<string, string>;
}

/** Tags that move by design: the build cache, and the referrers lists signing rewrites on each attach. */
export const MUTABLE_TAG_FILTERS = ["cache-*", "sha256-*"];

/**
 * Expires untagged images: superseded cache manifests and platform images or indexes whose
 * tag moved on. Everything a stack exports is still tagged, so it never expires; ECR keeps
 * what a tagged index lists ("If an image is referenced by a manifest list, it cannot be
 * expired ... without the manifest list being deleted ... first", ECR User Guide,
 * LifecyclePolicies.html, "Lifecycle policy evaluation rules"). Signatures and attestations
 * are untagged OCI referrers, and nothing in those rules exempts them from an untagged rule,
 * nor can a rule tell them from superseded images (it selects by tag status, tags and age
 * only): they survive because the sign step lists them under their subject's
 * `sha256-<hex>` tag (runner/referrersTag.ts), a tagged index, which this policy never
 * selects; cosign does so itself on a registry without the referrers API. When
 * a superseded image expires, ECR expires its bare referrers with it (same page); the small
 * `sha256-*` indexes of superseded images stay.
 */
export function lifecyclePolicy(untaggedExpiryDays: number): string {
    return JSON.stringify({
        rules: [
            {
                rulePriority: 1,
                description: `native-build-fleet: expire untagged images after ${untaggedExpiryDays} days`,
                selection: {
                    tagStatus: "untagged",
                    countType: "sinceImagePushed",
                    countUnit: "days",
                    countNumber: untaggedExpiryDays,
                },
                action: { type: "expire" },
            },
        ],
    });
}

export class FleetRegistry extends pulumi.ComponentResource {
    /** Image name → `<registry host>/<name>`. */
    readonly repositories: Record<string, pulumi.Output<string>>;
    /** Credentials for builds and indexes; the password is a secret. */
    readonly credentials: pulumi.Output<dockerBuild.types.input.RegistryArgs>;

    constructor(name: string, args: FleetRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("native-build-fleet:registry:FleetRegistry", name, {}, opts);
        const { registry } = args;

        if (registry.type === "ecr") {
            const policy = lifecyclePolicy(registry.untaggedExpiryDays);
            this.repositories = Object.fromEntries(
                args.imageNames.map((image) => {
                    const repository = new ecr.Repository(
                        `${name}-${image}`,
                        {
                            name: image,
                            imageScanningConfiguration: { scanOnPush: true },
                            // Cache tags are rewritten on every build, and a digest's referrers list on
                            // every signature or attestation attached to it, so both stay writable even
                            // when release tags are immutable (ECR's IMMUTABLE_WITH_EXCLUSION).
                            imageTagMutability: registry.immutableTags ? "IMMUTABLE_WITH_EXCLUSION" : "MUTABLE",
                            imageTagMutabilityExclusionFilters: registry.immutableTags
                                ? MUTABLE_TAG_FILTERS.map((filter) => ({ filter, filterType: "WILDCARD" }))
                                : undefined,
                            encryptionConfigurations: [{ encryptionType: "AES256" }],
                            tags: args.tags,
                        },
                        { parent: this, retainOnDelete: true },
                    );
                    new ecr.LifecyclePolicy(
                        `${name}-${image}`,
                        { repository: repository.name, policy },
                        { parent: this },
                    );
                    return [image, repository.repositoryUrl];
                }),
            );
            // One token for the account's registry, valid for 12 hours. The provider ignores
            // password changes in its diff, so a fresh token does not rebuild anything.
            const token = ecr.getAuthorizationTokenOutput({}, { parent: this });
            this.credentials = pulumi.output({
                address: token.proxyEndpoint.apply((endpoint) => endpoint.replace(/^https:\/\//, "")),
                username: token.userName,
                password: pulumi.secret(token.password),
            });
        } else {
            this.repositories = Object.fromEntries(
                args.imageNames.map((image) => [image, pulumi.output(`${registry.address}/${image}`)]),
            );
            this.credentials = pulumi.output({
                address: registry.address.split("/")[0],
                username: registry.username,
                password: pulumi.secret(pulumi.output(args.password ?? "")),
            });
        }
        this.registerOutputs({ repositories: this.repositories });
    }
}
