// The registration resource's `delete`: runner/remove-builders.sh of the checkout that runs
// `pulumi destroy`, run by runner/run-pinned.sh only when its SHA-256 is the one the last
// `pulumi up` recorded. The state holds that digest and the script's data, never its text, so
// it carries no program (issue 20). It stays a shell script because `pulumi destroy` does not
// run the program, so nothing compiles the runner (runner/cli.ts) first.

import { scriptDigest } from "./scriptFiles";

/** The delete's command text: one short fixed line, run in the project directory (runner/run-pinned.sh). */
export const REMOVE_BUILDERS_COMMAND =
    'exec /bin/bash -p runner/run-pinned.sh runner/remove-builders.sh "$NBF_REMOVE_BUILDERS_SHA256"';

/**
 * The registration's interpreter, and so the delete's. Whoever writes the state can add
 * environment entries to the delete, and bash runs code from some of them before the first
 * line: the file BASH_ENV names, functions in BASH_FUNC_<name>%% entries (one named `exec` or
 * `cat` replaces the command), and SHELLOPTS=xtrace, which expands PS4 (`$(…)`) for every
 * command. `-p` makes bash ignore all three (bash(1), "-p": "the $ENV and $BASH_ENV files are
 * not processed, shell functions are not inherited from the environment, and the SHELLOPTS,
 * BASHOPTS, CDPATH, and GLOBIGNORE variables ... are ignored"); so do the delete line and
 * run-pinned.sh for the shells they start (test/shell.test.ts runs each attack).
 */
export const REMOVE_BUILDERS_INTERPRETER = ["/bin/bash", "-p", "-c"];

/** The environment of the delete: the script's pin, the stack builder's name, every builder to remove and the stack that owns them. */
export function removeBuildersEnvironment(name: string, builders: string[], owner: string): Record<string, string> {
    return {
        NBF_REMOVE_BUILDERS_SHA256: scriptDigest("runner/remove-builders.sh"),
        NBF_BUILDER: name,
        NBF_BUILDERS: builders.join("\n"),
        NBF_OWNER: owner,
    };
}
