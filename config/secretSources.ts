// Where a build secret or an SSH forward may come from. A build step that can read a secret can
// send it anywhere, so no source may hand a build the runner's own credentials (the fleet's SSH
// key, registry password or signing key; the CI job's or Pulumi's tokens), a kernel or device
// file, or a file outside the project that nobody chose to share.

import * as fs from "fs";
import * as path from "path";

/** The program's secret config keys (Pulumi.yaml): the fleet's own credentials. */
export const FLEET_SECRET_KEYS = ["sshPrivateKey", "registryPassword", "signingKey", "signingKeyPassword"];
/** The program's own config keys (Pulumi.yaml; `signing` is the signing section): never a build's. */
export const PROGRAM_KEYS = [
    "hosts",
    "staticHosts",
    "ssh",
    "network",
    "registry",
    "images",
    "compose",
    "builder",
    "signing",
    ...FLEET_SECRET_KEYS,
];

/**
 * Environment variables that authenticate the runner itself rather than a build: with one, a
 * RUN step could act as the pipeline. Families, from the tools' own documentation:
 * - AWS_: the AWS SDKs' and CLI's credential settings (keys, session token, profile, web
 *   identity token file, container credentials URI and token)
 *   (https://docs.aws.amazon.com/sdkref/latest/guide/settings-reference.html#EVarSettings);
 *   CLOUDSDK_ (gcloud's access token and credential file:
 *   https://cloud.google.com/docs/authentication/application-default-credentials), AZURE_
 *   (Azure Identity's client secret and federated token file) and ARM_ (the Pulumi and
 *   Terraform Azure providers' client secret and OIDC token) are the same for other clouds;
 * - PULUMI_: PULUMI_ACCESS_TOKEN and PULUMI_CONFIG_PASSPHRASE(_FILE), which decrypt every secret
 *   of the stack (https://www.pulumi.com/docs/iac/cli/environment-variables/);
 * - ACTIONS_: the GitHub Actions runner's own tokens, ACTIONS_ID_TOKEN_REQUEST_TOKEN/_URL (OIDC)
 *   and ACTIONS_RUNTIME_TOKEN (https://docs.github.com/en/actions/reference/security/oidc);
 * - GitLab's predefined CI_JOB_ (the job token and JWTs), CI_REPOSITORY_ (CI_REPOSITORY_URL is
 *   the clone URL with `gitlab-ci-token:<job token>@` in it), CI_REGISTRY_, CI_DEPLOY_ and
 *   CI_DEPENDENCY_PROXY_ (user and password of each)
 *   (https://docs.gitlab.com/ci/variables/predefined_variables/); other CI_ names stay free;
 * - SIGSTORE_ and COSIGN_: the identity token cosign signs with and cosign's own key and
 *   password settings (https://docs.sigstore.dev/cosign/signing/overview/);
 * - VAULT_ (VAULT_TOKEN) and BUILDKITE_AGENT_ (the agent's token).
 */
const CREDENTIAL_PREFIXES = [
    "AWS_",
    "CLOUDSDK_",
    "AZURE_",
    "ARM_",
    "PULUMI_",
    "ACTIONS_",
    "CI_JOB_",
    "CI_REPOSITORY_",
    "CI_REGISTRY_",
    "CI_DEPLOY_",
    "CI_DEPENDENCY_PROXY_",
    "SIGSTORE_",
    "COSIGN_",
    "VAULT_",
    "BUILDKITE_AGENT_",
];
/**
 * Names that mark a credential of the pipeline whatever the CI calls it: an identity token
 * (CircleCI's CIRCLE_OIDC_TOKEN, Bitbucket's BITBUCKET_STEP_OIDC_TOKEN, GitLab `id_tokens` such
 * as GITLAB_OIDC_TOKEN) and the git credentials a CI writes for its clone (Woodpecker's
 * CI_NETRC_PASSWORD, Drone's DRONE_NETRC_PASSWORD).
 */
