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
# Whoever writes the state can also add environment entries, so this runs under `bash -p` (the
# delete line's), starts the script with `bash -p` too, and finds cat and sha256sum through
# `command -p` (the system's default PATH, never a function or the environment's PATH): bash -p
# reads no BASH_ENV, imports no function and ignores SHELLOPTS (runner/removeBuilders.ts).
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
text=$(command -p cat -- "$script" && printf x) || refuse "it cannot be read"
text=${text%x}
# macOS has no sha256sum in its default PATH, but shasum.
sha256() { command -p sha256sum 2>/dev/null || command -p shasum -a 256; }
if ! sum=$(printf '%s' "$text" | sha256); then
    echo "run-pinned: sha256sum or shasum is needed in the system's PATH to check $script against its pin" >&2
    exit 1
fi
sum=${sum%% *}
[ "$sum" = "$pin" ] || refuse "its SHA-256 is $sum, but the state pins $pin"
# The script's own children (docker plugins, an ssh wrapper) may be bash scripts, which would
# read those entries, so they leave the environment here: the ones that run code, and every
# imported function (its entry starts a line of `env`'s output).
scrub=(-u BASH_ENV -u ENV -u SHELLOPTS -u BASHOPTS -u PS4)
while IFS= read -r entry; do
    [[ $entry =~ ^(BASH_FUNC_[^=]*)= ]] && scrub+=(-u "${BASH_REMATCH[1]}")
done < <(command -p env)
exec /usr/bin/env "${scrub[@]}" /bin/bash -p -c "$text" "${script##*/}"
