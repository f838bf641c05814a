// Checks the CIDRs allowed to reach the build hosts over SSH.

import * as ipaddr from "ipaddr.js";

/**
 * Shortest prefixes accepted. Anything wider is the Internet in all but name (two /1s
 * cover 0.0.0.0/0), and SSH open to the world is what AWS Security Hub EC2.13 flags.
 */
const MIN_PREFIX = { ipv4: 8, ipv6: 16 } as const;

/** Returns why `cidr` may not be used in ssh.allowedCidrs, or undefined when it may. */
export function checkCidr(cidr: string): string | undefined {
    let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
    try {
        parsed = ipaddr.parseCIDR(cidr);
    } catch {
        return `"${cidr}" is not a CIDR such as 203.0.113.0/24 or 2001:db8::/48`;
    }
    const [address, prefix] = parsed;
    const kind = address.kind();
    if (prefix === 0) {
        return `"${cidr}" opens SSH to the whole Internet; list only the addresses of your workstations or CI runners`;
    }
    if (prefix < MIN_PREFIX[kind]) {
        return `"${cidr}" is wider than /${MIN_PREFIX[kind]} and opens SSH to a large part of the Internet; list narrower ranges`;
    }
    const network = kind === "ipv4"
        ? ipaddr.IPv4.networkAddressFromCIDR(cidr)
        : ipaddr.IPv6.networkAddressFromCIDR(cidr);
    const canonical = `${canonicalAddress(network)}/${prefix}`;
    if (canonicalAddress(network) !== canonicalAddress(address)) {
        return `"${cidr}" has host bits set; write it as ${canonical}`;
    }
    if (canonical !== cidr) {
        return `"${cidr}" is not written canonically; write it as ${canonical}`;
    }
    return undefined;
}

function canonicalAddress(address: ipaddr.IPv4 | ipaddr.IPv6): string {
    return address.kind() === "ipv6" ? (address as ipaddr.IPv6).toRFC5952String() : address.toString();
}
