// @pulumi/pulumi loads the whole TypeScript compiler whenever the package is imported: its
// closure serializer (runtime/closure/parseFunction.js) requires typescript-shim.js at the top,
// and that requires `typescript`, about 0.4 s of every run on this machine (docs/benchmarks.md).
// The serializer runs only for dynamic providers and serialized functions, which
// this program has none of. run.js calls this before the program, so the shim is evaluated,
// from its own file and exactly as written, when something first uses it, and never otherwise.
// It does the same for modules only some stacks use (issue 22): the AWS service modules
// (EC2 pools only) and `yaml` (Compose and user data only).

import * as path from "path";
import Module from "module";

/** What `require` itself uses to evaluate a file (node lib/internal/modules/cjs/loader.js). */
type ModuleInternals = typeof Module & { _nodeModulePaths(dir: string): string[] };
type LoadableModule = Module & { load(file: string): void };

/**
 * Puts a stand-in for the module file `file` into the require cache, unless it is already
 * loaded: its exports are a proxy that evaluates the real file on first use. Returns whether it
 * did. With `esModule`, the file is tsc output that marks itself `__esModule`, and the stand-in
 * says so without evaluating it: TypeScript's `import * as x` reads that mark at import time
 * (its `__importStar` helper), which would otherwise evaluate the module at once. The real
 * module is checked for the mark when it loads.
 */
export function deferModule(file: string, cache: NodeJS.Require["cache"] = require.cache, esModule = false): boolean {
    if (cache[file] !== undefined) {
        return false;
    }
    let real: object | undefined;
    const load = (): object => {
        if (real === undefined) {
            const loaded = new Module(file) as LoadableModule;
            loaded.filename = file;
            loaded.paths = (Module as ModuleInternals)._nodeModulePaths(path.dirname(file));
            loaded.load(file);
            real = loaded.exports as object;
            if (esModule && (real as { __esModule?: unknown }).__esModule !== true) {
                throw new Error(
                    `${file} was deferred as an ES module (startup/deferredModule.ts), but it does not mark itself __esModule; remove it from run.js's list`,
                );
            }
        }
        return real;
    };
    const standIn = new Module(file);
    standIn.filename = file;
    standIn.loaded = true;
    standIn.exports = new Proxy(
        {},
        {
            get: (_, key) =>
                esModule && key === "__esModule" && real === undefined ? true : (Reflect.get(load(), key) as unknown),
            has: (_, key) => Reflect.has(load(), key),
            ownKeys: () => Reflect.ownKeys(load()),
            getOwnPropertyDescriptor: (_, key) => {
                const descriptor = Reflect.getOwnPropertyDescriptor(load(), key);
                return descriptor === undefined ? undefined : { ...descriptor, configurable: true };
            },
        },
    );
    cache[file] = standIn;
    return true;
}
