#!/usr/bin/env bash
# The project's CrossGuard policy pack (policy/) under the real Pulumi CLI: `pulumi preview
# --policy-pack policy` loads the TypeScript pack in the engine (through the nodejs language
# host's RunPlugin, @pulumi/pulumi's run-policy-pack and ts-node) and enforces it. The program in
# e2e/policy/ makes two stacks of local.Command resources: one the pack passes, one that breaks
# the mandatory rule no-plaintext-credentials. Needs no services and no network; state goes to a
# file backend in a temporary directory, chosen with PULUMI_BACKEND_URL rather than `pulumi login`,
# so a concurrent acceptance run's login is left alone. Exits non-zero if any check fails.
set -euo pipefail
# shellcheck source=e2e/env.sh
source "$(dirname "$0")/env.sh"

# toolchain.sh reinstalls the command plugin on every run, pulling it from under a concurrent
# acceptance run: call it only when something this check uses is missing or older than its source.
toolchain_ready() {
    [ "$(pulumi version 2>/dev/null)" = "v$PULUMI_VERSION" ] &&
        [ "$BIN/pulumi-language-nodejs" -nt "$E2E_DIR/standins/language-host/main.go" ] &&
        [ "$STANDIN_BIN/pulumi-resource-command" -nt "$E2E_DIR/standins/command/main.go" ] &&
        grep -qE "^command +resource +$COMMAND_VERSION " <<<"$(pulumi plugin ls 2>/dev/null)"
}
toolchain_ready || bash "$E2E_DIR/toolchain.sh"

PACK=${NBF_POLICY_PACK:-$REPO_DIR/policy}
RULE=no-plaintext-credentials
WORK=$(mktemp -d /tmp/nbf-policy.XXXXXX)
FAIL_PATTERN='error|fail|violation|mandatory'
# shellcheck source=e2e/checks.sh
source "$E2E_DIR/checks.sh"
has() { grep -qF -- "$1" "$WORK/$2.log"; }
lacks() { ! grep -qF -- "$1" "$WORK/$2.log"; }

pulumi_() { (cd "$WORK" && pulumi "$@"); }
timed_preview() { # timed_preview NAME ARGS...: preview into NAME.log (and last.log), time it
    local name=$1 rc=0 start; shift
    start=$(date +%s.%N)
    pulumi_ preview --non-interactive --color never "$@" >"$WORK/$name.log" 2>&1 || rc=$?
    cp "$WORK/$name.log" "$WORK/last.log"
    printf '     (%s: %.1fs, exit %d)\n' "$name" "$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { print e - s }')" "$rc"
    return "$rc"
}

cleanup() {
    local rc=$?
    if [ "${KEEP_E2E:-}" = 1 ]; then
        echo "kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT

[ -f "$PACK/PulumiPolicy.yaml" ] || die "no policy pack at $PACK"
cp -r "$E2E_DIR/policy/." "$WORK/"
ln -s "$REPO_DIR/node_modules" "$WORK/node_modules"
mkdir -p "$WORK/state"
export PULUMI_BACKEND_URL="file://$WORK/state"
pulumi_ stack init --no-select pass >/dev/null
pulumi_ stack init --no-select violate >/dev/null
pulumi_ config set --stack violate violate true
NAME=native-build-fleet-policy
VIOLATION="[mandatory]  $RULE  (command:local:Command: key-in-environment)"
versioned() { # @pulumi/policy's PolicyPack reads the pack's version from package.json in its directory
    node -e 'process.exit(require(process.argv[1]).version ? 0 : 1)' "$PACK/package.json" 2>/dev/null
}
violations() { grep -cF -- "$RULE  (" "$WORK/violate.log" || true; }

step "policy pack $PACK on a stack that meets it"
check "the pack has a package.json with a version (@pulumi/policy's PolicyPack requires one)" versioned
check "preview with the pack succeeds" timed_preview pass --stack pass --policy-pack "$PACK"
check "the engine loaded the pack and it passed" has "✅ $NAME@" pass
check "no violation reported" lacks "$RULE" pass

step "the same pack on a stack with a private key in a Command's environment"
check "preview without the pack succeeds (the program itself is fine)" timed_preview control --stack violate
check "preview with the pack fails" fails timed_preview violate --stack violate --policy-pack "$PACK"
check "because the pack failed it" has "❌ $NAME@" violate
check "naming the rule $RULE, mandatory, and the resource" has "$VIOLATION" violate
check "and the property, not the value" has "environment.SSH_PRIVATE_KEY holds an OpenSSH private key" violate
check "the key is not printed" lacks "bm90IGEga2V5" violate
check "one violation: the key in stdin (allowed) is not reported" [ "$(violations)" = 1 ]

printf '\n%d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
