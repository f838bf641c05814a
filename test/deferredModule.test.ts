// What run.js does to the SDK's TypeScript shim: the module loads when first used, as written.
// Jest keeps its own module registry, so the checks run in a plain Node process.

import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { compileModules } from "./compiled";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-defer-"));
// A module that counts its evaluations and requires a neighbour, as the shim requires typescript.
fs.writeFileSync(path.join(dir, "heavy-dep.js"), "module.exports = { answer: 42 };\n");
fs.writeFileSync(
    path.join(dir, "heavy.js"),
    'globalThis.evaluated = (globalThis.evaluated || 0) + 1;\nmodule.exports = require("./heavy-dep");\n',
);

/** startup/deferredModule.ts compiled as run.js loads it (test/compiled.ts). */
const built = compileModules(["startup/deferredModule.ts"]);
afterAll(() => fs.rmSync(built, { recursive: true, force: true }));

/** Runs `body` in Node with deferModule and the module's path in scope; returns what it printed. */
function inNode(body: string): unknown {
    const script = `const { deferModule } = require(${JSON.stringify(path.join(built, "startup", "deferredModule.js"))});
const file = ${JSON.stringify(path.join(dir, "heavy.js"))};
const evaluated = () => globalThis.evaluated || 0;
const out = [];
${body}
console.log(JSON.stringify(out));`;
    return JSON.parse(
        execFileSync(process.execPath, ["-e", script], { encoding: "utf8", cwd: path.join(__dirname, "..") }),
    ) as unknown;
}

test("evaluates the module only when something first uses it, once, with its own requires", () => {
    expect(
        inNode(`
out.push(deferModule(file));
const mod = require(file);
out.push(evaluated());
out.push(mod.answer, "answer" in mod, Object.keys(mod), evaluated());
void mod.answer;
out.push(evaluated());
`),
    ).toEqual([true, 0, 42, true, ["answer"], 1, 1]);
});

test("leaves a module that is already loaded alone", () => {
    expect(
        inNode(`
const loaded = require(file);
out.push(deferModule(file), require(file) === loaded, evaluated());
`),
    ).toEqual([false, true, 1]);
});

describe("a module tsc compiled (run.js defers the AWS service modules so)", () => {
    // As tsc emits a module and `import * as m` reads it (its __importStar helper).
    fs.writeFileSync(
        path.join(dir, "esm.js"),
        '"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\nglobalThis.evaluated = (globalThis.evaluated || 0) + 1;\nexports.answer = 42;\n',
    );
    const esm = JSON.stringify(path.join(dir, "esm.js"));
    const importStar = "const importStar = (m) => (m && m.__esModule ? m : { default: m });";

    test("import * as m evaluates nothing until a member is used", () => {
        expect(
            inNode(`${importStar}
out.push(deferModule(${esm}, require.cache, true));
const m = importStar(require(${esm}));
out.push(evaluated(), m.answer, evaluated(), m.__esModule);
`),
        ).toEqual([true, 0, 42, 1, true]);
    });

    test("a module that turns out not to mark itself __esModule fails on first use, naming it", () => {
        expect(
            inNode(`
deferModule(file, require.cache, true);
try { void require(file).answer; out.push("loaded"); } catch (e) { out.push(e.message); }
`),
        ).toEqual([
            expect.stringContaining(
                "heavy.js was deferred as an ES module (startup/deferredModule.ts), but it does not mark itself __esModule",
            ),
        ]);
    });
});
