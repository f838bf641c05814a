#!/bin/bash
# Learns a new EC2 build host's public SSH host key before anything connects to it: the host
# writes it to its console at boot (host/publish-host-key.sh), and this reads the console
# back through the EC2 API, a channel no one on the network between the runner and the host
# can forge (AWS EC2 User Guide, "Get the instance fingerprint"). `--latest` asks Nitro
# instances for the current output instead of the snapshot that lags by minutes.
#
# Run by a command.local.Command per host (components/hostPool.ts), with:
#   NBF_INSTANCE_ID       the instance
#   NBF_REGION            its region (the AWS CLI's default when empty)
#   NBF_TIMEOUT_SECONDS   how long to wait for the key (default 900)
#   NBF_POLL_SECONDS      pause between reads (default 10)
# Prints exactly the key line, `ssh-ed25519 AAAA…`, and nothing else on stdout. Needs
# ec2:GetConsoleOutput on the instance.
set -euo pipefail

instance=${NBF_INSTANCE_ID:?NBF_INSTANCE_ID names the instance}
timeout=${NBF_TIMEOUT_SECONDS:-900}
poll=${NBF_POLL_SECONDS:-10}
region=()
if [ -n "${NBF_REGION:-}" ]; then
    region=(--region "$NBF_REGION")
fi
begin='-----BEGIN NATIVE-BUILD-FLEET HOST KEY-----'
end='-----END NATIVE-BUILD-FLEET HOST KEY-----'
# An ed25519 public key blob is 51 bytes (type name and 32-byte key): 68 base64 characters,
# the first 25 fixed by the type.
key_pattern='^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}$'

# Prints the key when the output holds at least one complete block and every block holds
# the same single ed25519 key line; returns 1 while there is no complete block yet, and 2,
# with the reason on stderr, when a block holds anything else (it is never accepted).
extract() {
    local line in_block=0 lines=0 candidate='' found=''
    while IFS= read -r line; do
        line=${line%$'\r'}
        if [ "$line" = "$begin" ]; then
            if [ "$in_block" -eq 1 ]; then
                echo "a host key block begins inside another" >&2
                return 2
            fi
            in_block=1 lines=0 candidate=''
        elif [ "$in_block" -eq 1 ] && [ "$line" = "$end" ]; then
            in_block=0
            if [ "$lines" -ne 1 ] || ! [[ $candidate =~ $key_pattern ]]; then
                echo "a host key block holds something other than exactly one ed25519 public key line" >&2
                return 2
            fi
            if [ -n "$found" ] && [ "$found" != "$candidate" ]; then
                echo "the console shows two different host keys" >&2
                return 2
            fi
            found=$candidate
        elif [ "$in_block" -eq 1 ]; then
            lines=$((lines + 1)) candidate=$line
        fi
    done <<< "$1"
    if [ -z "$found" ]; then
        return 1
    fi
    printf '%s\n' "$found"
}

deadline=$(( $(date +%s) + timeout ))
last='the host has not written its host key to the console yet'
while :; do
    if output=$(aws ec2 get-console-output "${region[@]}" --instance-id "$instance" --latest --query Output --output text 2>&1); then
        # extract prints either the key (status 0) or the reason it refuses the block (2).
        status=0
        result=$(extract "$output" 2>&1) || status=$?
        if [ "$status" -eq 0 ]; then
            printf '%s\n' "$result"
            exit 0
        elif [ "$status" -eq 2 ]; then
            printf 'refusing the host key of %s from its console output: %s; replace the instance (pulumi up --replace on its urn)\n' "$instance" "$result" >&2
            exit 1
        fi
        last='the host has not written its host key to the console yet'
    else
        last=$output
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
        printf 'could not read the host key of %s from its console output (ec2:GetConsoleOutput) within %ss: %s\n' "$instance" "$timeout" "$last" >&2
        exit 1
    fi
    sleep "$poll"
done
