// Previews under Pulumi's mocks: what the platform images send docker-build, which decides
// from those inputs alone whether a preview builds. docker-build 0.0.22 builds during a
// preview only when no input is unknown and `normalize(true)` leaves the inputs as they are,
// which `push: true` never does (pulumi-docker-build#252, provider/internal/image.go
// `buildable`); the real-engine run (e2e/steps/preview.sh) measures the builds themselves.

import * as pulumi from "@pulumi/pulumi";
import { Fleet } from "../components/fleet";
import { REGISTRY_EXPORT } from "../components/imageBuild";
import { parseConfig } from "../config/schema";
import { context, makeProject, validConfig } from "./fixtures";
import { installMocks, isSecretValue, RecordedResource, settled, valueOf } from "./mocks";

const mocks = installMocks(true);

// Two stacks previewed side by side: "known" has its builder registered (an existing stack),
// "fresh" does not yet (a brand-new stack). Previewing a create, the command provider returns
// a known id but leaves `stdout` unknown (pulumi-go-provider infer `markComputed`); a mock
// that returns no `stdout` in a preview makes it unknown the same way.
const recorded = mocks.outputsFor;
mocks.outputsFor = (type, name, inputs) => {
    const out = recorded(type, name, inputs);
    return name === "fresh-builder-registration" ? { id: out.id, state: { ...inputs } } : out;
};

const root = makeProject();
const raw = validConfig() as Record<string, any>;
raw.images[0].tags = ["latest", "v2"];
const config = parseConfig(raw, context(root));
const key = pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----\nop\n-----END OPENSSH PRIVATE KEY-----\n");
const fleets = ["known", "fresh"].map(
    (name) => new Fleet(name, { config, project: "native-build-fleet", stack: "dev", sshPrivateKey: key, labels: {} }),
);

beforeAll(async () => {
    await Promise.all(fleets.map((fleet) => valueOf(fleet.builder)));
    await settled(mocks.resources);
});

const named = (name: string): RecordedResource => {
    const found = mocks.resources.find((r) => r.name === name);
    if (!found) throw new Error(`no resource named ${name}`);
    return found;
};
const platformImages = (fleet: string) => ["linux-amd64", "linux-arm64"].map((slug) => named(`${fleet}-app-${slug}`));

/** The paths of every unknown value in a resource's inputs as the SDK sent them. */
function unknownPaths(value: any, path = ""): string[] {
    if (pulumi.isUnknown(value)) {
        return [path];
    }
    if (isSecretValue(value)) {
        return unknownPaths(value.value, path);
    }
    if (value !== null && typeof value === "object") {
        return Object.entries(value).flatMap(([k, v]) => unknownPaths(v, path === "" ? k : `${path}.${k}`));
    }
    return [];
}

describe("platform images", () => {
    test.each(["known", "fresh"])(
        "%s: export to the registry with OCI media types and rewritten timestamps instead of setting push, and build on preview",
        (fleet) => {
            for (const image of platformImages(fleet)) {
                expect(image.inputs.push).toBe(false);
                expect(image.inputs.load).toBeUndefined();
                expect(image.inputs.exports).toEqual([{ raw: REGISTRY_EXPORT }]);
                expect(image.inputs.buildOnPreview).toBe(true);
            }
        },
    );

    test("no docker-build Image anywhere sets push, so none hits the skipped preview of #252", () => {
        const images = mocks.resources.filter((r) => r.type === "docker-build:index:Image");
        expect(images).toHaveLength(8);
        expect(images.filter((r) => r.inputs.push !== false)).toEqual([]);
    });

    test("push every platform tag, with the registry's credentials", () => {
        const [amd64] = platformImages("known");
        const repo = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app";
        expect(amd64.inputs.tags).toEqual([`${repo}:latest-linux-amd64`, `${repo}:v2-linux-amd64`]);
        expect(amd64.inputs.registries).toEqual([
            { address: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", username: "AWS", password: "ecr-token-value" },
        ]);
    });

    test("join each index from the platform images' `<first tag>@<digest>` refs, which docker-build sets for any registry export", () => {
        // provider/internal/image.go `Create`: ref = addDigest(first tag, digest) whenever the
        // exporter returned a digest, whether the push came from `push` or from `exports`.
        const refs = platformImages("known").map((image) => `${image.inputs.tags[0]}@sha256:`);
        for (const tag of ["latest", "v2"]) {
            const sources: string[] = named(`known-app-${tag}`).inputs.sources;
            expect(sources).toHaveLength(2);
            sources.forEach((source, i) => expect(source.startsWith(refs[i])).toBe(true));
        }
    });
});

describe("what a preview leaves unknown", () => {
    test("an existing stack's platform images have every input known, so the preview builds them", () => {
        for (const image of platformImages("known")) {
            expect(unknownPaths(image.raw)).toEqual([]);
            expect(image.inputs.labels["dev.native-build-fleet.builder"]).toBe("native-build-fleet-dev");
        }
    });

    test("on a brand-new stack only the builder label is unknown, so the preview waits for the builder to exist", () => {
        for (const image of platformImages("fresh")) {
            expect(unknownPaths(image.raw)).toEqual(["labels.dev.native-build-fleet.builder"]);
            expect(image.inputs.builder.name).toMatch(/^native-build-fleet-dev-(x86|arm)-0$/);
        }
    });
});
