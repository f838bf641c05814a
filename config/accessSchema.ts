// The `ssh` and `network` sections: how the runner reaches EC2 hosts (allowed CIDRs or an SSM
// session), as which user, and in which VPC and subnets.

import { z } from "zod";
import { checkCidr } from "./cidr";
import { checkUnique } from "./listChecks";
import { Reporter } from "./projectPaths";
import { readPublicKey } from "./sshKeys";

const USER = /^[a-z_][a-z0-9_-]{0,31}$/;

export const sshSchema = z
    .object({
        access: z.enum(["cidr", "ssm"]).default("cidr"),
        user: z.string().regex(USER, "must be a Linux user name such as ec2-user").default("ec2-user"),
        publicKey: z.string().optional(),
        allowedCidrs: z.array(z.string()).default([]),
    })
    .strict();

export const networkSchema = z
    .object({
        vpcId: z
            .string()
            .regex(/^vpc-[0-9a-f]{8,17}$/, "must be a VPC id such as vpc-0abc1234")
            .optional(),
        subnetIds: z
            .array(z.string().regex(/^subnet-[0-9a-f]{8,17}$/, "must be a subnet id such as subnet-0abc1234"))
            .default([]),
    })
    .strict();

/**
 * Accounts the hosts' AMI (Amazon Linux 2023) has for itself: root, whom the hosts' sshd
 * refuses (PermitRootLogin no, host/userData.ts), and system accounts without a login
 * shell, so readiness would wait for a login that never succeeds.
 */
const SYSTEM_USERS = new Set([
    "root",
    "bin",
    "daemon",
    "adm",
    "lp",
    "sync",
    "shutdown",
    "halt",
    "mail",
    "operator",
    "games",
    "ftp",
    "nobody",
    "sshd",
    "dbus",
    "messagebus",
    "polkitd",
    "chrony",
    "rpc",
    "rpcuser",
    "tss",
    "libstoragemgmt",
    "unbound",
    "ec2-instance-connect",
    "postfix",
    "tcpdump",
]);

function systemUserProblem(user: string): string | undefined {
    if (user === "root") {
        return "is root, whom the hosts' sshd refuses (PermitRootLogin no), so readiness would wait until it timed out; use a login user such as ec2-user (it joins the docker group)";
    }
    if (SYSTEM_USERS.has(user) || user.startsWith("systemd-")) {
        return `"${user}" is a Linux system account without a login shell, so SSH logins as it fail; use a login user such as ec2-user`;
    }
    return undefined;
}

export function checkSsh(
    ssh: z.infer<typeof sshSchema>,
    network: z.infer<typeof networkSchema>,
    report: Reporter,
): void {
    if (ssh.publicKey === undefined) {
        report(
            "ssh.publicKey",
            "is required for EC2 pools; give the operator's public key, such as the contents of ~/.ssh/id_ed25519.pub",
        );
    } else {
        const key = readPublicKey(ssh.publicKey, "the operator's public key (such as ~/.ssh/id_ed25519.pub)");
        if (!key.ok) {
            report("ssh.publicKey", key.reason);
        }
    }
    const userProblem = systemUserProblem(ssh.user);
    if (userProblem) {
        report("ssh.user", userProblem);
    }
    if (ssh.access === "ssm") {
        if (ssh.allowedCidrs.length > 0) {
            report(
                "ssh.allowedCidrs",
                "must be empty with ssh.access ssm: the hosts get no inbound rule at all; remove the CIDRs",
            );
        }
        if (network.subnetIds.length === 0) {
            report(
                "network.subnetIds",
                "are required with ssh.access ssm: hosts get no public address, so give private subnets that reach SSM through a NAT gateway or VPC endpoints",
            );
        }
        return;
    }
    if (ssh.allowedCidrs.length === 0) {
        report(
            "ssh.allowedCidrs",
            "is empty, so nothing could reach the hosts over SSH; list the CIDRs of your workstation or CI runners, such as [203.0.113.7/32], or use ssh.access ssm",
        );
    }
    ssh.allowedCidrs.forEach((cidr, i) => {
        const problem = checkCidr(cidr);
        if (problem) {
            report(`ssh.allowedCidrs[${i}]`, problem);
        }
    });
    checkUnique(ssh.allowedCidrs, (i) => `ssh.allowedCidrs[${i}]`, report);
}

export function checkNetwork(network: z.infer<typeof networkSchema>, report: Reporter): void {
    if (network.vpcId !== undefined && network.subnetIds.length === 0) {
        report(
            "network.subnetIds",
            `is empty while network.vpcId is set; list the subnets of ${network.vpcId} the hosts may use`,
        );
    }
    if (network.vpcId === undefined && network.subnetIds.length > 0) {
        report("network.vpcId", "is missing while network.subnetIds is set; give the VPC those subnets belong to");
    }
    checkUnique(network.subnetIds, (i) => `network.subnetIds[${i}]`, report);
}
