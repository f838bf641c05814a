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
 *   GOOGLE_ and CLOUDSDK_ (application default credentials, gcloud's access token:
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
    "GOOGLE_",
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
/** RFC 3986 §3.2.1: userinfo is user[:password] before '@'; as config/buildArgs.ts reads it. */
const URL_WITH_PASSWORD = /\b[a-z][a-z0-9+.-]*:\/\/[^/?#@\s:]*:[^/?#@\s]+@/i;

/**
 * Why the value of environment variable `name` cannot be a build secret, if it cannot; never
 * echoes it. A runner credential copied into a variable of another name (NPM_TOKEN=$CI_JOB_TOKEN)
 * or inside a URL (GitLab's CI_REPOSITORY_URL) is still the runner's. A URL with a password in
 * an environment variable is refused too: on a runner it is most often the pipeline's clone URL,
 * and a URL made for the build can come from a config secret instead.
 */
export function envValueProblem(
    name: string,
    value: string,
    env: Record<string, string | undefined>,
): string | undefined {
    const copied = Object.entries(env).find(
        ([other, v]) =>
            other !== name &&
            v !== undefined &&
            v.trim().length >= 16 &&
            CREDENTIAL_WORD.test(other) &&
            credentialFamily(other) !== undefined &&
            value.includes(v.trim()),
    );
    if (copied !== undefined) {
        return `holds the value of ${copied[0]}, one of the runner's own credentials; ${AS_PIPELINE}`;
    }
    if (URL_WITH_PASSWORD.test(value)) {
        return "holds a URL with a user and password in it (scheme://user:password@…), as a pipeline's clone URL does (GitLab's CI_REPOSITORY_URL carries the job token); if the credential in it was made for the build, store the URL as a config secret (`pulumi config set --secret <key> <url>`) and read it with { config: <key> }";
    }
    return undefined;
}

/** Kernel and device trees: reading them gives the runner's memory, environment or devices, not a file. */
const SPECIAL_TREES = ["/proc", "/sys", "/dev"];

function inTree(p: string, trees: string[]): string | undefined {
    return trees.find((t) => p === t || p.startsWith(`${t}/`));
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
