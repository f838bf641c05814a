// Folders import one way (docs/development.md, "Which folder may import which"): every relative
// import in the program's TypeScript is read with TypeScript's own pre-parser (imports, re-exports,
// require and import() alike), and one that runs against the table fails, named by file and path.
// Inside a folder, no file imports another that imports it back, however long the loop.

import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

/** The program's folders, each with the folders it may import; "." is index.ts. */
const MAY_IMPORT: Record<string, string[]> = {
    ".": ["config", "plan", "components"],
    "components": ["config", "plan", "runner", "host"],
    "runner": ["host", "plan", "config"],
    "host": ["plan", "config"],
    "config": ["plan"],
    "plan": [],
    "startup": [],
    // Tooling beside the program: the policy pack and the scripts read the config contract only.
    // bench/, e2e/ and examples/ import no program code (they run it as a user does).
    "policy": ["config", "plan"],
    "scripts": ["config", "plan"],
};

/** Folders in the table that are not part of the compiled program (tsconfig.build.json). */
const TOOLING = ["policy", "scripts"];

const ROOT = path.join(__dirname, "..");

/** The folder a repository path belongs to: its first segment, or "." at the top. */
function folderOf(file: string): string {
    return file.includes("/") ? file.split("/")[0] : ".";
}

/** The program's .ts files, by repository path. */
function programFiles(): string[] {
    const walk = (dir: string): string[] =>
        fs
            .readdirSync(path.join(ROOT, dir), { withFileTypes: true })
            .flatMap((e) =>
                e.isDirectory()
                    ? e.name === "node_modules"
                        ? []
                        : walk(path.posix.join(dir, e.name))
                    : e.name.endsWith(".ts")
                      ? [path.posix.join(dir, e.name)]
                      : [],
            );
    return [
        "index.ts",
        ...Object.keys(MAY_IMPORT)
            .filter((f) => f !== ".")
            .flatMap(walk),
    ];
}

/** The relative imports of a file whose text is `source`, as written. */
function relativeImports(source: string): string[] {
    return ts
        .preProcessFile(source, true, true)
        .importedFiles.map((i) => i.fileName)
        .filter((spec) => spec.startsWith("."));
}

