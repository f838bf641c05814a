// Entry point of the program's local commands, one short line each, so a failure reads
// `exit status 1: running "node bin/runner/cli.js <mode>"` and then this program's own message:
//   preview|update|register  the fleet's builders (runner/registerBuilders.ts); standard input:
//                            `{"spec": FleetBuildersSpec, "privateKey": "…"}`; prints the EnsureReport
//   readiness                one host's readiness check (runner/readiness.ts); NBF_SPEC: a
//                            ReadinessSpec; standard input: the operator's private key
//   smoke-test               an image's smoke tests (runner/smokeTest.ts); NBF_SPEC: a
//                            SmokeTestSpec; standard input: the registry's `user:password`;
//                            prints platform → output as JSON
//   verify-index             an image's indexes read back (runner/verifyIndex.ts); NBF_SPEC: an
//                            IndexExpectation; standard input: the registry's `user:password`
//   attest                   an image's SBOM and provenance attested, its indexes signed
//                            (runner/attest.ts); NBF_SPEC: an AttestSpec; standard input:
//                            AttestSecrets as JSON; prints the AttestReport
// Secrets arrive only on standard input, never in argv or the environment.

import { attest } from "./attest";
import { lineSplitter } from "./outputLines";
import { RunnerEnv, RunnerError } from "./process";
import { z } from "zod";
import { checkReadiness } from "./readiness";
import { ensureBuilders } from "./registerBuilders";
import { runSmokeTests } from "./smokeTest";
import {
    attestSecretsSchema,
    attestSpecSchema,
    ensureInputSchema,
    indexExpectationSchema,
    parseSpec,
    readinessSpecSchema,
    smokeTestSpecSchema,
} from "./specs";
import { verifyIndexes } from "./verifyIndex";

export const MODES = ["preview", "update", "register", "readiness", "smoke-test", "verify-index", "attest"] as const;

// Every resource logs stderr, whose lines must stay under the command provider's 64 KiB
// (runner/outputLines.ts); stdout is not logged, so its JSON results stay whole.
const stderr = lineSplitter((text) => process.stderr.write(text));

async function stdin(): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) {
        chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString("utf8");
}

/** NBF_SPEC as `schema` reads it (runner/specs.ts): every entry point checks what it is handed. */
function spec<T>(schema: z.ZodType<T>): T {
    const text = process.env.NBF_SPEC;
    if (text === undefined) {
        throw new RunnerError(
            "NBF_SPEC is not set: this command is run by the program's resources, with their data in NBF_SPEC",
        );
    }
    const parsed = parseSpec(schema, text, "NBF_SPEC");
    if (!parsed.ok) {
        throw new RunnerError(parsed.reason);
    }
    return parsed.value;
}

/** Standard input as `schema` reads it; the error never repeats the text, which holds secrets. */
function input<T>(schema: z.ZodType<T>, text: string): T {
    const parsed = parseSpec(schema, text, "standard input");
    if (!parsed.ok) {
        throw new RunnerError(parsed.reason);
    }
    return parsed.value;
}

async function main(): Promise<number> {
    const mode = process.argv[2] as (typeof MODES)[number];
    if (!MODES.includes(mode)) {
        throw new RunnerError(`usage: cli.js ${MODES.join("|")} (got ${mode ?? "nothing"})`);
    }
    const env: RunnerEnv = {
        env: process.env,
        log: (line) => stderr(`${line}\n`),
        sleep: (s) => new Promise((resolve) => setTimeout(resolve, s * 1000)),
        now: () => Date.now(),
    };
    const out = (value: unknown) =>
        process.stdout.write(`${typeof value === "string" ? value : JSON.stringify(value)}\n`);
    switch (mode) {
        case "readiness":
            return checkReadiness(spec(readinessSpecSchema), await stdin(), env, {
                stdout: (t) => process.stdout.write(t),
                stderr,
            });
        case "smoke-test":
            out(await runSmokeTests(spec(smokeTestSpecSchema), await stdin(), env));
            return 0;
        case "verify-index":
            out((await verifyIndexes(spec(indexExpectationSchema), await stdin(), env)).join("\n"));
            return 0;
        case "attest":
            out(await attest(spec(attestSpecSchema), input(attestSecretsSchema, await stdin()), env));
            return 0;
        default: {
            const { spec: builders, privateKey } = input(ensureInputSchema, await stdin());
            out(await ensureBuilders(builders, privateKey, mode, env));
            return 0;
        }
    }
}

main().then(
    (code) => {
        process.exitCode = code;
    },
    (e: unknown) => {
        stderr(`${e instanceof RunnerError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        process.exit(1);
    },
);
