// @pulumi/pulumi loads the whole TypeScript compiler whenever the package is imported: its
// closure serializer (runtime/closure/parseFunction.js) requires typescript-shim.js at the top,
// and that requires `typescript`, about 0.4 s of every run on this machine (docs/benchmarks.md).
// The serializer runs only for dynamic providers and serialized functions, which
// this program has none of. run.js calls this before the program, so the shim is evaluated,
// from its own file and exactly as written, when something first uses it, and never otherwise.

import * as path from "path";
import Module from "module";

/** What `require` itself uses to evaluate a file (node lib/internal/modules/cjs/loader.js). */
type ModuleInternals = typeof Module & { _nodeModulePaths(dir: string): string[] };
type LoadableModule = Module & { load(file: string): void };

/**
 * Puts a stand-in for the module file `file` into the require cache, unless it is already
 * loaded: its exports are a proxy that evaluates the real file on first use. Returns whether it
 * did.
 */
export function deferModule(file: string, cache: NodeJS.Require["cache"] = require.cache): boolean {
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
        }
        return real;
    };
    const standIn = new Module(file);
    standIn.filename = file;
    standIn.loaded = true;
    standIn.exports = new Proxy({}, {
        get: (_, key) => Reflect.get(load(), key) as unknown,
        has: (_, key) => Reflect.has(load(), key),
        ownKeys: () => Reflect.ownKeys(load()),
        getOwnPropertyDescriptor: (_, key) => {
            const descriptor = Reflect.getOwnPropertyDescriptor(load(), key);
            return descriptor === undefined ? undefined : { ...descriptor, configurable: true };
        },
    });
    cache[file] = standIn;
    return true;
}
