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

/**
 * Expires untagged images: superseded cache manifests and platform images or indexes whose
 * tag moved on. Everything a stack exports is still tagged, so it never expires.
 */
export function lifecyclePolicy(untaggedExpiryDays: number): string {
    return JSON.stringify({
        rules: [{
            rulePriority: 1,
            description: `native-build-fleet: expire untagged images after ${untaggedExpiryDays} days`,
            selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: untaggedExpiryDays },
            action: { type: "expire" },
        }],
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
            this.repositories = Object.fromEntries(args.imageNames.map((image) => {
                const repository = new ecr.Repository(`${name}-${image}`, {
                    name: image,
                    imageScanningConfiguration: { scanOnPush: true },
                    // Cache tags are rewritten on every build, so they stay writable even
                    // when release tags are immutable (ECR's IMMUTABLE_WITH_EXCLUSION).
                    imageTagMutability: registry.immutableTags ? "IMMUTABLE_WITH_EXCLUSION" : "MUTABLE",
                    imageTagMutabilityExclusionFilters: registry.immutableTags ? [{ filter: "cache-*", filterType: "WILDCARD" }] : undefined,
                    encryptionConfigurations: [{ encryptionType: "AES256" }],
                    tags: args.tags,
                }, { parent: this, retainOnDelete: true });
                new ecr.LifecyclePolicy(`${name}-${image}`, { repository: repository.name, policy }, { parent: this });
                return [image, repository.repositoryUrl];
            }));
            // One token for the account's registry, valid for 12 hours. The provider ignores
            // password changes in its diff, so a fresh token does not rebuild anything.
            const token = ecr.getAuthorizationTokenOutput({}, { parent: this });
            this.credentials = pulumi.output({
                address: token.proxyEndpoint.apply((endpoint) => endpoint.replace(/^https:\/\//, "")),
                username: token.userName,
                password: pulumi.secret(token.password),
            });
        } else {
            this.repositories = Object.fromEntries(args.imageNames.map((image) => [image, pulumi.output(`${registry.address}/${image}`)]));
            this.credentials = pulumi.output({
                address: registry.address.split("/")[0],
                username: registry.username,
                password: pulumi.secret(pulumi.output(args.password ?? "")),
            });
        }
        this.registerOutputs({ repositories: this.repositories });
    }
}
