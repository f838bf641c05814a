// What runs privileged on the hosts is pinned by digest by default (issue 20, Low): the
// BuildKit daemon (a release at or after v0.33.1, which verifies blob digests before caching)
// and the binfmt installer, and a config that names its own image still wins.

import { DEFAULT_BINFMT_IMAGE, DEFAULT_BUILDKIT_IMAGE, parseConfig } from "../config/schema";
import { context, makeProject, validConfig } from "./fixtures";

const root = makeProject();
const parse = (edit: (c: Record<string, any>) => void = () => undefined) => {
    const raw = validConfig() as Record<string, any>;
    edit(raw);
    return parseConfig(raw, context(root));
};

test("the default BuildKit image is a release at or after v0.33.1, pinned by digest", () => {
    const match = /^moby\/buildkit:v(\d+)\.(\d+)\.(\d+)@sha256:[0-9a-f]{64}$/.exec(DEFAULT_BUILDKIT_IMAGE);
    expect(match).not.toBeNull();
    const [major, minor, patch] = (match ?? []).slice(1).map(Number);
    expect(major * 1e6 + minor * 1e3 + patch).toBeGreaterThanOrEqual(33 * 1e3 + 1);
    expect(parse().builder.driverOptions.image).toBe(DEFAULT_BUILDKIT_IMAGE);
});

test("the default binfmt image is pinned by digest", () => {
    expect(DEFAULT_BINFMT_IMAGE).toMatch(/^tonistiigi\/binfmt:[\w.-]+@sha256:[0-9a-f]{64}$/);
    expect(parse().builder.binfmtImage).toBe(DEFAULT_BINFMT_IMAGE);
});

test.each([
    [
        "builder.buildkitImage",
        (c: Record<string, any>) => {
            c.builder = { buildkitImage: "registry.example.com/buildkit:v0.33.1" };
        },
    ],
    [
        "builder.driverOptions.image",
        (c: Record<string, any>) => {
            c.builder = { driverOptions: { image: "registry.example.com/buildkit:v0.33.1" } };
        },
    ],
])("%s replaces the default", (_, edit) => {
    expect(parse(edit).builder.driverOptions.image).toBe("registry.example.com/buildkit:v0.33.1");
});
