// Config inputs issue #21 found still accepted: build-secret and SSH sources that reach the
// runner's own credentials or odd files, config-secret sources that name the program's own
// keys, addresses that validate but cannot work, driver options buildx does not know, and a
// good static host user that was refused. One table per class; each case asserts the key path
// and the message (what is wrong, what was expected, the fix), or that the input is accepted.

import { execFileSync } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { RunnerFacts } from "../config/buildInputs";
import { ConfigContext, Problem } from "../config/schema";
import { PROGRAM_KEYS } from "../config/secretSources";
import { KNOWN_DRIVER_OPTIONS } from "../config/driverOptions";
import { CAPS, indexSpecBytes, MAX_ARG_STRLEN } from "../config/sizes";
import {
    configProblems,
    ec2Stack as ec2,
    expectOutcome,
    makeProject,
    STATIC_HOST as STATIC,
    staticStack as statics,
} from "./fixtures";
import { ED25519_HOST, ED25519_OTHER } from "./keyFixtures";

type Config = Record<string, any>;

const FLEET_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nthe fleet's own key\n-----END OPENSSH PRIVATE KEY-----\n";
const DEPLOY_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\na deploy key\n-----END OPENSSH PRIVATE KEY-----\n";

const root = makeProject();
const outside = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-outside-"));
let agent: net.Server;
beforeAll(async () => {
    fs.writeFileSync(path.join(root, "npmrc"), "//registry.npmjs.org/:_authToken=x\n");
    fs.writeFileSync(path.join(root, "id_deploy"), DEPLOY_KEY);
    fs.writeFileSync(path.join(root, "id_deploy.pub"), `${ED25519_HOST}\n`);
    fs.writeFileSync(path.join(root, "id_fleet"), FLEET_KEY);
    fs.mkdirSync(path.join(root, "secrets.d"));
    execFileSync("mkfifo", [path.join(root, "fifo")]);
    fs.symlinkSync("/proc/self/environ", path.join(root, "environ"));
    fs.writeFileSync(path.join(outside, "npmrc"), "//registry.npmjs.org/:_authToken=y\n");
    fs.symlinkSync(path.join(outside, "npmrc"), path.join(root, "linked-npmrc"));
    // Git's clone config in the places and spellings a path can reach it by.
    for (const dir of [".git", ".GIT", "vendor/lib/.git", path.join(outside, ".git"), ".github", ".gitlab"]) {
        fs.mkdirSync(path.resolve(root, dir), { recursive: true });
        fs.writeFileSync(path.resolve(root, dir, "config"), "[remote]\n");
    }
    fs.mkdirSync(path.join(root, "worktree"));
    fs.writeFileSync(path.join(root, "worktree", ".git"), "gitdir: ../.git/worktrees/worktree\n");
    fs.symlinkSync(path.join(root, ".git", "config"), path.join(root, "git-config"));
    agent = net.createServer();
    await new Promise<void>((resolve) => agent.listen(path.join(root, "agent.sock"), resolve));
});
afterAll(async () => {
    await new Promise((resolve) => agent.close(resolve));
});

/** A runner whose own SSH key is FLEET_KEY and whose secrets read as placeholders. */
const runner: RunnerFacts = {
    sshAgent: true,
    readSecret: () => pulumi.secret("value"),
    ownSecret: (value) => (value.trim() === FLEET_KEY.trim() ? "sshPrivateKey" : undefined),
};

const problemsOf = (raw: unknown, overrides: Partial<ConfigContext> = {}): Problem[] =>
    configProblems(root, raw, { runner, ...overrides });

/** [name, stack config, key path and message fragment of the refusal, or "accepted"]. */
type Case = [string, Config, [string, string] | "accepted"];

const secret = (source: Record<string, unknown>) =>
    ec2((c) => {
        c.images[0].secrets = { token: source };
    });
const sshPaths = (paths: string[]) =>
    ec2((c) => {
        c.images[0].ssh = [{ id: "git", paths }];
    });

const check = ([, raw, expected]: Case): void => expectOutcome(problemsOf(raw), expected);
const rows = (cases: Case[]): [string, Case][] => cases.map((c) => [c[0], c]);

const OWN =
    "the fleet's own credential; a build would be handed it and could send it anywhere. Store a credential made for the build under its own key (`pulumi config set --secret npmToken <value>`) and name that";
const CREDENTIAL =
    "the runner's own CI, cloud or Pulumi credentials; a build step could act as the pipeline with it. Give the build a credential made for it";

