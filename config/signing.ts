// The `signing` config: how every pushed image is signed and attested with cosign
// (docs/signing.md, "Verifiable releases"). Absent: nothing is signed, and the program says so.

import type * as Re2js from "re2js";
import { z } from "zod";
import { Reporter } from "./projectPaths";

const PUBLIC_KEY = /^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\s*$/;

/**
 * The AWS KMS key URIs cosign accepts (sigstore/sigstore pkg/signature/kms/aws, `ParseReference`):
 * `awskms://[endpoint]/` then a key id, an alias, or a key or alias ARN.
 */
export const AWS_KMS_URI = new RegExp(
    "^awskms://([a-z0-9.-]+(:[0-9]{1,5})?)?/(" +
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|alias/[A-Za-z0-9/_-]+|" +
        "arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key/([0-9a-f-]{36}|mrk-[0-9a-f]{32})|alias/[A-Za-z0-9/_-]+))$",
);

/**
 * `transparencyLog: false` (key and kms only) signs without Rekor, for registries and readers
 * that cannot reach Sigstore's public instance; verifiers then pass `--insecure-ignore-tlog=true`.
 */
export const signingSchema = z.discriminatedUnion("mode", [
    z
        .object({
            mode: z.literal("key"),
            publicKey: z
                .string()
                .regex(
                    PUBLIC_KEY,
                    "must be a cosign public key in PEM form (the contents of cosign.pub, from `cosign generate-key-pair`)",
                ),
            transparencyLog: z.boolean().default(true),
        })
        .strict(),
    z
        .object({
            mode: z.literal("kms"),
            key: z
                .string()
                .regex(
                    AWS_KMS_URI,
                    "must be an AWS KMS key URI such as awskms:///arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab or awskms:///alias/release-signing",
                ),
            transparencyLog: z.boolean().default(true),
        })
        .strict(),
    z
        .object({
            mode: z.literal("keyless"),
            identity: z
                .string()
                .min(
                    1,
                    "must be the certificate identity verifiers expect, such as https://github.com/org/repo/.github/workflows/fleet.yml@refs/heads/main",
                )
                .optional(),
            identityRegexp: z
                .string()
                .superRefine((pattern, ctx) => {
                    const problem = identityRegexpProblem(pattern);
                    if (problem !== undefined) {
                        ctx.addIssue({ code: "custom", message: problem });
                    }
                })
                .optional(),
            issuer: z.url({
                protocol: /^https$/,
                error: "must be the OIDC issuer URL, such as https://token.actions.githubusercontent.com or https://gitlab.com",
            }),
        })
        .strict()
        .refine((s) => (s.identity === undefined) !== (s.identityRegexp === undefined), {
            path: ["identity"],
            message:
                "set exactly one of signing.identity (one exact certificate identity) and signing.identityRegexp (a pattern, for a pipeline that signs on its main branch and on v* tags, " +
                'each run certified with its own ref: README, "CI pipelines")',
        }),
]);

const EXAMPLE_PATTERN = "^https://github\\.com/org/repo/\\.github/workflows/fleet\\.yml@refs/(heads/main|tags/v[^/]+)$";
const SET_IT = `set native-build-fleet:signing identityRegexp to a pattern such as ${EXAMPLE_PATTERN}`;

/**
 * re2js (https://github.com/le0pard/re2js, RE2/J ported to JavaScript: Go's RE2 syntax and
 * matching), loaded only when a stack sets identityRegexp: requiring it and compiling a first
 * pattern costs about 0.1 s, which every other run's start is spared (issue 22).
 */
function re2(): typeof Re2js {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require("re2js") as typeof Re2js;
}

/**
 * Go's `regexp.MatchString(pattern, s)`, which is how cosign evaluates
 * `--certificate-identity-regexp`: a search for a match anywhere in `s`, not a full match
 * (with the anchored patterns the config takes, the two agree). `pattern` is one the config took.
 */
export function matchesAsCosign(pattern: string, s: string): boolean {
    return re2().RE2JS.compile(pattern).test(s);
}

/**
 * The Unicode general categories (Unicode Standard, chapter 4, table 4-4) and Any: the `\p`
 * names every Go release cosign may be built with and re2js read alike. Script names and
 * properties are not: Go 1.26 refuses multi-word script names such as Old_Italic
 * (regexp/syntax canonicalName drops the underscore its tables keep), and re2js knows
 * properties such as White_Space and scripts newer than Go's Unicode 15.0 tables.
 */
