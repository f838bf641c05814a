// builder.buildSlots: the config key, and which solve each build waits for on its host.

import { SlotSolve, slotWaits } from "../plan/buildSlots";
import { parseConfig } from "../config/schema";
import { configProblems, context, makeProject, staticStack } from "./fixtures";

const solves = (...keys: string[]): SlotSolve[] =>
    keys.flatMap((key) => [
        { key, kind: "image" as const },
        { key, kind: "cache" as const },
    ]);

describe("slotWaits", () => {
    test.each([
        [
            "one slot: every solve on a host waits for the one before it",
            solves("a", "b"),
            { a: "h", b: "h" },
            1,
            [undefined, 0, 1, 2],
        ],
        [
            "two slots: a build and its cache build run together, the next pair waits for them",
            solves("a", "b", "c"),
            { a: "h", b: "h", c: "h" },
            2,
            [undefined, undefined, 0, 1, 2, 3],
        ],
        [
            "hosts queue apart: solves on another host never wait for these",
            solves("a", "b", "c"),
            { a: "h1", b: "h2", c: "h1" },
            2,
            [undefined, undefined, undefined, undefined, 0, 1],
        ],
        [
            "more slots than solves: nothing waits",
            solves("a", "b"),
            { a: "h", b: "h" },
            8,
            [undefined, undefined, undefined, undefined],
        ],
        [
            "three slots: each solve waits for the third before it",
            solves("a", "b"),
            { a: "h", b: "h" },
            3,
            [undefined, undefined, undefined, 0],
        ],
    ])("%s", (_name, list, hostOf, slots, waits) => {
        expect(slotWaits(list, hostOf, slots)).toEqual(waits);
    });

    test("a build without a host is a program error, named", () => {
        expect(() => slotWaits(solves("web linux/amd64"), {}, 2)).toThrow("no host was placed for web linux/amd64");
    });
});

describe("builder.buildSlots", () => {
    const root = makeProject();

    test("is unset by default: nothing is queued", () => {
        const config = parseConfig(
            staticStack(() => undefined),
            context(root, { secretsSet: { sshPrivateKey: true, registryPassword: true } }),
        );
        expect(config.builder.buildSlots).toBeUndefined();
    });

    test("takes a number of slots", () => {
        const config = parseConfig(
            staticStack((c) => {
                c.builder = { buildSlots: 12 };
            }),
            context(root, { secretsSet: { sshPrivateKey: true, registryPassword: true } }),
        );
        expect(config.builder.buildSlots).toBe(12);
    });

    test.each([
        ["zero", 0, "must be a whole number from 1 to 64"],
        ["more than 64", 65, "must be a whole number from 1 to 64"],
        ["a fraction", 2.5, "must be a whole number, but is the number 2.5"],
        ["a string", "4", 'must be a number, but is the string "4"'],
    ])("refuses %s, naming the key, what it takes and the fix", (_name, value, expected) => {
        const problems = configProblems(
            root,
            staticStack((c) => {
                c.builder = { buildSlots: value };
            }),
        );
        const text = problems.map((p) => `${p.path}: ${p.message}`).join("\n");
        expect(text).toContain("builder.buildSlots");
        expect(text).toContain(expected);
        if (typeof value === "number" && Number.isInteger(value)) {
            expect(text).toContain("raise it for hosts with many cores, lower it if builds on a host stall");
        }
    });
});