const secretSources: Case[] = [
    [
        "the fleet's SSH key as a config source",
        secret({ config: "sshPrivateKey" }),
        ["images[0].secrets.token.config", `names sshPrivateKey, ${OWN}`],
    ],
    [
        "the registry password as a config source",
        secret({ config: "registryPassword" }),
        ["images[0].secrets.token.config", `names registryPassword, ${OWN}`],
    ],
    [
        "the signing key as a config source",
        secret({ config: "signingKey" }),
        ["images[0].secrets.token.config", `names signingKey, ${OWN}`],
    ],
    [
        "the signing key's password as a config source",
        secret({ config: "signingKeyPassword" }),
        ["images[0].secrets.token.config", `names signingKeyPassword, ${OWN}`],
    ],
    [
        "PULUMI_ACCESS_TOKEN",
        secret({ env: "PULUMI_ACCESS_TOKEN" }),
        [
            "images[0].secrets.token.env",
            `names PULUMI_ACCESS_TOKEN, one of the PULUMI_* variables that hold ${CREDENTIAL}`,
        ],
    ],
    [
        "PULUMI_CONFIG_PASSPHRASE",
        secret({ env: "PULUMI_CONFIG_PASSPHRASE" }),
        ["images[0].secrets.token.env", "one of the PULUMI_* variables"],
    ],
    [
        "AWS_SECRET_ACCESS_KEY",
        secret({ env: "AWS_SECRET_ACCESS_KEY" }),
        ["images[0].secrets.token.env", `one of the AWS_* variables that hold ${CREDENTIAL}`],
    ],
    [
        "AWS_SESSION_TOKEN",
        secret({ env: "AWS_SESSION_TOKEN" }),
        ["images[0].secrets.token.env", "one of the AWS_* variables"],
    ],
    [
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        secret({ env: "AWS_CONTAINER_AUTHORIZATION_TOKEN" }),
        ["images[0].secrets.token.env", "one of the AWS_* variables"],
    ],
    [
        "GITHUB_TOKEN",
        secret({ env: "GITHUB_TOKEN" }),
        ["images[0].secrets.token.env", `names GITHUB_TOKEN, a variable that holds ${CREDENTIAL}`],
    ],
    [
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        secret({ env: "ACTIONS_ID_TOKEN_REQUEST_TOKEN" }),
        ["images[0].secrets.token.env", "one of the ACTIONS_* variables"],
    ],
    [
        "ACTIONS_RUNTIME_TOKEN",
        secret({ env: "ACTIONS_RUNTIME_TOKEN" }),
        ["images[0].secrets.token.env", "one of the ACTIONS_* variables"],
    ],
    ["CI_JOB_TOKEN", secret({ env: "CI_JOB_TOKEN" }), ["images[0].secrets.token.env", "one of the CI_JOB_* variables"]],
    [
        "CI_JOB_JWT_V2",
        secret({ env: "CI_JOB_JWT_V2" }),
        ["images[0].secrets.token.env", "one of the CI_JOB_* variables"],
    ],
    [
        "CI_REGISTRY_PASSWORD",
        secret({ env: "CI_REGISTRY_PASSWORD" }),
        ["images[0].secrets.token.env", "names CI_REGISTRY_PASSWORD, one of the CI_REGISTRY_* variables that hold"],
    ],
    [
        "SIGSTORE_ID_TOKEN",
        secret({ env: "SIGSTORE_ID_TOKEN" }),
        ["images[0].secrets.token.env", "names SIGSTORE_ID_TOKEN, one of the SIGSTORE_* variables that hold"],
    ],
    ["SSH_AUTH_SOCK", secret({ env: "SSH_AUTH_SOCK" }), ["images[0].secrets.token.env", "names SSH_AUTH_SOCK"]],
    ...(
        [
            // GitLab: the clone URL embeds the job token (gitlab-ci-token:<CI_JOB_TOKEN>@), and the
            // registry, deploy and dependency-proxy families hold passwords.
            ["CI_REPOSITORY_URL", "CI_REPOSITORY_*"],
            ["CI_REGISTRY_USER", "CI_REGISTRY_*"],
            ["CI_DEPLOY_USER", "CI_DEPLOY_*"],
            ["CI_DEPENDENCY_PROXY_USER", "CI_DEPENDENCY_PROXY_*"],
            // cosign's own settings: the signing key and its password.
            ["COSIGN_PASSWORD", "COSIGN_*"],
            ["COSIGN_PRIVATE_KEY", "COSIGN_*"],
            ["SIGSTORE_OIDC_CLIENT_SECRET", "SIGSTORE_*"],
            // Other clouds' SDK credentials, as AWS_* for AWS.
            ["CLOUDSDK_AUTH_ACCESS_TOKEN", "CLOUDSDK_*"],
            ["AZURE_CLIENT_SECRET", "AZURE_*"],
            ["ARM_CLIENT_SECRET", "ARM_*"],
            ["VAULT_TOKEN", "VAULT_*"],
            ["BUILDKITE_AGENT_TOKEN", "BUILDKITE_AGENT_*"],
            // Identity tokens of the pipeline, whatever the CI names them.
            ["CIRCLE_OIDC_TOKEN_V2", "*OIDC* and *ID_TOKEN*"],
            ["BITBUCKET_STEP_OIDC_TOKEN", "*OIDC* and *ID_TOKEN*"],
            ["VAULT_ID_TOKEN", "VAULT_*"],
            ["GITLAB_OIDC_TOKEN", "*OIDC* and *ID_TOKEN*"],
            ["NPM_ID_TOKEN", "*OIDC* and *ID_TOKEN*"],
            ["AZURE_FEDERATED_TOKEN_FILE", "AZURE_*"],
            // Git credentials a CI writes for its clone (Woodpecker, Drone).
            ["CI_NETRC_PASSWORD", "*NETRC*"],
            ["DRONE_NETRC_PASSWORD", "*NETRC*"],
        ] as const
    ).map(([name, family]): Case => [
        name,
        secret({ env: name }),
        ["images[0].secrets.token.env", `names ${name}, one of the ${family} variables that hold ${CREDENTIAL}`],
    ]),
    // Google Cloud's credentials by name: GOOGLE_* also holds keys made for a build.
    ...[
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_CREDENTIALS",
        "GOOGLE_CLOUD_KEYFILE_JSON",
        "GCLOUD_KEYFILE_JSON",
        "GOOGLE_OAUTH_ACCESS_TOKEN",
        "GOOGLE_GHA_CREDS_PATH",
    ].map((name): Case => [
        name,
        secret({ env: name }),
        ["images[0].secrets.token.env", `names ${name}, a variable that holds ${CREDENTIAL}`],
    ]),
    // The clone's config holds its credentials: GitLab runners write the clone URL with
    // gitlab-ci-token:<job token> into .git/config. Any depth, any spelling, opt-in or not.
    ...(
        [
            [".git/config", {}],
            ["./.git/config", {}],
            [".git//config", {}],
            ["app/../.git/config", {}],
            ["vendor/lib/.git/config", {}],
            [".GIT/config", {}],
            ["worktree/.git", {}],
            ["git-config", {}],
            [path.join(outside, ".git", "config"), { outsideProject: true }],
        ] as [string, Record<string, unknown>][]
    ).map(([file, extra]): Case => [
        `${path.isAbsolute(file) ? "a .git/config outside the project, with the opt-in" : file} in a git directory`,
        secret({ file, ...extra }),
        ["images[0].secrets.token.file", `"${file}" is in a git directory (`],
    ]),
    [
        "/proc/self/environ",
        secret({ file: "/proc/self/environ" }),
        [
            "images[0].secrets.token.file",
            "\"/proc/self/environ\" is in /proc, which holds the kernel's and devices' files (the runner's memory, environment and credentials), not a secret; give a plain file",
        ],
    ],
    [
        "/proc even with the opt-in",
        secret({ file: "/proc/self/environ", outsideProject: true }),
        ["images[0].secrets.token.file", "is in /proc"],
    ],
    [
        "a symlink in the project to /proc",
        secret({ file: "environ" }),
        ["images[0].secrets.token.file", '"environ" is in /proc'],
    ],
    [
        "/dev/stdin",
        secret({ file: "/dev/stdin", outsideProject: true }),
        ["images[0].secrets.token.file", "is in /dev"],
    ],
    [
        "a /sys directory",
        secret({ file: "/sys/devices", outsideProject: true }),
        ["images[0].secrets.token.file", "is in /sys"],
    ],
    [
        "a FIFO",
        secret({ file: "fifo" }),
        ["images[0].secrets.token.file", '"fifo" is a named pipe (FIFO); a build secret is read from a plain file'],
    ],
    [
        "a socket",
        secret({ file: "agent.sock" }),
        ["images[0].secrets.token.file", '"agent.sock" is a socket; a build secret is read from a plain file'],
    ],
    ["a directory", secret({ file: "secrets.d" }), ["images[0].secrets.token.file", '"secrets.d" is a directory']],
    [
        "a file outside the project",
        secret({ file: path.join(outside, "npmrc") }),
        ["images[0].secrets.token.file", "is outside the project"],
    ],
    [
        "a file above the project",
        secret({ file: path.relative(root, path.join(outside, "npmrc")) }),
        ["images[0].secrets.token.file", "add outsideProject: true to this source, or move the file into the project"],
    ],
    [
        "a symlink in the project to a file outside it",
        secret({ file: "linked-npmrc" }),
        ["images[0].secrets.token.file", "is outside the project"],
    ],
    [
        "a path starting with ~",
        secret({ file: "~/.npmrc" }),
        ["images[0].secrets.token.file", "starts with ~, which nothing expands here; give the full path"],
    ],
    [
        "the opt-in given as a string",
        secret({ file: path.join(outside, "npmrc"), outsideProject: "yes" }),
        [
            "images[0].secrets.token",
            "must be { config: <secret config key> }, { env: <environment variable> } or { file: <path on the runner>, outsideProject?: true }",
        ],
    ],
    [
        "a file outside the project with the opt-in",
        secret({ file: path.join(outside, "npmrc"), outsideProject: true }),
        "accepted",
    ],
    ["a file inside the project", secret({ file: "npmrc" }), "accepted"],
    ["a CI variable of the build's own", secret({ env: "NPM_TOKEN" }), "accepted"],
    ["GH_TOKEN, often a token made for the build", secret({ env: "GH_TOKEN" }), "accepted"],
    ["a variable that only mentions an identity", secret({ env: "IDENTITY_TOKEN" }), "accepted"],
    ["a variable of the build's own that starts CI_", secret({ env: "CI_NPM_TOKEN" }), "accepted"],
    ["a config key of the build's own", secret({ config: "npmToken" }), "accepted"],
    ["a file under .github", secret({ file: ".github/config" }), "accepted"],
    ["a file under .gitlab", secret({ file: ".gitlab/config" }), "accepted"],
    ["a Google API key made for the build", secret({ env: "GOOGLE_MAPS_API_KEY" }), "accepted"],
    ["a Google client secret of the app being built", secret({ env: "GOOGLE_CLIENT_SECRET" }), "accepted"],
];

