// The edge: stack config as Pulumi hands it over, secrets, and the OCI labels from git.

import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig } from "../config/load";
import { ConfigError } from "../config/schema";
import { ociLabels, redactRemote, sourceUrl } from "../plan/ociLabels";
import { makeProject, validConfig } from "./fixtures";
import { installMocks, valueOf } from "./mocks";

// These fixtures use placeholder keys; test/privateKey.test.ts checks real ones, and that loadConfig checks them.
jest.mock("../config/privateKey");

const mocks = installMocks();
const root = makeProject();
/** A PATH holding a stand-in `aws`, which stacks with EC2 pools need (host keys come from the console). */
const awsBin = fs.mkdtempSync(path.join(root, "aws-bin-"));
fs.writeFileSync(path.join(awsBin, "aws"), "#!/bin/sh\n", { mode: 0o755 });
const withAws = { PATH: awsBin };
const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
        cwd: root,
        encoding: "utf8",
    }).trim();

function setConfig(values: Record<string, unknown>, secretKeys: string[] = ["sshPrivateKey"]): void {
    pulumi.runtime.setAllConfig(
        Object.fromEntries(
            Object.entries(values).map(([k, v]) => [
                `native-build-fleet:${k}`,
                typeof v === "string" ? v : JSON.stringify(v),
            ]),
        ),
        secretKeys.map((k) => `native-build-fleet:${k}`),
    );
}

beforeAll(() => {
    git("init", "-q");
    git("add", "app");
    git("commit", "-qm", "app");
    fs.writeFileSync(path.join(root, "worker", "main.go"), "package main\n");
    git("add", "worker");
    git("commit", "-qm", "worker");
});

test("reads every key of the project namespace and keeps the private key a secret", async () => {
    setConfig({ ...validConfig(), sshPrivateKey: "PRIVATE" });
    const loaded = loadConfig(root, withAws);
    expect(loaded.config.images[0].name).toBe("app");
    expect(await pulumi.isSecret(loaded.sshPrivateKey)).toBe(true);
    expect(await valueOf(loaded.sshPrivateKey)).toBe("PRIVATE\n");
    expect(loaded.registryPassword).toBeUndefined();
});

test("ends the private key with the newline OpenSSH needs, which `pulumi config set` drops", async () => {
    setConfig({
        ...validConfig(),
        sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----",
    });
    expect(await valueOf(loadConfig(root, withAws).sshPrivateKey)).toBe(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n",
    );
});

test("treats the empty default of registryPassword as unset", () => {
    setConfig(
        {
            ...validConfig(),
            registry: { type: "external", address: "registry.example.com", username: "ci" },
            sshPrivateKey: "K",
            registryPassword: "",
        },
        ["sshPrivateKey"],
    );
    expect(() => loadConfig(root, {})).toThrow(/registryPassword: the external registry needs its password/);
});

test("renders tag templates for this build before validating them", () => {
    const raw = validConfig() as Record<string, any>;
    raw.images[0].tags = ["{{branch}}", "{{short_sha}}", "{{version}}"];
    setConfig({ ...raw, sshPrivateKey: "K" });
    const loaded = loadConfig(root, {
        ...withAws,
        GITHUB_SHA: "0123456789abcdef",
        GITHUB_REF_TYPE: "branch",
        GITHUB_REF_NAME: "release/1.x",
    });
    expect(loaded.config.images[0].tags).toEqual(["release-1.x", "0123456"]);
});

test("refuses an image none of whose tags applies to this build", () => {
    const raw = validConfig() as Record<string, any>;
    raw.images[0].tags = ["{{version}}"];
    setConfig({ ...raw, sshPrivateKey: "K" });
    expect(() =>
        loadConfig(root, { GITHUB_SHA: "0123456789abcdef", GITHUB_REF_TYPE: "branch", GITHUB_REF_NAME: "main" }),
    ).toThrow(/images\[0\]\.tags: no tag applies to this build/);
});

