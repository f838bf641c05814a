// The build hosts' real script files (host/*.sh), read verbatim for the user data and the
// readiness steps: reviewed, shellchecked files, never text built up in TypeScript. Their data
// reaches them as arguments. The runner's own scripts have their loader beside them
// (runner/scriptFiles.ts), so neither folder imports the other's to read its files.

import * as fs from "fs";
import * as path from "path";

/** Every script the program ships to a build host, by its path in the repository. */
export const SCRIPT_FILES = [
    "host/boot.sh",
    "host/publish-host-key.sh",
    "host/idle-check.sh",
    "host/boot-wait.sh",
    "host/docker-check.sh",
    "host/buildkit-check.sh",
] as const;
export type ScriptFile = (typeof SCRIPT_FILES)[number];

/**
 * The repository root: this module runs from host/ under ts-node and jest, and from bin/host/
 * once run.js has compiled the program (tsc does not copy the scripts there).
 */
const ROOT =
    [path.join(__dirname, ".."), path.join(__dirname, "..", "..")].find((dir) =>
        fs.existsSync(path.join(dir, "host", "boot.sh")),
    ) ?? path.join(__dirname, "..");

/** The text of one of the build hosts' script files. */
export function scriptFile(name: ScriptFile): string {
    return fs.readFileSync(path.join(ROOT, name), "utf8");
}
