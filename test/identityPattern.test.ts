// signing.identityRegexp is matched by cosign with Go's regexp (RE2) and by the sign step in
// JavaScript: the config takes only patterns both read alike (config/identityPattern.ts). The
// "Go:" answers below were recorded from Go 1.26's regexp.Compile and MatchString.

import { commonPattern, goRegExp } from "../config/identityPattern";
import { anchoredRegexp, identityRegexpProblem } from "../config/signing";

const problem = (pattern: string) => {
    const read = commonPattern(pattern);
    return "problem" in read ? read.problem : undefined;
};

describe("patterns RE2 and JavaScript read alike", () => {
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
    ])("takes %s", (_, pattern) => {
        expect(problem(pattern)).toBeUndefined();
        expect(anchoredRegexp(pattern)).toBe(true);
    });

    test.each<[string, string, RegExp]>([
        ["a look-ahead", "^a(?=b)b$", /look-ahead .*RE2 does not have/],
        ["a negative look-ahead", "^a(?!b)$", /look-ahead/],
        ["a look-behind", "^(?<=a)b$", /look-behind/],
        ["a negative look-behind", "^(?<!a)b$", /look-behind/],
        ["a back-reference", "^(a)\\1$", /\\1 is a back-reference in JavaScript and an octal escape/],
        ["an octal-looking \\0", "^a\\0$", /\\0 is a back-reference/],
        ["a named back-reference", "^(?<n>a)\\k<n>$", /named group/],
        ["a named group, JavaScript's form", "^(?<n>a)$", /named group/],
        ["a named group, RE2's form", "^(?P<n>a)$", /named group/],
        ["an atomic group", "^(?>a)$", /atomic group/],
        ["inline flags", "^(?i)main$", /inline flags/],
        ["a scoped flag group", "^(?i:main)$", /inline flags/],
        ["\\Q...\\E quoting", "^\\Qa.b\\E$", /\\Q\.\.\.\\E quoting/],
        ["a Unicode class", "^\\p{L}+$", /Unicode classes/],
        ["a negated Unicode class", "^\\PL$", /Unicode classes/],
        ["\\s, which JavaScript widens", "^a\\sb$", /\\s means \[\\t\\n\\f\\r \] in RE2/],
        ["\\S", "^\\S+$", /\\S means/],
        ["\\z, a letter in JavaScript", "^a\\z", /\\z is a text anchor in RE2/],
        ["\\A", "\\Aa$", /\\A is a text anchor/],
        ["\\Z", "^a\\Z", /\\Z is a text anchor/],
        ["\\x{...}", "^\\x{41}$", /\\x takes exactly two hex digits/],
        ["\\u", "^\\u0041$", /\\u is not an escape RE2 and JavaScript read alike/],
        ["\\a, a bell in RE2 and a letter in JavaScript", "^\\a$", /\\a is not an escape/],
        ["a POSIX class", "^[[:alpha:]]+$", /POSIX class in RE2 and plain characters in JavaScript/],
        ["a [ inside a class", "^[a[]$", /the \[ inside the class/],
        [
            "] first in a class",
            "^[]a]$",
            /starts with \], a literal in RE2 but the end of an empty class in JavaScript/,
        ],
        ["JavaScript's any-character [^]", "^[^]a]$", /starts with \]/],
        ["\\b inside a class", "^[\\b]$", /backspace in JavaScript and an error in RE2/],
        ["a range from a class", "^[\\d-z]$", /has a class such as \\d as an end/],
        ["a range out of order", "^[z-a]$", /ends out of order/],
        ["a possessive repetition", "^a*+$", /repeats a repetition \(possessive or nested\)/],
        ["a doubled repetition", "^a{2}{3}$", /repeats a repetition/],
        ["a repeated anchor", "^*a$", /repeats an anchor/],
        ["a repeated word boundary", "^\\b*a$", /repeats an anchor or a word boundary/],
        ["a repetition of nothing", "^(*a)$", /repeats nothing/],
        ["a count RE2 refuses", "^a{1001}$", /counts past 1000/],
        ["nested counts RE2 refuses", "^(a{100}){11}$", /nested repetitions make more than 1000 copies/],
        ["a brace that repeats nothing", "^a{,2}$", /starts no repetition/],
        ["an unclosed group", "^(a$", /not closed/],
        ["an unopened group", "^a)$", /closes no group/],
        ["an unclosed class", "^[a$", /class opened at character 2 is not closed/],
        ["a trailing backslash", "^a\\", /lone backslash/],
        ["a lone surrogate", "^a\uD800$", /lone UTF-16 surrogate/],
    ])("refuses %s, naming it", (_, pattern, message) => {
        expect(problem(pattern)).toMatch(message);
        expect(anchoredRegexp(pattern)).toBe(false);
    });

    test.each([
        ["no anchors", "https://github\\.com/org/.*"],
        ["no $", "^https://github\\.com/org/repo"],
        ["an escaped $", "^a\\$"],
        ["a $ in a class", "^a[$]"],
        ["a | that escapes the anchors", "^a|b$"],
        ["the empty pattern", ""],
    ])("refuses a pattern with %s as unanchored", (_, pattern) => {
        expect(identityRegexpProblem(pattern)).toMatch(/^must be a regular expression anchored with \^ and \$/);
    });

    test("says what was expected and how to fix it, naming the config key", () => {
        expect(identityRegexpProblem("^(?=x)x$")).toBe(
            "must be a regular expression in the syntax cosign (Go's regexp, RE2) and this program read alike, but the group at character 2 is " +
                "a look-ahead (?= or (?!, which RE2 does not have; set native-build-fleet:signing identityRegexp to a pattern such as " +
                "^https://github\\.com/org/repo/\\.github/workflows/fleet\\.yml@refs/(heads/main|tags/v[^/]+)$",
        );
    });
});

describe("the sign step matches as cosign does", () => {
    // Each [pattern, subject, what Go's regexp.MatchString answered].
    test.each<[string, string, boolean]>([
        ["^a.b$", "a\rb", true], // JavaScript's . stops at \r
        ["^a.b$", "a\u2028b", true],
        ["^a.b$", "a\nb", false],
        ["^a.b$", "a😀b", true], // one code point, two UTF-16 units
        ["^a[^/]b$", "a😀b", true],
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
    ])("%j on %j: %s", (pattern, subject, go) => {
        expect(goRegExp(pattern).test(subject)).toBe(go);
    });
});
