// The context parseConfig reads besides the raw values. A file of its own so that the section
// checks (config/imagesSchema.ts) can take it without importing config/schema.ts, which imports
// them: no file imports another that imports it back (docs/development.md).

import { RunnerFacts } from "./buildInputs";
import { SigningSecretsSet } from "./signing";

/** What parseConfig needs to know besides the raw values. */
export interface ConfigContext {
    /** The directory that holds Pulumi.yaml; contexts must stay inside it. */
    projectRoot: string;
    project: string;
    stack: string;
    /** Which secret config keys are set (their values never pass through here). */
    secretsSet: { sshPrivateKey: boolean; registryPassword: boolean } & SigningSecretsSet;
    /**
     * The tag templates of `images[i]` as written, when the tags passed in are already
     * rendered for this build (config/load.ts), so rules about templates can see them.
     */
    tagTemplates?: Record<string, string[]>;
    /** Build-secret reading and the SSH agent, from loadConfig; without them an image's secrets are refused. */
    runner?: RunnerFacts;
    /** The Compose file as `docker compose config` prints it, read by loadConfig. */
    compose?: unknown;
}
