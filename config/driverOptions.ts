// The docker-container driver options buildx v0.35.0 knows, and the shape of each value.
// buildx reads them in driver/docker-container/factory.go (`factory.New`, the switch over
// cfg.DriverOpts): an option it does not know fails `buildx create` with "invalid driver option
// … for docker-container driver", and a value it cannot parse fails there too, on the runner,
// after the hosts exist. So both are refused here, before anything is created.

import { IMAGE_REF } from "./buildInputs";

/** Byte sizes as docker/go-units RAMInBytes reads them (opts.MemBytes.Set): 512m, 2g, 1.5GiB. */
const BYTES = /^\d+(\.\d+)* ?[kKmMgGtTpP]?[iI]?[bB]?$/;
const INTEGER = /^[+-]?\d+$/;
/** strconv.ParseBool's spellings. */
const BOOLEAN = ["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"];
/** Linux cpuset lists such as 0-3 (a comma would split the --driver-opt value, so ranges only). */
const CPUSET = /^\d+(-\d+)?$/;
/** The restart policies Docker knows; only on-failure takes a retry count (docker/cli opts.ParseRestartPolicy, the daemon's check). */
const RESTART = /^(no|always|unless-stopped|on-failure(:\d+)?)$/;
/** A Docker network: host, bridge, none, or a user network's name. */
const NETWORK = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const CGROUP = /^\/?[A-Za-z0-9_.@:-]+(\/[A-Za-z0-9_.@:-]+)*$/;

/** Each option and what its value must look like, as a message fragment. */
const OPTIONS: Record<string, { test: (v: string) => boolean; shape: string }> = {
    "network": { test: (v) => NETWORK.test(v), shape: "a Docker network name such as bridge or host" },
    "image": {
        test: (v) => IMAGE_REF.test(v),
        shape: "an image reference such as moby/buildkit:v0.31.0 (the rule of builder.buildkitImage)",
    },
    "memory": { test: (v) => BYTES.test(v), shape: "a size such as 4g or 512m" },
    "memory-swap": { test: (v) => v === "-1" || BYTES.test(v), shape: "a size such as 8g, or -1 for unlimited swap" },
    "cpu-period": { test: (v) => INTEGER.test(v), shape: "a whole number of microseconds such as 100000" },
    "cpu-quota": { test: (v) => INTEGER.test(v), shape: "a whole number of microseconds such as 50000" },
    "cpu-shares": { test: (v) => INTEGER.test(v), shape: "a whole number such as 512" },
    "cpuset-cpus": { test: (v) => CPUSET.test(v), shape: "a CPU number or range such as 0-3" },
    "cpuset-mems": { test: (v) => CPUSET.test(v), shape: "a memory node number or range such as 0-1" },
    "cgroup-parent": { test: (v) => CGROUP.test(v), shape: "a cgroup path such as /buildkit" },
    "restart-policy": {
        test: (v) => RESTART.test(v),
        shape: "one of no, always, unless-stopped, on-failure or on-failure:<retries>",
    },
    "default-load": { test: (v) => BOOLEAN.includes(v), shape: "true or false" },
    "provenance-add-gha": { test: (v) => BOOLEAN.includes(v), shape: "true or false" },
};

/** What the docker-container driver of buildx v0.35.0 takes, for messages. */
export const KNOWN_DRIVER_OPTIONS = [...Object.keys(OPTIONS), "env.<VARIABLE>"];

/** Problems of one set of driver options, each at the option's name. */
export function driverOptionProblems(options: Record<string, string>): { key: string; message: string }[] {
    return Object.entries(options).flatMap(([key, value]) => {
        if (key.startsWith("env.")) {
            return [];
        }
        const option = OPTIONS[key];
        if (option === undefined) {
            return [
                {
                    key,
                    message: `is not an option of buildx v0.35.0's docker-container driver, whose \`buildx create\` would fail with "invalid driver option ${key}"; it takes ${KNOWN_DRIVER_OPTIONS.join(", ")}`,
                },
            ];
        }
        return option.test(value)
            ? []
            : [{ key, message: `is "${value}", but must be ${option.shape}; buildx create would refuse it` }];
    });
}
