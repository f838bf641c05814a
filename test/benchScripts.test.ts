// The benchmarks' shell scripts (bench/*.sh) pass shellcheck, following what they source
// (e2e/env.sh, bench/lib.sh), as the program's own scripts do (test/shell.test.ts).

import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

const root = path.join(__dirname, "..");
const scripts = fs
    .readdirSync(path.join(root, "bench"))
    .filter((f) => f.endsWith(".sh"))
    .map((f) => `bench/${f}`);

describe("benchmark scripts", () => {
    test.each(scripts)("%s passes shellcheck", (script) => {
        const result = spawnSync("shellcheck", ["-x", "--severity", "style", script], { cwd: root, encoding: "utf8" });
        if (result.error) {
            throw new Error(
                `shellcheck is not installed (${result.error.message}); run the install command from README.md`,
            );
        }
        expect(result.stdout + result.stderr).toBe("");
    });
});