const CREDENTIAL_SHAPES: [RegExp, string][] = [
    [/(^|_)(OIDC|ID_TOKEN)(_|$)/, "*OIDC* and *ID_TOKEN*"],
    [/(^|_)NETRC(_|$)/, "*NETRC*"],
];
const CREDENTIAL_NAMES = [
    // GitHub Actions' workflow token, as workflows conventionally export it
    // (https://docs.github.com/en/actions/concepts/security/github_token).
    "GITHUB_TOKEN",
    // Azure Pipelines' job token.
    "SYSTEM_ACCESSTOKEN",
    // Registry credentials for the runner's own pulls (GitLab runners read it).
    "DOCKER_AUTH_CONFIG",
    // The runner's SSH agent: forward it with an ssh entry, which never hands over the socket.
    "SSH_AUTH_SOCK",
    // Google Cloud's credentials by name, not GOOGLE_* as a family: GOOGLE_MAPS_API_KEY and
    // the like are keys made for a build. Application default credentials
    // (https://cloud.google.com/docs/authentication/application-default-credentials), the
    // Pulumi and Terraform Google providers' GOOGLE_CREDENTIALS, GOOGLE_CLOUD_KEYFILE_JSON,
    // GCLOUD_KEYFILE_JSON and GOOGLE_OAUTH_ACCESS_TOKEN
    // (https://www.pulumi.com/registry/packages/gcp/installation-configuration/), and the file
    // google-github-actions/auth writes (README, "Other inputs": GOOGLE_GHA_CREDS_PATH).
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CREDENTIALS",
    "GOOGLE_CLOUD_KEYFILE_JSON",
    "GCLOUD_KEYFILE_JSON",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "GOOGLE_GHA_CREDS_PATH",
];

/** Why `key` cannot be a build secret's config source, if it cannot. */
export function configSourceProblem(key: string): string | undefined {
    if (FLEET_SECRET_KEYS.includes(key)) {
        return `names ${key}, the fleet's own credential; a build would be handed it and could send it anywhere. Store a credential made for the build under its own key (\`pulumi config set --secret npmToken <value>\`) and name that`;
    }
    if (PROGRAM_KEYS.includes(key)) {
        return `names ${key}, one of this program's own config keys, which would then vanish from the program's config; store the build's secret under a key of its own, such as npmToken`;
    }
    return undefined;
}

const AS_PIPELINE =
    "a build step could act as the pipeline with it. Give the build a credential made for it, in a CI secret variable of its own such as NPM_TOKEN";

/** The family of runner credentials `name` belongs to ("AWS_*"), "" for a single name, or undefined. */
function credentialFamily(name: string): string | undefined {
    const prefix = CREDENTIAL_PREFIXES.find((p) => name.startsWith(p));
    if (prefix !== undefined) {
        return `${prefix}*`;
    }
    return (
        CREDENTIAL_SHAPES.find(([shape]) => shape.test(name))?.[1] ?? (CREDENTIAL_NAMES.includes(name) ? "" : undefined)
    );
}

/** Why environment variable `name` cannot be a build secret's source, if it cannot. */
export function envSourceProblem(name: string): string | undefined {
    const family = credentialFamily(name);
    if (family === undefined) {
        return undefined;
    }
    return `names ${name}, ${family ? `one of the ${family} variables that hold` : "a variable that holds"} the runner's own CI, cloud or Pulumi credentials; ${AS_PIPELINE}`;
}

