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
 * RUN step could act as the pipeline. Prefixes cover whole families:
 * - AWS_: the AWS SDKs' and CLI's credential settings (keys, session token, profile, web
 *   identity token file, container credentials URI and token)
 *   (https://docs.aws.amazon.com/sdkref/latest/guide/settings-reference.html#EVarSettings);
 * - PULUMI_: PULUMI_ACCESS_TOKEN and PULUMI_CONFIG_PASSPHRASE(_FILE), which decrypt every secret
 *   of the stack (https://www.pulumi.com/docs/iac/cli/environment-variables/);
 * - ACTIONS_: the GitHub Actions runner's own tokens, ACTIONS_ID_TOKEN_REQUEST_TOKEN/_URL (OIDC)
 *   and ACTIONS_RUNTIME_TOKEN (https://docs.github.com/en/actions/reference/security/oidc);
 * - CI_JOB_ and CI_REGISTRY_/CI_DEPLOY_/CI_DEPENDENCY_PROXY_ passwords: GitLab's job token, job
 *   JWTs and registry credentials (https://docs.gitlab.com/ci/variables/predefined_variables/).
 */
const CREDENTIAL_PREFIXES = ["AWS_", "PULUMI_", "ACTIONS_", "CI_JOB_"];
const CREDENTIAL_NAMES = [
    // GitHub Actions' workflow token, as workflows conventionally export it
    // (https://docs.github.com/en/actions/concepts/security/github_token).
    "GITHUB_TOKEN",
    "CI_REGISTRY_PASSWORD",
    "CI_DEPLOY_PASSWORD",
    "CI_DEPENDENCY_PROXY_PASSWORD",
    // The OIDC token cosign signs with (https://docs.sigstore.dev/cosign/signing/overview/).
    "SIGSTORE_ID_TOKEN",
    // Azure Pipelines' job token and Buildkite's agent token.
    "SYSTEM_ACCESSTOKEN",
    "BUILDKITE_AGENT_ACCESS_TOKEN",
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

/** Why environment variable `name` cannot be a build secret's source, if it cannot. */
export function envSourceProblem(name: string): string | undefined {
    const family = CREDENTIAL_PREFIXES.find((p) => name.startsWith(p));
    if (family !== undefined || CREDENTIAL_NAMES.includes(name)) {
        return `names ${name}, ${family ? `one of the ${family}* variables that` : "a variable that"} hold${family ? "" : "s"} the runner's own CI, cloud or Pulumi credentials; a build step could act as the pipeline with it. Give the build a credential made for it, in a CI secret variable of its own such as NPM_TOKEN`;
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
