// signing.identityRegexp is matched by cosign with Go's regexp (RE2) and by the sign step with
// re2js (RE2/J in JavaScript): the config takes what RE2 compiles, anchored, and refuses the
// rest with RE2's own reason. The "Go:" answers below were recorded from Go 1.26.8's
// regexp.Compile and MatchString with a throwaway program (not committed).

import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { identityRegexpProblem, matchesAsCosign, scanPattern } from "../config/signing";
import { compileModules } from "./compiled";

const FIX =
    "; set native-build-fleet:signing identityRegexp to a pattern such as ^https://github\\.com/org/repo/\\.github/workflows/fleet\\.yml@refs/(heads/main|tags/v[^/]+)$";

describe("the patterns signing.identityRegexp takes", () => {
    test.each([
        [
            "the shipped GitHub pattern",
            "^https://github\\.com/org/repo/\\.github/workflows/fleet\\.yml@refs/(heads/main|tags/v.*)$",
        ],
        [
            "the shipped GitLab pattern",
            "^https://gitlab\\.com/group/project//\\.gitlab-ci\\.yml@refs/(heads/main|tags/v[^/]+)$",
        ],
        [
            "semver tags",
            "^https://github\\.com/org/repo/\\.github/workflows/release\\.ya?ml@refs/tags/v\\d+\\.\\d+\\.\\d+$",
        ],
        [
            "non-capturing groups, classes and counts",
            "^https://github\\.com/(?:org|other-org)/[A-Za-z0-9_.-]{1,100}/x@refs/heads/main$",
        ],
        ["an email identity", "^release-bot@example\\.com$"],
        ["escaped punctuation and hex", "^a\\-b\\/c\\x41\\]\\[\\{\\}$"],
        ["lazy repetitions and word boundaries", "^\\bx+?y*?z??\\B$"],
        ["a ] that is escaped first in a class, and a - last", "^[\\]a-]$"],
        // RE2's own constructs, which JavaScript reads otherwise or not at all: both sides are RE2 now.
        ["a POSIX class", "^[[:alpha:]]+$"],
        ["a POSIX class holding a $", "^[[:alpha:]$]$"],
        ["] first in a class, a literal in RE2", "^[]a]$"],
        ["] first in a negated class", "^[^]a]$"],
        ["\\Q...\\E quoting", "^\\Qa.b$c\\E$"],
        ["\\Q...\\E quoting inside a group", "^(\\Q)|\\E)$"],
        ["Unicode general categories", "^\\pL\\PL\\p{Lu}\\p{^Nd}[\\p{Zs}]\\p{Any}$"],
        ["inline flags", "^(?i)main$"],
        ["inline flags before the ^", "(?i)^main$"],
        ["a scoped flag group", "^(?i:main)$"],
        ["the m flag only inside a group", "^a(?m:x$)b$"],
        ["the m flag cleared before the $", "^(?m)a(?-m)$"],
        ["named groups in both spellings", "^(?P<org>a)(?<repo>b)$"],
        ["\\s", "^a\\sb$"],
        ["\\x{...}", "^\\x{41}$"],
        ["\\A and \\z", "\\Aa\\z"],
        ["braces that repeat nothing, literals in RE2", "^a{,2}$"],
    ])("takes %s", (_, pattern) => {
        expect(identityRegexpProblem(pattern)).toBeUndefined();
        expect(identityRegexpProblem(pattern)).toBeUndefined();
    });

    // RE2's messages, as Go 1.26 gives them too (`error parsing regexp: …`).
    test.each<[string, string, RegExp]>([
        ["a look-ahead", "^a(?=b)b$", /unsupported Perl syntax: `\(\?=`.*no look-arounds, back-references/],
        ["a negative look-ahead", "^a(?!b)$", /unsupported Perl syntax: `\(\?!`/],
        ["a look-behind", "^(?<=a)b$", /invalid named capture: `\(\?<=a\)b\$`.*no look-arounds/],
        ["a negative look-behind", "^(?<!a)b$", /invalid named capture: `\(\?<!a\)b\$`/],
        ["a back-reference", "^(a)\\1$", /invalid escape sequence: `\\1`.*no look-arounds, back-references/],
        ["a named back-reference", "^(?<n>a)\\k<n>$", /invalid escape sequence: `\\k`/],
        ["an atomic group", "^(?>a)$", /unsupported Perl syntax: `\(\?>`/],
        ["a possessive repetition", "^a*+$", /invalid nested repetition operator: `\*\+`.*possessive/],
        ["a doubled repetition", "^a{2}{3}$", /invalid nested repetition operator: `\{2\}\{3\}`/],
        ["a repetition of nothing", "^(*a)$", /missing argument to repetition operator: `\*`/],
        ["a count RE2 refuses", "^a{1001}$", /invalid repeat count: `\{1001\}`/],
        ["nested counts RE2 refuses", "^(a{100}){11}$", /invalid repeat count: `\{11\}`/],
        ["an unknown flag", "^(?x)a$", /unsupported Perl syntax: `\(\?x`/],
        ["an unknown POSIX class", "^[[:foo:]]$", /invalid character class range: `\[:foo:\]`/],
        ["an unknown Unicode class", "^\\p{Foo}$", /invalid character class range: `\\p\{Foo\}`/],
        ["\\Z, which JavaScript reads as Z", "^a\\Z", /invalid escape sequence: `\\Z`/],
        ["\\u", "^\\u0041$", /invalid escape sequence: `\\u`/],
        ["\\b inside a class", "^[\\b]$", /invalid escape sequence: `\\b`/],
        ["a code point past Unicode", "^\\x{110000}$", /invalid escape sequence/],
        ["a range out of order", "^[z-a]$", /invalid character class range: `z-a`/],
        ["an unclosed group", "^(a$", /missing closing \): `\^\(a\$`/],
        ["an unopened group", "^a)$", /unexpected \)/],
        ["an unclosed class", "^[a$", /missing closing \]: `\[a\$`/],
        ["a trailing backslash", "^a\\", /trailing backslash/],
    ])("refuses %s with RE2's reason", (_, pattern, message) => {
        const problem = identityRegexpProblem(pattern);
        expect(problem).toMatch(
            /^must be a regular expression in RE2 syntax \(cosign matches it with Go's regexp\), but RE2 refuses it: error parsing regexp: /,
        );
        expect(problem).toMatch(message);
        expect(problem?.endsWith(FIX)).toBe(true);
        expect(identityRegexpProblem(pattern)).toBeDefined();
    });

    test.each([
        ["a script", "^\\p{Greek}$", "Greek"],
        ["a multi-word script Go 1.26 refuses", "^\\P{Old_Italic}$", "Old_Italic"],
        ["a property Go does not have, in a class", "^[\\p{White_Space}]$", "White_Space"],
        ["a negated script", "^\\p{^Latin}$", "Latin"],
    ])("refuses %s in \\p, naming it", (_, pattern, name) => {
        expect(identityRegexpProblem(pattern)).toBe(
            `must name only Unicode general categories in \\p, such as \\pL, \\p{Lu} or \\p{Nd}, but it names ${name}: ` +
                "script and property names differ between the Go releases cosign is built with and this program's RE2; " +
                `list the characters in [...] instead, or${FIX.slice(1)}`,
        );
    });

    test.each([
        ["a lone surrogate", "^a\uD800$", "a lone UTF-16 surrogate"],
        ["a NUL", "^a\0$", "a NUL character, which no command line can carry; write \\x00"],
    ])("refuses %s, which cannot reach cosign intact", (_, pattern, what) => {
        expect(identityRegexpProblem(pattern)).toMatch(
            `must be a regular expression cosign can be given, but it holds ${what}`,
        );
    });

    test.each([
        ["no anchors", "https://github\\.com/org/.*"],
        ["no $", "^https://github\\.com/org/repo"],
        ["an escaped $", "^a\\$"],
        ["a $ in a class", "^a[$]"],
        ["a $ in a POSIX-looking class", "^a[[:alpha:]$]"],
        ["a $ quoted by \\Q...\\E", "^a\\Qb$\\E"],
        ["a $ quoted by \\Q to the end", "^a\\Qb$"],
        ["a repeated ^", "^*a$"],
        ["a repeated $", "^a$*"],
        ["a | that escapes the anchors", "^a|b$"],
        ["two anchored branches", "^a$|^b$"],
        ["the m flag, which makes ^ a line anchor", "(?m)^a$"],
        ["the m flag before the $", "^a(?m)$"],
        ["the m flag set among others", "^(?im)a$"],
        ["the empty pattern", ""],
    ])("refuses a pattern with %s as unanchored", (_, pattern) => {
        expect(identityRegexpProblem(pattern)).toBe(
            "must be a regular expression anchored with ^ and $ (or \\A and \\z, and without the m flag, which makes ^ and $ match at line ends) " +
                "and with no | outside a group (unanchored, it would accept any identity that contains a match)" +
                FIX,
        );
    });

    test("says what was expected and how to fix it, naming the config key", () => {
        expect(identityRegexpProblem("^(?=x)x$")).toBe(
            "must be a regular expression in RE2 syntax (cosign matches it with Go's regexp), but RE2 refuses it: " +
                "error parsing regexp: invalid or unsupported Perl syntax: `(?=` (RE2 matches in linear time, so it has no " +
                "look-arounds, back-references, atomic groups or possessive repetitions: https://github.com/google/re2/wiki/Syntax)" +
                FIX,
        );
    });
});

