// native-build-fleet: native arm64 and amd64 build hosts as one buildx builder, and the
// images built on them. Read the config, build the fleet, export what deploys consume.

import { loadConfig } from "./config/load";
import { Fleet } from "./components/fleet";
import * as pulumi from "@pulumi/pulumi";

const { config, region, buildkitdConfig, sshPrivateKey, registryPassword, signingKey, labels } = loadConfig(
    process.cwd(),
    process.env,
);

const fleet = new Fleet("fleet", {
    config,
    project: pulumi.getProject(),
    stack: pulumi.getStack(),
    sshPrivateKey,
    registryPassword,
    signingKey,
    labels,
    buildkitdConfig,
    region,
});

/** Per image: the index as `repo@sha256:…`, its digest, tags, and each platform image. */
export const images = fleet.images;
/** The buildx builder and its nodes, in routing order. */
export const builder = fleet.builder;
/** Per host: pool, instance id, address, architecture. */
export const hosts = fleet.hosts;
