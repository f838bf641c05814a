// With signing, the digests a deploy reads wait for the sign step (components/imageBuild.ts):
// a sign that fails or hangs fails the update, and the stack keeps exporting the last digests
// that were signed. Under the mocks the sign command's registration is held open to see it.

import { installMocks } from "./mocks";
import { makeProject, validConfig } from "./fixtures";
import { keySigningContext, signingKey, SIGNING_PUBLIC_KEY, testFleet } from "./fleetFixtures";
import { parseConfig } from "../config/schema";

const mocks = installMocks();
let release: () => void = () => undefined;
const signRan = new Promise<void>((resolve) => {
    release = resolve;
});
mocks.hold = (name) => (name.endsWith("-sign") ? signRan : undefined);

const turns = () => new Promise((r) => setTimeout(r, 300));

test("a signed image's exported digests resolve only once its sign step has run", async () => {
    const raw: any = validConfig();
    raw.images[0].secrets = undefined;
    raw.signing = { mode: "key", publicKey: SIGNING_PUBLIC_KEY };
    const fleet = testFleet(parseConfig(raw, keySigningContext(makeProject())), { signingKey: signingKey() });
    let exported: any;
    fleet.images.apply((images) => {
        exported = images;
    });
    await turns();
    expect(mocks.resources.some((r) => r.name === "fleet-app-sign")).toBe(true);
    expect(exported).toBeUndefined();
    release();
    await turns();
    expect(exported.app.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(Object.values(exported.app.platforms).map((p: any) => p.ref)).toEqual(
        expect.arrayContaining([expect.stringMatching(/@sha256:[0-9a-f]{64}$/)]),
    );
});