const sshSources: Case[] = [
    [
        "paths: []",
        sshPaths([]),
        [
            "images[0].ssh[0].paths",
            'is empty; omit paths to forward the runner\'s SSH agent as "git", or list the key files or agent sockets to forward',
        ],
    ],
    [
        "a /proc path",
        sshPaths(["/proc/self/environ"]),
        [
            "images[0].ssh[0].paths[0]",
            '"/proc/self/environ" is in /proc, which holds no SSH key or agent; give the path of an SSH private key or agent socket',
        ],
    ],
    ["/dev/null", sshPaths(["/dev/null"]), ["images[0].ssh[0].paths[0]", "is in /dev"]],
    [
        "a directory",
        sshPaths(["secrets.d"]),
        [
            "images[0].ssh[0].paths[0]",
            '"secrets.d" is a directory, neither an SSH private key file nor an agent socket; give one of those',
        ],
    ],
    [
        "a FIFO",
        sshPaths(["fifo"]),
        ["images[0].ssh[0].paths[0]", "is a named pipe (FIFO), neither an SSH private key file nor an agent socket"],
    ],
    [
        "a public key",
        sshPaths(["id_deploy.pub"]),
        [
            "images[0].ssh[0].paths[0]",
            '"id_deploy.pub" is not an SSH private key (no "-----BEGIN … PRIVATE KEY-----" line); give a key file such as id_ed25519, or an agent socket',
        ],
    ],
    ["a text file", sshPaths(["npmrc"]), ["images[0].ssh[0].paths[0]", "is not an SSH private key"]],
    [
        "the fleet's own key",
        sshPaths(["id_fleet"]),
        [
            "images[0].ssh[0].paths[0]",
            '"id_fleet" holds sshPrivateKey, the fleet\'s own credential; a build would be handed it. Forward a deploy key made for the build',
        ],
    ],
    ["a deploy key", sshPaths(["id_deploy"]), "accepted"],
    ["an agent socket", sshPaths(["agent.sock"]), "accepted"],
    [
        "a deploy key outside the project",
        ec2((c) => {
            fs.writeFileSync(path.join(outside, "id_git"), DEPLOY_KEY);
            c.images[0].ssh = [{ id: "git", paths: [path.join(outside, "id_git")] }];
        }),
        "accepted",
    ],
];

