// A preview with signing on: it runs no sign step (the command provider runs nothing in
// previews) and says what an update would sign.

import * as pulumi from "@pulumi/pulumi";
import { installMocks, settled, valueOf } from "./mocks";
import { context, makeProject, validConfig } from "./fixtures";
import { parseConfig } from "../config/schema";
import { Fleet } from "../components/fleet";

const mocks = installMocks(true);
const info = jest.spyOn(pulumi.log, "info");
const warn = jest.spyOn(pulumi.log, "warn");

test("a preview says which images and platforms an update would sign, and does not warn about unsigned images", async () => {
    const raw: any = validConfig();
    raw.images[0].tags = ["latest", "v1"];
    raw.signing = { mode: "kms", key: "awskms:///alias/release-signing" };
    const fleet = new Fleet("fleet", {
        config: parseConfig(raw, context(makeProject())),
        project: "native-build-fleet",
        stack: "dev",
        sshPrivateKey: pulumi.secret("K"),
        labels: {},
    });
    await valueOf(fleet.builder);
    await settled(mocks.resources);
    expect(pulumi.runtime.isDryRun()).toBe(true);
    expect(info.mock.calls.map((c) => c[0])).toContain(
        "an update signs the indexes (latest, v1) of app and attests provenance and an SPDX SBOM on its " +
            "linux/amd64, linux/arm64 images with cosign (kms), for digests this stack has not signed yet; a preview signs and pushes nothing",
    );
    expect(warn.mock.calls.map((c) => c[0]).filter((m) => m.includes("signing is not configured"))).toEqual([]);
});
