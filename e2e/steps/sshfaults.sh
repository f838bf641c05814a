# shellcheck shell=bash disable=SC2154
# (SC2154: seconds, HOST_USER and the other names come from the scripts that source this file.)
# Steps of the acceptance run (sourced by e2e/acceptance.sh, which defines WORK, STATE, up,
# check, timed, output, built_on and the rest): a static host with only an RSA host key works
# end to end, and SSH faults that waiting cannot cure fail `pulumi up` well within two minutes,
# saying which fault and its fix. Under the real command provider 1.2.1 each of them retried
# until the 23-minute timeout and said only "context deadline exceeded".

SSH_FAULT_LIMIT_SECONDS=120
declare -A ssh_fault_seconds=()

# The up recorded under KEY failed in less than the limit.
sshfaults_in_time() {
    printf '     took %ss\n' "${seconds[$1]}"
    awk -v s="${seconds[$1]}" -v l="$SSH_FAULT_LIMIT_SECONDS" 'BEGIN { exit !(s < l) }'
}

# sshfaults_fails KEY WHAT PATTERN: up fails within the limit, and its log matches PATTERN.
sshfaults_fails() {
    local key=$1 what=$2 pattern=$3
    check "up fails: $what" timed "$key" fails up
    ssh_fault_seconds[$key]=${seconds[$key]}
    check "within ${SSH_FAULT_LIMIT_SECONDS}s" sshfaults_in_time "$key"
    check "and says why: $pattern" grep -qE "$pattern" "$WORK/up.log"
    # What the user reads (the report quotes it).
    grep -E "$pattern" "$WORK/up.log" | head -n 2 | cut -c1-400 | sed 's/^/     | /' || true
}

sshfaults_rsa_host() {
    step "7a. a static host with only an RSA host key: the readiness check and buildx reach it through the pinned key"
    local rsa_log=$LOGS/sshd-rsa.log before address
    # The address e2e/services.sh gave the RSA-keyed sshd.
    address=$(sed -n 's/^ListenAddress \(.*\):22$/\1/p' "$STATE/hosts/rsa/sshd_config")
    before=$(grep -c "Accepted publickey for $HOST_USER" "$rsa_log" 2>/dev/null || true)
    pulumi_ config set --path 'staticHosts[1].address' "$address"
    pulumi_ config set --path 'staticHosts[1].hostKey' "$(cat "$STATE/hosts/rsa/ssh_host_rsa_key.pub")"
    echo "changed at $(date +%s%N)" >> "$WORK/e2e/app/src/arm64.txt"
    check "up succeeds with the arm node behind the RSA-keyed sshd" up
    check "the readiness check and buildx logged in there" \
        test "$(grep -c "Accepted publickey for $HOST_USER" "$rsa_log" || true)" -ge $((${before:-0} + 2))
    check "linux/arm64 was built on the arm node" equal "$(built_on "$REPO@$(output '.platforms["linux/arm64"].digest')")" "${BUILDER}_arm"
    pulumi_ config set --path 'staticHosts[1].address' "${HOST_ADDRESS[arm]}"
    pulumi_ config set --path 'staticHosts[1].hostKey' "$(cat "$STATE/hosts/arm/ssh_host_ed25519_key.pub")"
    check "back on the ed25519 host, up succeeds" up
}

sshfaults_wrong_key() {
    step "7b. an operator key the hosts do not authorize fails the readiness check at once"
    ssh-keygen -q -t ed25519 -N '' -C nbf-e2e-stranger -f "$WORK/stranger"
    pulumi_ config set --secret sshPrivateKey < "$WORK/stranger"
    sshfaults_fails ssh_fault_wrong_key "the operator's key is not authorized" \
        "SSH authentication failed: $HOST_USER@127\\.0\\.0\\.[23]:22 refused the operator's key"
    pulumi_ config set --secret sshPrivateKey < "$STATE/operator/id_ed25519"
    check "with the operator's key back, up succeeds" up
}

sshfaults_unknown_user() {
    step "7c. a user the host does not have fails the readiness check at once"
    pulumi_ config set --path 'staticHosts[1].user' nbf-nobody
    sshfaults_fails ssh_fault_unknown_user "staticHosts[1].user does not exist on the host" \
        "the user nbf-nobody may not exist there or sshd may not allow it"
    pulumi_ config set --path 'staticHosts[1].user' "$HOST_USER"
    check "with the user back, up succeeds" up
    check "and then nothing is left to change" up --expect-no-changes
}

sshfaults_steps() {
    sshfaults_rsa_host
    sshfaults_wrong_key
    sshfaults_unknown_user
    mkdir -p "$RESULTS"
    jq -n --arg wrongKey "${ssh_fault_seconds[ssh_fault_wrong_key]}" --arg unknownUser "${ssh_fault_seconds[ssh_fault_unknown_user]}" \
        '{secondsToFailedUp: {wrongOperatorKey: ($wrongKey|tonumber), unknownUser: ($unknownUser|tonumber)}}' > "$RESULTS/e2e-ssh-faults.json"
}