test("names the known placeholders when a template uses another", () => {
    const raw = validConfig() as Record<string, any>;
    raw.images[0].tags = ["{{date}}"];
    setConfig({ ...raw, sshPrivateKey: "K" });
    expect(() => loadConfig(root, {})).toThrow(
        /"\{\{date\}\}" uses an unknown placeholder; tag templates know \{\{branch\}\}/,
    );
});

test("with ssh.access ssm, refuses to start without the AWS CLI's session plugin, naming what is missing", () => {
    const raw = {
        ...validConfig(),
        ssh: { access: "ssm", publicKey: (validConfig() as any).ssh.publicKey },
        network: { vpcId: "vpc-0abc1234", subnetIds: ["subnet-0aaa1111"] },
    };
    setConfig({ ...raw, sshPrivateKey: "K" });
    const bin = fs.mkdtempSync(path.join(root, "bin-"));
    fs.writeFileSync(path.join(bin, "aws"), "#!/bin/sh\n", { mode: 0o755 });
    expect(() => loadConfig(root, { PATH: bin })).toThrow(
        /ssh.access: is ssm, but session-manager-plugin is not on PATH/,
    );
    fs.writeFileSync(path.join(bin, "session-manager-plugin"), "#!/bin/sh\n", { mode: 0o755 });
    expect(loadConfig(root, { PATH: bin, AWS_REGION: "eu-north-1" }).region).toBe("eu-north-1");
});

test("with idleMinutes, refuses to start without the AWS CLI that starts stopped hosts", () => {
    const raw = validConfig() as Record<string, any>;
    raw.hosts[1].idleMinutes = 30;
    setConfig({ ...raw, sshPrivateKey: "K" });
    const bin = fs.mkdtempSync(path.join(root, "bin-"));
    expect(() => loadConfig(root, { PATH: bin })).toThrow(/hosts\[1\]\.idleMinutes: is set, but aws is not on PATH/);
    fs.writeFileSync(path.join(bin, "aws"), "#!/bin/sh\n", { mode: 0o755 });
    expect(loadConfig(root, { PATH: bin }).config.hosts[1].idleMinutes).toBe(30);
});

test("with EC2 pools, refuses to start without the AWS CLI that reads each new host's key from its console", () => {
    setConfig({ ...validConfig(), sshPrivateKey: "K" });
    const bin = fs.mkdtempSync(path.join(root, "bin-"));
    expect(() => loadConfig(root, { PATH: bin })).toThrow(
        /hosts: lists EC2 pools, but aws is not on PATH: .*\(ec2:GetConsoleOutput\)/,
    );
    expect(loadConfig(root, withAws).config.hosts.length).toBeGreaterThan(0);
});

test("refuses a typo in a top-level key before creating anything", () => {
    setConfig({ ...validConfig(), sshPrivateKey: "PRIVATE", imagse: [] });
    expect(() => loadConfig(root, {})).toThrow(/imagse: is not a key of the stack config; did you mean images\?/);
    expect(mocks.resources).toEqual([]);
});

test("refuses a private key stored in plain text", () => {
    setConfig({ ...validConfig(), sshPrivateKey: "PRIVATE" }, []);
    expect(() => loadConfig(root, withAws)).toThrow(ConfigError);
    expect(() => loadConfig(root, withAws)).toThrow(
        /sshPrivateKey: is stored in plain text in the stack file; set it again with `pulumi config set --secret sshPrivateKey`/,
    );
});

test("reads the external registry's password as a secret", async () => {
    setConfig(
        {
            ...validConfig(),
            registry: { type: "external", address: "registry.example.com", username: "ci" },
            sshPrivateKey: "K",
            registryPassword: "P",
        },
        ["sshPrivateKey", "registryPassword"],
    );
    const loaded = loadConfig(root, withAws);
    expect(await pulumi.isSecret(loaded.registryPassword!)).toBe(true);
});

