// The configuration reference is generated from the schema (config/configReference.ts), and
// Pulumi.yaml's config declarations must say what the schema says.

import * as fs from "fs";
import * as path from "path";
import { isDeepStrictEqual } from "util";
import { parse } from "yaml";
import { z } from "zod";
import { configReference, defaultText, referenceRows, schemaKeys } from "../config/configReference";
import { DEFAULT_DOCKERFILE, DEFAULT_SMOKE_TEST_COMMAND, rawSchema } from "../config/schema";
import { CAPS, MAX_ARG_STRLEN } from "../config/sizes";
import { FLEET_SECRET_KEYS } from "../config/secretSources";
import { KEY_DOCS } from "../config/keyDocs";

const projectRoot = path.join(__dirname, "..");

test("docs/configuration.md is what the schema and config/keyDocs.ts generate", () => {
    const committed = fs.readFileSync(path.join(projectRoot, "docs", "configuration.md"), "utf8");
    const generated = configReference();
    if (committed !== generated) {
        throw new Error(
            "docs/configuration.md differs from what config/keyDocs.ts and config/schema.ts generate; run `npm run docs:config` and commit the result",
        );
    }
});

test("every key of the schema and every fleet secret has a row, once", () => {
    const rows = referenceRows().map(([key]) => key.replace(/`/g, ""));
    expect(new Set(rows).size).toBe(rows.length);
    expect(rows.sort()).toEqual([...schemaKeys(rawSchema).map((k) => k.path), ...FLEET_SECRET_KEYS].sort());
});

describe("defaults and limits the code applies outside the schema are shown from the code's own constants", () => {
    const row = (key: string) => referenceRows().find(([k]) => k === `\`${key}\``)!;

    test.each([
        ["images[].dockerfile", `\`${DEFAULT_DOCKERFILE}\``],
        ["images[].test.command", `\`${JSON.stringify(DEFAULT_SMOKE_TEST_COMMAND).replace(/","/g, '", "')}\``],
    ])("%s defaults to %s", (key, shown) => {
        expect(row(key)[2]).toBe(shown);
    });

    test("the smoke test's default command, the spec limit and the fleet caps appear as the code has them", () => {
        expect(row("images[].test")[3]).toContain(`(\`${DEFAULT_SMOKE_TEST_COMMAND.join(" ")}\`,`);
        expect(row("images[].test.command")[3]).toContain(`(${MAX_ARG_STRLEN / 1024} KiB,`);
        expect(row("images[].tags")[3]).toContain(`(at most ${CAPS.tagsPerImage};`);
        expect(row("images")[3]).toContain(`at most ${CAPS.images} in all`);
        expect(configReference()).toContain(`at most ${CAPS.buildHosts} build hosts in all`);
    });
});

describe("the generator refuses docs that drift from the schema", () => {
    const schema = z
        .object({
            a: z.string(),
            b: z
                .object({ c: z.number().int().default(3) })
                .strict()
                .default({ c: 3 }),
        })
        .strict();
    const docs = { a: { description: "A." }, b: { description: "B." }, "b.c": { description: "C." } };

    test("a schema key without docs", () => {
        const partial: Record<string, { description: string }> = { ...docs };
        delete partial["b.c"];
        expect(() => referenceRows(partial, schema, [])).toThrow(
            "b.c: the schema has this key; describe it in KEY_DOCS",
        );
    });

    test("docs for a key the schema does not have", () => {
        expect(() => referenceRows({ ...docs, "b.d": { description: "D." } }, schema, [])).toThrow(
            "b.d: no such key in the schema",
        );
    });

    test("a written default for a key whose default the schema applies", () => {
        expect(() => referenceRows({ ...docs, "b.c": { description: "C.", default: "4" } }, schema, [])).toThrow(
            "b.c has a default in the schema (3)",
        );
    });

    test.each([
        ["a range the schema does not enforce", "Hosts (1–50).", "n states (1–50); the schema accepts 1–100"],
        ["no range for a bounded number", "Hosts.", "n states no range; the schema accepts 1–100"],
    ])("%s", (_, description, message) => {
        const bounded = z.object({ n: z.number().int().min(1).max(100).default(1) }).strict();
        expect(() => referenceRows({ n: { description } }, bounded, [])).toThrow(message);
        expect(referenceRows({ n: { description: "Hosts (1–100)." } }, bounded, [])).toHaveLength(1);
    });

    test("a range on a key that is no number", () => {
        expect(() => referenceRows({ ...docs, a: { description: "A (1–2)." } }, schema, [])).toThrow(
            "a states a range (1–2) but is no number in the schema",
        );
    });

    test("reads types, required keys and defaults from the schema", () => {
        expect(referenceRows(docs, schema, [])).toEqual([
            ["`a`", "string", "required", "A."],
            ["`b`", "map", "`{}`", "B."],
            ["`b.c`", "integer", "`3`", "C."],
        ]);
    });
});

test("a key the schema does not read (a secret) must have its default written out", () => {
    expect(() => defaultText(undefined, { description: "x" }, "aSecret")).toThrow("aSecret is not read by the schema");
});

type Declaration = { type?: string; default?: unknown; secret?: boolean; description?: string };
const declared = (
    parse(fs.readFileSync(path.join(projectRoot, "Pulumi.yaml"), "utf8")) as { config: Record<string, Declaration> }
).config;
const topLevel = rawSchema.shape as Record<string, z.ZodType>;

describe("Pulumi.yaml's config block matches the schema", () => {
    test("it declares exactly the schema's top-level keys and the fleet secrets", () => {
        expect(Object.keys(declared).sort()).toEqual([...Object.keys(topLevel), ...FLEET_SECRET_KEYS].sort());
    });

    test("only the fleet secrets are strings read as secrets, and each is declared as one", () => {
        for (const key of FLEET_SECRET_KEYS) {
            expect([key, declared[key].type]).toEqual([key, "string"]);
            // Either secret without a default, or an empty default: the engine refuses a default on a
            // secret key (test/exampleStack.test.ts), and config/load.ts reads each with requireSecret.
            const { secret, default: value } = declared[key];
            expect(secret === true ? value === undefined : value === "").toBe(true);
        }
        expect(
            Object.keys(declared).filter((key) => declared[key].secret === true && !FLEET_SECRET_KEYS.includes(key)),
        ).toEqual([]);
    });

    test.each(Object.keys(topLevel))("%s: its declared type and default are the schema's", (key) => {
        const d = declared[key];
        const schemaType = schemaKeys(rawSchema).find((k) => k.path === key)!.type;
        const pulumiType =
            d.type ?? (Array.isArray(d.default) ? "list" : typeof d.default === "object" ? "map" : typeof d.default);
        const expected: Record<string, string> = {
            string: "string",
            list: "list",
            map: "map",
            integer: "integer",
            boolean: "boolean",
        };
        expect(d.description?.trim()).toBeTruthy();
        if (d.default === undefined) {
            // No default: the engine demands the key, so the schema must too.
            expect(topLevel[key].safeParse(undefined).success).toBe(false);
            return;
        }
        if (d.default === "" && schemaType !== "string") {
            // `signing: ""` is the empty default the schema reads as absent (z.preprocess).
            expect(topLevel[key].parse("")).toBeUndefined();
            return;
        }
        expect(expected[schemaType] ?? "map").toBe(pulumiType);
        if (d.default === "") {
            // An empty string stands for unset: config/load.ts reads `compose: ""` as no Compose file.
            expect(topLevel[key].parse(undefined)).toBeUndefined();
            return;
        }
        expect(isDeepStrictEqual(topLevel[key].parse(d.default), topLevel[key].parse(undefined))).toBe(true);
    });

    // Pulumi's project config cannot type an object's members, so each structured key's description
    // lists them, `{count=1, platforms=[native], …}`: every member named must be a key of the schema
    // under it, and every default stated must be the one the program applies.
    test.each(Object.keys(topLevel).filter((key) => describedMembers(declared[key].description ?? "").length > 0))(
        "%s: the members its description lists exist, with the defaults the program applies",
        (key) => {
            expect(memberProblems(key, declared[key].description ?? "")).toEqual([]);
        },
    );

    test("reads each member of a description's lists and the default it states", () => {
        expect(describedMembers("Pools: {name, count=1, tags=[latest, v1], buildArgs={}} | {access=cidr|ssm}")).toEqual(
            [
                { name: "name", value: undefined },
                { name: "count", value: "1" },
                { name: "tags", value: "[latest, v1]" },
                { name: "buildArgs", value: "{}" },
                { name: "access", value: "cidr|ssm" },
            ],
        );
    });

    test.each([
        ["hosts", "{name, count=2}", ["hosts[].count: Pulumi.yaml says 2, the program applies 1"]],
        ["hosts", "{name, cont=1}", ["hosts.cont: no such key in the schema"]],
        ["ssh", "{access=ssm|cidr}", ["ssh.access: Pulumi.yaml says ssm|cidr, the program applies cidr|ssm"]],
        [
            "builder",
            "{buildkitImage=moby/buildkit:v0.1.0 by digest}",
            [
                `builder.buildkitImage: Pulumi.yaml says moby/buildkit:v0.1.0 by digest, the program applies ${KEY_DOCS["builder.buildkitImage"].default!.replace(/`/g, "")}`,
            ],
        ],
    ])("%s described as %s is refused", (key, description, problems) => {
        expect(memberProblems(key, description)).toEqual(problems);
    });
});

/** The members a description's `{…}` lists name, each with the default it states (`count=1`), if any. */
function describedMembers(description: string): { name: string; value?: string }[] {
    // `{}` as a value would close the list early; it is read back as a value below.
    const lists = [...description.replace(/=\{\}/g, "=(empty map)").matchAll(/\{([^}]*)\}/g)].map((m) => m[1]);
    return lists.flatMap((list) =>
        list.split(/,\s*(?![^[]*\])/).map((member) => {
            const match = /^([A-Za-z]+)(?:=(.*))?/.exec(member.trim());
            return { name: match?.[1] ?? member, value: match?.[2]?.replace("(empty map)", "{}").trim() };
        }),
    );
}

/** What a described member's default says, as Pulumi.yaml writes it: `[latest]`, `{}`, `60`, `cidr|ssm`. */
function appliedDefault(key: ReturnType<typeof schemaKeys>[number]): string | undefined {
    // An enum's choices, the default first (`access=cidr|ssm`).
    if (key.hasDefault && key.type.includes("\\|")) {
        const choices = key.type.split(" \\| ").map((c) => c.replace(/`/g, ""));
        return [key.defaultValue, ...choices.filter((c) => c !== key.defaultValue)].join("|");
    }
    if (key.hasDefault) {
        const value = key.defaultValue;
        if (Array.isArray(value)) {
            return `[${value.join(", ")}]`;
        }
        return typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
    }
    // The defaults a later step decides, in the words of Pulumi.yaml where they differ from the reference's.
    const worded: Record<string, string> = { "hosts[].platforms": "[native]" };
    return worded[key.path] ?? KEY_DOCS[key.path]?.default?.replace(/`/g, "");
}

/** Each member of `key`'s description that is no schema key, or whose stated default the program does not apply. */
function memberProblems(key: string, description: string): string[] {
    const keys = schemaKeys(rawSchema);
    return describedMembers(description).flatMap(({ name, value }) => {
        const member = keys.find((k) => k.path === `${key}.${name}` || k.path === `${key}[].${name}`);
        if (member === undefined) {
            return [`${key}.${name}: no such key in the schema`];
        }
        if (value === undefined) {
            return [];
        }
        const applied = appliedDefault(member);
        // `by digest`: the pinned default is that reference with its index digest.
        const byDigest = value.endsWith(" by digest");
        const matches = byDigest
            ? new RegExp(`^${value.slice(0, -" by digest".length).replace(/[.]/g, "\\.")}@sha256:[a-f0-9]{64}$`).test(
                  applied ?? "",
              )
            : value === applied;
        return matches
            ? []
            : [`${member.path}: Pulumi.yaml says ${value}, the program applies ${applied ?? "no default"}`];
    });
}
