#!/bin/bash
# Idle power-off for pools with idleMinutes (shell/idle.ts): a systemd timer runs this every
# minute, and it powers the host off once the build user has had no process for that long;
# the next `pulumi up` starts the host again (the builder's wake step, shell/builder.ts).
#
# buildx reaches a node through an SSH session of the build user (`docker system
# dial-stdio`), so any process of that user other than its systemd manager means a build or
# a check is connected. Sessions too short for a tick to see (the node check before a build,
# a smoke test) count through sshd's log: a login in the last MINUTES keeps the host up, so
# the check that precedes a build never finds a host about to power off.
#
# Usage: idle-check.sh USER MINUTES
# NBF_IDLE_STAMP lets the tests point the last-active stamp elsewhere; /run is empty after
# every boot, so the count starts again at boot.
set -euo pipefail

user=$1
minutes=$2
case "$minutes" in
    '' | *[!0-9]*) echo "idle-check: MINUTES must be a whole number, not '$minutes'" >&2; exit 2 ;;
esac
stamp=${NBF_IDLE_STAMP:-/run/native-build-fleet/last-active}
mkdir -p "$(dirname "$stamp")"
# shellcheck disable=SC2009 # pgrep -v would negate the user filter too
if [ ! -f "$stamp" ] || ps -u "$user" -o comm= | grep -qvxE 'systemd|\(sd-pam\)'; then
    touch "$stamp"
    exit 0
fi
if journalctl --quiet --since "-${minutes}min" -o cat SYSLOG_IDENTIFIER=sshd SYSLOG_IDENTIFIER=sshd-session 2>/dev/null \
    | grep -qF "Accepted publickey for $user "; then
    exit 0
fi
if [ -n "$(find "$stamp" -mmin "+$minutes")" ]; then
    logger -t native-build-fleet "no build for $minutes minutes; powering off"
    systemctl poweroff
fi
