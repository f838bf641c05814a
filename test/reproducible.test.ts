// Reproducible platform images (issue 19, item 7): SOURCE_DATE_EPOCH from the commit that last
// touched the image's context, and a registry export that clamps layer timestamps to it.

import * as pulumi from "@pulumi/pulumi";
import { Fleet } from "../components/fleet";
import { REGISTRY_EXPORT } from "../components/imageBuild";
import { sourceDateEpochArg } from "../plan/ociLabels";
import { parseConfig } from "../config/schema";
import { context, makeProject, validConfig } from "./fixtures";
import { installMocks, settled, valueOf } from "./mocks";

const mocks = installMocks();

test.each<[string, Record<string, string>, Record<string, string>]>([
    [
        "a committer date with an offset",
        { "org.opencontainers.image.created": "2026-12-06T22:03:27+01:00" },
        { SOURCE_DATE_EPOCH: "1796591007" },
    ],
    [
        "a UTC committer date",
        { "org.opencontainers.image.created": "1970-01-01T00:00:10Z" },
        { SOURCE_DATE_EPOCH: "10" },
    ],
    ["no git history (no created label)", {}, {}],
    ["a label that is not a date", { "org.opencontainers.image.created": "yesterday" }, {}],
])("SOURCE_DATE_EPOCH from %s", (_, labels, expected) => {
    expect(sourceDateEpochArg(labels)).toEqual(expected);
});

test("exports the registry with OCI media types and rewrite-timestamp, the raw way docker-build passes on", () => {
    // provider/internal/export.go `parseExports` turns each key=value into an exporter attribute.
    expect(REGISTRY_EXPORT.split(",")).toEqual(["type=registry", "oci-mediatypes=true", "rewrite-timestamp=true"]);
});

test("both builds of a platform get the context's SOURCE_DATE_EPOCH, so the cache build stays a cache hit; a user's own value wins", async () => {
    const raw = validConfig() as Record<string, any>;
    raw.images[0].platformBuildArgs = { "linux/arm64": { SOURCE_DATE_EPOCH: "0" } };
    const fleet = new Fleet("fleet", {
        config: parseConfig(raw, context(makeProject())),
        project: "native-build-fleet",
        stack: "dev",
        sshPrivateKey: pulumi.secret("key"),
        labels: {
            [raw.images[0].name]: {
                "org.opencontainers.image.revision": "abc123",
                "org.opencontainers.image.created": "2026-12-06T21:03:27Z",
            },
        },
    });
    await valueOf(fleet.images);
    await settled(mocks.resources);
    const build = (name: string) =>
        mocks.resources.find((r) => r.type === "docker-build:index:Image" && r.name === name)?.inputs;
    const app = raw.images[0].name as string;
    for (const name of [`fleet-${app}-linux-amd64`, `fleet-${app}-linux-amd64-cache`]) {
        expect(build(name)?.buildArgs.SOURCE_DATE_EPOCH).toBe("1796591007");
    }
    expect(build(`fleet-${app}-linux-amd64`)?.exports).toEqual([{ raw: REGISTRY_EXPORT }]);
    expect(build(`fleet-${app}-linux-arm64`)?.buildArgs.SOURCE_DATE_EPOCH).toBe("0");
});