describe("the scan of a pattern RE2 compiled", () => {
    test.each<[string, string[]]>([
        ["^a$", ["^", "other", "$"]],
        ["^(a|b)c*$", ["^", "other", "other", "$"]],
        ["(?i)^[]$[:alpha:]]\\Q$)(\\E\\p{Lu}\\x{24}$", ["flags", "^", "other", "other", "other", "other", "$"]],
        ["\\A(?s:.)\\z", ["\\A", "other", "\\z"]],
    ])("reads %j as top-level atoms %j", (pattern, kinds) => {
        expect(scanPattern(pattern).atoms.map((a) => a.kind)).toEqual(kinds);
    });

    test.each(["[a", "\\p{L", "\\x{41", "(?=x", "\\Qa"])(
        "ends on %j, which RE2 refuses, without looping",
        (pattern) => {
            expect(() => scanPattern(pattern)).not.toThrow();
        },
    );

    test("collects the \\p names, in classes and out", () => {
        expect(scanPattern("^\\pL[\\P{^Lu}\\d]\\p{Greek}$").unicodeClasses).toEqual(["L", "Lu", "Greek"]);
    });
});

describe("the sign step matches as cosign does", () => {
    // Each [pattern, subject, what Go's regexp.MatchString answered]; a JavaScript RegExp answers
    // otherwise (or throws) on every row marked *.
    test.each<[string, string, boolean]>([
        ["^a.b$", "a\rb", true], // * JavaScript's . stops at \r
        ["^a.b$", "a\u2028b", true], // *
        ["^a.b$", "a\nb", false],
        ["^a.b$", "a😀b", true], // * one code point, two UTF-16 units
        ["^a[^/]b$", "a😀b", true], // *
        [
            "^https://github\\.com/org/repo/x@refs/(heads/main|tags/v.*)$",
            "https://github.com/org/repo/x@refs/tags/v1",
            true,
        ],
        [
            "^https://github\\.com/org/repo/x@refs/(heads/main|tags/v.*)$",
            "https://github.com/org/repo/x@refs/heads/mainx",
            false,
        ],
        ["^a\\x41$", "aA", true],
        ["^\\w+$", "é", false],
        ["^[[:alpha:]]+$", "abc", true], // *
        ["^[[:alpha:]]+$", "ab1", false],
        ["^[]a]+$", "]a", true], // *
        ["^\\Qa.b\\E$", "a.b", true], // *
        ["^\\Qa.b\\E$", "axb", false],
        ["^(?i)main$", "MAIN", true], // *
        ["^(?i)k$", "\u212A", true], // * the Kelvin sign folds to k
        ["^(?i:m)ain$", "MAIN", false], // *
        ["^\\s$", "\v", false], // *
        ["^\\s$", "\u00A0", false], // *
        ["^\\s$", "\t", true],
        ["^\\pL+$", "été", true], // *
        ["^\\p{Lu}$", "É", true], // *
        ["^\\p{Lu}$", "é", false],
        ["^\\x{1F600}$", "😀", true], // *
        ["^a$", "a\n", false],
        ["^(?s)a.b$", "a\nb", true], // *
        ["\\Aa\\z", "a", true], // *
        ["^(?P<n>a)(?<m>b)$", "ab", true], // *
        ["b", "abc", true], // a search, as MatchString, not a full match
        ["^b", "abc", false],
        ["^a{,2}$", "a{,2}", true],
        ["^a{,2}$", "aa", false],
        ["(?U)^a+$", "aaa", true], // *
    ])("%j on %j: %s", (pattern, subject, go) => {
        expect(matchesAsCosign(pattern, subject)).toBe(go);
    });
});