const PROGRAM_KEY =
    "one of this program's own config keys, which would then vanish from the program's config; store the build's secret under a key of its own, such as npmToken";
const programKeys: Case[] = [
    "images",
    "builder",
    "hosts",
    "staticHosts",
    "ssh",
    "network",
    "registry",
    "compose",
    "signing",
].map((key): Case => [
    `{ config: ${key} }`,
    secret({ config: key }),
    ["images[0].secrets.token.config", `names ${key}, ${PROGRAM_KEY}`],
]);

const SAME = "is also staticHosts[0]: one machine would join the builder twice under two names";
const twoHosts = (a: string, b: string) =>
    statics((c) => {
        c.staticHosts = [
            { ...STATIC, address: a },
            { ...STATIC, name: "rack-2", address: b, hostKey: ED25519_OTHER },
        ];
    });
const ZONE =
    "has a zone id or '%' in it, which ssh reads as the start of a token (%h, %p); give a global or unique-local IPv6 address, an IPv4 address or a host name";
const addresses: Case[] = [
    [
        "a link-local address with a zone id",
        statics((c) => {
            c.staticHosts[0].address = "fe80::1%eth0";
        }),
        ["staticHosts[0].address", `"fe80::1%eth0" ${ZONE}`],
    ],
    [
        "a global address with a zone id",
        statics((c) => {
            c.staticHosts[0].address = "2001:db8::1%1";
        }),
        ["staticHosts[0].address", ZONE],
    ],
    [
        "a URL-encoded zone id",
        statics((c) => {
            c.staticHosts[0].address = "fe80::1%25eth0";
        }),
        ["staticHosts[0].address", ZONE],
    ],
    [
        "an IPv4 address and its IPv4-mapped IPv6 form",
        twoHosts("192.0.2.20", "::ffff:192.0.2.20"),
        ["staticHosts[1].address", `::ffff:192.0.2.20 port 22 ${SAME}`],
    ],
    [
        "an IPv4 address and its mapped form in hex",
        twoHosts("192.0.2.20", "::ffff:c000:214"),
        ["staticHosts[1].address", SAME],
    ],
    [
        "an IPv4 address and its mapped form written out",
        twoHosts("192.0.2.20", "0:0:0:0:0:ffff:192.0.2.20"),
        ["staticHosts[1].address", SAME],
    ],
    ["localhost and 127.0.0.1", twoHosts("127.0.0.1", "localhost"), ["staticHosts[1].address", SAME]],
    ["localhost. and 127.0.0.1", twoHosts("localhost.", "127.0.0.1"), ["staticHosts[1].address", SAME]],
    ["two IPv4 addresses, one mapped", twoHosts("192.0.2.20", "::ffff:192.0.2.21"), "accepted"],
    ["127.0.0.1 and 127.0.0.2", twoHosts("127.0.0.1", "127.0.0.2"), "accepted"],
];

