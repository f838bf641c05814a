// Runs the fleet's image by its immutable digest: an ECS task definition for both
// architectures' hosts (the index holds the right image for each). Before the digest is
// used, cosign verifies its signature and the provenance and SBOM attestations of each
// platform image with the signer the fleet stack exports (verify.ts); an image the fleet
// did not sign fails the deploy.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ImageOutput, verifyImage } from "./verify";

const config = new pulumi.Config();
const builds = new pulumi.StackReference(config.require("buildStack"));
const imageName = config.get("image") ?? "service";

/** `<repository>@sha256:…`, never a tag that could move under a running deploy, and verified. */
export const imageRef = builds
    .requireOutput("images")
    .apply((images) => verifyImage(images as Record<string, ImageOutput | undefined>, imageName, { env: process.env }));

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
