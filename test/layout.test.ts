// Folders import one way (docs/development.md, "Which folder may import which"): every relative
// import in the program's TypeScript is read with TypeScript's own pre-parser (imports, re-exports,
// require and import() alike), and one that runs against the table fails, named by file and path.

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
};

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
                    ? walk(path.posix.join(dir, e.name))
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

/** Every import of `file` (whose text is `source`) that the table forbids, as "file imports spec (folder → folder)". */
function forbiddenImports(file: string, source: string): string[] {
    const from = folderOf(file);
    return ts
        .preProcessFile(source, true, true)
        .importedFiles.map((i) => i.fileName)
        .filter((spec) => spec.startsWith("."))
        .flatMap((spec) => {
            const to = folderOf(path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
            const allowed = to === from || (MAY_IMPORT[from] ?? []).includes(to);
            return allowed
                ? []
                : [
                      `${file} imports "${spec}" (${from} → ${to}; ${from} may import ${(MAY_IMPORT[from] ?? []).join(", ") || "nothing in the project"})`,
                  ];
        });
}

describe("which folder may import which", () => {
    test("no program file imports a folder the table does not allow", () => {
        const files = programFiles();
        expect(files.length).toBeGreaterThan(50);
        expect(files.flatMap((f) => forbiddenImports(f, fs.readFileSync(path.join(ROOT, f), "utf8")))).toEqual([]);
    });

    test("the table has no cycle, so no two folders import each other", () => {
        const reaches = (from: string, to: string, seen = new Set<string>()): boolean =>
            MAY_IMPORT[from].some(
                (next) => next === to || (!seen.has(next) && (seen.add(next), reaches(next, to, seen))),
            );
        expect(Object.keys(MAY_IMPORT).filter((folder) => reaches(folder, folder))).toEqual([]);
    });

    test("every folder the program has is in the table", () => {
        const dirs =
            fs.readFileSync(path.join(ROOT, "tsconfig.build.json"), "utf8").match(/"([a-z]+)\/\*\*\/\*\.ts"/g) ?? [];
        expect(dirs.map((d) => d.slice(1, d.indexOf("/"))).sort()).toEqual(
            Object.keys(MAY_IMPORT)
                .filter((f) => f !== ".")
                .sort(),
        );
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
