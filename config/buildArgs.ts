// Build args end up in the image's history and in the registry cache
// (https://docs.docker.com/reference/build-checks/secrets-used-in-arg-or-env/), so a
// credential passed as one is published with the image. This finds the ones that look like
// credentials, by name (in any case style and the usual abbreviations) and by value.

/** Name words that stand for a credential. */
const CREDENTIAL_WORDS = new Set([
    "token",
    "tokens",
    "secret",
    "secrets",
    "password",
    "passwords",
    "passwd",
    "pass",
    "pwd",
    "passphrase",
    "key",
    "apikey",
    "credential",
    "credentials",
    "cred",
    "creds",
    "auth",
    "pat",
    "jwt",
    "bearer",
    "cookie",
    "privatekey",
    "secretkey",
    "accesskey",
    "authtoken",
    "apitoken",
    "accesstoken",
]);

/** Lowercase run-together names that end in a credential word (githubtoken, npmpassword). */
const RUN_TOGETHER = /(token|secret|password|passwd|apikey|credentials?)$/;

/** Words before `key` that make it public by convention: GPG_KEY is a key id, CACHE_KEY a cache name. */
const PUBLIC_BEFORE_KEY = new Set([
    "gpg",
    "pgp",
    "cache",
    "public",
    "pub",
    "sort",
    "partition",
    "primary",
    "foreign",
    "idempotency",
]);

/** Words after a credential word that make the name describe it rather than hold it (TOKEN_URL, KEY_ID). */
const DESCRIPTORS = new Set([
    "id",
    "ids",
    "url",
    "uri",
    "endpoint",
    "domain",
    "host",
    "server",
    "servers",
    "type",
    "method",
    "mode",
    "provider",
    "name",
    "path",
    "file",
    "ttl",
    "fingerprint",
    "ring",
    "length",
    "header",
    "enabled",
    "disabled",
    "required",
    "version",
]);

/** Splits a build-arg name into lowercase words: githubToken, GH_PAT, NPMAuth → github token, gh pat, npm auth. */
export function nameWords(name: string): string[] {
    return name
        .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
        .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
        .split(/[_\W]+/)
        .filter(Boolean)
        .map((w) => w.toLowerCase());
}

/** Whether a build-arg name looks like it carries a credential. */
export function isCredentialName(name: string): boolean {
    const words = nameWords(name);
    if (words.length === 1 && RUN_TOGETHER.test(words[0]) && words[0] !== "key") {
        return true;
    }
    return words.some((word, i) => {
        if (!CREDENTIAL_WORDS.has(word) || DESCRIPTORS.has(words[i + 1] ?? "")) {
            return false;
        }
        return !(word === "key" && (PUBLIC_BEFORE_KEY.has(words[i - 1] ?? "") || words.slice(0, i).includes("public")));
    });
}

/** Token formats with a fixed prefix, as their issuers document them. */
const TOKEN_SHAPES: readonly [RegExp, string][] = [
    [/\bgh[pousr]_[A-Za-z0-9]{36,}/, "a GitHub token (ghp_…)"],
    [/\bgithub_pat_[A-Za-z0-9_]{22,}/, "a GitHub fine-grained token (github_pat_…)"],
    [/\bglpat-[A-Za-z0-9_-]{20,}/, "a GitLab personal access token (glpat-…)"],
    [/\bgl(dt|rt|cbt|ptt|ft|imt|agent|oas|soat)-[A-Za-z0-9_-]{20,}/, "a GitLab token"],
    [/\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b/, "an AWS access key id (AKIA…)"],
    [/\bxox[abposr]-[A-Za-z0-9-]{10,}/, "a Slack token (xox…-)"],
    [/\bnpm_[A-Za-z0-9]{36}\b/, "an npm token (npm_…)"],
    [/\bpypi-[A-Za-z0-9_-]{50,}/, "a PyPI token (pypi-…)"],
    [/\b(sk|rk)_live_[A-Za-z0-9]{16,}/, "a Stripe secret key (sk_live_…)"],
    [/\bAIza[A-Za-z0-9_-]{35}\b/, "a Google API key (AIza…)"],
    [/\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+/, "a JSON Web Token (eyJ…)"],
    [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a private key"],
];

/** What a build-arg value looks like if it carries a credential, or undefined. Never echoes it. */
export function credentialInValue(value: string): string | undefined {
    // RFC 3986 §3.2.1: userinfo is user[:password] before '@'.
    if (/\b[a-z][a-z0-9+.-]*:\/\/[^/?#@\s:]*:[^/?#@\s]+@/i.test(value)) {
        return "a URL with a password in it (scheme://user:password@)";
    }
    return TOKEN_SHAPES.find(([shape]) => shape.test(value))?.[1];
}

const SECRET_FIX =
    "build args are stored in the image history and cache, so pass it as a build secret (RUN --mount=type=secret) instead";

/** Why a build arg may not be used, or undefined. */
export function buildArgProblem(name: string, value: string): string | undefined {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        return "is not a valid build-arg name (letters, digits and '_', not starting with a digit)";
    }
    if (isCredentialName(name)) {
        return `looks like a secret; ${SECRET_FIX}`;
    }
    const shape = credentialInValue(value);
    return shape ? `has a value that looks like ${shape}; ${SECRET_FIX}` : undefined;
}