describe("re2js loads only for a stack that sets identityRegexp (issue 22: start time)", () => {
    const built = compileModules(["config/signing.ts", "runner/signing.ts"]);
    afterAll(() => fs.rmSync(built, { recursive: true, force: true }));

    /** Parses a keyless signing config and checks an identity in plain Node; whether re2js was loaded before and after. */
    const loads = (signing: object): [boolean, boolean, boolean] =>
        JSON.parse(
            execFileSync(
                process.execPath,
                [
                    "-e",
                    `const loaded = () => Object.keys(require.cache).some((f) => f.includes(${JSON.stringify(`${path.sep}re2js${path.sep}`)}));
const { signingSchema } = require(${JSON.stringify(path.join(built, "config", "signing.js"))});
const { acceptsIdentity } = require(${JSON.stringify(path.join(built, "runner", "signing.js"))});
const before = loaded();
const signing = signingSchema.parse(${JSON.stringify(signing)});
const accepted = acceptsIdentity(signing, "https://github.com/org/repo/.github/workflows/fleet.yml@refs/heads/main");
console.log(JSON.stringify([before, loaded(), accepted]));`,
                ],
                { encoding: "utf8" },
            ),
        ) as [boolean, boolean, boolean];
    const issuer = "https://token.actions.githubusercontent.com";

    test("not with an exact identity", () => {
        expect(
            loads({
                mode: "keyless",
                identity: "https://github.com/org/repo/.github/workflows/fleet.yml@refs/heads/main",
                issuer,
            }),
        ).toEqual([false, false, true]);
    });

    test("with a pattern, which it then checks", () => {
        expect(
            loads({
                mode: "keyless",
                identityRegexp:
                    "^https://github\\.com/org/repo/\\.github/workflows/fleet\\.yml@refs/(heads/main|tags/v[^/]+)$",
                issuer,
            }),
        ).toEqual([false, true, true]);
    });
});
