// A private, temporary Docker client config holding the stack's registry credentials,
// for the local checks that read from the registry after a build.

import { shq } from "./quote";

/**
 * Shell lines that read `user:password` from standard input into `$tmp/config.json` and
 * point DOCKER_CONFIG there (exported), removing it on exit. The buildx plugin is linked
 * in so the CLI still finds it, and BUILDX_CONFIG keeps naming the user's buildx state,
 * where the fleet's builder is registered.
 */
export function privateDockerConfig(registry: string): string[] {
    return [
        "user_config=\"${DOCKER_CONFIG:-$HOME/.docker}\"",
        "export BUILDX_CONFIG=\"${BUILDX_CONFIG:-$user_config/buildx}\"",
        "tmp=$(mktemp -d)",
        "trap 'rm -rf \"$tmp\"' EXIT",
        "[ -d \"$user_config/cli-plugins\" ] && ln -s \"$user_config/cli-plugins\" \"$tmp/cli-plugins\"",
        "auth=$(base64 -w0)",
        `printf '{"auths":{"%s":{"auth":"%s"}}}' ${shq(registry)} "$auth" > "$tmp/config.json"`,
        "export DOCKER_CONFIG=\"$tmp\"",
    ];
}
