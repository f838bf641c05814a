#!/usr/bin/env bash
# Removes everything a fleet job leaves on a CI runner: every buildx builder of the stack (the
# stack's builder and each host's own), its SSH directory, which holds the fleet's private key
# (root on every build host through the docker group), the ssh_config blocks once no builder is
# left, and the job's own temporary files (those its pipeline recorded, and the keys and
# registry configs of its runs that were killed before their watchdog cleaned up).
# Pipelines run it as their last step whatever the outcome (.github/workflows/fleet.yml,
# .gitlab-ci.yml).
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
# A job killed before the runner wrote that list still left host builders: buildx names them
# `<name>-<host>`. Those another stack on this runner lists as its own, or whose name
# belongs to another stack's longer name, are left alone.
if command -v docker >/dev/null 2>&1; then
    others=()
    for dir in "$fleet_dir"/*/; do
        other=$(basename "$dir")
        if [ ! -d "$dir" ] || [ "$other" = "$name" ]; then
            continue
        fi
        others+=("$other")
        if [ -f "$dir/builders" ]; then
            mapfile -t -O "${#others[@]}" others < "$dir/builders"
        fi
    done
    while IFS= read -r listed; do
        listed=${listed%\*}
        [[ $listed == "$name"-* ]] || continue
        for other in "${others[@]}"; do
            if [ "$listed" = "$other" ] || { [[ $other == "$name"-* ]] && [[ $listed == "$other"-* ]]; }; then
                continue 2
            fi
        done
        builders+=("$listed")
    done < <(docker buildx ls --format '{{.Name}}' 2>/dev/null)
fi
mapfile -t builders < <(printf '%s\n' "${builders[@]}" | awk 'NF && !seen[$0]++')
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

# Temporary files, and only this job's: a runner user may run other jobs at the same time
# (a GitLab shell runner with `concurrent` above 1), whose own files look alike.
# - What the job's pipeline recorded in the file NBF_JOB_TEMP names, one path a line (GitLab:
#   its PULUMI_HOME and web identity token file, .gitlab-ci.yml), each a `$TMPDIR/nbf-*` entry
#   of this user.
# - In the runner's private directory `nbf-<uid>` (runner/process.ts privateRoot), what runs
#   killed with their watchdog left of their keys and registry configs: each entry is named
#   `nbf-<kind>-<pid>-…`, and only those whose process is gone go (as sweepDead does); the
#   directory itself when that empties it.
tmp=${TMPDIR:-/tmp}
if [ -n "${NBF_JOB_TEMP:-}" ] && [ -f "$NBF_JOB_TEMP" ]; then
    while IFS= read -r own; do
        # Its own variable: $name is the builder, which the closing line reports.
        recorded=${own#"$tmp"/}
        if [ "$own" != "$tmp/$recorded" ] || [[ $recorded != nbf-* ]] || [[ $recorded == */* ]] || ! [ -O "$own" ]; then
            continue
        fi
        rm -rf -- "$own" || status=1
    done < "$NBF_JOB_TEMP"
    rm -f -- "$NBF_JOB_TEMP" || status=1
fi
private="$tmp/nbf-$(id -u)"
if [ -d "$private" ] && [ -O "$private" ]; then
    for entry in "$private"/nbf-*; do
        [[ ${entry##*/} =~ ^nbf-[a-z]+-([0-9]+)- ]] || continue
        if ! kill -0 "${BASH_REMATCH[1]}" 2>/dev/null; then
            rm -rf -- "$entry" || status=1
        fi
    done
    rmdir "$private" 2>/dev/null
fi

if [ "$status" -eq 0 ]; then
    echo "removed builder $name from this runner"
fi
exit "$status"
