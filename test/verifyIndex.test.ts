// Reading an index back: the script runs for real against a stub docker that serves an
// index document, and the fleet wires one check per index after it is written.

import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { verifyIndexScript } from "../shell/verifyIndex";

const AMD = `sha256:${"a".repeat(64)}`;
const ARM = `sha256:${"b".repeat(64)}`;
const V7 = `sha256:${"c".repeat(64)}`;
const script = verifyIndexScript({
    ref: `registry.example.com/app:latest@sha256:${"f".repeat(64)}`, registry: "registry.example.com",
    platforms: { "linux/amd64": AMD, "linux/arm64": ARM, "linux/arm/v7": V7 },
});

function index(manifests: object[]): string {
    return JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests });
}

/** Runs the script with a docker stub that prints `served` and records its config and args. */
function run(served: string, dockerStatus = 0) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-verify-"));
    fs.writeFileSync(path.join(dir, "served.json"), served);
    fs.writeFileSync(path.join(dir, "docker"), [
        "#!/bin/bash",
        `printf '%s\\n' "$*" > ${dir}/args`,
        `cp "$DOCKER_CONFIG/config.json" ${dir}/config.json`,
        `[ -e "$DOCKER_CONFIG/cli-plugins" ] && echo linked > ${dir}/plugins`,
        `cat ${dir}/served.json`,
        `exit ${dockerStatus}`,
    ].join("\n"), { mode: 0o755 });
    fs.mkdirSync(path.join(dir, "home", ".docker", "cli-plugins"), { recursive: true });
    const result = spawnSync("bash", ["-c", script], {
        input: "ci:s3cret", encoding: "utf8", env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ""}`, HOME: path.join(dir, "home"), DOCKER_CONFIG: "" },
    });
    return { ...result, dir };
}

const platform = (architecture: string, variant?: string) => ({ os: "linux", architecture, ...(variant ? { variant } : {}) });

test("passes shellcheck", () => {
    expect(spawnSync("shellcheck", ["--shell", "bash", "-"], { input: script, encoding: "utf8" }).stdout).toBe("");
});

test("accepts an index that lists exactly the built platforms with their digests", () => {
    const result = run(index([
        { digest: AMD, platform: platform("amd64") },
        { digest: ARM, platform: platform("arm64") },
        { digest: V7, platform: platform("arm", "v7") },
    ]));
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`linux/amd64 ${AMD}\nlinux/arm64 ${ARM}\nlinux/arm/v7 ${V7}\n`);
    expect(fs.readFileSync(path.join(result.dir, "args"), "utf8")).toBe(`buildx imagetools inspect --raw registry.example.com/app:latest@sha256:${"f".repeat(64)}\n`);
    expect(JSON.parse(fs.readFileSync(path.join(result.dir, "config.json"), "utf8"))).toEqual({
        auths: { "registry.example.com": { auth: Buffer.from("ci:s3cret").toString("base64") } },
    });
    expect(fs.existsSync(path.join(result.dir, "plugins"))).toBe(true);
});

test("names a wrong digest, a missing platform and an extra one", () => {
    const result = run(index([
        { digest: ARM, platform: platform("amd64") },
        { digest: V7, platform: platform("arm", "v7") },
        { digest: AMD, platform: platform("s390x") },
    ]));
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`linux/amd64 is ${ARM}, but its build produced ${AMD}`);
    expect(result.stderr).toContain("it does not list linux/arm64");
    expect(result.stderr).toContain("it also lists linux/s390x");
});

test("ignores attestation entries, whose platform is unknown/unknown", () => {
    const result = run(index([
        { digest: AMD, platform: platform("amd64") },
        { digest: ARM, platform: platform("arm64") },
        { digest: V7, platform: platform("arm", "v7") },
        { digest: `sha256:${"d".repeat(64)}`, platform: { os: "unknown", architecture: "unknown" } },
    ]));
    expect(result.status).toBe(0);
});

test("reports a registry that cannot be read", () => {
    const result = run("unauthorized: authentication required", 1);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("could not read back the index registry.example.com/app:latest@sha256:");
    expect(result.stderr).toContain("unauthorized: authentication required");
});
