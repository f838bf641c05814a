// signing.identityRegexp is read twice: by cosign, whose `--certificate-identity-regexp` is Go's
// regexp (RE2 syntax, syntax.Perl flags: https://github.com/google/re2/wiki/Syntax, Go
// regexp/syntax doc.go), and by the sign step (runner/signing.ts acceptsIdentity), in
// JavaScript. A pattern JavaScript takes but RE2 refuses (a look-ahead) would fail every
// deploy's verify; one both take but read differently (`\1`: a back-reference here, octal
// there; `[^]`; `\z`; `[[:alpha:]]`; `\s`) would let the two accept different identities. So the
// config takes only the subset both read alike, checked by this small exact parser, which also
// writes the JavaScript form that matches what Go matches (`u` flag: code points, as Go; `.` is
// any character but \n, as in Go without the `s` flag, where JavaScript would also stop at
// \r, U+2028 and U+2029).

/** The pattern's JavaScript source with Go's meaning, and whether it is anchored at both ends. */
export interface CommonPattern {
    source: string;
    anchored: boolean;
}

/** Go refuses a repetition count above 1000 (regexp/syntax: "invalid repeat count"). */
const MAX_REPEAT = 1000;

class Refused extends Error {}

const hex = (c: string) => `\\x${c.codePointAt(0)!.toString(16).padStart(2, "0")}`;
/** A literal in JavaScript `u` syntax: letters and digits as they are, ASCII punctuation by code. */
const literal = (c: string) => (/^[A-Za-z0-9_]$/.test(c) || c.codePointAt(0)! > 0x7f ? c : hex(c));
const isPunct = (c: string | undefined) => c !== undefined && /^[!-/:-@[-`{-~]$/.test(c);

/** Escapes that mean the same in both: character classes both define as ASCII, and control characters. */
const SAME_ESCAPES: Record<string, string> = {
    d: "\\d",
    D: "\\D",
    w: "\\w",
    W: "\\W",
    t: "\\t",
    n: "\\n",
    r: "\\r",
    f: "\\f",
    v: "\\v",
};

/** Why an escape outside the shared subset is refused, and what to write instead. */
function refusedEscape(c: string): string {
    if (/[0-9]/.test(c)) {
        return `\\${c} is a back-reference in JavaScript and an octal escape (or an error) in RE2; RE2 has no back-references, so match the text itself`;
    }
    if (c === "k") {
        return "\\k is a named back-reference, which RE2 does not have";
    }
    if (c === "Q" || c === "E") {
        return "\\Q...\\E quoting is RE2's, JavaScript reads it as the letters Q and E; escape each special character with \\ instead";
    }
    if (c === "p" || c === "P") {
        return `\\${c} Unicode classes are named differently in RE2 and JavaScript; list the characters in [...] instead`;
    }
    if (c === "s" || c === "S") {
        return `\\${c} means [\\t\\n\\f\\r ] in RE2 but also \\v and Unicode spaces in JavaScript; write the characters, such as [ \\t]`;
    }
    if ("AzZG".includes(c)) {
        return `\\${c} is a text anchor in RE2 (or an error) and the letter ${c} in JavaScript; use ^ and $`;
    }
    if (c === "x") {
        return "\\x takes exactly two hex digits in both (\\x{...} is RE2's alone)";
    }
    return `\\${c} is not an escape RE2 and JavaScript read alike (only \\d \\D \\w \\W \\b \\B \\t \\n \\r \\f \\v \\xHH and a backslash before punctuation are)`;
}

/** A recursive-descent reader of the shared subset; throws Refused naming the construct. */
class Reader {
    private i = 0;
    private readonly chars: string[];
    constructor(pattern: string) {
        this.chars = [...pattern];
        const lone = this.chars.find((c) => /^[\uD800-\uDFFF]$/.test(c));
        if (lone !== undefined) {
            throw new Refused("it holds a lone UTF-16 surrogate, which is not a character in Go's UTF-8");
        }
    }

    read(): CommonPattern {
        const { source, branches } = this.alternation(0);
        if (this.i < this.chars.length) {
            throw new Refused(`the ) at character ${this.i + 1} closes no group`);
        }
        const anchored = branches.length === 1 && branches[0][0] === "^" && branches[0].at(-1) === "$";
        return { source, anchored };
    }

    private peek(ahead = 0): string | undefined {
        return this.chars[this.i + ahead];
    }

    /** `a|b|c` until `)` or the end; each branch's atoms as written, to check the anchors. */
    private alternation(depth: number): { source: string; branches: string[][]; scale: number } {
        const branches: string[][] = [];
        const sources: string[] = [];
        let scale = 1;
        for (;;) {
            const read = this.concatenation(depth);
            branches.push(read.atoms);
            sources.push(read.source);
            scale = Math.max(scale, read.scale);
            if (this.peek() !== "|") {
                return { source: sources.join("|"), branches, scale };
            }
            this.i++;
        }
    }

    private concatenation(depth: number): { source: string; atoms: string[]; scale: number } {
        let source = "";
        let scale = 1;
        const atoms: string[] = [];
        for (let c = this.peek(); c !== undefined && c !== "|" && !(c === ")" && depth > 0); c = this.peek()) {
            if (c === ")") {
                throw new Refused(`the ) at character ${this.i + 1} closes no group`);
            }
            const start = this.i;
            const atom = this.atom(depth);
            const raw = this.chars.slice(start, this.i).join("");
            const { repeat, scale: repeated } = this.quantifier(raw, atom.scale);
            atoms.push(repeat === "" ? raw : `${raw}${repeat}`);
            source += atom.source + repeat;
            scale = Math.max(scale, repeated);
        }
        return { source, atoms, scale };
    }

    /** One atom's JavaScript source, and the copies its counted repetitions make (Go caps them). */
    private atom(depth: number): { source: string; scale: number } {
        const c = this.chars[this.i++];
        switch (c) {
            case "(":
                return this.group(depth);
            case "[":
                return { source: this.characterClass(), scale: 1 };
            case ".":
                return { source: "[^\\n]", scale: 1 };
            case "^":
            case "$":
                return { source: c, scale: 1 };
            case "\\":
                return { source: this.escape(), scale: 1 };
            case "*":
            case "+":
            case "?":
                throw new Refused(`the ${c} at character ${this.i} repeats nothing`);
            case "{":
                throw new Refused(
                    `the { at character ${this.i} starts no repetition {n}, {n,} or {n,m}; write \\{ for a literal brace`,
                );
            default:
                return { source: literal(c), scale: 1 };
        }
    }

    private group(depth: number): { source: string; scale: number } {
        let open = "(";
        if (this.peek() === "?") {
            const next = this.peek(1);
            if (next !== ":") {
                const what =
                    next === "=" || next === "!"
                        ? "a look-ahead (?= or (?!, which RE2 does not have"
                        : next === "<" && (this.peek(2) === "=" || this.peek(2) === "!")
                          ? "a look-behind (?<= or (?<!, which RE2 does not have"
                          : next === "<" || next === "P" || next === "'"
                            ? "a named group, whose forms RE2 and JavaScript spell differently; use (...) or (?:...)"
                            : next === ">"
                              ? "an atomic group (?>, which RE2 does not have"
                              : "inline flags such as (?i) or (?s), which JavaScript does not read as RE2 does; write the cases out, such as [Mm]ain";
                throw new Refused(`the group at character ${this.i} is ${what}`);
            }
            this.i += 2;
            open = "(?:";
        }
        const start = this.i;
        const { source, scale } = this.alternation(depth + 1);
        if (this.peek() !== ")") {
            throw new Refused(`the group opened at character ${start} is not closed`);
        }
        this.i++;
        return { source: `${open}${source})`, scale };
    }

    /**
     * `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}`, each optionally lazy (`?`); a second one is refused.
     * Go refuses counted repetitions nested past 1000 copies (regexp/syntax parse.go repeatIsValid).
     */
    private quantifier(atom: string, inner: number): { repeat: string; scale: number } {
        const c = this.peek();
        let repeat: string;
        let count = 1;
        if (c === "*" || c === "+" || c === "?") {
            this.i++;
            repeat = c;
        } else if (c === "{") {
            const m = /^\{(\d+)(,(\d*))?\}/.exec(this.chars.slice(this.i).join(""));
            if (!m) {
                throw new Refused(
                    `the { at character ${this.i + 1} starts no repetition {n}, {n,} or {n,m}; write \\{ for a literal brace`,
                );
            }
            const min = Number(m[1]);
            const max = m[3] === undefined ? min : m[3] === "" ? min : Number(m[3]);
            if (min > MAX_REPEAT || max > MAX_REPEAT) {
                throw new Refused(`the repetition ${m[0]} counts past ${MAX_REPEAT}, which RE2 refuses`);
            }
            if (max < min) {
                throw new Refused(`the repetition ${m[0]} has its bounds out of order`);
            }
            count = Math.max(m[3] === "" ? min : max, 1);
            this.i += m[0].length;
            repeat = m[0];
        } else {
            return { repeat: "", scale: inner };
        }
        if (["^", "$", "\\b", "\\B"].includes(atom)) {
            throw new Refused(`${atom}${repeat} repeats an anchor or a word boundary, which JavaScript refuses`);
        }
        if (this.peek() === "?") {
            this.i++;
            repeat += "?";
        }
        const again = this.peek();
        if (
            again === "*" ||
            again === "+" ||
            again === "?" ||
            (again === "{" && /^\{\d/.test(this.chars.slice(this.i).join("")))
        ) {
            throw new Refused(
                `${repeat}${again} at character ${this.i + 1} repeats a repetition (possessive or nested), which RE2 refuses; put the inner one in a group`,
            );
        }
        if (inner * count > MAX_REPEAT) {
            throw new Refused(`nested repetitions make more than ${MAX_REPEAT} copies of ${atom}, which RE2 refuses`);
        }
        return { repeat, scale: inner * count };
    }

    private escape(): string {
        const c = this.chars[this.i++];
        if (c === undefined) {
            throw new Refused("it ends in a lone backslash");
        }
        if (c === "b" || c === "B") {
            return `\\${c}`;
        }
        return this.sharedEscape(c);
    }

    /** An escape both read alike, in a class or out of one (not \b: a boundary outside, refused inside). */
    private sharedEscape(c: string): string {
        if (SAME_ESCAPES[c] !== undefined) {
            return SAME_ESCAPES[c];
        }
        if (isPunct(c)) {
            return hex(c);
        }
        if (c === "x" && /^[0-9A-Fa-f]{2}$/.test(`${this.peek() ?? ""}${this.peek(1) ?? ""}`)) {
            const code = `${this.chars[this.i]}${this.chars[this.i + 1]}`;
            this.i += 2;
            return `\\x${code}`;
        }
        throw new Refused(refusedEscape(c));
    }

    /** `[...]` or `[^...]`: single characters, ranges, escapes; none of the forms the two read apart. */
    private characterClass(): string {
        const start = this.i;
        let out = "[";
        if (this.peek() === "^") {
            this.i++;
            out += "^";
        }
        if (this.peek() === "]") {
            throw new Refused(
                `the class at character ${start} starts with ], a literal in RE2 but the end of an empty class in JavaScript; write \\]`,
            );
        }
        for (;;) {
            const c = this.chars[this.i++];
            if (c === undefined) {
                throw new Refused(`the class opened at character ${start} is not closed`);
            }
            if (c === "]") {
                return `${out}]`;
            }
            if (c === "[") {
                throw new Refused(
                    this.peek() === ":"
                        ? `[:...:] inside the class at character ${start} is a POSIX class in RE2 and plain characters in JavaScript; write the range, such as [A-Za-z]`
                        : `the [ inside the class at character ${start} is read differently by the two (a POSIX class or a nested set); write \\[`,
                );
            }
            const lo = this.classChar(c, start);
            if (this.peek() === "-" && this.peek(1) !== "]" && this.peek(1) !== undefined) {
                this.i++;
                const hiChar = this.chars[this.i++];
                const hi = this.classChar(hiChar, start);
                if (lo.code === undefined || hi.code === undefined) {
                    throw new Refused(
                        `a range in the class at character ${start} has a class such as \\d as an end; write \\- for a literal -`,
                    );
                }
                if (hi.code < lo.code) {
                    throw new Refused(`a range in the class at character ${start} has its ends out of order`);
                }
                out += `${lo.source}-${hi.source}`;
            } else {
                out += lo.source;
            }
        }
    }

    /** One member of a class: its JavaScript form and, for a single character, its code point. */
    private classChar(c: string, start: number): { source: string; code?: number } {
        if (c === "[") {
            throw new Refused(`the [ inside the class at character ${start} is read differently by the two; write \\[`);
        }
        if (c !== "\\") {
            return { source: literal(c), code: c.codePointAt(0) };
        }
        const e = this.chars[this.i++];
        if (e === undefined) {
            throw new Refused(`the class opened at character ${start} is not closed`);
        }
        if (e === "b" || e === "B") {
            throw new Refused(`\\${e} inside a class is a backspace in JavaScript and an error in RE2; remove it`);
        }
        const source = this.sharedEscape(e);
        const single = /^\\x([0-9a-fA-F]{2})$/.exec(source);
        const controls: Record<string, number> = { t: 9, n: 10, v: 11, f: 12, r: 13 };
        return { source, code: single ? parseInt(single[1], 16) : controls[e] };
    }
}

/**
 * The pattern as both RE2 and JavaScript read it, or why it is outside what they read alike.
 * Throws nothing: `problem` is set instead of `pattern`.
 */
export function commonPattern(pattern: string): { pattern: CommonPattern } | { problem: string } {
    try {
        return { pattern: new Reader(pattern).read() };
    } catch (e) {
        if (e instanceof Refused) {
            return { problem: e.message };
        }
        throw e;
    }
}

/** A JavaScript RegExp that accepts exactly the strings Go's regexp accepts for `pattern` (one the config took). */
export function goRegExp(pattern: string): RegExp {
    const read = commonPattern(pattern);
    if ("problem" in read) {
        throw new Error(`internal: ${pattern} is not a pattern the config accepts: ${read.problem}`);
    }
    return new RegExp(read.pattern.source, "u");
}
