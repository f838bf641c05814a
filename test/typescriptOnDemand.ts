// The `typescript` module of the unit suite (jest.config.js maps the bare name here): the real
// one, loaded on first use. @pulumi/pulumi requires TypeScript when it loads (its closure
// serializer, runtime/closure/parseFunction.js through typescript-shim.js), although only
// serializing a function to run in the cloud uses it, which no test under the mocks does.
// Jest gives each test file its own module registry, so every suite that imports the SDK paid
// for evaluating the 9 MB compiler again: about a third of a second of CPU each (measured with
// process.cpuUsage around `require("@pulumi/pulumi")` in a jest worker). Suites that do use
// TypeScript (test/compiled.ts, test/layout.test.ts) get the same module at their first access.

type TypeScript = typeof import("typescript");

const target = {} as TypeScript;
let loaded = false;

/** Copies the real module's properties onto the proxy's target once, so the proxy's invariants hold. */
function real(): TypeScript {
    if (!loaded) {
        loaded = true;
        // The file itself: the bare name would map back to this module.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        Object.defineProperties(target, Object.getOwnPropertyDescriptors(require("typescript/lib/typescript.js")));
    }
    return target;
}

export = new Proxy(target, {
    get: (_, key) => Reflect.get(real(), key),
    has: (_, key) => Reflect.has(real(), key),
    ownKeys: () => Reflect.ownKeys(real()),
    getOwnPropertyDescriptor: (_, key) => Reflect.getOwnPropertyDescriptor(real(), key),
});