test("labels each image with the last commit that touched its context", () => {
    const appCommit = git("log", "-1", "--format=%H", "--", "app");
    const workerCommit = git("rev-parse", "HEAD");
    expect(appCommit).not.toBe(workerCommit);
    expect(ociLabels(root, "app", "https://example.com/repo")).toEqual({
        "org.opencontainers.image.source": "https://example.com/repo",
        "org.opencontainers.image.revision": appCommit,
        "org.opencontainers.image.created": git("log", "-1", "--format=%cI", "--", "app"),
    });
    expect(ociLabels(root, "worker", undefined)["org.opencontainers.image.revision"]).toBe(workerCommit);
});

test("gives each image the labels of its context's last commit, read in one process while the program goes on", async () => {
    setConfig({
        ...validConfig(),
        sshPrivateKey: "K",
        images: [
            { name: "app", context: "app", platforms: ["linux/amd64"] },
            { name: "worker", context: "worker", dockerfile: "Dockerfile.prod", platforms: ["linux/amd64"] },
            { name: "app-debug", context: "app", platforms: ["linux/amd64"] },
        ],
    });
    const { labels } = loadConfig(root, { ...withAws, CI_PROJECT_URL: "https://gitlab.example.com/acme/app" });
    const source = "https://gitlab.example.com/acme/app";
    expect(await valueOf(labels.app)).toEqual(ociLabels(root, "app", source));
    expect(await valueOf(labels.worker)).toEqual(ociLabels(root, "worker", source));
    expect((await valueOf(labels.worker))["org.opencontainers.image.revision"]).toBe(git("rev-parse", "HEAD"));
    // One query per context, not per image.
    expect(labels["app-debug"]).toBe(labels.app);
});

test("takes the source from CI variables, else from origin without credentials", () => {
    expect(sourceUrl(root, { GITHUB_SERVER_URL: "https://github.com", GITHUB_REPOSITORY: "acme/app" })).toBe(
        "https://github.com/acme/app",
    );
    expect(sourceUrl(root, { CI_PROJECT_URL: "https://gitlab.example.com/acme/app" })).toBe(
        "https://gitlab.example.com/acme/app",
    );
    git("remote", "add", "origin", "https://bot:s3cret-token@github.com/acme/app.git");
    expect(sourceUrl(root, {})).toBe("https://github.com/acme/app.git");
    expect(redactRemote("git@github.com:acme/app.git")).toBe("git@github.com:acme/app.git");
});

test("labels nothing it cannot know outside a git repository", () => {
    const bare = makeProject();
    expect(ociLabels(bare, "app", undefined)).toEqual({});
});

test.each<[string, Record<string, string>, Record<string, string>, string]>([
    ["aws:region", { "aws:region": "eu-west-1; touch /tmp/pwned" }, {}, "(from aws:region) is not an AWS region name"],
    [
        "AWS_REGION",
        {},
        { AWS_REGION: "us-east-1 --profile x" },
        "(from the AWS_REGION environment variable) is not an AWS region name",
    ],
    ["AWS_DEFAULT_REGION", {}, { AWS_DEFAULT_REGION: "$(id)" }, "(from the AWS_DEFAULT_REGION environment variable)"],
])(
    "refuses a region from %s that is not a region name, before it reaches a ProxyCommand",
    (_, config, env, message) => {
        pulumi.runtime.setAllConfig(
            {
                ...Object.fromEntries(
                    Object.entries({ ...validConfig(), sshPrivateKey: "K" }).map(([k, v]) => [
                        `native-build-fleet:${k}`,
                        typeof v === "string" ? v : JSON.stringify(v),
                    ]),
                ),
                ...config,
            },
            ["native-build-fleet:sshPrivateKey"],
        );
        expect(() => loadConfig(root, env)).toThrow(ConfigError);
        expect(() => loadConfig(root, { ...withAws, ...env })).toThrow(
            new RegExp(`aws:region: .*${message.replace(/[()]/g, "\\$&")}`),
        );
    },
);

test.each([
    "us-east-1",
    "eu-central-2",
    "us-gov-west-1",
    "cn-northwest-1",
    "ap-southeast-7",
    "us-isob-east-1",
    "eusc-de-east-1",
])("accepts the region %s", (region) => {
    pulumi.runtime.setAllConfig(
        {
            ...Object.fromEntries(
                Object.entries({ ...validConfig(), sshPrivateKey: "K" }).map(([k, v]) => [
                    `native-build-fleet:${k}`,
                    typeof v === "string" ? v : JSON.stringify(v),
                ]),
            ),
            "aws:region": region,
        },
        ["native-build-fleet:sshPrivateKey"],
    );
    expect(loadConfig(root, withAws).region).toBe(region);
});

