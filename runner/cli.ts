// Entry point of the local commands that register the fleet's builders:
//   node bin/runner/cli.js preview|update|register
// Standard input: `{"spec": FleetBuildersSpec, "privateKey": "…"}`; the key never touches
// argv or the environment. Standard output: the EnsureReport as JSON. The command text stays
// one short line, so a failure reads as this program's own message.

import { FleetBuildersSpec } from "./builderSpec";
import { ensureBuilders, Mode, RunnerError } from "./registerBuilders";

async function main(): Promise<void> {
    const mode = process.argv[2] as Mode;
    if (!["preview", "update", "register"].includes(mode)) {
        throw new RunnerError(`usage: cli.js preview|update|register (got ${mode ?? "nothing"})`);
    }
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) {
        chunks.push(chunk as Buffer);
    }
    const { spec, privateKey } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { spec: FleetBuildersSpec; privateKey: string };
    const report = await ensureBuilders(spec, privateKey, mode, {
        env: process.env,
        log: (line) => process.stderr.write(`${line}\n`),
        sleep: (s) => new Promise((resolve) => setTimeout(resolve, s * 1000)),
        now: () => Date.now(),
    });
    process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof RunnerError ? e.message : e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
});
