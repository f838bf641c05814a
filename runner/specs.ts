// The specs the runner's entry points (runner/cli.ts) take, as zod schemas. The config layer
// checked every value once, but an entry point trusts nothing it is handed: an address, user,
// alias or proxy command with a newline in it would add its own block to the fleet's ssh
// config (runner/builderSpec.ts sshConfig), and a '-' first would turn an ssh argument into an
// option. So each spec is checked here again, whoever wrote it.

import { z } from "zod";
import { hostAddressProblem } from "../config/hostAddress";
import { DRIVER_OPTION_NAME } from "../config/builderOptions";
import { regionProblem } from "../config/awsRegion";
import { signingSchema } from "../config/signing";
import { ssmProxyCommand } from "./readinessSteps";
import { AttestSecrets, AttestSpec } from "./attest";
import { FleetBuildersSpec } from "./builderSpec";
import { ReadinessSpec } from "./readiness";
import { SmokeTestSpec } from "./smokeTest";
import { IndexExpectation } from "./verifyIndex";

/** Whether `s` has a newline, carriage return, NUL or other control character. */
const hasControl = (s: string) => [...s].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);
const line = (what: string) =>
    z.string().refine((s) => !hasControl(s), `must be ${what} on one line, without control characters`);
/** No NUL: argv and environment strings end at one. */
const noNul = z.string().refine((s) => !s.includes("\0"), "must not contain NUL bytes");

const address = z.string().superRefine((value, ctx) => {
    // For SSM targets the address is the instance id, which is a host name too.
    const problem = hostAddressProblem(value, "port");
    if (problem) {
        ctx.addIssue({ code: "custom", message: problem });
    }
});
const port = z.number().int().min(1).max(65535);
/** A static host's or the build user's name (config/schema.ts takes capitals for static hosts). */
const user = z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,31}$/, "must be a Linux user name");
// A tab may separate the key's comment, as the config layer reads the line; nothing else that is not printable.
const hostKey = z
    .string()
    .refine(
        (s) =>
            !hasControl(s.replace(/\t/g, " ")) &&
            /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,2}([ \t].*)?$/.test(s),
        "must be one OpenSSH public key line",
    );
/** An ssh name: no white space, quotes or the pattern characters of `Host` (*, ?, !, %). */
const sshName = z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,252}$/, "must be letters, digits, '_', '.', ':' or '-'");
const proxyCommand = z.string().refine((value) => {
    const region = /--region ([a-z0-9-]+)$/.exec(value)?.[1];
    return value === ssmProxyCommand(region);
}, "must be the program's SSM session command (runner/readinessSteps.ts ssmProxyCommand)");
const name = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,127}$/, "must be lowercase letters, digits, '_', '.' or '-'");
const platform = z.string().regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, "must be a platform such as linux/arm64");
const registry = z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, "must be a registry host[:port]");
const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/, "must be a sha256 digest");

export const readinessSpecSchema: z.ZodType<ReadinessSpec> = z
    .object({
        target: z
            .object({ address, port, user, hostKey, hostKeyAlias: sshName, proxyCommand: proxyCommand.optional() })
            .strict(),
        connectTimeoutSeconds: z.number().int().min(1).max(86400),
        persistentFaultSeconds: z.number().int().min(0).max(86400),
        steps: z.array(z.object({ name: line("a step name"), script: noNul, args: z.array(noNul) }).strict()).min(1),
    })
    .strict();

