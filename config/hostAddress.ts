// Host names and IP addresses as ssh and docker read them.
//
// A host name is dot-separated labels of letters, digits and '-' (RFC 1123 §2.1), at most
// 63 characters each and 253 in all, with an optional final dot (a fully qualified name);
// its last label is not all digits (RFC 3696 §2), so 192.0.2.300 is neither a name nor an
// address. IP addresses are read with ipaddr.js, IPv4 only in its four-part decimal form.

import * as ipaddr from "ipaddr.js";

const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** Why `name` is not a host name, or undefined when it is one. */
export function hostNameProblem(name: string): string | undefined {
    const bare = name.endsWith(".") ? name.slice(0, -1) : name;
    if (bare.length === 0 || bare.length > 253) {
        return "a host name has 1 to 253 characters";
    }
    const labels = bare.split(".");
    const bad = labels.find((l) => !LABEL.test(l));
    if (bad !== undefined) {
        return bad === ""
            ? "has an empty label (two dots in a row)"
            : `its label "${bad}" is not letters, digits and '-' (not at either end, at most 63 characters)`;
    }
    if (/^\d+$/.test(labels[labels.length - 1])) {
        return "ends in an all-digit label, so it is no host name, and it is not a valid IPv4 address either (four numbers 0–255)";
    }
    return undefined;
}

/** Whether `address` is an IP address ssh can connect to, in the form ssh reads. */
export function isIpAddress(address: string): boolean {
    return ipaddr.IPv4.isValidFourPartDecimal(address) || (address.includes(":") && ipaddr.IPv6.isValid(address));
}

/**
 * Why `address` cannot be a static host's address, or undefined when it can. `portKey` is
 * the key path of the host's port, named when the address carries one.
 */
export function hostAddressProblem(address: string, portKey: string): string | undefined {
    if (address.trim() === "") {
        return "is empty; give the host's name or IP address";
    }
    if (/\s/.test(address)) {
        return `"${address}" contains white space; give only the host's name or IP address`;
    }
    if (address.startsWith("-")) {
        return `"${address}" starts with '-', which ssh would read as an option; give the host's name or IP address`;
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(address)) {
        return `"${address}" has a scheme; give only the host's name or IP address (the user and port have their own keys)`;
    }
    if (address.includes("@")) {
        return `"${address}" has a user in it; give only the host name and put the user under the host's user key`;
    }
    const withPort = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:[\]]+):(\d+)$/.exec(address);
    if (withPort) {
        return `"${address}" includes a port; give "${withPort[1]}" as the address and set ${portKey}: ${withPort[2]}`;
    }
    if (address.includes("%")) {
        // ssh_config(5) TOKENS: HostName expands %-sequences, and an IPv6 zone id names one link of
        // this machine, which nothing about the build host pins.
        return `"${address}" has a zone id or '%' in it, which ssh reads as the start of a token (%h, %p); give a global or unique-local IPv6 address, an IPv4 address or a host name`;
    }
    if (/^\[.*\]$/.test(address)) {
        return `"${address}" is in brackets; give the IPv6 address without them`;
    }
    if (isIpAddress(address)) {
        return undefined;
    }
    if (address.includes(":")) {
        return `"${address}" is not a valid IPv6 address`;
    }
    const problem = hostNameProblem(address);
    return problem ? `"${address}" is neither a valid IP address nor a valid host name: ${problem}` : undefined;
}

/** One spelling per host, to find two entries that name the same one. */
export function canonicalHost(address: string): string {
    if (isIpAddress(address)) {
        // process(): an IPv4-mapped IPv6 address (::ffff:192.0.2.20, ::ffff:c000:214) is that IPv4 host.
        const ip = ipaddr.process(address);
        return ip.kind() === "ipv6" ? (ip as ipaddr.IPv6).toRFC5952String() : ip.toString();
    }
    const name = address.toLowerCase().replace(/\.$/, "");
    // RFC 6761 §6.3: localhost is the loopback address, which ssh reaches as 127.0.0.1.
    return name === "localhost" ? "127.0.0.1" : name;
}

/**
 * Problems of an external registry address `host[:port][/namespace]`, each with the fix.
 * Docker reads the first component as the host; the rest must be repository path components
 * (https://github.com/distribution/reference/blob/main/reference.go).
 */
export function registryAddressProblems(address: string): string[] {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(address)) {
        return [`"${address}" has a scheme; give host[:port][/namespace] without it, such as ghcr.io/acme`];
    }
    const [hostPort, ...namespace] = address.split("/");
    const problems: string[] = [];
    const match = /^([^:]*)(?::(\d*))?$/.exec(hostPort);
    const host = match?.[1] ?? hostPort;
    const port = match?.[2];
    const hostProblem = host === "localhost" || isIpAddress(host) ? undefined : hostNameProblem(host);
    if (!match || hostProblem) {
        problems.push(
            `"${hostPort}" is not a registry host[:port]${hostProblem ? `: ${hostProblem}` : ""}; give one such as ghcr.io or registry.example.com:5000`,
        );
    }
    if (port !== undefined && (port === "" || Number(port) < 1 || Number(port) > 65535)) {
        problems.push(`port "${port}" is not a TCP port (1–65535)`);
    }
    namespace.forEach((segment) => {
        if (segment === "." || segment === "..") {
            problems.push(
                `has a "${segment}" segment; a registry namespace is plain path components, such as ghcr.io/acme`,
            );
        } else if (!/^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$/.test(segment)) {
            problems.push(
                `namespace component "${segment}" must be lowercase letters and digits separated by '.', '_', '__' or '-'`,
            );
        }
    });
    return problems;
}

/** Why a registry user name cannot be sent as the user of HTTP basic authentication, if it cannot. */
export function registryUsernameProblem(username: string): string | undefined {
    if (username.trim() === "") {
        return "is empty or only spaces; give the registry user the password belongs to";
    }
    if (username !== username.trim()) {
        return "has spaces at its start or end; remove them";
    }
    if (username.includes(":")) {
        // RFC 7617 §2: the user-id and password are joined by the first colon.
        return "contains ':', which HTTP basic authentication reads as the start of the password; give the user name alone";
    }
    if ([...username].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) {
        return "contains control characters; give the registry user name";
    }
    return undefined;
}
