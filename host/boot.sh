#!/bin/bash
# The boot script of every EC2 build host (Amazon Linux 2023), run once by cloud-init's
# runcmd after the cloud-config (shell/userData.ts) has created the build user with the
# operator's key, written sshd's drop-in and the units, and installed Docker.
#
# Usage: boot.sh USER READY_FILE [UNIT...]
#   USER        the build user: the only login sshd admits, the only member of the docker group
#   READY_FILE  created last; the readiness check (shell/readiness.ts) waits for it
#   UNIT        systemd units to enable and start (the binfmt registration, the idle timer)
set -euo pipefail

user=$1
ready=$2
shift 2
here=$(dirname "$0")

# First, before anything can trust the host: publish its own public host key.
"$here/publish-host-key.sh"

# EC2 Instance Connect would let anyone with ec2-instance-connect:SendSSHPublicKey push a key
# for the build user (its sshd unit drop-in adds an AuthorizedKeysCommand). sshd's drop-in
# (shell/userData.ts) already overrides that command from sshd's first start; the package goes
# too, so nothing of it is left to re-enable. The operator's key stays the only way in.
if rpm -q ec2-instance-connect >/dev/null 2>&1; then
    dnf remove -y ec2-instance-connect
    systemctl daemon-reload
fi
sshd -t
systemctl restart sshd

# Docker listens on its unix socket only; the docker group is root-equivalent, so only
# the build user joins it.
systemctl enable --now docker
usermod -aG docker "$user"

if [ "$#" -gt 0 ]; then
    systemctl daemon-reload
    systemctl enable --now "$@"
fi

install -d -m 0755 "$(dirname "$ready")"
touch "$ready"