export const fleetBuildersSpecSchema: z.ZodType<FleetBuildersSpec> = z
    .object({
        name,
        owner: line("<project>/<stack>").pipe(z.string().min(3)),
        nodes: z.array(
            z
                .object({
                    host: name,
                    node: name,
                    alias: sshName,
                    address,
                    port,
                    user,
                    hostKey,
                    hostKeyAlias: sshName,
                    platforms: z.array(platform),
                    stackPlatforms: z.array(platform),
                    proxyCommand: proxyCommand.optional(),
                    driverOptions: z.record(
                        z.string().regex(DRIVER_OPTION_NAME, "must be a driver option name"),
                        z
                            .string()
                            .refine(
                                (s) => !hasControl(s) && !/[,"]/.test(s),
                                "must not contain commas, quotes or control characters",
                            ),
                    ),
                })
                .strict(),
        ),
        buildkitdConfig: noNul.optional(),
        wake: z
            .object({
                instanceIds: z.array(z.string().regex(/^i-[0-9a-f]{8,17}$/, "must be an EC2 instance id")),
                region: z
                    .string()
                    .refine(
                        (r) => regionProblem(r, "wake.region") === undefined,
                        "must be an AWS region such as eu-north-1",
                    )
                    .optional(),
            })
            .strict()
            .optional(),
    })
    .strict();

/** The standard input of preview, update and register: the spec and the operator's private key. */
export const ensureInputSchema = z.object({ spec: fleetBuildersSpecSchema, privateKey: noNul }).strict();

export const smokeTestSpecSchema: z.ZodType<SmokeTestSpec> = z
    .object({
        registry,
        tests: z.array(
            z
                .object({
                    builder: name,
                    platform,
                    ref: z
                        .string()
                        .regex(
                            /^[A-Za-z0-9][A-Za-z0-9._/:-]*@sha256:[a-f0-9]{64}$/,
                            "must be <repository>@sha256:<digest>",
                        ),
                    command: z.array(noNul).min(1),
                    expect: z.object({ lines: z.array(noNul).optional(), contains: noNul.optional() }).strict(),
                })
                .strict(),
        ),
    })
    .strict();

export const indexExpectationSchema: z.ZodType<IndexExpectation> = z
    .object({
        registry,
        refs: z.array(
            z
                .string()
                .regex(
                    /^[A-Za-z0-9][A-Za-z0-9._/:-]*:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}@sha256:[a-f0-9]{64}$/,
                    "must be <repository>:<tag>@sha256:<digest>",
                ),
        ),
        platforms: z.record(platform, digest),
    })
    .strict();

const buildArgs = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a build arg name"), noNul);
const secretId = z.string().regex(/^[A-Za-z0-9_.-]+$/, "must be a secret or ssh id");

/** attest: every digest it signs is named by digest, never by a tag alone (runner/signing.ts). */
export const attestSpecSchema: z.ZodType<AttestSpec> = z
    .object({
        registry,
        signing: signingSchema,
        indexes: z.array(
            z
                .string()
                .regex(
                    /^[A-Za-z0-9][A-Za-z0-9._/:-]*:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}@sha256:[a-f0-9]{64}$/,
                    "must be <repository>:<tag>@sha256:<digest>",
                ),
        ),
        platforms: z.array(
            z
                .object({
                    platform,
                    ref: z
                        .string()
                        .regex(
                            /^[A-Za-z0-9][A-Za-z0-9._/:-]*@sha256:[a-f0-9]{64}$/,
                            "must be <repository>@sha256:<digest>",
                        ),
                    host: name,
                    node: name,
                    buildArgs: buildArgs.optional(),
                    test: z
                        .object({ command: z.array(noNul).min(1), output: noNul })
                        .strict()
                        .optional(),
                })
                .strict(),
        ),
        build: z
            .object({
                stack: line("<project>/<stack>"),
                builderName: name,
                context: noNul,
                dockerfile: noNul.optional(),
                dockerfileInline: noNul.optional(),
                target: line("a stage name").optional(),
                buildArgs,
                secrets: z.array(secretId),
                ssh: z.array(secretId),
                source: line("a URL").optional(),
                contextRevision: z
                    .string()
                    .regex(/^[0-9a-f]{7,64}$/, "must be a git commit")
                    .optional(),
            })
            .strict(),
    })
    .strict();

/** attest's standard input: the registry's `user:password`, and with signing.mode key the key and its password. */
export const attestSecretsSchema: z.ZodType<AttestSecrets> = z
    .object({
        credentials: noNul,
        signingKey: noNul.optional(),
        signingKeyPassword: noNul.optional(),
    })
    .strict();

/** The value of `text` (JSON) as `schema` reads it, or an error naming `what` and each bad key. */
export function parseSpec<T>(
    schema: z.ZodType<T>,
    text: string,
    what: string,
): { ok: true; value: T } | { ok: false; reason: string } {
    let raw: unknown;
    try {
        raw = JSON.parse(text) as unknown;
    } catch {
        // Not JSON.parse's message: it quotes the text, which may hold a private key.
        return { ok: false, reason: `${what} is not JSON` };
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
        const problems = parsed.error.issues.map(
            (i) => `${i.path.map(String).join(".") || "(top level)"}: ${i.message}`,
        );
        return { ok: false, reason: `${what} is refused, so nothing was run: ${problems.join("; ")}` };
    }
    return { ok: true, value: parsed.data };
}