const UNICODE_CLASSES = new Set(
    "Any L Lu Ll Lt Lm Lo M Mn Mc Me N Nd Nl No P Pc Pd Ps Pe Pi Pf Po S Sm Sc Sk So Z Zs Zl Zp C Cc Cf Cs Co Cn".split(
        " ",
    ),
);

/** What the scan of a pattern RE2 compiled finds outside every group, and the \p names it uses. */
interface Shape {
    /** Each top-level atom: `^`, `$`, `\A`, `\z`, a flag group `(?i)`, or anything else (`other`), and whether a repetition follows. */
    atoms: { kind: "^" | "$" | "\\A" | "\\z" | "flags" | "other"; multiline: boolean; repeated: boolean }[];
    alternation: boolean;
    unicodeClasses: string[];
}

/**
 * A scan of `pattern`, which RE2 has compiled, in RE2's syntax (Go regexp/syntax doc.go):
 * `\Q...\E` quotes, `[...]` may start with `]` and hold `[:alpha:]`, `\p{..}` and `\x{..}`
 * take braces, `{n,m}` repeats only in that form (else it is a literal), and `(?m)` outside
 * every group turns later `^` and `$` into line anchors until `(?-m)`.
 */
export function scanPattern(pattern: string): Shape {
    const c = [...pattern];
    const shape: Shape = { atoms: [], alternation: false, unicodeClasses: [] };
    let depth = 0;
    let multiline = false;
    /** Where the two characters `pair` next stand together from `from`, or -1. */
    const find = (pair: string[], from: number): number => {
        for (let k = from; k + 1 < c.length; k++) {
            if (c[k] === pair[0] && c[k + 1] === pair[1]) {
                return k;
            }
        }
        return -1;
    };
    const escape = (i: number): number => {
        const e = c[i + 1];
        if (e === "Q") {
            const end = find(["\\", "E"], i + 2);
            return end < 0 ? c.length : end + 2;
        }
        if ((e === "p" || e === "P" || e === "x") && c[i + 2] === "{") {
            const close = c.indexOf("}", i + 2);
            if (close < 0) {
                return c.length;
            }
            if (e !== "x") {
                shape.unicodeClasses.push(
                    c
                        .slice(i + 3, close)
                        .join("")
                        .replace(/^\^/, ""),
                );
            }
            return close + 1;
        }
        if (e === "p" || e === "P") {
            shape.unicodeClasses.push(c[i + 2]);
            return i + 3;
        }
        return i + 2;
    };
    const characterClass = (i: number): number => {
        let j = i + 1;
        j += c[j] === "^" ? 1 : 0;
        j += c[j] === "]" ? 1 : 0;
        while (j < c.length && c[j] !== "]") {
            const posix = c[j] === "[" && c[j + 1] === ":" ? find([":", "]"], j + 2) : -1;
            j = posix >= 0 ? posix + 2 : c[j] === "\\" ? escape(j) : j + 1;
        }
        return j + 1;
    };
    for (let i = 0; i < c.length;) {
        const start = i;
        let kind: Shape["atoms"][number]["kind"] = "other";
        if (c[i] === "\\") {
            i = escape(i);
            kind = c[start + 1] === "A" ? "\\A" : c[start + 1] === "z" ? "\\z" : "other";
        } else if (c[i] === "[") {
            i = characterClass(i);
        } else if (c[i] === "(") {
            depth++;
            i++;
            if (c[i] === "?") {
                const head = /^\?(P?<[^>]*>|[imsU-]*[:)])?/.exec(c.slice(i).join(""))![0];
                i += [...head].length;
                if (head.endsWith(")")) {
                    depth--;
                    kind = "flags";
                    if (depth === 0 && head.includes("m")) {
                        multiline = !head.slice(0, head.lastIndexOf("m")).includes("-");
                    }
                }
            }
            if (kind !== "flags") {
                continue;
            }
        } else if (c[i] === ")") {
            depth--;
            i++;
        } else if (c[i] === "|") {
            shape.alternation ||= depth === 0;
            i++;
            continue;
        } else {
            kind = c[i] === "^" ? "^" : c[i] === "$" ? "$" : "other";
            i++;
        }
        const repeat = /^([*+?]|\{\d+(,\d*)?\})\??/.exec(c.slice(i).join(""));
        i += repeat ? [...repeat[0]].length : 0;
        if (depth === 0) {
            shape.atoms.push({ kind, multiline, repeated: repeat !== null });
        }
    }
    return shape;
}

