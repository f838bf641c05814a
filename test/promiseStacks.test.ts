// What run.js does to the SDK before the program: the promise tags lose their frames, nothing else.

import { PromiseTagger, withoutPromiseStacks } from "../startup/promiseStacks";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const sdk = () => ({ ...(require("@pulumi/pulumi/runtime/debuggable") as PromiseTagger) });
const stackOf = (p: Promise<unknown>) => (p as unknown as { _debugStackTrace: string })._debugStackTrace;

test("tags the SDK's promises without a stack trace, and keeps the promise and the stack trace limit", async () => {
    const tagger = sdk();
    expect(withoutPromiseStacks(tagger, {})).toBe(true);
    const limit = Error.stackTraceLimit;
    const inner = Promise.resolve("value");
    await expect(tagger.debuggablePromise(inner, "ctx")).resolves.toBe("value");
    expect(stackOf(inner)).toMatch(/^Error/);
    expect(stackOf(inner)).not.toMatch(/\n\s+at /);
    expect(Error.stackTraceLimit).toBe(limit);
    expect(new Error("after").stack).toMatch(/\n\s+at /);
});

test("passes the SDK's rejections through, and restores the limit", async () => {
    const tagger = sdk();
    withoutPromiseStacks(tagger, {});
    const limit = Error.stackTraceLimit;
    await expect(tagger.debuggablePromise(Promise.reject(new Error("no")), "ctx")).rejects.toThrow("no");
    expect(Error.stackTraceLimit).toBe(limit);
});

test("keeps the stack traces when PULUMI_DEBUG_PROMISE_LEAKS asks for them", async () => {
    const tagger = sdk();
    expect(withoutPromiseStacks(tagger, { PULUMI_DEBUG_PROMISE_LEAKS: "1" })).toBe(false);
    const inner = Promise.resolve(1);
    await tagger.debuggablePromise(inner, "ctx");
    expect(stackOf(inner)).toMatch(/^Error[^\n]*\n\s+at /);
});
