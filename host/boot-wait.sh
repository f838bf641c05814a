#!/bin/sh
# The readiness check's first step on an EC2 build host (runner/readiness.ts runs it over
# ssh as `sh -c <this script> boot-wait.sh TIMEOUT READY_FILE`, shell/readiness.ts): waits
# until the boot script (host/boot.sh) has created READY_FILE. It runs in an SSH session of its
# own, before the Docker check: the docker group the boot script grants applies only to
# sessions opened after it.
#
# Usage: boot-wait.sh TIMEOUT READY_FILE
set -eu

timeout=$1
ready=$2
case "$timeout" in
    '' | *[!0-9]*) echo "boot-wait: TIMEOUT must be a whole number of seconds, not '$timeout'" >&2; exit 2 ;;
esac
deadline=$(( $(date +%s) + timeout ))
until [ -f "$ready" ]; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "the boot script did not finish within ${timeout}s; see /var/log/cloud-init-output.log on the host" >&2
        exit 1
    fi
    sleep 5
done
