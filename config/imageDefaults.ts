// What an image gets for a key it leaves unset, where the schema has no `.default()` for it
// because the absence itself means something: an image without `dockerfile` may give
// `dockerfileInline`, and a smoke test without `command` checks each platform's machine name
// rather than a custom expectation. The checks, the components, the size limits and the
// configuration reference (config/keyDocs.ts) all read these, so no copy can drift.

/** `images[].dockerfile` when unset: relative to the image's context. */
export const DEFAULT_DOCKERFILE = "Dockerfile";

/** `images[].test.command` when unset; its output must be one of the platform's `uname -m` names. */
export const DEFAULT_SMOKE_TEST_COMMAND: readonly string[] = Object.freeze(["uname", "-m"]);