const users: Case[] = [
    [
        "a static host user with capitals",
        statics((c) => {
            c.staticHosts[0].user = "Builder";
        }),
        "accepted",
    ],
    [
        "a static host user in mixed case with '_'",
        statics((c) => {
            c.staticHosts[0].user = "CI_Runner";
        }),
        "accepted",
    ],
    [
        "a static host user in capitals",
        statics((c) => {
            c.staticHosts[0].user = "BUILD";
        }),
        "accepted",
    ],
    [
        "a user with a space",
        statics((c) => {
            c.staticHosts[0].user = "build er";
        }),
        [
            "staticHosts[0].user",
            "must be a Linux user name: letters, digits, '_' or '-', starting with a letter or '_', at most 32 characters",
        ],
    ],
    [
        "a user with a newline",
        statics((c) => {
            c.staticHosts[0].user = "builder\nHost *";
        }),
        ["staticHosts[0].user", "must be a Linux user name: letters, digits"],
    ],
    [
        "a user starting with '-'",
        statics((c) => {
            c.staticHosts[0].user = "-oProxyCommand=x";
        }),
        ["staticHosts[0].user", "must be a Linux user name: letters, digits"],
    ],
    [
        "a user with '%'",
        statics((c) => {
            c.staticHosts[0].user = "b%h";
        }),
        ["staticHosts[0].user", "must be a Linux user name: letters, digits"],
    ],
];

