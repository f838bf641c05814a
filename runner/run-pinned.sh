#!/bin/bash
# The registration resource's `delete` (runner/removeBuilders.ts): runs a script of this
# checkout, and only the bytes whose SHA-256 the stack's last `pulumi up` recorded in the
# state. The state so holds a digest and data, never a program (issue 20).
#
# The delete runs in the project directory, as `up`'s `node bin/runner/cli.js` commands do: the
# command provider runs a command that sets no `dir` in its own working directory
# (pulumi-command provider/pkg/provider/local/commandOutputs.go `run`: os.Getwd()), and the
# engine starts providers in the project's (pulumi sdk/go/common/resource/plugin/plugin.go:
# cmd.Dir = pwd), for `pulumi destroy` too.
#
# Usage: run-pinned.sh SCRIPT SHA256. The script gets no arguments; its data is in the environment.
set -uo pipefail

script=${1:-}
pin=${2:-}
fix="run \`pulumi destroy\` from a checkout of the commit that last ran \`pulumi up\` on this stack, or run \`pulumi up\` from this checkout first so the state pins its copy"
refuse() {
    echo "run-pinned: refusing to run $script: $1; $fix" >&2
    exit 1
}

[[ $pin =~ ^[0-9a-f]{64}$ ]] || refuse "the state pins no SHA-256 for it (got '$pin')"
[ -f "$script" ] || refuse "there is no such file in $PWD"
# Read once and run what was hashed, so the text that runs is the text that was checked. A
# trailing x keeps the command substitution from dropping the file's final newlines.
text=$(cat -- "$script" && printf x) || refuse "it cannot be read"
text=${text%x}
if ! sum=$(printf '%s' "$text" | sha256sum); then
    echo "run-pinned: sha256sum (GNU coreutils) is needed to check $script against its pin" >&2
    exit 1
fi
sum=${sum%% *}
[ "$sum" = "$pin" ] || refuse "its SHA-256 is $sum, but the state pins $pin"
exec /bin/bash -c "$text" "${script##*/}"
