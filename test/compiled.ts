// Project modules compiled to JavaScript, for tests that run them in a process of their own as
// the resources do (`node bin/runner/cli.js <mode>`). run.js compiles with tsc and
// tsconfig.build.json, which type-checks nothing (`noCheck`) but still loads the whole program
// and every SDK's declarations: about 50 s of the unit suite on this machine, and ts-node in each
// child process costs seconds per start. tsconfig.json sets `isolatedModules`, so each file
// compiles on its own to the JavaScript tsc would emit (TypeScript handbook, "isolatedModules":
// "ensures that each file can be safely transpiled without relying on other imports"); this
// transpiles only the given modules and the project modules they import, with those options.

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";

const REPO = path.join(__dirname, "..");

/** tsconfig.build.json's compiler options: what run.js compiles the program with. */
function buildOptions(): ts.CompilerOptions {
    const file = path.join(REPO, "tsconfig.build.json");
    const read = ts.readConfigFile(file, (f) => ts.sys.readFile(f));
    const { options, errors } = ts.parseJsonConfigFileContent(read.config, ts.sys, REPO, undefined, file);
    if (errors.length > 0) {
        throw new Error(
            ts.formatDiagnostics(errors, {
                getCanonicalFileName: (f) => f,
                getCurrentDirectory: () => REPO,
                getNewLine: () => "\n",
            }),
        );
    }
    return { ...options, noEmit: false };
}

/** The project source file a relative import of `from` names, or undefined for a package. */
function resolveImport(from: string, specifier: string): string | undefined {
    if (!specifier.startsWith(".")) {
        return undefined;
    }
    const base = path.resolve(path.dirname(from), specifier);
    const found = [`${base}.ts`, path.join(base, "index.ts")].find((f) => fs.existsSync(f));
    if (found === undefined) {
        throw new Error(
            `${path.relative(REPO, from)} imports ${specifier}, which is no TypeScript file of the project`,
        );
    }
    return found;
}

/**
 * Compiles `entries` (paths relative to the repository, such as "runner/cli.ts") and every
 * project module they import into a new directory laid out as the repository is, with its
 * node_modules linked; returns the directory. The caller removes it.
 */
export function compileModules(entries: string[]): string {
    const options = buildOptions();
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-compiled-"));
    const seen = new Set<string>();
    const queue = entries.map((e) => path.join(REPO, e));
    while (queue.length > 0) {
        const file = queue.pop()!;
        if (seen.has(file)) {
            continue;
        }
        seen.add(file);
        const source = fs.readFileSync(file, "utf8");
        const { outputText, diagnostics } = ts.transpileModule(source, {
            compilerOptions: options,
            fileName: file,
            reportDiagnostics: true,
        });
        if (diagnostics && diagnostics.length > 0) {
            throw new Error(
                ts.formatDiagnostics(diagnostics, {
                    getCanonicalFileName: (f) => f,
                    getCurrentDirectory: () => REPO,
                    getNewLine: () => "\n",
                }),
            );
        }
        const target = path.join(out, path.relative(REPO, file)).replace(/\.ts$/, ".js");
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, outputText);
        for (const imported of ts.preProcessFile(source, true, true).importedFiles) {
            const resolved = resolveImport(file, imported.fileName);
            if (resolved !== undefined) {
                queue.push(resolved);
            }
        }
    }
    // The scripts beside the modules (runner/watchdog.sh, …), which runner/scriptFiles.ts reads
    // from the directory above its own when that has no host/boot.sh, as here.
    for (const dir of new Set([...seen].map((f) => path.dirname(f)))) {
        for (const entry of fs
            .readdirSync(dir, { withFileTypes: true })
            .filter((e) => e.isFile() && !e.name.endsWith(".ts"))) {
            fs.symlinkSync(path.join(dir, entry.name), path.join(out, path.relative(REPO, dir), entry.name));
        }
    }
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(out, "node_modules"));
    return out;
}
