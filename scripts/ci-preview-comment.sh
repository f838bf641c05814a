#!/usr/bin/env bash
# Writes the pull-request comment of a preview (.github/workflows/fleet.yml): the plan's
# diff, policy results, outputs and resource summary from `pulumi preview --diff`, and no
# message text. The Diagnostics section is where docker-build streams every build step's log,
# and its `error:` lines repeat the build's output too (a failed RUN step's command and what it
# printed: paths, versions, a secret it echoed), as does any other `error:` line. A comment is
# read by anyone who can see the pull request, a job log only by those who can read the
# repository's Actions. So the comment keeps the names of the resources that reported
# diagnostics and how many errors and warnings there were, drops every message line, and
# points to the job log for them.
#
# Usage: ci-preview-comment.sh STACK PREVIEW_OUTPUT [JOB_LOG_URL] > comment.md
set -euo pipefail

stack=${1:?usage: ci-preview-comment.sh STACK PREVIEW_OUTPUT [JOB_LOG_URL]}
output=${2:?usage: ci-preview-comment.sh STACK PREVIEW_OUTPUT [JOB_LOG_URL]}
job_log=${3:-}
limit=60000

echo "### pulumi preview (${stack})"
if [ ! -s "$output" ]; then
    echo "(no preview output)"
    exit 0
fi
echo '~~~~~~'
# Pulumi's sections start with a header at column 0 ("Diagnostics:", "Policies:", "Outputs:",
# "Resources:"); the colour codes go first so a coloured header is still seen. In Diagnostics,
# a resource's header is indented two spaces and ends with a colon; everything under it is
# message text.
sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g' "$output" | awk '
    /^[A-Z][A-Za-z ]*:[[:space:]]*$/ { diagnostics = ($0 ~ /^Diagnostics:/) ; if (diagnostics) { print "Diagnostics (messages omitted, see the job log):"; next } }
    /^[[:space:]]*error:/ { errors++; next }
    diagnostics && /^[[:space:]]*warning:/ { warnings++; next }
    diagnostics && /^  [^[:space:]].*:[[:space:]]*$/ { print substr($0, 1, 300); next }
    !diagnostics { print }
    END { if (errors + warnings > 0) printf "(%d error and %d warning lines omitted)\n", errors, warnings }
' | tail -c "$limit"
echo '~~~~~~'
if [ -n "$job_log" ]; then
    echo "Build logs, errors and warnings: [the job log]($job_log)."
else
    echo "Build logs, errors and warnings: see the job log."
fi
