# Check helpers shared by the real-engine scripts (acceptance.sh, policy-pack.sh): each check
# prints ok or FAIL and is counted; a failure shows the matching lines and the tail of
# $WORK/last.log. FAIL_PATTERN chooses the lines worth showing.
# shellcheck shell=bash
passed=0
failed=0
FAIL_PATTERN=${FAIL_PATTERN:-error|fail|not available}

pass() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
fail() {
    failed=$((failed + 1))
    printf 'FAIL %s\n' "$*"
    if [ -f "$WORK/last.log" ]; then
        { grep -iE "$FAIL_PATTERN" "$WORK/last.log" | head -n 12 || true; tail -n 8 "$WORK/last.log"; } | sed 's/^/     | /' || true
    fi
    return 0
}
check() { # check DESCRIPTION COMMAND...
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
equal() { [ "$1" = "$2" ] || { printf '     expected %s\n     got      %s\n' "$2" "$1"; return 1; }; }
differ() { [ "$1" != "$2" ]; }
fails() { ! "$@"; }
step() { printf '\n--- %s\n' "$*"; }
