// Scripts the readiness check runs on each build host over SSH (with its host key pinned).

import { shq } from "./quote";
import { READY_MARKER } from "./userData";

/** `uname -m` names of each host architecture, as `docker info` reports them. */
const MACHINE: Record<string, string[]> = { amd64: ["x86_64"], arm64: ["aarch64", "arm64"] };

/**
 * Waits for the boot script to finish. It runs in its own SSH session: the docker
 * group the boot script grants applies only to sessions opened after it.
 */
export function bootWaitScript(timeoutSeconds: number): string {
    return [
        "set -eu",
        `deadline=$(( $(date +%s) + ${timeoutSeconds} ))`,
        `until [ -f ${shq(READY_MARKER)} ]; do`,
        `    if [ "$(date +%s)" -ge "$deadline" ]; then`,
        `        echo "the boot script did not finish within ${timeoutSeconds}s; see /var/log/cloud-init-output.log on the host" >&2`,
        "        exit 1",
        "    fi",
        "    sleep 5",
        "done",
        "",
    ].join("\n");
}

/**
 * Checks that Docker answers for the SSH user and, when `arch` is given, that the host's
 * CPU is that architecture, so a mislabelled host can never build a platform it would
 * emulate.
 */
export function dockerCheckScript(arch: string | undefined, timeoutSeconds: number): string {
    const archCheck = arch === undefined ? [] : [
        `case "$machine" in`,
        `    ${(MACHINE[arch] ?? [arch]).map(shq).join("|")}) ;;`,
        `    *) printf 'this host runs %s, but its pool expects ${arch}\\n' "$machine" >&2; exit 1 ;;`,
        "esac",
    ];
    return [
        "set -eu",
        `deadline=$(( $(date +%s) + ${timeoutSeconds} ))`,
        "until info=$(docker info --format '{{.ServerVersion}} {{.Architecture}}' 2>&1); do",
        `    if [ "$(date +%s)" -ge "$deadline" ]; then`,
        `        printf 'docker is not usable by %s after ${timeoutSeconds}s: %s\\n' "$(id -un)" "$info" >&2`,
        "        exit 1",
        "    fi",
        "    sleep 3",
        "done",
        "machine=${info#* }",
        ...archCheck,
        `printf 'docker %s on %s\\n' "\${info%% *}" "$machine"`,
        "",
    ].join("\n");
}
