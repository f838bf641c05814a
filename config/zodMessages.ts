// One reading of zod's issues for people: every message names the full key path, says what
// was expected and what was found, and how to fix it.
//
// zod 4 leaves `issue.input` unset unless the parse asks for it (`reportInput: true`,
// https://zod.dev/error-customization), so without it a value of the wrong type looks like a
// missing one. `pulumi config set --path` stores integers as numbers and true/false as
// booleans; `--type string` keeps them strings
// (https://www.pulumi.com/docs/iac/cli/commands/pulumi_config_set/).

import { z } from "zod";

export interface IssueProblem {
    path: string;
    message: string;
}

/** Where the config came from, for the hint on how to write a value. */
export type Source = "stack" | "compose";

/**
 * A key path as `pulumi config set --path` reads it: `hosts[0].count`, and a key with a
 * dot or other punctuation in brackets, `builder.driverOptions["env.BUILDKIT_STEP_LOG_MAX_SIZE"]`.
 */
export function keyPath(segments: readonly PropertyKey[], base = ""): string {
    return segments.reduce<string>((acc, s) => {
        if (typeof s === "number") {
            return `${acc}[${s}]`;
        }
        const key = String(s);
        if (!/^[A-Za-z0-9_/-]+$/.test(key)) {
            return `${acc}[${JSON.stringify(key)}]`;
        }
        return acc ? `${acc}.${key}` : key;
    }, base);
}

/** What a value is, in words, without echoing long strings. */
export function describeValue(input: unknown): string {
    if (input === undefined) {
        return "nothing";
    }
    if (input === null) {
        return "an empty value (null)";
    }
    if (typeof input === "string") {
        return input.trim() === ""
            ? "an empty string"
            : `the string ${JSON.stringify(input.length > 60 ? `${input.slice(0, 57)}…` : input)}`;
    }
    if (typeof input === "number" || typeof input === "boolean") {
        return typeof input === "number" ? `the number ${input}` : `the boolean ${input}`;
    }
    if (Array.isArray(input)) {
        return `a list of ${input.length} entr${input.length === 1 ? "y" : "ies"}`;
    }
    return "a map";
}

/** A value that must be one of `options` (an enum, or a discriminator of a union): missing, or which it is. */
function oneOf(found: unknown, options: readonly unknown[]): string {
    const list = options.map((o) => JSON.stringify(o)).join(", ");
    return found === undefined
        ? `is required: one of ${list}`
        : `is ${describeValue(found)}; it must be one of ${list}`;
}

const EXPECTED: Record<string, string> = {
    string: "a string",
    number: "a number",
    int: "a whole number",
    boolean: "true or false",
    array: "a list",
    object: "a map of keys",
    record: "a map of keys",
    nan: "a number",
};

/** The schema node at `path`, through defaults, optionals, lists, records and unions. */
function schemaAt(schema: z.core.$ZodType, path: readonly PropertyKey[], input: unknown): z.core.$ZodType | undefined {
    let node: z.core.$ZodType | undefined = schema;
    let value: unknown = input;
    for (let i = 0; i <= path.length && node; i++) {
        node = unwrap(node, value);
        if (i === path.length || !node) {
            return node;
        }
        const def = node._zod.def as unknown as Record<string, unknown>;
        const segment = path[i];
        value =
            value !== null && typeof value === "object" ? (value as Record<PropertyKey, unknown>)[segment] : undefined;
        switch (def.type) {
            case "object":
                node = (def.shape as Record<string, z.core.$ZodType>)[String(segment)];
                break;
            case "array":
                node = def.element as z.core.$ZodType;
                break;
            case "record":
                node = def.valueType as z.core.$ZodType;
                break;
            default:
                return undefined;
        }
    }
    return node;
}

/** Removes wrappers; picks a union's option by its discriminator when the input names one. */
function unwrap(node: z.core.$ZodType, input: unknown): z.core.$ZodType | undefined {
    for (;;) {
        const def = node._zod.def as unknown as Record<string, unknown>;
        if (
            ["optional", "default", "nullable", "prefault", "readonly", "catch", "nonoptional"].includes(
                def.type as string,
            )
        ) {
            node = def.innerType as z.core.$ZodType;
        } else if (def.type === "pipe") {
            node = def.in as z.core.$ZodType;
        } else if (def.type === "union") {
            const options = def.options as z.core.$ZodType[];
            const discriminator = def.discriminator as string | undefined;
            const wanted =
                discriminator && input !== null && typeof input === "object"
                    ? (input as Record<string, unknown>)[discriminator]
                    : undefined;
            const match = options.find((o) => literalValues(shapeOf(o)?.[discriminator ?? ""]).includes(wanted));
            if (!match) {
                return undefined;
            }
            node = match;
        } else {
            return node;
        }
    }
}

function shapeOf(node: z.core.$ZodType): Record<string, z.core.$ZodType> | undefined {
    const def = node._zod.def as unknown as Record<string, unknown>;
    return def.type === "object" ? (def.shape as Record<string, z.core.$ZodType>) : undefined;
}

function literalValues(node: z.core.$ZodType | undefined): unknown[] {
    const def = node?._zod.def as unknown as Record<string, unknown> | undefined;
    return def?.type === "literal" ? (def.values as unknown[]) : [];
}

