#!/usr/bin/env bash
# Writes the pull-request comment of a preview (.github/workflows/fleet.yml): the plan's
# resource steps and property diffs, the change summary and the policy packs that ran, from
# `pulumi preview --diff`, and nothing else. A comment is read by anyone who can see the pull
# request, a job log only by those who can read the repository's Actions, and the diff display
# prints every diagnostic inline where it happens, at column 0 and with no section around it:
# renderDiffDiagEvent writes Prefix + Message (pulumi/pulumi pkg/backend/display/diff.go), and
# docker-build streams each build step's log that way (`#5 [2/3] RUN …`, `#5 0.2 <output>`,
# pulumi-docker-build#738), as do the lines of a multi-line `error:`. So the comment is an
# allow-list: a line is kept only when it has the shape of a line the display writes for a
# resource step, its properties, the summary or the policy packs; every other line, and every
# line after one until the next resource step or section header, is dropped and counted, and
# the comment points to the job log for them.
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
# The shapes, from pulumi/pulumi pkg/engine/diff.go and pkg/backend/display/diff.go:
# - a step: indentation, the op's prefix (deploy.Prefix: "+ ", "- ", "~ ", "+-", "++", "--",
#   ">", "<", "=", "=>"), then `TYPE: (OP)` and maybe ` (protect)`;
# - under a step: `[id=…]`, `[urn=…]`, `[provider=…]`, `--outputs:--`, and property lines
#   `KEY: VALUE`, `[N]: VALUE` or a closing `}` / `]`, each indented and maybe prefixed;
# - a changed multi-line string (NBF_BUILDERS holds one builder a line): printTextDiff writes
#   the title `KEY: ` and ends the line, then printLineDiff writes the line diff one level
#   deeper (pulumi/pulumi pkg/backend/display/object_diff.go): each line of the value, its
#   indentation's last two columns replaced by "+ " or "- " when added or removed, and no
#   blank lines. They are the program's property values, which the diff shows anyway, so they
#   are kept while they stay deeper than the title, and the step goes on after them;
# - `Resources:` then `    + 1 to create`, `    4 unchanged`, `    5 changes. 4 unchanged`;
# - `Policy Packs run:` (or `Policies:`) then a pack per line.
# - a policy violation: `    PACK@vVER [LEVEL]  POLICY  (TYPE: NAME)` then its message, inline
#   (renderDiffPolicyViolationEvent, pkg/backend/display/diff.go), or under `Policies:`
#   `        - [LEVEL]  POLICY  (TYPE: NAME)` then the message. The message is the policy's
#   text and may quote values, so only the part up to the resource is kept: the comment says
#   which policy failed on which resource.
# A step's properties sit 4 columns per level right of the step's own text minus 2 (its
# op prefix is 2 wide): a line of the program's stdout, which comes at column 0 with no
# prefix, that looks like a property but is not at such a column is not one.
# The colour codes go first so a coloured line is judged by its text.
sed -E 's/\x1b\[[0-9;]*[A-Za-z]//g' "$output" | LC_ALL=C awk '
    function keep(line) { print substr(line, 1, 300) }
    function drop() { dropped++; block = ""; textcol = -1 }
    # The column where the text of a line starts, after its indentation and op prefix.
    function column(line) { match(line, /^ *([-+~] *)?/); return RLENGTH }
    # A property of the step: at one of the columns of its levels.
    function level(line,    c) { c = column(line); return c >= stepcol + 2 && (c - stepcol - 2) % 4 == 0 }
    BEGIN { textcol = -1 }
    match($0, /^    [A-Za-z0-9_.-]+@v?[0-9][A-Za-z0-9_.+-]* \[(mandatory|advisory|remediate)\]  [A-Za-z0-9_.-]+  \([A-Za-z0-9_.:\/-]+: [^()]+\)/) ||
    match($0, /^        - \[(mandatory|advisory|remediate)\]  [A-Za-z0-9_.-]+  \([A-Za-z0-9_.:\/-]+: [^()]+\)/) {
        keep(substr($0, 1, RLENGTH)); block = "policy"; textcol = -1; next
    }
    /^Previewing (update|destroy|refresh|import) \([A-Za-z0-9_.\/-]+\):?$/ { keep($0); block = ""; next }
    /^ *([-+~<>=][-+~<>=]? *)?[A-Za-z0-9_.-]+:[A-Za-z0-9_.\/-]*:[A-Za-z0-9_.-]+: \([a-z-]+\)( \([a-z]+\))?$/ {
        keep($0); block = "step"; textcol = -1; match($0, /^ *([-+~<>=][-+~<>=]? *)?/); stepcol = RLENGTH; next
    }
    /^Resources:$/ { keep($0); block = "summary"; next }
    /^(Policy Packs run|Policies):$/ { keep($0); block = "policy"; next }
    /^[[:space:]]*$/ { if (block != "") print ""; textcol = -1; next }
    block == "step" && textcol >= 0 {
        if (match($0, /^ */) && (RLENGTH >= textcol + 4 || (RLENGTH == textcol + 2 && /^ *[-+] /))) { keep($0); next }
        textcol = -1
    }
    block == "step" && /^ +(\[(id|urn|provider)=[^][:space:]]*\]|--outputs:--)$/ { keep($0); next }
    block == "step" && level($0) && /^ +([-+~] *)?("?[A-Za-z_$][A-Za-z0-9_.$\/-]*"?|\[[0-9]+\]) *: *$/ { keep($0); textcol = column($0); next }
    block == "step" && level($0) && /^ +([-+~] *)?("?[A-Za-z_$][A-Za-z0-9_.$\/-]*"?|\[[0-9]+\]) *: / { keep($0); next }
    block == "step" && level($0) && /^ +([-+~] *)?("?[A-Za-z_$][A-Za-z0-9_.$\/-]*"?|\[[0-9]+\]) *: *[[{]$/ { keep($0); next }
    block == "step" && level($0) && /^ +([-+~] *)?[]}]$/ { keep($0); next }
    block == "summary" && /^    ([-+~<>=][-+~<>=]? ?)?[0-9]+ (to )?[a-z -]+$/ { keep($0); next }
    block == "summary" && /^    [0-9]+ changes?(\. [0-9]+ unchanged)?$/ { keep($0); next }
    block == "policy" && /^    Name +Version$/ { keep($0); next }
    block == "policy" && /^    [^[:space:]]+( \(local: [^()]*\))? +v?[0-9][A-Za-z0-9_.+-]*$/ { keep($0); next }
    block == "policy" && /^    [^[:space:]]+ [A-Za-z0-9_.-]+@v?[0-9][A-Za-z0-9_.+-]*( \(local: [^()]*\))?$/ { keep($0); next }
    { if ($0 ~ /^[[:space:]]*error:/) errors++; drop() }
    END { if (dropped > 0) printf "(%d lines of messages and build logs omitted, %d of them errors)\n", dropped, errors }
' | tail -c "$limit"
echo '~~~~~~'
if [ -n "$job_log" ]; then
    echo "Build logs, errors and warnings: [the job log]($job_log)."
else
    echo "Build logs, errors and warnings: see the job log."
fi
