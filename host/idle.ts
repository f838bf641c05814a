// Idle power-off for pools with `idleMinutes`: the host powers itself off once the build
// user has had no process for that long, and the next `pulumi up` starts it again (the
// builder's wake step, runner/registerBuilders.ts). The check itself is host/idle-check.sh; this
// renders the systemd units that run it, as plain data for the user data.

/** Where the user data installs the program's host scripts. */
export const HOST_SCRIPT_DIR = "/usr/local/lib/native-build-fleet";

/** The timer the boot script enables on pools with idleMinutes. */
export const IDLE_TIMER = "native-build-fleet-idle.timer";

/** Unit files (path → text) that run the idle check every minute from boot on. */
export function idleUnits(user: string, minutes: number): Record<string, string> {
    if (!Number.isInteger(minutes) || minutes <= 0) {
        throw new Error(`idleMinutes must be a positive whole number, not ${minutes}`);
    }
    return {
        "/etc/systemd/system/native-build-fleet-idle.service": [
            "[Unit]",
            "Description=Power off the build host when no build has run for a while",
            "",
            "[Service]",
            "Type=oneshot",
            // systemd splits ExecStart into words itself; the user name is a validated login name.
            `ExecStart=${HOST_SCRIPT_DIR}/idle-check.sh ${user} ${minutes}`,
            "",
        ].join("\n"),
        [`/etc/systemd/system/${IDLE_TIMER}`]: [
            "[Unit]",
            "Description=Check every minute whether the build host is idle",
            "",
            "[Timer]",
            "OnBootSec=1min",
            "OnUnitActiveSec=1min",
            "",
            "[Install]",
            "WantedBy=timers.target",
            "",
        ].join("\n"),
    };
}
