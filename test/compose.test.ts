// Images from a Compose file, in both build syntaxes, validated like stack images.

import * as fs from "fs";
import * as path from "path";
import { splitImage } from "../config/compose";
import { ConfigError, parseConfig } from "../config/schema";
import { context, makeProject, validConfig } from "./fixtures";

const COMPOSE = `
services:
  web:
    image: registry.example.com/acme/web:1.2
    build:
      context: ./web
      dockerfile: Dockerfile.prod
      target: runtime
      platforms: [linux/amd64, linux/aarch64]
      args:
        - NODE_ENV=production
        - BARE_NAME
  worker:
    build: ./worker
    platform: linux/arm64
  api:
    build:
      context: web
      args: { LEVEL: 3 }
      platforms: [linux/amd64]
  cache:
    image: redis:7
`;

function project(compose: string): string {
    const root = makeProject();
    fs.mkdirSync(path.join(root, "deploy", "web"), { recursive: true });
    fs.mkdirSync(path.join(root, "deploy", "worker"));
    fs.writeFileSync(path.join(root, "deploy", "web", "Dockerfile.prod"), "FROM scratch\n");
    fs.writeFileSync(path.join(root, "deploy", "web", "Dockerfile"), "FROM scratch\n");
    fs.writeFileSync(path.join(root, "deploy", "worker", "Dockerfile"), "FROM scratch\n");
    fs.writeFileSync(path.join(root, "deploy", "docker-compose.yml"), compose);
    return root;
}

function withCompose(): Record<string, unknown> {
    return { ...validConfig(), images: [], compose: "deploy/docker-compose.yml" };
}

test("every service with a build section becomes an image; the others are ignored", () => {
    const root = project(COMPOSE);
    const parsed = parseConfig(withCompose(), context(root));
    expect(parsed.images).toEqual([
        {
            name: "acme/web", context: "deploy/web", dockerfile: "deploy/web/Dockerfile.prod", platforms: ["linux/amd64", "linux/arm64"],
            tags: ["1.2"], buildArgs: { NODE_ENV: "production" }, platformBuildArgs: {}, target: "runtime",
        },
        {
            name: "worker", context: "deploy/worker", dockerfile: "deploy/worker/Dockerfile", platforms: ["linux/arm64"],
            tags: ["latest"], buildArgs: {}, platformBuildArgs: {}, target: undefined,
        },
        {
            name: "api", context: "deploy/web", dockerfile: "deploy/web/Dockerfile", platforms: ["linux/amd64"],
            tags: ["latest"], buildArgs: { LEVEL: "3" }, platformBuildArgs: {}, target: undefined,
        },
    ]);
});

test("a service whose platforms no host serves is an error naming the service", () => {
    const root = project(COMPOSE.replace("platform: linux/arm64", "platform: linux/s390x"));
    expect(() => parseConfig(withCompose(), context(root))).toThrow(/compose\(deploy\/docker-compose\.yml\)\.services\.worker\.platforms: no host serves linux\/s390x/);
});

test("a service without any platform is an error naming the service", () => {
    const root = project("services:\n  web:\n    build: ./web\n");
    expect(() => parseConfig(withCompose(), context(root))).toThrow(/compose\(deploy\/docker-compose\.yml\)\.services\.web: names no platform/);
});

test("a build context outside the project is refused", () => {
    const root = project("services:\n  web:\n    build:\n      context: ../../..\n      platforms: [linux/amd64]\n");
    expect(() => parseConfig(withCompose(), context(root))).toThrow(/services\.web\.context: .* leaves the project directory/);
});

test("a missing Compose file is an error on the compose key", () => {
    const root = makeProject();
    let error: unknown;
    try {
        parseConfig({ ...validConfig(), images: [], compose: "nope.yml" }, context(root));
    } catch (e) {
        error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.path)).toContain("compose");
});

test.each([
    ["web", { name: "web" }],
    ["acme/web:1.2", { name: "acme/web", tag: "1.2" }],
    ["registry.example.com:5000/acme/web:1.2", { name: "acme/web", tag: "1.2" }],
    ["localhost/web", { name: "web" }],
    ["web@sha256:abc", { name: "web" }],
])("splitImage(%p) keeps the repository path and tag, not the registry", (image, expected) => {
    expect(splitImage(image)).toEqual(expected);
});
