// Where images go: one ECR repository per image (created here, since ECR does not
// create repositories on push), or an external registry the team already runs.

import * as aws from "@pulumi/aws";
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

export class FleetRegistry extends pulumi.ComponentResource {
    /** Image name → `<registry host>/<name>`. */
    readonly repositories: Record<string, pulumi.Output<string>>;
    /** Credentials for builds and indexes; the password is a secret. */
    readonly credentials: pulumi.Output<dockerBuild.types.input.RegistryArgs>;

    constructor(name: string, args: FleetRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("native-build-fleet:registry:FleetRegistry", name, {}, opts);
        const { registry } = args;

        if (registry.type === "ecr") {
            this.repositories = Object.fromEntries(args.imageNames.map((image) => [image, new aws.ecr.Repository(`${name}-${image}`, {
                name: image,
                imageScanningConfiguration: { scanOnPush: true },
                // Cache tags are rewritten on every build, so the repository stays mutable;
                // releases are consumed by digest, which never moves.
                imageTagMutability: "MUTABLE",
                encryptionConfigurations: [{ encryptionType: "AES256" }],
                tags: args.tags,
            }, { parent: this, retainOnDelete: true }).repositoryUrl]));
            // One token for the account's registry, valid for 12 hours. The provider ignores
            // password changes in its diff, so a fresh token does not rebuild anything.
            const token = aws.ecr.getAuthorizationTokenOutput({}, { parent: this });
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