test("passes the tag templates as written, so immutable tags refuse {{branch}} after rendering", () => {
    const raw = validConfig() as Record<string, any>;
    raw.registry = { type: "ecr", immutableTags: true };
    raw.images[0].tags = ["{{branch}}", "{{short_sha}}"];
    setConfig({ ...raw, sshPrivateKey: "K" });
    expect(() =>
        loadConfig(root, { GITHUB_SHA: "0123456789abcdef", GITHUB_REF_TYPE: "branch", GITHUB_REF_NAME: "main" }),
    ).toThrow(/images\[0\]\.tags\[0\]: "\{\{branch\}\}" moves with every build of the branch/);
});

describe("build secrets that would hand a build the fleet's own credentials (issue #21)", () => {
    const FLEET_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nfleet-key\n-----END OPENSSH PRIVATE KEY-----";
    const external = { type: "external", address: "registry.example.com", username: "ci" };
    const withSecret = (source: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
        const raw = validConfig() as Record<string, any>;
        raw.images[0].secrets = { token: source };
        setConfig(
            { ...raw, registry: external, sshPrivateKey: FLEET_KEY, registryPassword: "registry-pass", ...extra },
            ["sshPrivateKey", "registryPassword"],
        );
    };
    const problemsOf = (env: Record<string, string>): string[] => {
        try {
            loadConfig(root, { ...withAws, ...env });
        } catch (e) {
            if (e instanceof ConfigError) {
                return e.problems.map((p) => `${p.path}: ${p.message}`);
            }
            throw e;
        }
        return [];
    };

    /** Project files a build secret may name: a copy of the fleet's key, and files with URLs in them. */
    const writeSecretFiles = () => {
        const files: Record<string, string> = {
            "copied-key": `${FLEET_KEY}\n`,
            "clone-url": "https://gitlab-ci-token:glcbt-64_abcdefghijklmnopqrst@gitlab.example.com/group/app.git\n",
            "git-credentials": "https://gitlab-ci-token:glcbt-64_zyxwvutsrqponmlkjihg@gitlab.example.com\n",
            "pip.conf": "[global]\nindex-url = https://ci:reg-pass-42@pypi.example.com/simple\n",
            // A GitLab access token of the build's own: the user gitlab-ci-token would be a job token.
            "forge-credentials": "https://build-bot:glpat-0123456789abcdef@gitlab.example.com\n",
            "github-credentials": "https://x-access-token:github_pat_11ABCDEF0_0123456789abcdef@github.com\n",
        };
        Object.entries(files).forEach(([name, text]) => fs.writeFileSync(path.join(root, name), text));
    };

    test.each<[string, Record<string, unknown>, Record<string, string>, string]>([
        [
            "an environment variable holding the registry password",
            { env: "REGISTRY_TOKEN" },
            { REGISTRY_TOKEN: "registry-pass" },
            "images[0].secrets.token: holds the same value as registryPassword, the fleet's own credential; a build would be handed it. Give the build a credential made for it",
        ],
        [
            "a variable holding GitLab's clone URL, with the job token in it",
            { env: "REPO_URL" },
            {
                REPO_URL: "https://gitlab-ci-token:glcbt-64_abcdefghijklmnopqrst@gitlab.example.com/group/app.git",
                CI_JOB_TOKEN: "glcbt-64_abcdefghijklmnopqrst",
            },
            "images[0].secrets.token: holds the value of CI_JOB_TOKEN, one of the runner's own credentials; a build step could act as the pipeline with it. Give the build a credential made for it, in a CI secret variable of its own such as NPM_TOKEN",
        ],
        [
            "a variable holding a copy of the Pulumi access token",
            { env: "NPM_TOKEN" },
            {
                NPM_TOKEN: "pul-0123456789abcdef0123456789abcdef",
                PULUMI_ACCESS_TOKEN: "pul-0123456789abcdef0123456789abcdef",
            },
            "images[0].secrets.token: holds the value of PULUMI_ACCESS_TOKEN, one of the runner's own credentials",
        ],
        [
            "CI_REPOSITORY_URL itself, by its family",
            { env: "CI_REPOSITORY_URL" },
            {
                CI_REPOSITORY_URL:
                    "https://gitlab-ci-token:glcbt-64_abcdefghijklmnopqrst@gitlab.example.com/group/app.git",
            },
            "images[0].secrets.token.env: names CI_REPOSITORY_URL, one of the CI_REPOSITORY_* variables that hold the runner's own CI, cloud or Pulumi credentials",
        ],
        [
            "a URL whose password is a runner credential too short to count as copied",
            { env: "INDEX_URL" },
            { INDEX_URL: "https://ci:reg-pass-42@registry.example.com/simple", CI_REGISTRY_PASSWORD: "reg-pass-42" },
            "images[0].secrets.token: holds a URL whose password is the value of CI_REGISTRY_PASSWORD, one of the runner's own credentials; a build step could act as the pipeline with it",
        ],
        [
            "a URL whose password is a runner credential, percent-encoded",
            { env: "INDEX_URL" },
            {
                INDEX_URL: "https://ci:correct%20horse%2Fbattery%40staple@pypi.example.com/simple",
                PULUMI_CONFIG_PASSPHRASE: "correct horse/battery@staple",
            },
            "images[0].secrets.token: holds a URL whose password is the value of PULUMI_CONFIG_PASSPHRASE",
        ],
        [
            "GitLab's clone URL with the job token absent, by the CI server's host",
            { env: "REPO_URL" },
            {
                REPO_URL: "https://gitlab-ci-token:glcbt-64_abcdefghijklmnopqrst@gitlab.example.com/group/app.git",
                CI_SERVER_HOST: "gitlab.example.com",
            },
            "images[0].secrets.token: holds a URL with a user and password for gitlab.example.com, the CI server this pipeline runs on: that is the pipeline's clone URL (GitLab's CI_REPOSITORY_URL carries the job token). If its credential was made for the build (a deploy token), store the URL as a config secret (`pulumi config set --secret <key> <url>`) and read it with { config: <key> }",
        ],
        [
            "a clone URL for GitLab's FQDN, host in capitals and with a port",
            { env: "REPO_URL" },
            {
                REPO_URL: "https://gitlab-ci-token:glcbt-64_x@GitLab.Example.com:8443/group/app.git",
                CI_SERVER_FQDN: "gitlab.example.com:8443",
            },
            "images[0].secrets.token: holds a URL with a user and password for gitlab.example.com, the CI server",
        ],
        [
            "a clone URL for GitLab's CI_SERVER_URL, another user than gitlab-ci-token",
            { env: "REPO_URL" },
            {
                REPO_URL: "https://oauth2:glpat-0123456789abcdef@gitlab.example.com/group/app.git",
                CI_SERVER_URL: "https://gitlab.example.com",
            },
            "images[0].secrets.token: holds a URL with a user and password for gitlab.example.com, the CI server this pipeline runs on",
        ],
        [
            "a gitlab-ci-token URL where no CI_SERVER_* variable names its host",
            { env: "REPO_URL" },
            { REPO_URL: "https://gitlab-ci-token:glcbt-64_x@gitlab.example.com/group/app.git" },
            "images[0].secrets.token: holds a URL with the user gitlab-ci-token, whose password is a GitLab CI job token (CI_REPOSITORY_URL, the clone's .git/config); a build step could act as the pipeline with it",
        ],
        [
            "a GitHub clone URL with the workflow's token, by GITHUB_TOKEN's value",
            { env: "REPO_URL" },
            {
                REPO_URL: "https://x-access-token:ghs_0123456789abcdef@github.com/org/app.git",
                GITHUB_SERVER_URL: "https://github.com",
                GITHUB_TOKEN: "ghs_0123456789abcdef",
            },
            "images[0].secrets.token: holds the value of GITHUB_TOKEN, one of the runner's own credentials",
        ],
        [
            "a project file holding the fleet's SSH key",
            { file: "copied-key" },
            {},
            "images[0].secrets.token: holds the same value as sshPrivateKey, the fleet's own credential; a build would be handed it. Give the build a credential made for it",
        ],
        [
            "a project file holding GitLab's clone URL, the job token set",
            { file: "clone-url" },
            { CI_JOB_TOKEN: "glcbt-64_abcdefghijklmnopqrst" },
            "images[0].secrets.token: holds the value of CI_JOB_TOKEN, one of the runner's own credentials; a build step could act as the pipeline with it",
        ],
        [
            "a project file of git credentials for the CI server, the job token absent",
            { file: "git-credentials" },
            { CI_SERVER_HOST: "gitlab.example.com" },
            "images[0].secrets.token: holds a URL with a user and password for gitlab.example.com, the CI server this pipeline runs on",
        ],
        [
            "a project file whose URL password is a short runner credential",
            { file: "pip.conf" },
            { CI_REGISTRY_PASSWORD: "reg-pass-42" },
            "images[0].secrets.token: holds a URL whose password is the value of CI_REGISTRY_PASSWORD",
        ],
    ])("refuses %s", (_, source, env, message) => {
        writeSecretFiles();
        withSecret(source);
        expect(problemsOf(env).map((p) => p.slice(0, message.length))).toContainEqual(message);
    });

    test.each<[string, string, Record<string, string>]>([
        ["a pip.conf with the index's own user and password, in a GitLab job", "pip.conf", gitlab()],
        ["a .git-credentials with a PAT for github.com, on an Actions runner", "github-credentials", actions()],
        [
            "git credentials for another forge, in a GitHub workflow",
            "forge-credentials",
            { GITHUB_SERVER_URL: "https://github.com" },
        ],
    ])("accepts %s", (_, file, env) => {
        writeSecretFiles();
        withSecret({ file });
        expect(problemsOf(env)).toEqual([]);
    });

    /** An Actions job's own variables (https://docs.github.com/en/actions/reference/workflows-and-actions/variables). */
    function actions(): Record<string, string> {
        return {
            GITHUB_ACTIONS: "true",
            GITHUB_SERVER_URL: "https://github.com",
            GITHUB_REPOSITORY: "org/app",
            GITHUB_TOKEN: "ghs_workflowtoken0123456789abcdef",
        };
    }
    /** A GitLab job's own variables: a URL to another host is a build's secret, whatever its password. */
    function gitlab(): Record<string, string> {
        return {
            CI_SERVER_HOST: "gitlab.example.com",
            CI_SERVER_URL: "https://gitlab.example.com",
            CI_JOB_TOKEN: "glcbt-64_abcdefghijklmnopqrst",
        };
    }
    test.each<[string, string, Record<string, string>]>([
        ["a token of the build's own", "NPM_TOKEN", { NPM_TOKEN: "npm_0123456789abcdef0123456789abcdef0123" }],
        [
            "a URL without a password",
            "NPM_TOKEN",
            { NPM_TOKEN: "https://registry.example.com/npm/", AWS_REGION: "eu-west-1", AWS_PROFILE: "default" },
        ],
        [
            "a value that holds a short or non-credential runner variable",
            "NPM_TOKEN",
            { NPM_TOKEN: "https://s3.eu-west-1.amazonaws.com/bucket-of-the-build-0123", AWS_REGION: "eu-west-1" },
        ],
        [
            "PIP_INDEX_URL with the index's own user and password, in a GitLab job",
            "PIP_INDEX_URL",
            { PIP_INDEX_URL: "https://user:pass@pypi.example.com/simple", ...gitlab() },
        ],
        [
            "git credentials for another forge, in a GitHub workflow",
            "GIT_CREDENTIALS",
            {
                GIT_CREDENTIALS: "https://build-bot:ghp_0123456789abcdef0123@git.example.org",
                GITHUB_SERVER_URL: "https://github.com",
            },
        ],
        [
            "a GitHub PAT URL for github.com (a private Go module), on an Actions runner",
            "GIT_CREDENTIALS",
            {
                GIT_CREDENTIALS:
                    "https://x-access-token:github_pat_11ABCDEF0_0123456789abcdef@github.com/org/private-dep",
                ...actions(),
            },
        ],
        [
            "DATABASE_URL for a build step's migrations check",
            "DATABASE_URL",
            { DATABASE_URL: "postgres://app:s3cret@db.example.com:5432/app", ...gitlab() },
        ],
    ])("accepts %s", (_, name, env) => {
        withSecret({ env: name });
        expect(problemsOf(env)).toEqual([]);
    });

    test("{ config: builder } keeps builder in the program's config and is refused, with no advice to store builder as a secret", () => {
        withSecret({ config: "builder" }, { builder: { name: "ci-fleet" } });
        const found = problemsOf({});
        expect(found).toContainEqual(
            "images[0].secrets.token.config: names builder, one of this program's own config keys, which would then vanish from the program's config; store the build's secret under a key of its own, such as npmToken",
        );
        expect(found.join("\n")).not.toContain("--secret builder");
    });

    test("{ config: images } does not make the images vanish", () => {
        withSecret({ config: "images" });
        expect(problemsOf({})).toEqual([
            expect.stringMatching(
                /^images\[0\]\.secrets\.token\.config: names images, one of this program's own config keys/,
            ),
        ]);
    });
});

