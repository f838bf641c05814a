// The registration resource's `delete`: runner/remove-builders.sh, its text and its data in the
// resource's environment. It stays a shell script because `pulumi destroy` does not run the
// program, so nothing compiles the runner (runner/cli.ts) first.

import { scriptFile } from "./scriptFiles";

/** The delete's command text: one short line that runs the script from the environment. */
export const REMOVE_BUILDERS_COMMAND = 'exec /bin/bash -c "$NBF_REMOVE_BUILDERS" remove-builders.sh';

/** The environment of the delete: the script, the stack builder's name, every builder to remove and the stack that owns them. */
export function removeBuildersEnvironment(name: string, builders: string[], owner: string): Record<string, string> {
    return {
        NBF_REMOVE_BUILDERS: scriptFile("runner/remove-builders.sh"),
        NBF_BUILDER: name,
        NBF_BUILDERS: builders.join("\n"),
        NBF_OWNER: owner,
    };
}
