// The per-user directory every file holding the fleet's key or registry credentials is written
// under, so that what a killed run left is found again: by the next run (runner/process.ts
// sweepDead) and by a CI job's cleanup (scripts/ci-remove-builder.sh). It lives in config/
// because the config check (config/privateKey.ts) writes the key there too, and config/
// imports nothing from runner/ (docs/development.md).

import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/**
 * Where the private directories live: `${TMPDIR:-/tmp}/nbf-<uid>`, 0700 and this user's. Each
 * entry is named `nbf-<kind>-<pid>-…`, the pid of the process that wrote it, which is how the
 * sweeps tell a dead run's entry from a live one's.
 */
export function privateRoot(): string {
    const root = path.join(os.tmpdir(), `nbf-${process.getuid?.() ?? "user"}`);
    fs.mkdirSync(root, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(root);
    if (!st.isDirectory() || (process.getuid !== undefined && st.uid !== process.getuid())) {
        throw new Error(
            `${root} is not a directory of this user; remove it, so that keys and registry credentials are never written into another user's directory`,
        );
    }
    fs.chmodSync(root, 0o700);
    return root;
}