const KNOWS = `it takes ${KNOWN_DRIVER_OPTIONS.join(", ")}`;
const driverOptions: Case[] = [
    [
        "gpus, which v0.35.0 does not take",
        ec2((c) => {
            c.builder = { driverOptions: { gpus: "all" } };
        }),
        [
            "builder.driverOptions.gpus",
            `is not an option of buildx v0.35.0's docker-container driver, whose \`buildx create\` would fail with "invalid driver option gpus"; ${KNOWS}`,
        ],
    ],
    [
        "a misspelt option on a pool",
        ec2((c) => {
            c.hosts[0].driverOptions = { memmory: "4g" };
        }),
        ["hosts[0].driverOptions.memmory", "is not an option of buildx v0.35.0's docker-container driver"],
    ],
    [
        "a buildx create flag as an option on a static host",
        statics((c) => {
            c.staticHosts[0].driverOptions = { "buildkitd-flags": "--debug" };
        }),
        [
            "staticHosts[0].driverOptions.buildkitd-flags",
            "is not an option of buildx v0.35.0's docker-container driver",
        ],
    ],
    [
        "memory in words",
        ec2((c) => {
            c.builder = { driverOptions: { memory: "lots" } };
        }),
        [
            "builder.driverOptions.memory",
            'is "lots", but must be a size such as 4g or 512m; buildx create would refuse it',
        ],
    ],
    [
        "memory-swap: unlimited",
        ec2((c) => {
            c.builder = { driverOptions: { "memory-swap": "unlimited" } };
        }),
        ["builder.driverOptions.memory-swap", "must be a size such as 8g, or -1 for unlimited swap"],
    ],
    [
        "cpu-shares: half",
        ec2((c) => {
            c.hosts[1].driverOptions = { "cpu-shares": "half" };
        }),
        ["hosts[1].driverOptions.cpu-shares", "must be a whole number such as 512"],
    ],
    [
        "cpu-period: 1.5",
        ec2((c) => {
            c.builder = { driverOptions: { "cpu-period": "1.5" } };
        }),
        ["builder.driverOptions.cpu-period", "must be a whole number of microseconds"],
    ],
    [
        "cpuset-cpus: all",
        ec2((c) => {
            c.builder = { driverOptions: { "cpuset-cpus": "all" } };
        }),
        ["builder.driverOptions.cpuset-cpus", "must be a CPU number or range such as 0-3"],
    ],
    [
        "restart-policy: sometimes",
        ec2((c) => {
            c.builder = { driverOptions: { "restart-policy": "sometimes" } };
        }),
        [
            "builder.driverOptions.restart-policy",
            "must be one of no, always, unless-stopped, on-failure or on-failure:<retries>",
        ],
    ],
    [
        "restart-policy: always:3",
        ec2((c) => {
            c.builder = { driverOptions: { "restart-policy": "always:3" } };
        }),
        ["builder.driverOptions.restart-policy", "must be one of no, always"],
    ],
    [
        "default-load: yes",
        ec2((c) => {
            c.builder = { driverOptions: { "default-load": "yes" } };
        }),
        ["builder.driverOptions.default-load", 'is "yes", but must be true or false'],
    ],
    [
        "provenance-add-gha: maybe",
        ec2((c) => {
            c.builder = { driverOptions: { "provenance-add-gha": "maybe" } };
        }),
        ["builder.driverOptions.provenance-add-gha", "must be true or false"],
    ],
    [
        "an image option that is no reference, on a pool",
        ec2((c) => {
            c.hosts[0].driverOptions = { image: "Moby/BuildKit!" };
        }),
        [
            "hosts[0].driverOptions.image",
            'is "Moby/BuildKit!", but must be an image reference such as moby/buildkit:v0.31.0 (the rule of builder.buildkitImage)',
        ],
    ],
    [
        "an image option with a flag in it",
        statics((c) => {
            c.staticHosts[0].driverOptions = { image: "moby/buildkit --privileged" };
        }),
        ["staticHosts[0].driverOptions.image", "must be an image reference"],
    ],
    [
        "a network with a space",
        ec2((c) => {
            c.builder = { driverOptions: { network: "my net" } };
        }),
        ["builder.driverOptions.network", "must be a Docker network name such as bridge or host"],
    ],
    [
        "restart-policy: on-failure:3",
        ec2((c) => {
            c.builder = { driverOptions: { "restart-policy": "on-failure:3" } };
        }),
        "accepted",
    ],
    [
        "default-load: true",
        ec2((c) => {
            c.builder = { driverOptions: { "default-load": "true" } };
        }),
        "accepted",
    ],
    [
        "an image option on a pool",
        ec2((c) => {
            c.hosts[0].driverOptions = { image: "registry.example.com:5000/buildkit:v0.31.0" };
        }),
        "accepted",
    ],
    [
        "cgroup-parent, cpu-quota and memory-swap -1",
        ec2((c) => {
            c.builder = { driverOptions: { "cgroup-parent": "/buildkit", "cpu-quota": "50000", "memory-swap": "-1" } };
        }),
        "accepted",
    ],
];