/** Every import of `file` (whose text is `source`) that the table forbids, as "file imports spec (folder → folder)". */
function forbiddenImports(file: string, source: string): string[] {
    const from = folderOf(file);
    return relativeImports(source).flatMap((spec) => {
        const to = folderOf(path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
        const allowed = to === from || (MAY_IMPORT[from] ?? []).includes(to);
        return allowed
            ? []
            : [
                  `${file} imports "${spec}" (${from} → ${to}; ${from} may import ${(MAY_IMPORT[from] ?? []).join(", ") || "nothing in the project"})`,
              ];
    });
}

/** The file a relative import of `file` names: `spec.ts`, or `spec/index.ts`; undefined for anything else (JSON). */
function importedFile(file: string, spec: string, exists: (f: string) => boolean): string | undefined {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
    return [`${target}.ts`, `${target}/index.ts`, target].find((f) => f.endsWith(".ts") && exists(f));
}

/**
 * Every import loop among `files` (imports by file), each once, as the files around it from
 * its first in `files`' order back to that file: ["a.ts", "b.ts", "a.ts"].
 */
function importCycles(imports: Record<string, string[]>): string[][] {
    const cycles: string[][] = [];
    const done = new Set<string>();
    const visit = (file: string, trail: string[]): void => {
        const at = trail.indexOf(file);
        if (at >= 0) {
            cycles.push([...trail.slice(at), file]);
            return;
        }
        if (done.has(file)) {
            return;
        }
        (imports[file] ?? []).forEach((next) => visit(next, [...trail, file]));
        done.add(file);
    };
    Object.keys(imports).forEach((file) => visit(file, []));
    return cycles;
}

describe("which folder may import which", () => {
    test("no program file imports a folder the table does not allow", () => {
        const files = programFiles();
        expect(files.length).toBeGreaterThan(50);
        expect(files.flatMap((f) => forbiddenImports(f, fs.readFileSync(path.join(ROOT, f), "utf8")))).toEqual([]);
    });

    test("no program file imports a file that imports it back, directly or through others", () => {
        const files = programFiles();
        const exists = (f: string) => fs.existsSync(path.join(ROOT, f));
        const imports = Object.fromEntries(
            files.map((f) => [
                f,
                relativeImports(fs.readFileSync(path.join(ROOT, f), "utf8")).flatMap(
                    (spec) => importedFile(f, spec, exists) ?? [],
                ),
            ]),
        );
        expect(Object.values(imports).flat().length).toBeGreaterThan(150);
        expect(importCycles(imports).map((cycle) => cycle.join(" → "))).toEqual([]);
    });

    test.each([
        [
            "two files",
            { "config/a.ts": ["config/b.ts"], "config/b.ts": ["config/a.ts"] },
            [["config/a.ts", "config/b.ts", "config/a.ts"]],
        ],
        [
            "a longer loop, entered from outside it",
            {
                "index.ts": ["config/a.ts"],
                "config/a.ts": ["config/b.ts"],
                "config/b.ts": ["config/c.ts"],
                "config/c.ts": ["config/a.ts"],
            },
            [["config/a.ts", "config/b.ts", "config/c.ts", "config/a.ts"]],
        ],
        ["a file importing itself", { "plan/a.ts": ["plan/a.ts"] }, [["plan/a.ts", "plan/a.ts"]]],
        [
            "a diamond, which is no loop",
            { "a.ts": ["b.ts", "c.ts"], "b.ts": ["d.ts"], "c.ts": ["d.ts"], "d.ts": [] },
            [],
        ],
    ])("finds an import loop: %s", (_, imports: Record<string, string[]>, cycles) => {
        expect(importCycles(imports)).toEqual(cycles);
    });

    test("resolves an import to the file or folder index it names", () => {
        const exists = (f: string) => ["config/schema.ts", "policy/index.ts"].includes(f);
        expect(importedFile("config/imagesSchema.ts", "./schema", exists)).toBe("config/schema.ts");
        expect(importedFile("scripts/x.ts", "../policy", exists)).toBe("policy/index.ts");
        expect(importedFile("config/a.ts", "../package.json", (f) => f === "package.json")).toBeUndefined();
    });

    test("the table has no cycle, so no two folders import each other", () => {
        const reaches = (from: string, to: string, seen = new Set<string>()): boolean =>
            MAY_IMPORT[from].some(
                (next) => next === to || (!seen.has(next) && (seen.add(next), reaches(next, to, seen))),
            );
        expect(Object.keys(MAY_IMPORT).filter((folder) => reaches(folder, folder))).toEqual([]);
    });

    test("every folder the program has, and the tooling that imports it, is in the table", () => {
        const dirs =
            fs.readFileSync(path.join(ROOT, "tsconfig.build.json"), "utf8").match(/"([a-z]+)\/\*\*\/\*\.ts"/g) ?? [];
        expect([...dirs.map((d) => d.slice(1, d.indexOf("/"))), ...TOOLING].sort()).toEqual(
            Object.keys(MAY_IMPORT)
                .filter((f) => f !== ".")
                .sort(),
        );
    });

    test.each(["bench", "e2e", "examples"])("%s/ imports no program code, so it needs no row", (dir) => {
        const walk = (d: string): string[] =>
            fs
                .readdirSync(path.join(ROOT, d), { withFileTypes: true })
                .flatMap((e) =>
                    e.isDirectory()
                        ? e.name === "node_modules"
                            ? []
                            : walk(path.posix.join(d, e.name))
                        : /\.[cm]?[jt]s$/.test(e.name)
                          ? [path.posix.join(d, e.name)]
                          : [],
                );
        const outward = walk(dir).flatMap((f) =>
            relativeImports(fs.readFileSync(path.join(ROOT, f), "utf8"))
                .filter((spec) => folderOf(path.posix.normalize(path.posix.join(path.posix.dirname(f), spec))) !== dir)
                .map((spec) => `${f} imports "${spec}"`),
        );
        expect(outward).toEqual([]);
    });

    test.each([
        [
            "plan/routing.ts",
            'import { FleetConfig } from "../config/schema";',
            'plan/routing.ts imports "../config/schema" (plan → config; plan may import nothing in the project)',
        ],
        [
            "runner/cli.ts",
            'export { fleet } from "../components/fleet";',
            'runner/cli.ts imports "../components/fleet" (runner → components; runner may import host, plan, config)',
        ],
        [
            "host/userData.ts",
            'const x = require("../runner/quote");',
            'host/userData.ts imports "../runner/quote" (host → runner; host may import plan, config)',
        ],
        [
            "config/load.ts",
            'import {\n    renderTags,\n} from "../components/imageBuild";',
            'config/load.ts imports "../components/imageBuild" (config → components; config may import plan)',
        ],
    ])("names %s's import that runs back up", (file, source, message) => {
        expect(forbiddenImports(file, source)).toEqual([message]);
    });

    test("allows imports inside a folder, down the table and of packages", () => {
        expect(
            forbiddenImports(
                "components/fleet.ts",
                'import { x } from "./builder";\nimport { y } from "../runner/builderSpec";\nimport * as pulumi from "@pulumi/pulumi";',
            ),
        ).toEqual([]);
        expect(forbiddenImports("index.ts", 'import { loadConfig } from "./config/load";')).toEqual([]);
    });
});