/** A name that says its variable holds a credential, not a region, a path or a profile name. */
const CREDENTIAL_WORD = /TOKEN|SECRET|PASSWORD|PASSPHRASE|KEY|JWT|CREDENTIAL|AUTH|NETRC/;
/** RFC 3986 §3.2.1: userinfo is user[:password] before '@', then the host; as config/buildArgs.ts reads it. */
const URL_WITH_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/([^/?#@\s:]*):([^/?#@\s]+)@(\[[^\]\s]*\]|[^/?#@\s:]+)/gi;

/** A URL's password as the server reads it (RFC 3986 §2.1 percent-encoding undone). */
function decoded(password: string): string {
    try {
        return decodeURIComponent(password);
    } catch {
        return password;
    }
}

/**
 * The GitLab server's host, as GitLab names it: CI_SERVER_HOST, CI_SERVER_FQDN and
 * CI_SERVER_URL (https://docs.gitlab.com/ci/variables/predefined_variables/). A GitLab job's
 * CI_REPOSITORY_URL, and the .git/config and .git-credentials its runner writes, carry the job
 * token in a URL for that host, under names a build secret could copy. GitHub's
 * GITHUB_SERVER_URL is not among them: nothing on an Actions runner puts a URL with a password
 * in the environment or in files (actions/checkout sends its token as an extraheader), the
 * workflow's token is caught by its value (GITHUB_TOKEN), and a build's own
 * `https://x-access-token:<PAT>@github.com/…` (private Go modules, .git-credentials) is a
 * build's secret.
 */
function ciServerHosts(env: Record<string, string | undefined>): string[] {
    const hostOf = (value: string | undefined, isUrl: boolean): string | undefined => {
        if (!value) {
            return undefined;
        }
        try {
            return (isUrl ? new URL(value).hostname : new URL(`https://${value}`).hostname).toLowerCase();
        } catch {
            return undefined;
        }
    };
    return [
        hostOf(env.CI_SERVER_HOST, false),
        hostOf(env.CI_SERVER_FQDN, false),
        hostOf(env.CI_SERVER_URL, true),
    ].filter((h): h is string => h !== undefined);
}

/**
 * Why a build secret's value (of environment variable `name`, or a file's content when `name`
 * is undefined) cannot be handed to a build, if it cannot; never echoes it. A runner credential
 * copied under another name (NPM_TOKEN=$CI_JOB_TOKEN, a file holding it) or inside a URL
 * (GitLab's CI_REPOSITORY_URL, a .git-credentials line) is still the runner's. A URL with a
 * password is refused only when the password is a runner credential's value, the user is
 * gitlab-ci-token or the host is the GitLab server's (the pipeline's clone URL):
 * PIP_INDEX_URL=https://user:pass@pypi.example.com/… is a build's own secret, and so is a PAT
 * URL for github.com on an Actions runner.
 */
export function secretValueProblem(
    value: string,
    env: Record<string, string | undefined>,
    name?: string,
): string | undefined {
    const credentials = Object.entries(env).filter(
        (entry): entry is [string, string] =>
            entry[0] !== name &&
            entry[1] !== undefined &&
            entry[1].trim() !== "" &&
            credentialFamily(entry[0]) !== undefined,
    );
    const copied = credentials.find(
        ([other, v]) => v.trim().length >= 16 && CREDENTIAL_WORD.test(other) && value.includes(v.trim()),
    );
    if (copied !== undefined) {
        return `holds the value of ${copied[0]}, one of the runner's own credentials; ${AS_PIPELINE}`;
    }
    const servers = ciServerHosts(env);
    for (const [, user, password, host] of value.matchAll(URL_WITH_PASSWORD)) {
        const owner = credentials.find(([, v]) => v.trim() === decoded(password));
        if (owner !== undefined) {
            return `holds a URL whose password is the value of ${owner[0]}, one of the runner's own credentials; ${AS_PIPELINE}`;
        }
        if (servers.includes(host.toLowerCase())) {
            return `holds a URL with a user and password for ${host.toLowerCase()}, the CI server this pipeline runs on: that is the pipeline's clone URL (GitLab's CI_REPOSITORY_URL carries the job token). If its credential was made for the build (a deploy token), store the URL as a config secret (\`pulumi config set --secret <key> <url>\`) and read it with { config: <key> }`;
        }
        // GitLab accepts the user gitlab-ci-token only with a CI job token
        // (https://docs.gitlab.com/ci/jobs/ci_job_token/), whatever the host.
        if (decoded(user).toLowerCase() === "gitlab-ci-token") {
            return `holds a URL with the user gitlab-ci-token, whose password is a GitLab CI job token (CI_REPOSITORY_URL, the clone's .git/config); ${AS_PIPELINE}`;
        }
    }
    return undefined;
}

/** Kernel and device trees: reading them gives the runner's memory, environment or devices, not a file. */
const SPECIAL_TREES = ["/proc", "/sys", "/dev"];

function inTree(p: string, trees: string[]): string | undefined {
    return trees.find((t) => p === t || p.startsWith(`${t}/`));
}

/**
 * The `.git` part of an absolute, normalised path, if any: the directory (or, in a worktree or
 * submodule, the file naming it) git keeps a clone's config in. Compared without case, because
 * macOS's and Windows' default file systems open .GIT/config as .git/config.
 */
function gitPart(p: string): string | undefined {
    const parts = p.split(path.sep);
    const i = parts.findIndex((part) => part.toLowerCase() === ".git");
    return i < 0 ? undefined : parts.slice(0, i + 1).join(path.sep);
}

function kindOf(stat: fs.Stats): string {
    return stat.isDirectory()
        ? "a directory"
        : stat.isFIFO()
          ? "a named pipe (FIFO)"
          : stat.isSocket()
            ? "a socket"
            : stat.isCharacterDevice()
              ? "a character device"
              : stat.isBlockDevice()
                ? "a block device"
                : "not a regular file";
}

/**
 * Why `file` (relative to the project root, or absolute) cannot be a build secret's source, if
 * it cannot: a plain file inside the project, or outside it with `outsideProject: true`.
 */
export function fileSourceProblem(file: string, projectRoot: string, outsideProject: boolean): string | undefined {
    if (file.startsWith("~")) {
        return `"${file}" starts with ~, which nothing expands here; give the full path`;
    }
    const given = path.resolve(projectRoot, file);
    let real: string;
    try {
        real = fs.realpathSync(given);
    } catch (e) {
        return `reads the file ${file}, which cannot be read on this machine (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give the path of a file that holds the secret`;
    }
    const tree = inTree(given, SPECIAL_TREES) ?? inTree(real, SPECIAL_TREES);
    if (tree !== undefined) {
        return `"${file}" is in ${tree}, which holds the kernel's and devices' files (the runner's memory, environment and credentials), not a secret; give a plain file`;
    }
    const git = gitPart(given) ?? gitPart(real);
    if (git !== undefined) {
        return `"${file}" is in a git directory (${git}), whose config holds the clone's credentials (GitLab runners write the clone URL with gitlab-ci-token:<job token> there, actions/checkout its token); give a file made for the build`;
    }
    const stat = fs.statSync(real);
    if (!stat.isFile()) {
        return `"${file}" is ${kindOf(stat)}; a build secret is read from a plain file`;
    }
    const realRoot = fs.realpathSync(projectRoot);
    if (!outsideProject && real !== realRoot && !real.startsWith(realRoot + path.sep)) {
        return `"${file}" is outside the project (${real}); a file there may be anything of the runner's, so share it on purpose: add outsideProject: true to this source, or move the file into the project (and out of git)`;
    }
    return undefined;
}

/** Why an SSH forward's path cannot be used, if it cannot: it must be a private key file or an agent socket. */
export function sshPathProblem(p: string, projectRoot: string): string | undefined {
    if (p.startsWith("~")) {
        return `"${p}" starts with ~, which nothing expands here; give the full path`;
    }
    const given = path.resolve(projectRoot, p);
    if (!fs.existsSync(given)) {
        return `"${p}" does not exist on this machine; give the path of an SSH private key or agent socket`;
    }
    const real = fs.realpathSync(given);
    const tree = inTree(given, SPECIAL_TREES) ?? inTree(real, SPECIAL_TREES);
    if (tree !== undefined) {
        return `"${p}" is in ${tree}, which holds no SSH key or agent; give the path of an SSH private key or agent socket`;
    }
    const stat = fs.statSync(real);
    if (stat.isSocket()) {
        return undefined;
    }
    if (!stat.isFile()) {
        return `"${p}" is ${kindOf(stat)}, neither an SSH private key file nor an agent socket; give one of those`;
    }
    // BuildKit loads a path as a PEM or OpenSSH private key (its sshprovider); anything else fails mid-build.
    const head = readHead(real, 4096);
    if (!/^\s*-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(head)) {
        return `"${p}" is not an SSH private key (no "-----BEGIN … PRIVATE KEY-----" line); give a key file such as id_ed25519, or an agent socket`;
    }
    return undefined;
}

/** The first `bytes` bytes of a file, as text. */
export function readHead(file: string, bytes: number): string {
    const fd = fs.openSync(file, "r");
    try {
        const buffer = Buffer.alloc(bytes);
        return buffer.subarray(0, fs.readSync(fd, buffer, 0, bytes, 0)).toString("utf8");
    } finally {
        fs.closeSync(fd);
    }
}
