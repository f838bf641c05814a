// A private, temporary Docker client config holding the stack's registry credentials, for
// the local checks that read from the registry after a build (smoke tests, index read-back).

import * as fs from "fs";
import * as path from "path";

/**
 * Writes `dir/config.json` with `credentials` (`user:password`) for `registry` and returns
 * the environment the docker CLI runs with: DOCKER_CONFIG points at `dir`, the user's
 * cli-plugins are linked in so the CLI still finds buildx, and BUILDX_CONFIG keeps naming the
 * user's buildx state, where the fleet's builders are registered.
 */
export function privateDockerConfig(
    dir: string,
    registry: string,
    credentials: string,
    env: NodeJS.ProcessEnv,
): NodeJS.ProcessEnv {
    // `${DOCKER_CONFIG:-$HOME/.docker}`: an empty value counts as unset, as docker treats it.
    const userConfig = env.DOCKER_CONFIG || path.join(env.HOME ?? "", ".docker");
    const plugins = path.join(userConfig, "cli-plugins");
    if (fs.statSync(plugins, { throwIfNoEntry: false })?.isDirectory()) {
        fs.symlinkSync(plugins, path.join(dir, "cli-plugins"));
    }
    const auth = Buffer.from(credentials).toString("base64");
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ auths: { [registry]: { auth } } }), {
        mode: 0o600,
    });
    return { ...env, DOCKER_CONFIG: dir, BUILDX_CONFIG: env.BUILDX_CONFIG || path.join(userConfig, "buildx") };
}

/**
 * What a Docker client config (config.json text) would give away: the registries it holds
 * credentials for, and each credential helper, which answers for every login it keeps.
 * docker-build loads all of it when its provider starts (provider/internal/host.go, newHost:
 * `docker.ConfigFile().GetAllCredentials()`, which asks `credsStore` and every `credHelpers`
 * entry: docker/cli v29.5.3 cli/config/configfile/file.go GetAllCredentials) and answers
 * BuildKit's credential requests from it, so a build host can ask for any of them.
 */
export function exposedCredentials(configJson: string): string[] {
    let config: {
        auths?: Record<string, { auth?: string; identitytoken?: string; password?: string; registrytoken?: string }>;
        credsStore?: string;
        credHelpers?: Record<string, string>;
    };
    try {
        config = JSON.parse(configJson) as typeof config;
    } catch {
        return [];
    }
    const auths = Object.entries(config.auths ?? {})
        .filter(([, a]) => a && (a.auth || a.identitytoken || a.password || a.registrytoken))
        .map(([host]) => host);
    const helpers = Object.entries(config.credHelpers ?? {}).map(
        ([host, helper]) => `${host} (credential helper docker-credential-${helper})`,
    );
    const store = config.credsStore ? [`every login in credential store docker-credential-${config.credsStore}`] : [];
    return [...auths, ...helpers, ...store];
}

/**
 * The credential store docker/cli falls back to when the config names none and holds no entry
 * at all (no `auths` key, `credsStore` or `credHelpers`): `pass` when the `pass` program is on
 * PATH, else `secretservice`, if its `docker-credential-<store>` helper is on PATH (docker/cli
 * v29.5.3 cli/config/config.go LoadDefaultConfigFile, credentials/default_store.go and
 * default_store_linux.go). One `auths` entry, even without credentials, turns the fallback off.
 */
export function defaultCredentialStore(
    configJson: string | undefined,
    onPath: (program: string) => boolean,
): string | undefined {
    let config: { auths?: Record<string, unknown>; credsStore?: string; credHelpers?: Record<string, string> } = {};
    try {
        config = (JSON.parse(configJson ?? "{}") ?? {}) as typeof config;
    } catch {
        // docker/cli warns and goes on with an empty config, which then takes the default store.
    }
    if (
        config.credsStore ||
        Object.keys(config.credHelpers ?? {}).length > 0 ||
        Object.keys(config.auths ?? {}).length > 0
    ) {
        return undefined;
    }
    const store = onPath("pass") ? "pass" : "secretservice";
    return onPath(`docker-credential-${store}`) ? store : undefined;
}

/** Whether `program` is an executable file in one of PATH's directories. */
function onPathOf(env: NodeJS.ProcessEnv): (program: string) => boolean {
    return (program) =>
        (env.PATH ?? "")
            .split(path.delimiter)
            .filter(Boolean)
            .some((dir) => {
                try {
                    fs.accessSync(path.join(dir, program), fs.constants.X_OK);
                    return fs.statSync(path.join(dir, program)).isFile();
                } catch {
                    return false;
                }
            });
}

/** The Docker config file docker-build's provider reads: `${DOCKER_CONFIG:-$HOME/.docker}/config.json` (docker/cli v29.5.3 cli/config/config.go Dir). */
export function providerDockerConfigFile(env: NodeJS.ProcessEnv): string {
    return path.join(env.DOCKER_CONFIG || path.join(env.HOME ?? "", ".docker"), "config.json");
}

/**
 * Refuses to go on when the Docker config docker-build will read holds credentials, unless
 * NBF_DOCKER_CREDENTIALS=allow accepts that each build host can obtain them (then a warning).
 * The runner and docker-build's provider are started by the same Pulumi engine with the same
 * environment, so the file read here is the one the provider reads. The stack's own registry
 * needs no entry: the program passes its credentials to every build itself.
 */
export function checkDockerCredentials(env: NodeJS.ProcessEnv, log: (line: string) => void): string | undefined {
    const file = providerDockerConfigFile(env);
    let text: string | undefined;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        text = undefined;
    }
    const store = defaultCredentialStore(text, onPathOf(env));
    const exposed = [
        ...exposedCredentials(text ?? ""),
        ...(store === undefined
            ? []
            : [
                  `every login in credential store docker-credential-${store}, which docker uses when the config holds no entry at all`,
              ]),
    ];
    if (exposed.length === 0) {
        return undefined;
    }
    const message =
        `the Docker config ${file} holds credentials for ${exposed.join(", ")}. docker-build answers every build host's ` +
        "credential request from it, so one compromised build host could obtain each of them. Run Pulumi with a Docker config that holds none " +
        '(the stack\'s registry credentials are passed to each build by the program): export DOCKER_CONFIG="$HOME/.config/native-build-fleet/docker", ' +
        'a directory whose config.json is {"auths":{"nbf.invalid":{}}} (one entry without credentials, so docker picks no default credential store). ' +
        "If builds must pull private base images with those credentials, accept the exposure with NBF_DOCKER_CREDENTIALS=allow";
    if (env.NBF_DOCKER_CREDENTIALS === "allow") {
        log(`warning: ${message} (accepted: NBF_DOCKER_CREDENTIALS=allow)`);
        return undefined;
    }
    return message;
}