describe("build-secret sources: none reaches the runner's credentials or odd files", () => {
    test.each(rows(secretSources))("%s", (_, c) => check(c));
});

describe("SSH forwards: keys and sockets only, never the fleet's key", () => {
    test.each(rows(sshSources))("%s", (_, c) => check(c));
});

describe("config-secret sources: never one of the program's own keys", () => {
    test.each(rows(programKeys))("%s", (_, c) => check(c));

    test("the list covers every key Pulumi.yaml declares", () => {
        const declared = Object.keys(
            (parse(fs.readFileSync(path.join(__dirname, "..", "Pulumi.yaml"), "utf8")) as { config: object }).config,
        ).filter((key) => !key.includes(":"));
        expect(declared.filter((key) => !PROGRAM_KEYS.includes(key))).toEqual([]);
    });
});

describe("static host addresses: one spelling per machine, none ssh reads as a token", () => {
    test.each(rows(addresses))("%s", (_, c) => check(c));
});

describe("static host users: capitals are a Linux user name", () => {
    test.each(rows(users))("%s", (_, c) => check(c));
});

describe("driver options: what buildx v0.35.0's docker-container driver takes", () => {
    test.each(rows(driverOptions))("%s", (_, c) => check(c));
});

const withTest = (test: Record<string, unknown>, platforms = ["linux/amd64"]) =>
    ec2((c) => {
        c.images[0].platforms = platforms;
        c.images[0].test = test;
    });
const OVER =
    "over the 128 KiB (131072 bytes) Linux allows one environment variable (MAX_ARG_STRLEN), so it would fail to start, after every build of the image ran";
const sizes: Case[] = [
    [
        "a smoke-test command over 128 KiB",
        withTest({ command: ["/app", "x".repeat(140 * 1024)] }),
        ["images[0].test.command", `makes the smoke test's NBF_SPEC 141 KiB (`],
    ],
    [
        "the same command's limit names the variable and the fix",
        withTest({ command: ["/app", "x".repeat(140 * 1024)] }),
        [
            "images[0].test.command",
            `with 1 platform, ${OVER}; shorten it (a script in the image can hold a long check)`,
        ],
    ],
    [
        "a 70 KiB command, repeated for two platforms",
        withTest({ command: ["/app", "x".repeat(70 * 1024)] }, ["linux/amd64", "linux/arm64"]),
        ["images[0].test.command", "with 2 platforms, over the 128 KiB"],
    ],
    [
        "an expectation over 128 KiB",
        withTest({ command: ["/app"], expect: "y".repeat(130 * 1024) }),
        ["images[0].test.expect", "makes the smoke test's NBF_SPEC"],
    ],
    [
        "JSON escapes count: 70,000 newlines",
        withTest({ command: ["/app"], expect: "\n".repeat(70000) }),
        ["images[0].test.expect", "makes the smoke test's NBF_SPEC"],
    ],
    [
        "101 tags",
        ec2((c) => {
            c.images[0].tags = Array.from({ length: 101 }, (_, i) => `v${i}`);
        }),
        [
            "images[0].tags",
            "lists 101 tags, over the cap of 100 (each tag is an index of its own, written and read back on every change); keep the tags deployments use",
        ],
    ],
    [
        "201 build hosts in all",
        ec2((c) => {
            c.hosts[0].count = 100;
            c.hosts[1].count = 100;
            c.staticHosts = [{ ...STATIC }];
        }),
        ["hosts", "the stack has 201 build hosts in all (the pools' counts plus staticHosts), over the cap of 200"],
    ],
    [
        "201 images",
        ec2((c) => {
            c.images = Array.from({ length: 201 }, (_, i) => ({ ...c.images[0], name: `app${i}` }));
        }),
        [
            "images",
            "the stack builds 201 images (images plus the Compose file's), over the cap of 200; split them into stacks",
        ],
    ],
    [
        "a 30 KiB command for two platforms",
        withTest({ command: ["/app", "x".repeat(30 * 1024)] }, ["linux/amd64", "linux/arm64"]),
        "accepted",
    ],
    [
        "100 tags",
        ec2((c) => {
            c.images[0].tags = Array.from({ length: 100 }, (_, i) => `v${i}`);
        }),
        "accepted",
    ],
    [
        "200 build hosts",
        ec2((c) => {
            c.hosts[0].count = 100;
            c.hosts[1].count = 100;
        }),
        "accepted",
    ],
];

