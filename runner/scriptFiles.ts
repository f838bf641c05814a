// The runner's real script files (runner/*.sh; the build hosts' are host/scriptFiles.ts), read
// verbatim: they are reviewed, shellchecked files, never text built up in TypeScript. Their
// data reaches them as arguments, environment variables or standard input.
// Also the runner's TypeScript entry points (runner/cli.ts): the one-line command a resource
// runs, and a digest of the code behind it for the resource's inputs.

import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";

/** Every script the runner ships, by its path in the repository. */
export const SCRIPT_FILES = [
    "runner/read-host-key.sh",
    "runner/remove-builders.sh",
    "runner/run-pinned.sh",
    "runner/watchdog.sh",
] as const;
export type ScriptFile = (typeof SCRIPT_FILES)[number];

/**
 * The repository root: this module runs from runner/ under ts-node and jest, and from
 * bin/runner/ once run.js has compiled the program (tsc does not copy the scripts there).
 */
const ROOT =
    [path.join(__dirname, ".."), path.join(__dirname, "..", "..")].find((dir) =>
        fs.existsSync(path.join(dir, "runner", "watchdog.sh")),
    ) ?? path.join(__dirname, "..");

/** The text of one of the program's script files. */
export function scriptFile(name: ScriptFile): string {
    return fs.readFileSync(path.join(ROOT, name), "utf8");
}

/** The SHA-256 (hex) of one of the program's script files, over its bytes as they are on disk. */
export function scriptDigest(name: ScriptFile): string {
    return createHash("sha256")
        .update(fs.readFileSync(path.join(ROOT, name)))
        .digest("hex");
}

/** The runner's entry points that resources run, each by the module that implements it. */
export const ENTRY_POINTS = {
    "readiness": "runner/readiness.ts",
    "smoke-test": "runner/smokeTest.ts",
    "verify-index": "runner/verifyIndex.ts",
    "attest": "runner/attest.ts",
} as const;
export type EntryPoint = keyof typeof ENTRY_POINTS;

/** The command a resource runs: one short line, its data in NBF_SPEC and its secret on standard input. */
export function runnerCommand(entry: EntryPoint): string {
    return `node bin/runner/cli.js ${entry}`;
}

/** The project modules `file` imports (relative imports only), by their paths in the repository. */
export function localImports(file: string, source: string): string[] {
    return [...source.matchAll(/^import [^;]*? from "(\.{1,2}\/[^"]+)";$/gm)].map(
        (m) => `${path.posix.join(path.posix.dirname(file), m[1])}.ts`,
    );
}

/** `file` and every project module it imports, directly or not, in a stable order. */
export function moduleClosure(file: string, read: (f: string) => string): string[] {
    const seen = new Set<string>();
    const visit = (f: string) => {
        if (!seen.has(f)) {
            seen.add(f);
            localImports(f, read(f)).forEach(visit);
        }
    };
    visit(file);
    return [...seen].sort();
}

/**
 * sha256 over the sources of an entry point: its module, every project module it imports, and
 * runner/cli.ts. A resource carries it in its inputs (NBF_CODE), so editing that code updates
 * the resources that run it, as editing a script's text does.
 */
export function sourceDigest(module: string, read: (f: string) => string): string {
    const hash = createHash("sha256");
    for (const f of [...new Set(["runner/cli.ts", ...moduleClosure(module, read)])]) {
        hash.update(`${f}\0${read(f)}\0`);
    }
    return hash.digest("hex");
}

const digests = new Map<EntryPoint, string>();

/** The digest of an entry point's sources in this checkout (read once per program run). */
export function codeDigest(entry: EntryPoint): string {
    let digest = digests.get(entry);
    if (digest === undefined) {
        digest = sourceDigest(ENTRY_POINTS[entry], (f) => fs.readFileSync(path.join(ROOT, f), "utf8"));
        digests.set(entry, digest);
    }
    return digest;
}
