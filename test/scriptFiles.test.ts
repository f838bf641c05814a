// The code behind each resource's entry point is in its inputs by digest: an edit to the entry
// point's module, or to any project module it imports, changes the digest and so updates the
// resources that run it.

import * as fs from "fs";
import * as path from "path";
import { codeDigest, ENTRY_POINTS, localImports, moduleClosure, sourceDigest } from "../runner/scriptFiles";

const repo = (f: string) => fs.readFileSync(path.join(__dirname, "..", f), "utf8");

const FAKE: Record<string, string> = {
    "runner/cli.ts": 'import { a } from "./a";\n',
    "runner/a.ts": 'import { b } from "./b";\nimport * as fs from "fs";\nimport {\n    c,\n} from "../shell/c";\n',
    "runner/b.ts": "export const b = 1;\n",
    "shell/c.ts": 'import { a } from "../runner/a";\nexport const c = 2;\n',
    "runner/other.ts": "export const other = 3;\n",
};

describe("the code digest of an entry point", () => {
    test("follows the project's own imports, also across directories and over several lines, and not packages", () => {
        expect(localImports("runner/a.ts", FAKE["runner/a.ts"])).toEqual(["runner/b.ts", "shell/c.ts"]);
        expect(moduleClosure("runner/a.ts", (f) => FAKE[f])).toEqual(["runner/a.ts", "runner/b.ts", "shell/c.ts"]);
    });

    test.each([["runner/a.ts"], ["runner/b.ts"], ["shell/c.ts"], ["runner/cli.ts"]])(
        "changes when %s changes",
        (file) => {
            const before = sourceDigest("runner/a.ts", (f) => FAKE[f]);
            expect(sourceDigest("runner/a.ts", (f) => (f === file ? `${FAKE[f]}// edited\n` : FAKE[f]))).not.toBe(
                before,
            );
        },
    );

    test("does not change for a module the entry point does not use", () => {
        expect(sourceDigest("runner/a.ts", (f) => (f === "runner/other.ts" ? "edited" : FAKE[f]))).toBe(
            sourceDigest("runner/a.ts", (f) => FAKE[f]),
        );
    });

    test.each(Object.entries(ENTRY_POINTS))(
        "%s covers its module and every module it imports in this checkout",
        (entry, module) => {
            const closure = moduleClosure(module, repo);
            expect(closure).toEqual(expect.arrayContaining([module, "runner/process.ts"]));
            expect(codeDigest(entry as keyof typeof ENTRY_POINTS)).toBe(sourceDigest(module, repo));
        },
    );
});
