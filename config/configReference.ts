// The configuration reference (docs/configuration.md), generated: every key path, type and
// default is read from the zod schema that validates the stack, and every description from
// config/keyDocs.ts. A key the schema has and the docs lack, or the reverse, stops the generator,
// so the reference cannot drift from what the program accepts. `npm run docs:config` writes it.

import { isDeepStrictEqual } from "util";
import { z } from "zod";
import { rawSchema } from "./schema";
import { FLEET_SECRET_KEYS } from "./secretSources";
import { KEY_DOCS, KeyDoc, REFERENCE_INTRO, REFERENCE_NOTES } from "./keyDocs";

/** One key as the schema defines it. */
export interface SchemaKey {
    path: string;
    type: string;
    /** The default as the schema applies it, if it has one. */
    hasDefault: boolean;
    defaultValue?: unknown;
    optional: boolean;
    schema: z.ZodType;
}

type Def = { type: string; [field: string]: unknown };
const defOf = (schema: z.ZodType): Def => (schema as unknown as { def: Def }).def;

/** Peels default, optional and preprocess wrappers off a key's schema, keeping what they say. */
function unwrap(schema: z.ZodType): {
    inner: z.ZodType;
    hasDefault: boolean;
    defaultValue?: unknown;
    optional: boolean;
} {
    let inner = schema;
    let hasDefault = false;
    let defaultValue: unknown;
    let optional = false;
    for (;;) {
        const def = defOf(inner);
        if (def.type === "default") {
            hasDefault = true;
            defaultValue =
                typeof def.defaultValue === "function" ? (def.defaultValue as () => unknown)() : def.defaultValue;
            inner = def.innerType as z.ZodType;
        } else if (def.type === "optional") {
            optional = true;
            inner = def.innerType as z.ZodType;
        } else if (def.type === "pipe") {
            // z.preprocess: the value is read by the output schema.
            inner = def.out as z.ZodType;
        } else {
            return { inner, hasDefault, defaultValue, optional };
        }
    }
}

/** The objects a union of objects chooses between, or the object itself. */
function objectsOf(schema: z.ZodType): z.ZodObject[] {
    const def = defOf(schema);
    if (def.type === "object") {
        return [schema as z.ZodObject];
    }
    if (def.type === "union") {
        const options = def.options as z.ZodType[];
        return options.every((o) => defOf(o).type === "object") ? (options as z.ZodObject[]) : [];
    }
    return [];
}

/** A key's type in the reference's words. */
export function typeName(schema: z.ZodType): string {
    const def = defOf(schema);
    switch (def.type) {
        case "string":
            return "string";
        case "number":
            return (schema as z.ZodNumber).isInt ? "integer" : "number";
        case "boolean":
            return "boolean";
        case "array":
            return "list";
        case "enum":
            return (schema as z.ZodEnum).options.map((o) => `\`${String(o)}\``).join(" \\| ");
        case "literal":
            return (def.values as unknown[]).map((v) => `\`${String(v)}\``).join(" \\| ");
        case "record":
            return defOf(unwrap(def.valueType as z.ZodType).inner).type === "record" ? "map of maps" : "map";
        case "object":
        case "union":
            return "map";
        default:
            throw new Error(`configReference: no reference type for a zod ${def.type}; add it to typeName`);
    }
}

/**
 * Every key path of an object schema, parents before children: `hosts`, `hosts[].name`, ….
 * Lists of objects add `[]`, maps of objects `.<id>`; the variants of a union (registry, signing)
 * are merged, a key they share listed once and its literal values joined.
 */
export function schemaKeys(schema: z.ZodObject, prefix = ""): SchemaKey[] {
    const keys: SchemaKey[] = [];
    const variants = objectsOf(schema);
    const seen = new Map<string, SchemaKey>();
    for (const variant of variants) {
        for (const [name, member] of Object.entries<z.ZodType>(variant.shape)) {
            const path = prefix === "" ? name : `${prefix}.${name}`;
            const { inner, hasDefault, defaultValue, optional } = unwrap(member);
            const earlier = seen.get(path);
            if (earlier) {
                if (defOf(inner).type === "literal") {
                    earlier.type = `${earlier.type} \\| ${typeName(inner)}`;
                }
                continue;
            }
            // A key only some variants have is optional in the merged view.
            const inAll = variants.every((v) => name in (v.shape as object));
            const key: SchemaKey = {
                path,
                type: typeName(inner),
                hasDefault,
                defaultValue,
                optional: optional || !inAll,
                schema: member,
            };
            seen.set(path, key);
            keys.push(key);
            keys.push(...childKeys(inner, path));
        }
    }
    return keys;
}

function childKeys(inner: z.ZodType, path: string): SchemaKey[] {
    const def = defOf(inner);
    if (objectsOf(inner).length > 0) {
        return schemaKeys(inner as z.ZodObject, path);
    }
    if (def.type === "array") {
        const element = unwrap(def.element as z.ZodType).inner;
        return objectsOf(element).length > 0 ? schemaKeys(element as z.ZodObject, `${path}[]`) : [];
    }
    if (def.type === "record") {
        const value = unwrap(def.valueType as z.ZodType).inner;
        return objectsOf(value).length > 0 ? schemaKeys(value as z.ZodObject, `${path}.<id>`) : [];
    }
    return [];
}

