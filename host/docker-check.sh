#!/bin/sh
# The readiness check's last step on a build host (runner/readiness.ts runs it over ssh as
# `sh -c <this script> docker-check.sh TIMEOUT ARCH MACHINES HANDLERS`, shell/readiness.ts).
# Checks that Docker answers for the SSH user; when ARCH is set, that the host's CPU is one of
# MACHINES (the `uname -m` names of ARCH); and that no QEMU handler is enabled beyond HANDLERS.
# The docker-build provider routes by the platforms a node *detects*, so a native x86 host with
# an aarch64 handler would silently receive linux/arm64 builds and emulate them (measured on
# BuildKit 0.31 with docker-build 0.0.22). Prints `docker <version> on <machine>`.
#
# Usage: docker-check.sh TIMEOUT ARCH MACHINES HANDLERS
#   MACHINES and HANDLERS are space-separated lists; ARCH empty skips the architecture check.
# NBF_BINFMT_DIR lets the tests point at a fixture instead of the kernel's table.
set -eu

timeout=$1
arch=$2
machines=$3
allowed=$4
case "$timeout" in
    '' | *[!0-9]*) echo "docker-check: TIMEOUT must be a whole number of seconds, not '$timeout'" >&2; exit 2 ;;
esac
deadline=$(( $(date +%s) + timeout ))
until info=$(docker info --format '{{.ServerVersion}} {{.Architecture}}' 2>&1); do
    # No access to the socket does not pass with time: the docker group applies to new
    # sessions, and this one started after the boot script granted it.
    case "$info" in
        *'permission denied while trying to connect to the '[Dd]'ocker'*)
            printf '%s has no access to Docker on this host (permission denied on its socket): add the user to the docker group (usermod -aG docker %s), then run pulumi up again\n' "$(id -un)" "$(id -un)" >&2
            exit 1 ;;
    esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
        printf 'docker is not usable by %s after %ss: %s\n' "$(id -un)" "$timeout" "$info" >&2
        exit 1
    fi
    sleep 3
done
machine=${info#* }
if [ -n "$arch" ]; then
    case " $machines " in
        *" $machine "*) ;;
        *) printf 'this host runs %s, but its pool expects %s\n' "$machine" "$arch" >&2; exit 1 ;;
    esac
fi
foreign=''
for handler in "${NBF_BINFMT_DIR:-/proc/sys/fs/binfmt_misc}"/qemu-*; do
    if [ ! -f "$handler" ] || ! grep -qx enabled "$handler"; then
        continue
    fi
    name=${handler##*/qemu-}
    case " $allowed " in
        *" $name "*) ;;
        *) foreign="$foreign $name" ;;
    esac
done
if [ -n "$foreign" ]; then
    printf 'this host has QEMU handlers enabled for%s, so builds for those platforms could be routed to it and run emulated; list those platforms under its emulate setting or disable the handlers (/proc/sys/fs/binfmt_misc)\n' "$foreign" >&2
    exit 1
fi
printf 'docker %s on %s\n' "${info%% *}" "$machine"
