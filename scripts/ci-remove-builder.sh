#!/usr/bin/env bash
# Removes what a fleet job leaves on a CI runner: the builder's buildx entry and its SSH
# directory, which holds the fleet's private key (root on every build host through the
# docker group), the ssh_config blocks once no builder is left, and the runner's temporary
# directory (keys and registry configs of runs that were killed). Pipelines run it
# as their last step whatever the outcome (.github/workflows/fleet.yml, .gitlab-ci.yml).
#
# Usage: ci-remove-builder.sh [BUILDER]. Without BUILDER: `<project>-<stack>` from
# Pulumi.yaml and $PULUMI_STACK, reduced as config/schema.ts defaultBuilderName does; pass
# the stack's builder.name when it sets one. NBF_HOME replaces the passwd home (tests).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

name=${1:-}
if [ -z "$name" ]; then
    project=$(sed -n 's/^name:[[:space:]]*//p' Pulumi.yaml | head -n 1)
    stack=${PULUMI_STACK:?ci-remove-builder.sh: pass the builder name or set PULUMI_STACK}
    name=$(printf '%s-%s' "$project" "${stack##*/}" | tr '[:upper:]' '[:lower:]' | sed -E 's/[^a-z0-9_.-]+/-/g' | cut -c 1-63)
fi
# The name becomes a path below ~/.ssh: nothing that could climb out of it.
if ! [[ $name =~ ^[a-z0-9_.-]+$ ]] || [[ $name == .* ]]; then
    echo "ci-remove-builder.sh: \"$name\" is not a builder name (lowercase letters, digits, _ . -, not starting with a dot)" >&2
    exit 2
fi

# OpenSSH finds ~/.ssh through the passwd entry, not $HOME (runner/remove-builders.sh).
home=${NBF_HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
fleet_dir="$home/.ssh/native-build-fleet"
status=0

# The stack's builder and each host's own builder, as the runner listed them in the stack's
# directory (runner/registerBuilders.ts). --keep-daemon: only the local entries go; the
# BuildKit containers on the hosts stay for the next run, and nothing needs to reach them.
builders=("$name")
if [ -f "$fleet_dir/$name/builders" ]; then
    mapfile -t builders < "$fleet_dir/$name/builders"
fi
for builder in "${builders[@]}"; do
    if command -v docker >/dev/null 2>&1 && docker buildx inspect "$builder" >/dev/null 2>&1; then
        docker buildx rm --keep-daemon "$builder" || status=1
    fi
done

rm -rf "${fleet_dir:?}/$name" || status=1

config="$home/.ssh/config"
if [ -f "$config" ] && ! compgen -G "$fleet_dir/*/config" >/dev/null; then
    # Rewritten in place (not replaced) so a symlinked ~/.ssh/config stays a symlink.
    kept=$(mktemp)
    # The fenced blocks the runner manages (runner/builderSpec.ts userSshConfig) and the bare
    # Include line of earlier versions.
    awk '/^# native-build-fleet: begin/ { skip = 1; next } skip && /^# native-build-fleet: end/ { skip = 0; next } !skip' "$config" |
        grep -v '^Include "[^"]*/\.ssh/native-build-fleet/\*/config"$' > "$kept"
    cat "$kept" > "$config" || status=1
    rm -f "$kept"
    rmdir "$fleet_dir" 2>/dev/null
fi

# What runs killed with their watchdog left of their temporary keys and registry configs
# (runner/process.ts privateRoot).
rm -rf "${TMPDIR:-/tmp}/nbf-$(id -u)" || status=1

if [ "$status" -eq 0 ]; then
    echo "removed builder $name from this runner"
fi
exit "$status"