describe("signing", () => {
    const PUB =
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEstubkeyAAAA\n-----END PUBLIC KEY-----\n";
    const withSigningTools = (tools: string[]) => {
        const bin = fs.mkdtempSync(path.join(root, "bin-"));
        for (const tool of ["aws", ...tools]) {
            fs.writeFileSync(path.join(bin, tool), "#!/bin/sh\n", { mode: 0o755 });
        }
        return { PATH: bin };
    };

    test("reads the private key and its password as secrets, and needs cosign and syft for an update", async () => {
        const keys = ["sshPrivateKey", "signingKey", "signingKeyPassword"];
        setConfig(
            {
                ...validConfig(),
                signing: { mode: "key", publicKey: PUB },
                sshPrivateKey: "K",
                signingKey: "COSIGN-KEY",
                signingKeyPassword: "PW",
            },
            keys,
        );
        expect(() => loadConfig(root, withSigningTools(["cosign"]))).toThrow(
            /signing: is set, but syft is not on PATH: pulumi up signs with cosign and writes SBOMs with syft/,
        );
        expect(() => loadConfig(root, withSigningTools([]))).toThrow(
            /signing: is set, but cosign and syft are not on PATH/,
        );
        const loaded = loadConfig(root, withSigningTools(["cosign", "syft"]));
        expect(loaded.config.signing).toEqual({ mode: "key", publicKey: PUB, transparencyLog: true });
        expect(await pulumi.isSecret(loaded.signingKey!.key)).toBe(true);
        expect(await valueOf(loaded.signingKey!.key)).toBe("COSIGN-KEY");
        expect(await pulumi.isSecret(loaded.signingKey!.password)).toBe(true);
    });

    test("refuses a signing key stored in plain text", () => {
        setConfig(
            {
                ...validConfig(),
                signing: { mode: "key", publicKey: PUB },
                sshPrivateKey: "K",
                signingKey: "COSIGN-KEY",
                signingKeyPassword: "PW",
            },
            ["sshPrivateKey", "signingKeyPassword"],
        );
        expect(() => loadConfig(root, withSigningTools(["cosign", "syft"]))).toThrow(
            /signingKey: is stored in plain text in the stack file; set it again with `pulumi config set --secret signingKey`/,
        );
    });

    test("treats the empty default of signing as no signing, with no key to read", () => {
        setConfig({ ...validConfig(), signing: "", sshPrivateKey: "K", signingKey: "", signingKeyPassword: "" });
        const loaded = loadConfig(root, withAws);
        expect(loaded.config.signing).toBeUndefined();
        expect(loaded.signingKey).toBeUndefined();
    });
});