/** What RE2 leaves out by design (linear-time matching), for its refusals of those constructs. */
const RE2_OMITS =
    " (RE2 matches in linear time, so it has no look-arounds, back-references, atomic groups or possessive repetitions: https://github.com/google/re2/wiki/Syntax)";

/**
 * Why `pattern` cannot be signing.identityRegexp, or nothing. cosign matches it with Go's regexp
 * (RE2 syntax, syntax.Perl flags) and the sign step with re2js, the same syntax and semantics,
 * so it must compile in RE2; it must be anchored at both ends with no `|` outside a group
 * (`^a|b$` would accept any identity that ends in b), so it cannot match inside a longer
 * identity; and it may name only the Unicode classes both read alike.
 */
export function identityRegexpProblem(pattern: string): string | undefined {
    // Node passes argv as UTF-8: a lone surrogate would reach cosign as U+FFFD, and a NUL not at all.
    const unsendable = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(pattern)
        ? "a lone UTF-16 surrogate, which is no character in the UTF-8 cosign reads"
        : pattern.includes("\0")
          ? "a NUL character, which no command line can carry; write \\x00"
          : undefined;
    if (unsendable !== undefined) {
        return `must be a regular expression cosign can be given, but it holds ${unsendable}; ${SET_IT}`;
    }
    const { RE2JS, RE2JSException } = re2();
    try {
        RE2JS.compile(pattern);
    } catch (e) {
        if (!(e instanceof RE2JSException)) {
            throw e;
        }
        const omitted = /Perl syntax|named capture|escape sequence: `\\[1-9k]|nested repetition/.test(e.message);
        return `must be a regular expression in RE2 syntax (cosign matches it with Go's regexp), but RE2 refuses it: ${e.message}${omitted ? RE2_OMITS : ""}; ${SET_IT}`;
    }
    const shape = scanPattern(pattern);
    const unicode = shape.unicodeClasses.find((name) => !UNICODE_CLASSES.has(name));
    if (unicode !== undefined) {
        return (
            `must name only Unicode general categories in \\p, such as \\pL, \\p{Lu} or \\p{Nd}, but it names ${unicode}: ` +
            "script and property names differ between the Go releases cosign is built with and this program's RE2; " +
            `list the characters in [...] instead, or ${SET_IT}`
        );
    }
    const ends = shape.atoms.filter((a) => a.kind !== "flags");
    const first = ends[0];
    const last = ends.at(-1);
    const anchored =
        !shape.alternation &&
        first !== undefined &&
        last !== undefined &&
        !first.repeated &&
        !last.repeated &&
        ((first.kind === "^" && !first.multiline) || first.kind === "\\A") &&
        ((last.kind === "$" && !last.multiline) || last.kind === "\\z");
    if (!anchored) {
        return (
            "must be a regular expression anchored with ^ and $ (or \\A and \\z, and without the m flag, which makes ^ and $ match at line ends) " +
            "and with no | outside a group (unanchored, it would accept any identity that contains a match); " +
            SET_IT
        );
    }
    return undefined;
}

export type SigningConfig = z.infer<typeof signingSchema>;

/** Which signing secrets are set in the stack config (their values never pass through here). */
export interface SigningSecretsSet {
    signingKey?: boolean;
    signingKeyPassword?: boolean;
}

/** A key pair needs its private half and its password as config secrets. */
export function checkSigningSecrets(
    signing: SigningConfig | undefined,
    set: SigningSecretsSet,
    report: Reporter,
): void {
    if (signing?.mode !== "key") {
        return;
    }
    if (!set.signingKey) {
        report(
            "signingKey",
            "signing.mode is key, so the cosign private key is needed; run `pulumi config set --secret signingKey < cosign.key`",
        );
    }
    if (!set.signingKeyPassword) {
        report(
            "signingKeyPassword",
            "signing.mode is key, so the private key's password is needed; run `pulumi config set --secret signingKeyPassword <password>`",
        );
    }
}