/** What the Default column says: the schema's own default wins; the docs speak only where it has none. */
export function defaultText(key: SchemaKey | undefined, doc: KeyDoc, path = key?.path ?? "?"): string {
    if (key?.hasDefault) {
        if (doc.default !== undefined) {
            throw new Error(
                `config/keyDocs.ts: ${key.path} has a default in the schema (${JSON.stringify(key.defaultValue)}); remove its \`default\` from the docs, the schema's is shown`,
            );
        }
        const shown = `\`${shownDefault(key)}\``;
        return doc.defaultNote === undefined ? shown : `${shown} (${doc.defaultNote})`;
    }
    if (doc.defaultNote !== undefined) {
        throw new Error(`config/keyDocs.ts: ${path} has a defaultNote but no default in the schema; use \`default\``);
    }
    if (doc.default !== undefined) {
        return doc.default;
    }
    if (key === undefined) {
        throw new Error(`config/keyDocs.ts: ${path} is not read by the schema, so write its \`default\` out`);
    }
    return key.optional ? "—" : "required";
}

/** An object whose default is what `{}` parses to is shown as `{}`: each of its keys has its own row. */
function shownDefault(key: SchemaKey): string {
    const inner = unwrap(key.schema).inner;
    if (defOf(inner).type === "object" && isDeepStrictEqual(inner.safeParse({}).data, key.defaultValue)) {
        return "{}";
    }
    return typeof key.defaultValue === "string" ? key.defaultValue : JSON.stringify(key.defaultValue);
}

/**
 * A number key's description states its range as `(min–max)`; that range must be the one the
 * schema enforces, so a bound changed in the schema stops the generator until the words follow.
 */
export function checkStatedRange(key: SchemaKey | undefined, doc: KeyDoc): void {
    const stated = /\((\d+)–(\d+)\)/.exec(doc.description);
    const inner = key === undefined ? undefined : unwrap(key.schema).inner;
    if (key === undefined || inner === undefined || defOf(inner).type !== "number") {
        if (stated) {
            throw new Error(
                `config/keyDocs.ts: ${key?.path ?? "?"} states a range (${stated[1]}–${stated[2]}) but is no number in the schema`,
            );
        }
        return;
    }
    const { minValue, maxValue } = inner as z.ZodNumber;
    // `.int()` alone bounds a number by the safe integers, which is no range a reader needs.
    const bounded = [minValue, maxValue].every((bound) => bound !== null && Math.abs(bound) < Number.MAX_SAFE_INTEGER);
    if (stated === null ? bounded : Number(stated[1]) !== minValue || Number(stated[2]) !== maxValue) {
        throw new Error(
            `config/keyDocs.ts: ${key.path} ${stated === null ? "states no range" : `states (${stated[1]}–${stated[2]})`}; the schema accepts ${bounded ? `${minValue}–${maxValue}` : "no bounded range"}, so write \`(${minValue}–${maxValue})\` in its description`,
        );
    }
}

/** Every documented key's row, in the docs' order; throws when schema and docs disagree on the keys. */
export function referenceRows(
    docs: Record<string, KeyDoc> = KEY_DOCS,
    schema: z.ZodObject = rawSchema,
    secretKeys: readonly string[] = FLEET_SECRET_KEYS,
): string[][] {
    const keys = new Map(schemaKeys(schema).map((k) => [k.path, k]));
    const known = new Set([...keys.keys(), ...secretKeys]);
    const undocumented = [...known].filter((path) => !(path in docs));
    const unknown = Object.keys(docs).filter((path) => !known.has(path));
    if (undocumented.length > 0 || unknown.length > 0) {
        throw new Error(
            [
                "config/keyDocs.ts does not match the config schema:",
                ...undocumented.map((path) => `  - ${path}: the schema has this key; describe it in KEY_DOCS`),
                ...unknown.map(
                    (path) =>
                        `  - ${path}: no such key in the schema (or FLEET_SECRET_KEYS); remove or rename it in KEY_DOCS`,
                ),
            ].join("\n"),
        );
    }
    return Object.entries(docs).map(([path, doc]) => {
        const key = keys.get(path);
        const isSecret = secretKeys.includes(path);
        const type = doc.type ?? (isSecret ? "secret string" : key?.type);
        if (type === undefined) {
            throw new Error(`config/keyDocs.ts: ${path} needs a type`);
        }
        checkStatedRange(key, doc);
        return [`\`${path}\``, type, defaultText(key, doc), doc.description];
    });
}

/** docs/configuration.md, whole. Prettier leaves it alone (.prettierignore), so its bytes are what this returns. */
export function configReference(): string {
    const rows = referenceRows();
    return [
        "<!-- Generated by `npm run docs:config` from config/keyDocs.ts and the zod schema (config/schema.ts). Edit those, then run it again; test/configReference.test.ts fails while this file differs. -->",
        "",
        "# Configuration reference",
        "",
        "[← README](../README.md)",
        "",
        REFERENCE_INTRO.trim(),
        "",
        "| Key | Type | Default | Meaning |",
        "|---|---|---|---|",
        ...rows.map((cells) => `| ${cells.map((c) => c.replace(/\n/g, " ")).join(" | ")} |`),
        "",
        REFERENCE_NOTES.trim(),
        "",
    ].join("\n");
}
