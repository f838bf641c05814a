// Reading an image's indexes back: the comparison as a pure function, and the entry point's
// function run for real against a stub docker that serves an index document per reference.

import * as fs from "fs";
import * as path from "path";
import { compareIndex, verifyIndexes } from "../runner/verifyIndex";
import { sandbox } from "./sandbox";

const AMD = `sha256:${"a".repeat(64)}`;
const ARM = `sha256:${"b".repeat(64)}`;
const V7 = `sha256:${"c".repeat(64)}`;
const EXPECTED = { "linux/amd64": AMD, "linux/arm64": ARM, "linux/arm/v7": V7 };
const LATEST = `registry.example.com/app:latest@sha256:${"f".repeat(64)}`;
const V1 = `registry.example.com/app:v1@sha256:${"f".repeat(64)}`;

function index(manifests: object[]): string {
    return JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests });
}

const platform = (architecture: string, variant?: string) => ({
    os: "linux",
    architecture,
    ...(variant ? { variant } : {}),
});
const BUILT = index([
    { digest: AMD, platform: platform("amd64") },
    { digest: ARM, platform: platform("arm64") },
    { digest: V7, platform: platform("arm", "v7") },
]);

describe("comparing an index with what was built", () => {
    test.each([
        [
            "exactly the built platforms with their digests",
            BUILT,
            [],
            [`linux/amd64 ${AMD}`, `linux/arm64 ${ARM}`, `linux/arm/v7 ${V7}`],
        ],
        [
            "a wrong digest, a missing platform and an extra one",
            index([
                { digest: ARM, platform: platform("amd64") },
                { digest: V7, platform: platform("arm", "v7") },
                { digest: AMD, platform: platform("s390x") },
            ]),
            [
                `linux/amd64 is ${ARM}, but its build produced ${AMD}`,
                "it does not list linux/arm64",
                "it also lists linux/s390x",
            ],
            [],
        ],
        [
            "attestation entries, whose platform is unknown/unknown, which are not platforms",
            index([
                ...JSON.parse(BUILT).manifests,
                { digest: `sha256:${"d".repeat(64)}`, platform: { os: "unknown", architecture: "unknown" } },
            ]),
            [],
            [`linux/amd64 ${AMD}`, `linux/arm64 ${ARM}`, `linux/arm/v7 ${V7}`],
        ],
        [
            "no manifests at all",
            index([]),
            ["it does not list linux/amd64", "it does not list linux/arm64", "it does not list linux/arm/v7"],
            [],
        ],
    ])("%s", (_, document, problems, listing) => {
        expect(compareIndex(document, EXPECTED)).toEqual({ problems, listing });
    });

    test("says so when the registry answers with something that is not JSON", () => {
        expect(compareIndex("<html>", EXPECTED).problems[0]).toMatch(/^it is not a JSON document \(/);
    });
});

/** A docker stub serving `served[ref]` (exit 1 and the text on stderr for a ref not listed as good). */
function box(served: Record<string, string>, failing: Record<string, string> = {}) {
    const b = sandbox("nbf-verify-");
    for (const [i, ref] of Object.keys({ ...served, ...failing }).entries()) {
        fs.writeFileSync(path.join(b.dir, `served-${i}`), served[ref] ?? failing[ref]);
    }
    const refs = Object.keys({ ...served, ...failing });
    b.stub(
        "docker",
        [
            `cp "$DOCKER_CONFIG/config.json" '${b.dir}'/config.json`,
            `[ -e "$DOCKER_CONFIG/cli-plugins" ] && echo linked > '${b.dir}'/plugins`,
            "ref=${!#}",
            ...refs.map(
                (ref, i) =>
                    `[ "$ref" = '${ref}' ] && { ${ref in failing ? `cat '${b.dir}/served-${i}' >&2; exit 1` : `cat '${b.dir}/served-${i}'; exit 0`}; }`,
            ),
            "exit 3",
        ].join("\n"),
    );
    fs.mkdirSync(path.join(b.home, ".docker", "cli-plugins"), { recursive: true });
    return b;
}

describe("the verify-index entry point", () => {
    test("reads every tag's index back with the stack's credentials and prints the listing they share", async () => {
        const b = box({ [LATEST]: BUILT, [V1]: BUILT });
        const listing = await verifyIndexes(
            { registry: "registry.example.com", refs: [LATEST, V1], platforms: EXPECTED },
            "ci:s3cret",
            b.runner({ DOCKER_CONFIG: "" }),
        );
        expect(listing).toEqual([`linux/amd64 ${AMD}`, `linux/arm64 ${ARM}`, `linux/arm/v7 ${V7}`]);
        expect(b.calls("docker").sort()).toEqual([
            `buildx imagetools inspect --raw ${LATEST}`,
            `buildx imagetools inspect --raw ${V1}`,
        ]);
        expect(JSON.parse(b.read("config.json"))).toEqual({
            auths: { "registry.example.com": { auth: Buffer.from("ci:s3cret").toString("base64") } },
        });
        expect(b.read("plugins")).toBe("linked\n");
    });

    test("fails naming each index that cannot be read or is not what was built", async () => {
        const wrong = index([
            { digest: AMD, platform: platform("amd64") },
            { digest: ARM, platform: platform("arm64") },
        ]);
        const b = box({ [V1]: wrong }, { [LATEST]: "unauthorized: authentication required\n" });
        await expect(
            verifyIndexes(
                { registry: "registry.example.com", refs: [LATEST, V1], platforms: EXPECTED },
                "ci:s3cret",
                b.runner(),
            ),
        ).rejects.toThrow(
            [
                `could not read back the index ${LATEST}: unauthorized: authentication required`,
                `the index ${V1} in the registry is not what was built: it does not list linux/arm/v7`,
            ].join("\n"),
        );
    });
});
