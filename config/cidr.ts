// Checks the CIDRs allowed to reach the build hosts over SSH.

import * as ipaddr from "ipaddr.js";

/**
 * Widest public ranges accepted: a /16 is 65,536 IPv4 addresses, a /48 one site's IPv6
 * allocation (RFC 6177). Anything wider is a large part of the Internet (two /1s cover
 * 0.0.0.0/0), and SSH open to the world is what AWS Security Hub EC2.13 flags.
 */
export const WIDEST_PUBLIC_PREFIX = { ipv4: 16, ipv6: 48 } as const;

/**
 * Private ranges, which may be wider: they are not routed on the Internet. RFC 1918 for
 * IPv4, unique local addresses (RFC 4193) for IPv6.
 */
export const PRIVATE_RANGES: readonly string[] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];

/** Whether the whole of `address/prefix` lies in one private range. */
export function isPrivateRange(address: ipaddr.IPv4 | ipaddr.IPv6, prefix: number): boolean {
    return PRIVATE_RANGES.map((r) => ipaddr.parseCIDR(r)).some(
        ([base, bits]) =>
            base.kind() === address.kind() && prefix >= bits && address.match([base, bits] as [typeof address, number]),
    );
}

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
    if (kind === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress()) {
        // A security group matches IPv4 traffic against IPv4 rules only, so the mapped form never applies.
        const v4 = prefix >= 96 ? `${(address as ipaddr.IPv6).toIPv4Address().toString()}/${prefix - 96}` : undefined;
        const v4Problem = v4 === undefined ? "" : checkCidr(v4);
        return (
            `"${cidr}" is an IPv4-mapped IPv6 range, which security groups never match against IPv4 traffic; ` +
            (v4 !== undefined && v4Problem === undefined
                ? `write it as ${v4}`
                : `list the IPv4 range instead, at most /${WIDEST_PUBLIC_PREFIX.ipv4} if public`)
        );
    }
    const network =
        kind === "ipv4" ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
    const canonical = `${canonicalAddress(network)}/${prefix}`;
    if (prefix < WIDEST_PUBLIC_PREFIX[kind] && !isPrivateRange(network, prefix)) {
        return (
            `"${cidr}" is wider than /${WIDEST_PUBLIC_PREFIX[kind]} and opens SSH to a large part of the Internet; ` +
            `public ${kind === "ipv4" ? "IPv4" : "IPv6"} ranges may be at most /${WIDEST_PUBLIC_PREFIX[kind]} (only private ranges, ${PRIVATE_RANGES.join(", ")}, may be wider); list narrower ranges`
        );
    }
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
