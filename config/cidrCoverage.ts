// What a set of CIDRs covers, measured against the fleet's SSH limits. One rule for the
// config check and the policy pack: a public IPv4 block wider than /16 or a public IPv6
// block wider than /48 is "the Internet in all but name" (two /1s are 0.0.0.0/0, which
// AWS Security Hub EC2.13 flags); RFC 1918 (IPv4) and unique local (fc00::/7, RFC 4193)
// space may be wider; IPv4-mapped IPv6 (::ffff:0:0/96, RFC 4291 §2.5.5.2) is refused
// outright, since it names IPv4 hosts through the IPv6 rule set.

import * as ipaddr from "ipaddr.js";

/** Widest public prefix accepted, per family. */
export const MAX_PUBLIC_PREFIX = { ipv4: 16, ipv6: 48 } as const;

/** Ranges that may be wider than the public limit. */
export const PRIVATE_RANGES = { ipv4: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"], ipv6: ["fc00::/7"] } as const;

export const IPV4_MAPPED = "::ffff:0:0/96";

type Family = "ipv4" | "ipv6";
const BITS: Record<Family, number> = { ipv4: 32, ipv6: 128 };
interface Range {
    family: Family;
    start: bigint;
    end: bigint;
}

/** The address range of a CIDR (host bits ignored), or undefined when it does not parse. */
export function cidrRange(cidr: string): Range | undefined {
    let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
    try {
        parsed = ipaddr.parseCIDR(cidr);
    } catch {
        return undefined;
    }
    const [address, prefix] = parsed;
    const family = address.kind();
    const value = address.toByteArray().reduce((n, byte) => (n << 8n) | BigInt(byte), 0n);
    const size = 1n << BigInt(BITS[family] - prefix);
    const start = value - (value % size);
    return { family, start, end: start + size - 1n };
}

function format(family: Family, start: bigint, prefix: number): string {
    const bytes: number[] = [];
    for (let i = BITS[family] / 8 - 1, n = start; i >= 0; i--, n >>= 8n) {
        bytes[i] = Number(n & 0xffn);
    }
    const address = family === "ipv4" ? new ipaddr.IPv4(bytes) : new ipaddr.IPv6(bytes);
    return `${family === "ipv6" ? (address as ipaddr.IPv6).toRFC5952String() : address.toString()}/${prefix}`;
}

/** `ranges` minus `holes`, as sorted, merged ranges of one family. */
function subtract(ranges: Range[], holes: Range[]): Range[] {
    let rest = ranges;
    for (const hole of holes) {
        rest = rest.flatMap((r) => {
            if (hole.end < r.start || hole.start > r.end) {
                return [r];
            }
            return [
                ...(r.start < hole.start ? [{ ...r, end: hole.start - 1n }] : []),
                ...(r.end > hole.end ? [{ ...r, start: hole.end + 1n }] : []),
            ];
        });
    }
    const merged: Range[] = [];
    for (const r of [...rest].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))) {
        const last = merged.at(-1);
        if (last && r.start <= last.end + 1n) {
            last.end = r.end > last.end ? r.end : last.end;
        } else {
            merged.push({ ...r });
        }
    }
    return merged;
}

/** The largest aligned CIDR blocks that exactly tile a range. */
function blocks(range: Range): { start: bigint; prefix: number }[] {
    const out: { start: bigint; prefix: number }[] = [];
    for (let start = range.start; start <= range.end;) {
        let size = 1n;
        while (
            size < 1n << BigInt(BITS[range.family]) &&
            start % (size * 2n) === 0n &&
            start + size * 2n - 1n <= range.end
        ) {
            size *= 2n;
        }
        out.push({ start, prefix: BITS[range.family] - size.toString(2).length + 1 });
        start += size;
    }
    return out;
}

export interface Coverage {
    /** CIDRs that do not parse: they can be judged as nothing but open. */
    unparsable: string[];
    /** CIDRs in the IPv4-mapped IPv6 range. */
    ipv4Mapped: string[];
    /** Public blocks wider than the limits that the CIDRs cover together, canonical. */
    tooWide: string[];
    /** The input CIDRs that contribute to any of the above. */
    offending: string[];
}

const MAPPED = cidrRange(IPV4_MAPPED) as Range;
const overlaps = (a: Range, b: Range) => a.family === b.family && a.start <= b.end && b.start <= a.end;
const within = (inner: Range, outer: Range) =>
    inner.family === outer.family && outer.start <= inner.start && inner.end <= outer.end;

/** The public blocks wider than the limits that `ranges` cover together. */
function wideBlocks(ranges: Range[]): (Range & { prefix: number })[] {
    const wide: (Range & { prefix: number })[] = [];
    for (const family of ["ipv4", "ipv6"] as const) {
        const holes = [...PRIVATE_RANGES[family], ...(family === "ipv6" ? [IPV4_MAPPED] : [])].map(
            (c) => cidrRange(c) as Range,
        );
        for (const range of subtract(
            ranges.filter((r) => r.family === family),
            holes,
        )) {
            wide.push(
                ...blocks(range)
                    .filter((b) => b.prefix < MAX_PUBLIC_PREFIX[family])
                    .map((b) => ({
                        family,
                        start: b.start,
                        end: b.start + (1n << BigInt(BITS[family] - b.prefix)) - 1n,
                        prefix: b.prefix,
                    })),
            );
        }
    }
    return wide;
}

/**
 * Everything `cidrs`, taken together, cover beyond the limits: a set that passes covers no
 * public IPv4 block wider than /16, no public IPv6 block wider than /48, and no IPv4-mapped
 * IPv6 address, however the space is split (0.0.0.0/1 + 128.0.0.0/1, or two adjacent /16s).
 */
export function coverageBeyondLimits(cidrs: string[]): Coverage {
    const parsed = cidrs.map((cidr) => ({ cidr, range: cidrRange(cidr) }));
    const unparsable = parsed.filter((p) => p.range === undefined).map((p) => p.cidr);
    const ipv4Mapped = parsed.filter((p) => p.range && overlaps(p.range, MAPPED)).map((p) => p.cidr);
    const wide = wideBlocks(parsed.map((p) => p.range).filter((r): r is Range => r !== undefined));
    const beyond = parsed.filter(
        (p) => p.range === undefined || ipv4Mapped.includes(p.cidr) || wide.some((w) => overlaps(w, p.range as Range)),
    );
    // A narrow CIDR inside one that is open on its own adds nothing to the finding.
    const alone = beyond.filter(
        (p) => p.range === undefined || overlaps(p.range, MAPPED) || wideBlocks([p.range]).length > 0,
    );
    const offending = beyond
        .filter((p) => alone.includes(p) || !alone.some((a) => a.range && p.range && within(p.range, a.range)))
        .map((p) => p.cidr);
    return { unparsable, ipv4Mapped, tooWide: wide.map((b) => format(b.family, b.start, b.prefix)), offending };
}
