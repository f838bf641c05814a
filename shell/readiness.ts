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
 * Checks that Docker answers for the SSH user; when `arch` is given, that the host's CPU
 * is that architecture; and that no QEMU handler is enabled beyond `allowedHandlers`.
 * The docker-build provider routes by the platforms a node *detects*, so a native x86
 * host with an aarch64 handler would silently receive linux/arm64 builds and emulate
 * them (measured on BuildKit 0.31 with docker-build 0.0.22).
 */
export function dockerCheckScript(arch: string | undefined, allowedHandlers: string[], timeoutSeconds: number): string {
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
        "foreign=''",
        "# NBF_BINFMT_DIR lets the tests point at a fixture instead of the kernel's table.",
        "for handler in \"${NBF_BINFMT_DIR:-/proc/sys/fs/binfmt_misc}\"/qemu-*; do",
        "    if [ ! -f \"$handler\" ] || ! grep -qx enabled \"$handler\"; then",
        "        continue",
        "    fi",
        `    case "\${handler##*/qemu-}" in`,
        ...(allowedHandlers.length > 0 ? [`        ${allowedHandlers.map(shq).join("|")}) ;;`] : []),
        "        *) foreign=\"$foreign ${handler##*/qemu-}\" ;;",
        "    esac",
        "done",
        "if [ -n \"$foreign\" ]; then",
        "    printf 'this host has QEMU handlers enabled for%s, so builds for those platforms could be routed to it and run emulated; list those platforms under its emulate setting or disable the handlers (/proc/sys/fs/binfmt_misc)\\n' \"$foreign\" >&2",
        "    exit 1",
        "fi",
        `printf 'docker %s on %s\\n' "\${info%% *}" "$machine"`,
        "",
    ].join("\n");
}
