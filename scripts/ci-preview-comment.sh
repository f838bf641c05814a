#!/usr/bin/env bash
# Writes the pull-request comment of a preview (.github/workflows/fleet.yml): the plan's
# diff, policy results, outputs and resource summary from `pulumi preview --diff`, without the
# Diagnostics section, where docker-build streams every build step's log: a build's output
# (what a RUN step printed, paths, versions) stays in the job log, which only collaborators
# read, instead of a comment anyone who can see the pull request reads. Error and warning
# lines of the Diagnostics are kept, one line each, so a failed preview still says why.
#
# Usage: ci-preview-comment.sh STACK PREVIEW_OUTPUT > comment.md
set -euo pipefail

stack=${1:?usage: ci-preview-comment.sh STACK PREVIEW_OUTPUT}
output=${2:?usage: ci-preview-comment.sh STACK PREVIEW_OUTPUT}
limit=60000

echo "### pulumi preview (${stack})"
if [ ! -s "$output" ]; then
    echo "(no preview output)"
    exit 0
fi
echo '~~~~~~'
# Pulumi's sections start with a header at column 0 ("Diagnostics:", "Policies:", "Outputs:",
# "Resources:"); the colour codes go first so a coloured header is still seen.
sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g' "$output" | awk '
    /^[A-Z][A-Za-z ]*:[[:space:]]*$/ { diagnostics = ($0 ~ /^Diagnostics:/) ; if (diagnostics) { print "Diagnostics (build logs omitted; see the job log):"; next } }
    diagnostics && /^[[:space:]]+(error|warning):/ { print substr($0, 1, 300); next }
    !diagnostics { print }
' | tail -c "$limit"
echo '~~~~~~'
