#!/bin/bash
# Runs first in the boot script of every EC2 build host (delivered by the user data, see
# shell/userData.ts). Makes sure the host has its own ed25519 host key, generated on the
# host (cloud-init's ssh module normally did that already), and writes the public half to
# the console between markers of this program. The program reads it back through the EC2
# API (GetConsoleOutput, runner/read-host-key.sh) before any SSH connection: only root on
# the host can write to the console, and no one on the network can forge what EC2 returns.
# (AWS EC2 User Guide, "Get the instance fingerprint": get-console-output.)
#
# Usage: publish-host-key.sh
# NBF_SSH_DIR and NBF_CONSOLES (space-separated devices) let the tests point at scratch files
# instead of /etc/ssh and the console devices.
set -euo pipefail

ssh_dir=${NBF_SSH_DIR:-/etc/ssh}
key=$ssh_dir/ssh_host_ed25519_key
if [ ! -s "$key" ]; then
    rm -f "$key" "$key.pub"
    ssh-keygen -q -t ed25519 -N '' -C '' -f "$key"
fi
chmod 0600 "$key"
chmod 0644 "$key.pub"

# The public half as derived from the private key sshd presents, whatever the .pub file says.
read -r type blob _ <<< "$(ssh-keygen -y -f "$key")"
if [ "$type" != ssh-ed25519 ]; then
    echo "publish-host-key: $key is not an ed25519 key" >&2
    exit 1
fi
# One write per device, so nothing else on the console lands inside the block.
block=$(printf '%s\n%s %s\n%s\n' \
    '-----BEGIN NATIVE-BUILD-FLEET HOST KEY-----' "$type" "$blob" '-----END NATIVE-BUILD-FLEET HOST KEY-----')
# /dev/console and the first serial port: EC2 returns what reaches the serial console, and
# writing to both where present does not depend on how the AMI's kernel names it.
read -r -a consoles <<< "${NBF_CONSOLES:-/dev/console /dev/ttyS0}"
written=0
for device in "${consoles[@]}"; do
    if [ -w "$device" ] && printf '\n%s\n' "$block" > "$device" 2>/dev/null; then
        written=$((written + 1))
    fi
done
if [ "$written" -eq 0 ]; then
    echo "publish-host-key: could not write the host key to any of: ${consoles[*]}" >&2
    exit 1
fi
