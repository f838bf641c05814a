// Runs the fleet's image by its immutable digest: an ECS task definition for both
// architectures' hosts (the index holds the right image for each). Before the digest is
// used, cosign verifies its signature and the provenance and SBOM attestations of each
// platform image with the signer this deploy pins in its own config (`trustedSigner`), never
// the one the fleet stack exports, which is only compared with the pin (verify.ts); an image
// the fleet did not sign, or a fleet stack that names another signer, fails the deploy.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { parseTrustedSigner } from "./signer";
import { ImageOutput, verifyImage } from "./verify";

const config = new pulumi.Config();
// Read and checked before any resource exists: without a pin there is nothing to verify against.
const signer = parseTrustedSigner(config.getObject<unknown>("trustedSigner"), "trustedSigner");
const builds = new pulumi.StackReference(config.require("buildStack"));
const imageName = config.get("image") ?? "service";
// The repository this deploy runs images from, pinned here like the signer: the verified
// provenance must name it, so the fleet's outputs cannot swap in another image it signed.
const repository = config.require("imageRepository");

/** `<repository>@sha256:…`, never a tag that could move under a running deploy, and verified. */
export const imageRef = builds.requireOutput("images").apply((images) =>
    verifyImage(images as Record<string, ImageOutput | undefined>, imageName, {
        env: process.env,
        signer,
        repository,
    }),
);

const task = new aws.ecs.TaskDefinition("service", {
    family: "service",
    requiresCompatibilities: ["FARGATE"],
    networkMode: "awsvpc",
    cpu: "256",
    memory: "512",
    // Graviton Fargate; the same digest runs on X86_64 too, because it is a multi-platform index.
    runtimePlatform: { cpuArchitecture: "ARM64", operatingSystemFamily: "LINUX" },
    containerDefinitions: pulumi.jsonStringify([
        {
            name: "service",
            image: imageRef,
            essential: true,
            portMappings: [{ containerPort: 8080 }],
        },
    ]),
});

export const taskDefinition = task.arn;
