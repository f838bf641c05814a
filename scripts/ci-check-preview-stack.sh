#!/usr/bin/env bash
# Refuses to preview anything but a stack of its own. A preview runs the pull request's code,
# and the program decrypts the config of the stack it previews: previewing the production
# stack hands its secrets (the fleet key, registryPassword, a signing key) to every branch
# author. The preview jobs (.github/workflows/fleet.yml, .gitlab-ci.yml) run this before
# anything else, so a pipeline with PULUMI_PREVIEW_STACK unset, or set to the production
# stack, fails with the fix instead of quietly previewing production.
#
# This guards against a misconfigured pipeline, not a hostile branch: a pull request can edit
# the workflow and this script. What holds against it is the preview token, which can read
# only the preview stack (docs/previews-and-ci.md, "A stack for previews").
#
# Usage: ci-check-preview-stack.sh PREVIEW_STACK PRODUCTION_STACK. Stack names are
# `stack`, `org/stack` or `org/project/stack`, as `pulumi --stack` takes them. Two names that
# could mean the same stack (the same stack part, and no organisation or project that tells
# them apart: `prod` and `acme/prod`) are refused too. Exit 0: a separate stack; 1: the
# production stack; 2: unset or not a stack name.
set -euo pipefail

preview=${1:-}
production=${2:-}
fix="set the CI variable PULUMI_PREVIEW_STACK to a stack of its own for pull requests (docs/previews-and-ci.md, \"A stack for previews\")"
stack_name='^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+){0,2}$'

if [ -z "$preview" ]; then
    echo "ci-check-preview-stack.sh: PULUMI_PREVIEW_STACK is not set: $fix" >&2
    exit 2
fi
for name in "$preview" "$production"; do
    if [ -n "$name" ] && ! [[ $name =~ $stack_name ]]; then
        echo "ci-check-preview-stack.sh: \"$name\" is not a stack name (stack, org/stack or org/project/stack)" >&2
        exit 2
    fi
done
if [ -z "$production" ]; then
    echo "ci-check-preview-stack.sh: PULUMI_STACK (the production stack) is not set, so the preview stack cannot be told apart from it: set both" >&2
    exit 2
fi

# Splits NAME into organisation, project and stack; an absent part is empty.
parts() {
    local IFS=/
    # shellcheck disable=SC2206 # splitting on / is the point; the names were checked above
    local p=($1)
    case ${#p[@]} in
        1) printf '%s\n%s\n%s\n' "" "" "${p[0]}" ;;
        2) printf '%s\n%s\n%s\n' "${p[0]}" "" "${p[1]}" ;;
        *) printf '%s\n%s\n%s\n' "${p[0]}" "${p[1]}" "${p[2]}" ;;
    esac
}
mapfile -t a < <(parts "$preview")
mapfile -t b < <(parts "$production")
# Compared without case: a name that differs from production's only in case is refused rather
# than trusted to be another stack.
same() { [ -z "$1" ] || [ -z "$2" ] || [ "${1,,}" = "${2,,}" ]; }
if [ "${a[2],,}" = "${b[2],,}" ] && same "${a[0]}" "${b[0]}" && same "${a[1]}" "${b[1]}"; then
    echo "ci-check-preview-stack.sh: refusing to preview $preview: it is (or may be) the production stack $production, whose secrets the pull request's code would decrypt; $fix" >&2
    exit 1
fi
echo "previewing $preview (production is $production)"
