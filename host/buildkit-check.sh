#!/bin/sh
# The node check of an update, on a build host (runner/registerBuilders.ts checkNodes runs it
# over ssh as `sh -c <this script> buildkit-check.sh CONTAINER TIMEOUT`, one round trip per
# host): does the node's BuildKit container run, and does its buildkitd answer?
#
# A running container is no proof: a buildkitd that is wedged or whose socket does not answer
# keeps it running, and the builds sent to it then hang. So it asks BuildKit itself, as buildx
# does before it calls a node up: `buildctl debug workers` in the container (docker/buildx
# driver/docker-container/driver.go, `wait`; buildx also talks to every build through
# `buildctl dial-stdio` in the container, so every image the driver can use has buildctl).
# Bounded by TIMEOUT seconds, since nothing else bounds it: buildctl's --timeout covers only
# the connection, and a daemon that accepts it but never replies leaves the call waiting.
#
# Prints one word and exits 0 when it has a verdict: `answers` (BuildKit answered),
# `buildkit-silent` (the container runs but buildctl did not answer within TIMEOUT seconds) or
# `docker-silent` (Docker itself did not answer within TIMEOUT seconds, so buildx could not
# either); what docker and buildctl printed goes to stderr. Anything else (no such container, a
# stopped one, Docker refusing the user, buildctl failing at once) exits non-zero with docker's
# or buildctl's words on stderr: the runner then leaves the node to `buildx inspect --bootstrap`,
# which starts the container or says in buildx's words why not. Those failures exit 1, never
# 255, which the runner reads as ssh's own failure (ssh(1), EXIT STATUS).
#
# Usage: buildkit-check.sh CONTAINER TIMEOUT
set -u

container=$1
seconds=$2
case "$seconds" in
    '' | *[!0-9]*) echo "buildkit-check: TIMEOUT must be a whole number of seconds, not '$seconds'" >&2; exit 2 ;;
esac

# Whether a status is timeout's for running out of time: GNU timeout exits 124; busybox's
# reports the command's own status, 143 for the TERM it sent.
timed_out() {
    case "$1" in 124 | 143) return 0 ;; *) return 1 ;; esac
}

running=$(timeout "$seconds" docker container inspect --format '{{.State.Running}}' "$container")
status=$?
if timed_out "$status"; then
    echo docker-silent
    exit 0
elif [ "$status" -ne 0 ]; then
    exit 1
elif [ "$running" != true ]; then
    echo "buildkit-check: $container is not running" >&2
    exit 1
fi
# buildctl's stderr (and docker's) is kept; its table of workers on stdout is not needed.
errors=$(timeout "$seconds" docker exec "$container" buildctl debug workers 2>&1 >/dev/null)
status=$?
[ -z "$errors" ] || printf '%s\n' "$errors" >&2
if [ "$status" -eq 0 ]; then
    echo answers
elif timed_out "$status"; then
    echo buildkit-silent
else
    exit 1
fi
