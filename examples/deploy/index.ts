// Runs the fleet's image by its immutable digest: an ECS task definition for both
// architectures' hosts (the index holds the right image for each).

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

const config = new pulumi.Config();
const builds = new pulumi.StackReference(config.require("buildStack"));
const imageName = config.get("image") ?? "service";

/** `<repository>@sha256:…`, never a tag that could move under a running deploy. */
export const imageRef = builds.requireOutput("images").apply((images) => {
    const image = (images as Record<string, { ref?: string } | undefined>)[imageName];
    if (!image?.ref?.includes("@sha256:")) {
        throw new Error(`the build stack exports no digest for image "${imageName}"; check its images config`);
    }
    return image.ref;
});

const task = new aws.ecs.TaskDefinition("service", {
    family: "service",
    requiresCompatibilities: ["FARGATE"],
    networkMode: "awsvpc",
    cpu: "256",
    memory: "512",
    // Graviton Fargate; the same digest runs on X86_64 too, because it is a multi-platform index.
    runtimePlatform: { cpuArchitecture: "ARM64", operatingSystemFamily: "LINUX" },
    containerDefinitions: pulumi.jsonStringify([{
        name: "service",
        image: imageRef,
        essential: true,
        portMappings: [{ containerPort: 8080 }],
    }]),
});

export const taskDefinition = task.arn;