/** The keys an object at `path` takes, or [] when the schema there is not an object. */
export function knownKeys(schema: z.core.$ZodType, path: readonly PropertyKey[], input: unknown): string[] {
    const node = schemaAt(schema, path, input);
    const shape = node && shapeOf(node);
    return shape ? Object.keys(shape) : [];
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        let diagonal = row[0];
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const above = row[j];
            row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
            diagonal = above;
        }
    }
    return row[b.length];
}

/** The known key a misspelt one most likely meant, if any is close. */
export function closestKey(key: string, known: string[]): string | undefined {
    const lower = key.toLowerCase();
    const exact = known.find((k) => k.toLowerCase() === lower);
    if (exact) {
        return exact;
    }
    const scored = known.map((k) => ({ k, d: distance(lower, k.toLowerCase()) })).sort((a, b) => a.d - b.d);
    return scored.length > 0 && scored[0].d <= Math.max(1, Math.floor(key.length / 3)) ? scored[0].k : undefined;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
    return path.reduce<unknown>(
        (v, s) => (v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[s] : undefined),
        input,
    );
}

/** How to write `found` as the expected type, in a stack file or with `pulumi config set`. */
function typeHint(expected: string, found: unknown, at: string, source: Source): string {
    const set = (value: string, flags = "") =>
        source === "stack" ? ` or set it with \`pulumi config set --path '${at}'${flags} ${value}\`` : "";
    if (expected === "string" && (typeof found === "number" || typeof found === "boolean")) {
        const written = String(found);
        if (typeof found === "number" && !Number.isInteger(found)) {
            return `; YAML reads an unquoted value such as 1.10 as a number (and drops its trailing zeros), so quote the value as you mean it ("1.10")${set("<value>", " --type string")}`;
        }
        return `; quote it in the stack file ("${written}")${set(written, " --type string")}, since --path alone stores ${typeof found === "number" ? "integers as numbers" : "true and false as booleans"}`;
    }
    if (
        (expected === "number" || expected === "int") &&
        typeof found === "string" &&
        /^-?\d+(\.\d+)?$/.test(found.trim())
    ) {
        return `; write it without quotes (${found.trim()})${set(found.trim())}, which --path stores as a number`;
    }
    if (expected === "boolean" && typeof found === "string") {
        const meant = /^(yes|y|on|true|1)$/i.test(found.trim())
            ? "true"
            : /^(no|n|off|false|0)$/i.test(found.trim())
              ? "false"
              : "true or false";
        return `; write ${meant} without quotes${meant === "true or false" ? "" : set(meant)}`;
    }
    if (expected === "array" && (typeof found === "string" || typeof found === "number")) {
        return `; write it as a list, such as [${String(found)}]${source === "stack" ? `, or set its first entry with \`pulumi config set --path '${at}[0]' ${String(found)}\`` : ""}`;
    }
    if (expected === "object") {
        return "; write it as a map of keys (see docs/configuration.md)";
    }
    return "";
}

/**
 * One problem per zod issue, at `base` + the issue's path. `schema` and `input` are what
 * was parsed, so unknown keys can be told which keys the map does take.
 */
export function issueProblems(
    issue: z.core.$ZodIssue,
    schema: z.core.$ZodType,
    input: unknown,
    base = "",
    source: Source = "stack",
): IssueProblem[] {
    const at = keyPath(issue.path, base) || "(top level)";
    switch (issue.code) {
        case "unrecognized_keys": {
            const known = knownKeys(schema, issue.path, input);
            const parent = keyPath(issue.path, base) || "the stack config";
            return issue.keys.map((key) => {
                const guess = closestKey(key, known);
                return {
                    path: keyPath([...issue.path, key], base),
                    message: `is not a key of ${parent}${guess ? `; did you mean ${guess}?` : ""}${known.length > 0 ? `; ${parent} takes ${known.join(", ")}` : ""} (see docs/configuration.md)`,
                };
            });
        }
        case "invalid_type": {
            const found = "input" in issue ? issue.input : valueAt(input, issue.path);
            if (found === undefined) {
                return [
                    {
                        path: at,
                        message: `is required${source === "stack" ? `; set it with \`pulumi config set --path '${at}' …\`` : ""}`,
                    },
                ];
            }
            const expected = EXPECTED[issue.expected] ?? issue.expected;
            return [
                {
                    path: at,
                    message: `must be ${expected}, but is ${describeValue(found)}${typeHint(issue.expected, found, at, source)}`,
                },
            ];
        }
        case "invalid_union": {
            const discriminator = (issue as { discriminator?: string }).discriminator;
            const options = (issue as { options?: unknown[] }).options ?? [];
            if (discriminator) {
                // zod puts the discriminator key on the path already.
                return [{ path: at, message: oneOf(valueAt(input, issue.path), options) }];
            }
            return [{ path: at, message: issue.message }];
        }
        case "invalid_key": {
            const key = issue.path[issue.path.length - 1];
            const reasons = issue.issues.map((i) => i.message).join("; ");
            return [{ path: at, message: `${JSON.stringify(String(key))} is not a valid key here: ${reasons}` }];
        }
        case "invalid_value": {
            const found = "input" in issue ? issue.input : valueAt(input, issue.path);
            return [{ path: at, message: oneOf(found, issue.values) }];
        }
        default:
            return [{ path: at, message: issue.message }];
    }
}
