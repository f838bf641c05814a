// The program's real script files (host/ for EC2 build hosts, runner/ for the machine that
// runs Pulumi), read verbatim: they are reviewed, shellchecked files, never text built up
// in TypeScript. Their data reaches them as arguments or environment variables.

import * as fs from "fs";
import * as path from "path";

/** Every script the program ships, by its path in the repository. */
export const SCRIPT_FILES = ["host/boot.sh", "host/publish-host-key.sh", "host/idle-check.sh", "runner/read-host-key.sh"] as const;
export type ScriptFile = (typeof SCRIPT_FILES)[number];

/**
 * The repository root: this module runs from shell/ under ts-node and jest, and from
 * bin/shell/ once run.js has compiled the program.
 */
const ROOT = [path.join(__dirname, ".."), path.join(__dirname, "..", "..")]
    .find((dir) => fs.existsSync(path.join(dir, "host", "boot.sh"))) ?? path.join(__dirname, "..");

/** The text of one of the program's script files. */
export function scriptFile(name: ScriptFile): string {
    return fs.readFileSync(path.join(ROOT, name), "utf8");
}
