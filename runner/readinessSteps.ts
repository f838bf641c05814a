// What the readiness check runs on a build host: the host scripts (host/boot-wait.sh,
// host/docker-check.sh) with their data as positional parameters. The check itself runs on
// the runner (runner/readiness.ts), which sends each step as one remote command line.

import { RemoteStep } from "./readiness";
import { scriptFile } from "../host/scriptFiles";
import { READY_MARKER } from "../host/readyMarker";

/** `uname -m` names of each host architecture, as `docker info` reports them. */
const MACHINE: Record<string, string[]> = { amd64: ["x86_64"], arm64: ["aarch64", "arm64"] };

/** One host script and its positional parameters: a step of the readiness check. */
function step(file: "host/boot-wait.sh" | "host/docker-check.sh", args: string[]): RemoteStep {
    return { name: file.slice("host/".length), script: scriptFile(file), args };
}

/** Waits for the boot script to finish (host/boot-wait.sh). */
export function bootWaitStep(timeoutSeconds: number): RemoteStep {
    return step("host/boot-wait.sh", [String(timeoutSeconds), READY_MARKER]);
}

/**
 * Checks Docker for the SSH user, the host's architecture when `arch` is given, and that no
 * QEMU handler is enabled beyond `allowedHandlers` (host/docker-check.sh).
 */
export function dockerCheckStep(
    arch: string | undefined,
    allowedHandlers: string[],
    timeoutSeconds: number,
): RemoteStep {
    const machines = arch === undefined ? [] : (MACHINE[arch] ?? [arch]);
    return step("host/docker-check.sh", [
        String(timeoutSeconds),
        arch ?? "",
        machines.join(" "),
        allowedHandlers.join(" "),
    ]);
}

/** The ProxyCommand that carries SSH through an SSM session (document AWS-StartSSHSession). */
export function ssmProxyCommand(region?: string): string {
    return `aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p${region ? ` --region ${region}` : ""}`;
}
