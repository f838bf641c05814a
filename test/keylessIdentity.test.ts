// Keyless signing's identity (issue 19, part 5): the identity the outputs tell deploys to
// verify must be what the shipped pipelines really sign with, on main and on v* tag runs,
// each of which Fulcio certifies with its own ref. The config takes one exact identity or an
// anchored pattern; the sign step refuses a run its own verifiers would reject.

import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { ConfigError, parseConfig } from "../config/schema";
import { identityRegexpProblem, SigningConfig } from "../config/signing";
import { acceptsIdentity, ciIdentity, signatureOutput, verifyArgs } from "../runner/signing";
import { parseTrustedSigner } from "../examples/deploy/signer";
import { checksFor } from "../examples/deploy/verify";
import { context, makeProject, validConfig } from "./fixtures";

const root = path.join(__dirname, "..");
const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";
const BY_DIGEST = `registry.example.com/app@sha256:${"e".repeat(64)}`;

/** The pattern a pipeline file's header documents for signing.identityRegexp, with OWNER/REPOSITORY or GROUP/PROJECT filled in. */
function documentedPattern(file: string, project: string): string {
    const line = fs
        .readFileSync(path.join(root, file), "utf8")
        .split("\n")
        .find((l) => l.includes("signing.identityRegexp:"));
    const pattern = /signing\.identityRegexp: (\S+)/.exec(line ?? "")?.[1];
    if (pattern === undefined) {
        throw new Error(`${file} documents no signing.identityRegexp`);
    }
    return pattern.replace(/OWNER\/REPOSITORY|GROUP\/PROJECT/, project);
}

/** GitHub Actions' variables in the up job of the shipped workflow, for a ref. */
const github = (ref: string, workflow = ".github/workflows/fleet.yml", repository = "acme/fleet") => ({
    GITHUB_ACTIONS: "true",
    ACTIONS_ID_TOKEN_REQUEST_URL: "https://token",
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_WORKFLOW_REF: `${repository}/${workflow}@${ref}`,
});
/** GitLab's predefined variables in the up job, for a branch or a tag. */
const gitlab = (ref: { branch?: string; tag?: string }, project = "acme/fleet") => ({
    GITLAB_CI: "true",
    SIGSTORE_ID_TOKEN: "eyJ",
    CI_SERVER_HOST: "gitlab.com",
    CI_PROJECT_PATH: project,
    CI_CONFIG_PATH: ".gitlab-ci.yml",
    ...(ref.branch ? { CI_COMMIT_BRANCH: ref.branch } : {}),
    ...(ref.tag ? { CI_COMMIT_TAG: ref.tag } : {}),
});

describe("the identity each CI run signs with", () => {
    test.each<[string, NodeJS.ProcessEnv, string | undefined]>([
        [
            "GitHub, main",
            github("refs/heads/main"),
            "https://github.com/acme/fleet/.github/workflows/fleet.yml@refs/heads/main",
        ],
        [
            "GitHub, a v* tag",
            github("refs/tags/v1.2.0"),
            "https://github.com/acme/fleet/.github/workflows/fleet.yml@refs/tags/v1.2.0",
        ],
        ["GitLab, main", gitlab({ branch: "main" }), "https://gitlab.com/acme/fleet//.gitlab-ci.yml@refs/heads/main"],
        [
            "GitLab, a v* tag",
            gitlab({ tag: "v1.2.0" }),
            "https://gitlab.com/acme/fleet//.gitlab-ci.yml@refs/tags/v1.2.0",
        ],
        ["outside CI", {}, undefined],
    ])("%s", (_, env, identity) => {
        expect(ciIdentity(env)).toBe(identity);
    });

    test("the shipped pipelines sign only in the up job, whose workflow and config files are the ones named", () => {
        const workflow = parse(fs.readFileSync(path.join(root, ".github/workflows/fleet.yml"), "utf8")) as {
            jobs: Record<string, { permissions?: Record<string, string> }>;
        };
        expect(workflow.jobs.up.permissions?.["id-token"]).toBe("write");
        const gitlabCi = parse(fs.readFileSync(path.join(root, ".gitlab-ci.yml"), "utf8"), { merge: true }) as Record<
            string,
            { id_tokens?: Record<string, unknown> }
        >;
        expect(Object.keys(gitlabCi).filter((job) => gitlabCi[job]?.id_tokens?.SIGSTORE_ID_TOKEN)).toEqual(["up"]);
    });
});

