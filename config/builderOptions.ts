// Checks of the builder's driver options and buildkitd.toml that the schema's shapes cannot make.

/**
 * docker-container driver option names: lowercase words (network, memory-swap), or
 * `env.<VARIABLE>` with the variable's own case (env.BUILDKIT_STEP_LOG_MAX_SIZE)
 * (https://docs.docker.com/build/builders/drivers/docker-container/).
 */
export const DRIVER_OPTION_NAME = /^[a-z][a-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/**
 * Why driver options may not be used on EC2 hosts, if they may not. With `network=host` the
 * BuildKit container, and so every RUN step, shares the host's network namespace, where the
 * IMDS hop limit of 1 no longer keeps a build step from the instance role's credentials
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-IMDS-existing-instances.html).
 * Static hosts have no IMDS of ours to protect and may keep it.
 */
export function ec2DriverOptionProblem(options: Record<string, string>): { key: string; message: string } | undefined {
    return options.network === "host"
        ? {
              key: "network",
              message:
                  "is host, which puts every RUN step in the EC2 host's network namespace, where the IMDS hop limit of 1 no longer keeps builds from the instance's credentials; remove it while the stack has EC2 pools (static hosts only may keep it)",
          }
        : undefined;
}

/**
 * Why a buildkitd.toml is not a text file BuildKit could read, if it is not: TOML is UTF-8
 * text, and a NUL byte or invalid UTF-8 would reach every node's buildkitd unchanged.
 */
export function buildkitdConfigProblem(content: Buffer): string | undefined {
    if (content.includes(0)) {
        return "contains NUL bytes; a buildkitd.toml is UTF-8 text";
    }
    const text = content.toString("utf8");
    if (!Buffer.from(text, "utf8").equals(content)) {
        return "is not valid UTF-8 text, as TOML must be";
    }
    return undefined;
}
