// Reads the engine's event log (one JSON event a line, from `pulumi --event-log`, through a
// FIFO) on standard input and writes each event to standard output with the time it arrived,
// in milliseconds since the epoch, as its first key `nbfMs`. The engine's own `timestamp` is
// whole seconds (pulumi sdk/go/common/apitype/events.go `EngineEvent.Timestamp`), too coarse
// for steps that take a tenth of a second. Plain JavaScript: it must be reading before the CLI
// writes its first event, so it cannot wait for a compiler.
/* global process */
"use strict";

let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
    const now = Date.now();
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop();
    const out = lines
        .filter((l) => l.startsWith("{") && l.length > 2)
        .map((l) => `{"nbfMs":${now},${l.slice(1)}\n`)
        .join("");
    if (out !== "") {
        process.stdout.write(out);
    }
});
process.stdin.on("end", () => {
    if (pending.startsWith("{") && pending.length > 2) {
        process.stdout.write(`{"nbfMs":${Date.now()},${pending.slice(1)}\n`);
    }
});
