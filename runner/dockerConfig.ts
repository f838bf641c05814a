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
export function privateDockerConfig(dir: string, registry: string, credentials: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    // `${DOCKER_CONFIG:-$HOME/.docker}`: an empty value counts as unset, as docker treats it.
    const userConfig = env.DOCKER_CONFIG || path.join(env.HOME ?? "", ".docker");
    const plugins = path.join(userConfig, "cli-plugins");
    if (fs.statSync(plugins, { throwIfNoEntry: false })?.isDirectory()) {
        fs.symlinkSync(plugins, path.join(dir, "cli-plugins"));
    }
    const auth = Buffer.from(credentials).toString("base64");
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ auths: { [registry]: { auth } } }), { mode: 0o600 });
    return { ...env, DOCKER_CONFIG: dir, BUILDX_CONFIG: env.BUILDX_CONFIG || path.join(userConfig, "buildx") };
}
