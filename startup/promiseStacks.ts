// The SDK tags every promise it tracks with `new Error().stack` (@pulumi/pulumi
// runtime/debuggable.js, debuggablePromise): tens per resource, for the inputs and outputs of
// each. It reads that text only to describe a leaked promise when PULUMI_DEBUG_PROMISE_LEAKS is
// set (runtime/debuggable.js, leakedPromises). Under pulumi, source-map-support formats each of
// those traces frame by frame (cmd/run/index.js registers it): at 50 images that was most of the
// program's time and a third of its memory (docs/benchmarks.md). run.js calls this before the
// program; the SDK's API offers no switch for it.

/** The SDK module that tags promises; internal, so untyped. */
export interface PromiseTagger {
    debuggablePromise: (...args: unknown[]) => unknown;
}

/**
 * Without PULUMI_DEBUG_PROMISE_LEAKS, the tag is captured with no frames: the promise, its leak
 * tracking and every other stack trace (errors, resources' source positions) stay as they were.
 * Returns whether it changed anything.
 */
export function withoutPromiseStacks(sdk: PromiseTagger, env: Record<string, string | undefined>): boolean {
    const tag = sdk.debuggablePromise;
    if (env.PULUMI_DEBUG_PROMISE_LEAKS || typeof tag !== "function") {
        return false;
    }
    sdk.debuggablePromise = (...args: unknown[]) => {
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = 0;
        try {
            return tag(...args);
        } finally {
            Error.stackTraceLimit = limit;
        }
    };
    return true;
}