describe.each([
    [
        ".github/workflows/fleet.yml",
        "acme/fleet",
        GITHUB_ISSUER,
        github("refs/heads/main"),
        github("refs/tags/v1.2.0"),
        [
            ["a pull request's run", github("refs/pull/7/merge")],
            ["a push to another branch", github("refs/heads/feature")],
            ["a tag that is not a release", github("refs/tags/nightly")],
            ["another workflow of the repository", github("refs/heads/main", ".github/workflows/other.yml")],
            ["a fork", github("refs/heads/main", ".github/workflows/fleet.yml", "mallory/fleet")],
            [
                "a repository whose name extends it",
                github("refs/heads/main", ".github/workflows/fleet.yml", "acme/fleet-fork"),
            ],
        ],
    ],
    [
        ".gitlab-ci.yml",
        "acme/fleet",
        "https://gitlab.com",
        gitlab({ branch: "main" }),
        gitlab({ tag: "v1.2.0" }),
        [
            ["a push to another branch", gitlab({ branch: "feature" })],
            ["a tag that is not a release", gitlab({ tag: "nightly" })],
            ["a fork", gitlab({ branch: "main" }, "mallory/fleet")],
        ],
    ],
] as const)("the identity pattern %s documents", (file, project, issuer, main, tag, others) => {
    const signing = (): SigningConfig & { mode: "keyless" } => ({
        mode: "keyless",
        identityRegexp: documentedPattern(file, project),
        issuer,
    });

    test("is one the config accepts, anchored", () => {
        const config = parseConfig({ ...validConfig(), signing: signing() }, context(makeProject()));
        expect(config.signing).toEqual(signing());
        expect(identityRegexpProblem(signing().identityRegexp!)).toBeUndefined();
    });

    test("accepts what up signs with on main and on a v* tag", () => {
        expect([acceptsIdentity(signing(), ciIdentity(main)!), acceptsIdentity(signing(), ciIdentity(tag)!)]).toEqual([
            true,
            true,
        ]);
    });

    test.each(others)("rejects %s", (_, env) => {
        expect(acceptsIdentity(signing(), ciIdentity(env)!)).toBe(false);
    });

    test("is what the outputs give deploys, and what their cosign and the deploy example, pinning it as written, verify with", () => {
        const out = signatureOutput(signing(), BY_DIGEST, []);
        expect(out).toMatchObject({
            certificateIdentityRegexp: signing().identityRegexp,
            certificateOidcIssuer: issuer,
        });
        expect(out).not.toHaveProperty("certificateIdentity");
        expect(verifyArgs(signing(), BY_DIGEST)).toEqual([
            "verify",
            "--certificate-identity-regexp",
            signing().identityRegexp,
            "--certificate-oidc-issuer",
            issuer,
            BY_DIGEST,
        ]);
        // The deploy pins the fleet's signing config itself, handed over as written, and the
        // pattern the outputs carry is the same signer, so no "signer changed".
        const [check] = checksFor(
            "app",
            { ref: BY_DIGEST, platforms: { "linux/amd64": { ref: BY_DIGEST } }, signature: out },
            parseTrustedSigner(signing(), "trustedSigner"),
            "cosign.pub",
        );
        expect(check.args).toEqual(
            expect.arrayContaining([
                "--certificate-identity-regexp",
                signing().identityRegexp,
                "--certificate-oidc-issuer",
                issuer,
            ]),
        );
    });

    test("an exact identity for main, as the config took before, rejects every tag run: the gap the pattern closes", () => {
        const exact: SigningConfig & { mode: "keyless" } = { mode: "keyless", identity: ciIdentity(main)!, issuer };
        expect([acceptsIdentity(exact, ciIdentity(main)!), acceptsIdentity(exact, ciIdentity(tag)!)]).toEqual([
            true,
            false,
        ]);
    });
});

describe("the keyless config", () => {
    const problems = (signing: unknown) => {
        try {
            parseConfig({ ...validConfig(), signing }, context(makeProject()));
            return [];
        } catch (e) {
            if (e instanceof ConfigError) {
                return e.problems.map((p) => `${p.path}: ${p.message}`);
            }
            throw e;
        }
    };

    test.each([
        [
            "neither identity nor pattern",
            { mode: "keyless", issuer: GITHUB_ISSUER },
            /^signing\.identity: set exactly one of signing\.identity .* and signing\.identityRegexp/,
        ],
        [
            "both",
            { mode: "keyless", identity: "x", identityRegexp: "^x$", issuer: GITHUB_ISSUER },
            /^signing\.identity: set exactly one/,
        ],
        [
            "an unanchored pattern",
            { mode: "keyless", identityRegexp: "https://github\\.com/acme/fleet/.*", issuer: GITHUB_ISSUER },
            /^signing\.identityRegexp: must be a regular expression anchored with \^ and \$/,
        ],
        [
            "a pattern whose | escapes its anchors",
            { mode: "keyless", identityRegexp: "^https://github\\.com/acme/fleet/x|y$", issuer: GITHUB_ISSUER },
            /^signing\.identityRegexp: must be a regular expression anchored/,
        ],
        [
            "a pattern that does not compile",
            { mode: "keyless", identityRegexp: "^(unclosed$", issuer: GITHUB_ISSUER },
            /^signing\.identityRegexp: must be a regular expression/,
        ],
        [
            "a pattern JavaScript takes but cosign's Go regexp refuses (a look-ahead)",
            {
                mode: "keyless",
                identityRegexp: "^https://github\\.com/acme/(?!evil)[a-z]+/x@refs/heads/main$",
                issuer: GITHUB_ISSUER,
            },
            /^signing\.identityRegexp: must be a regular expression in RE2 syntax \(cosign matches it with Go's regexp\), but RE2 refuses it: .*`\(\?!`.*; set native-build-fleet:signing identityRegexp to a pattern such as \^https/,
        ],
        [
            "a pattern naming a Unicode script, whose tables differ between Go releases and re2js",
            { mode: "keyless", identityRegexp: "^https://github\\.com/acme/\\p{Latin}+/x$", issuer: GITHUB_ISSUER },
            /^signing\.identityRegexp: must name only Unicode general categories in \\p, .* but it names Latin/,
        ],
    ])("refuses %s, naming the key and the fix", (_, signing, message) => {
        expect(problems(signing)).toEqual([expect.stringMatching(message)]);
    });
});