/** The image signed (kms: no key secrets), after `change`. */
const signed = (change: (c: Config) => void) =>
    ec2((c) => {
        c.signing = { mode: "kms", key: "awskms:///alias/release-signing" };
        change(c);
    });
const SIGN_SPEC = "makes the sign step's NBF_SPEC (the provenance's inputs) up to ";
const SIGN_OVER = `over ${OVER.slice("over ".length)}`;
const signSizes: Case[] = [
    [
        "a 130 KiB inline Dockerfile, signed",
        signed((c) => {
            c.images[0].dockerfileInline = `FROM scratch\n${"# x\n".repeat(130 * 256)}`;
        }),
        [
            "images[0].dockerfileInline",
            `with 2 platforms and 1 tag, ${SIGN_OVER}; keep the Dockerfile in a file of the project and name it in dockerfile`,
        ],
    ],
    [
        "the same inline Dockerfile, unsigned: no step gets it in its environment",
        ec2((c) => {
            c.images[0].dockerfileInline = `FROM scratch\n${"# x\n".repeat(130 * 256)}`;
        }),
        "accepted",
    ],
    [
        "130 KiB of build args in all, signed",
        signed((c) => {
            c.images[0].buildArgs = Object.fromEntries(
                Array.from({ length: 130 }, (_, i) => [`ARG_${i}`, "x".repeat(1024)]),
            );
        }),
        ["images[0].buildArgs", "pass long values in a file of the build context or as a build secret (secrets)"],
    ],
    [
        "platform build args over 128 KiB, signed",
        signed((c) => {
            c.images[0].platformBuildArgs = { "linux/arm64": { NOTES: "x".repeat(130 * 1024) } };
        }),
        ["images[0].platformBuildArgs", SIGN_SPEC],
    ],
    [
        "a 57 KiB command on two platforms, signed: the smoke test's spec fits, the sign step's does not",
        signed((c) => {
            c.images[0].test = { command: ["/app", "x".repeat(57 * 1024)] };
        }),
        ["images[0].test.command", `${SIGN_SPEC}1`],
    ],
    [
        "a 57 KiB command on two platforms, unsigned",
        ec2((c) => {
            c.images[0].test = { command: ["/app", "x".repeat(57 * 1024)] };
        }),
        "accepted",
    ],
    [
        "a signed image with a 60 KiB inline Dockerfile, 100 tags and a smoke test",
        signed((c) => {
            c.images[0].dockerfileInline = `FROM scratch\n${"# x\n".repeat(60 * 256)}`;
            c.images[0].tags = Array.from({ length: 100 }, (_, i) => `v${i}`);
            c.images[0].test = { command: ["/app", "--version"] };
        }),
        "accepted",
    ],
];

describe("sizes: no spec over what exec accepts, and caps on fleet-wide totals", () => {
    test.each(rows(sizes))("%s", (_, c) => check(c));
    test.each(rows(signSizes))("the sign step: %s", (_, c) => check(c));

    test("at the tag cap, the longest index read-back spec stays far under MAX_ARG_STRLEN", () => {
        // A repository (registry host and name) has at most 255 characters (config/schema.ts checkImage).
        const image = {
            name: "n".repeat(200),
            platforms: [
                "linux/amd64",
                "linux/arm64",
                "linux/arm/v7",
                "linux/386",
                "linux/ppc64le",
                "linux/s390x",
                "linux/riscv64",
            ],
            tags: Array.from({ length: CAPS.tagsPerImage }, (_, i) => `${i}`.padEnd(128, "t")),
        };
        expect(indexSpecBytes(image, `${"r".repeat(54)}/${image.name}`, "r".repeat(54))).toBeLessThan(
            MAX_ARG_STRLEN / 2,
        );
    });
});
