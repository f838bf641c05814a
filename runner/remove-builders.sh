#!/bin/bash
# The registration resource's `delete` (components/builder.ts, runner/removeBuilders.ts):
# removes the fleet's builders from the machine that runs Pulumi. Bash rather than the runner
# (runner/cli.ts), because `pulumi destroy` does not run the program, so nothing compiles the
# runner first. The delete runs this file from the checkout that runs `pulumi destroy`, through
# runner/run-pinned.sh, and only when its SHA-256 is the one the last `pulumi up` recorded in
# the state: a destroy runs the version that registered the builders, and the state holds no code.
#
# Each builder loses its node's BuildKit container where the host still answers, else only the
# local entry; then the stack's SSH files go. Only builders the stack's directory lists as its
# own are touched, and nothing at all when the directory's owner file names another stack
# (two stacks given the same builder.name): its builders and BuildKit containers are theirs.
#
# Environment: NBF_BUILDER   the stack builder's name: its directory under ~/.ssh/native-build-fleet
#              NBF_BUILDERS  the builders to remove, one per line
#              NBF_OWNER     `<project>/<stack>` that registered them (absent in states written
#                            before it was recorded: then the directory's owner is not checked)
set -uo pipefail
# The command provider hangs for good on a logged line over 64 KiB (runner/outputLines.ts), and
# this resource logs stderr: split its lines, whatever the commands below print.
exec 2> >(fold -b -w 4096 >&2)

name=${NBF_BUILDER:-}
case "$name" in
    '' | . | .. | */*) echo "remove-builders: NBF_BUILDER must be a builder name, not '$name'" >&2; exit 2 ;;
esac
# OpenSSH finds ~/.ssh through the passwd entry, not $HOME.
home=$(getent passwd "$(id -u)" | cut -d: -f6)
if [ -z "$home" ]; then
    echo "remove-builders: could not find the home directory of user $(id -u) (getent passwd $(id -u))" >&2
    exit 1
fi
buildx_dir=${BUILDX_CONFIG:-${DOCKER_CONFIG:-$HOME/.docker}/buildx}
dir="$home/.ssh/native-build-fleet/$name"
owner=$(cat "$dir/owner" 2>/dev/null || true)
if [ -n "${NBF_OWNER:-}" ] && [ -n "$owner" ] && [ "$owner" != "$NBF_OWNER" ]; then
    echo "remove-builders: $dir belongs to stack $owner, not $NBF_OWNER; left it and its builders as they are" >&2
    exit 0
fi
# buildx reaches the nodes through the stack's own ssh wrapper, which reads no user ssh_config.
if [ -x "$dir/bin/ssh" ]; then
    PATH="$dir/bin:$PATH"
fi
while IFS= read -r b; do
    [ -n "$b" ] || continue
    if [ -f "$buildx_dir/instances/$b" ] && grep -qxF "$b" "$dir/builders" 2>/dev/null; then
        docker buildx rm "$b" </dev/null || docker buildx rm --keep-daemon "$b" </dev/null || true
    fi
done <<< "${NBF_BUILDERS:-}"
rm -rf "$dir"
