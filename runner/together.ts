// Independent work of one runner step run at once, without losing what sequential code gave
// for free: a failure is the first one that happened, with its own message, and the step
// still waits for everything else it started, so no child process outlives the step and its
// private directory is removed only after the last one ended (runner/process.ts).

/** Awaits every task; rejects with the earliest failure once all have settled, else resolves with their results in order. */
export async function together<T>(tasks: Promise<T>[]): Promise<T[]> {
    let first: { error: unknown } | undefined;
    const results = await Promise.allSettled(
        tasks.map((task) =>
            task.catch((error: unknown) => {
                first ??= { error };
                throw error;
            }),
        ),
    );
    if (first !== undefined) {
        throw first.error;
    }
    return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** A function of one string key that runs once per key: later calls share the first call's promise. */
export function oncePerKey<T>(f: (key: string) => Promise<T>): (key: string) => Promise<T> {
    const started = new Map<string, Promise<T>>();
    return (key) => {
        let p = started.get(key);
        if (p === undefined) {
            p = f(key);
            started.set(key, p);
        }
        return p;
    };
}
