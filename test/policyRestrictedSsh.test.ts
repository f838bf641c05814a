// restricted-ssh judges what the ingress CIDRs cover, not how they are spelt: the Internet
// split into two /1s, wide public ranges, and IPv4-mapped IPv6 are open (issue 11, part 5).

import { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { coverageBeyondLimits } from "../config/cidrCoverage";
import { openSshSources, restrictedSsh } from "../policy/rules";

const SG = "aws:ec2/securityGroup:SecurityGroup";
const RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";

function violations(policy: ResourceValidationPolicy, type: string, props: Record<string, unknown>): string[] {
    const found: string[] = [];
    const validate = policy.validateResource as (args: ResourceValidationArgs, report: (m: string) => void) => void;
    validate({ type, props, urn: `urn:${type}`, name: "r" } as unknown as ResourceValidationArgs, (m) => found.push(m));
    return found;
}

describe("what a set of CIDRs covers beyond the fleet's limits", () => {
    test.each([
        [["203.0.113.0/24"], []],
        [["198.51.0.0/16"], []],
        [["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"], []],
        // The private part of a range may be wide; only its public part is measured.
        [["192.168.0.0/15"], []],
        [["2001:db8:1::/48"], []],
        [["fc00::/7"], []],
        // Two /16s that are not one aligned /15 stay two /16s.
        [["198.51.0.0/16", "198.52.0.0/16"], []],
        [
            ["0.0.0.0/1", "128.0.0.0/1"],
            ["0.0.0.0/1", "128.0.0.0/1"],
        ],
        [["0.0.0.0/0"], ["0.0.0.0/0"]],
        [
            ["198.50.0.0/16", "198.51.0.0/16"],
            ["198.50.0.0/16", "198.51.0.0/16"],
        ],
        [["198.51.0.0/15"], ["198.51.0.0/15"]],
        [["10.0.0.0/7"], ["10.0.0.0/7"]],
        [["2001:db8::/47"], ["2001:db8::/47"]],
        [
            ["2001:db8::/48", "2001:db8:1::/48"],
            ["2001:db8::/48", "2001:db8:1::/48"],
        ],
        [["::/0"], ["::/0"]],
        [["::ffff:0:0/96"], ["::ffff:0:0/96"]],
        [["::ffff:203.0.113.0/120"], ["::ffff:203.0.113.0/120"]],
        [["not-a-cidr", "203.0.113.0/24"], ["not-a-cidr"]],
        // A narrow range inside one that is open on its own is not named.
        [["0.0.0.0/0", "203.0.113.0/24"], ["0.0.0.0/0"]],
        [["198.51.0.0/15", "198.51.0.0/24", "203.0.113.0/24"], ["198.51.0.0/15"]],
    ])("%j: %j offend", (cidrs, offending) => {
        expect(coverageBeyondLimits(cidrs).offending).toEqual(offending);
    });

    test("names the widest public blocks covered, canonically", () => {
        expect(coverageBeyondLimits(["10.0.0.0/7"]).tooWide).toEqual(["11.0.0.0/8"]);
        expect(coverageBeyondLimits(["198.50.0.0/16", "198.51.0.0/16"]).tooWide).toEqual(["198.50.0.0/15"]);
        expect(coverageBeyondLimits(["2001:0db8:0000::/47"]).tooWide).toEqual(["2001:db8::/47"]);
    });
});

describe("restricted-ssh", () => {
    test.each([
        [
            "the operators' /24 on 22",
            SG,
            { ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["203.0.113.0/24"] }] },
        ],
        [
            "a VPC's private /8 on every port",
            SG,
            {
                ingress: [
                    {
                        protocol: "-1",
                        fromPort: 0,
                        toPort: 0,
                        cidrBlocks: ["10.0.0.0/8"],
                        ipv6CidrBlocks: ["fd00::/8"],
                    },
                ],
            },
        ],
        [
            "the Internet on 443 only",
            SG,
            { ingress: [{ protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/1", "128.0.0.0/1"] }] },
        ],
        [
            "a standalone rule from a /48",
            RULE,
            { ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv6: "2001:db8:1::/48" },
        ],
    ])("passes %s", (_, type, props) => {
        expect(violations(restrictedSsh, type, props)).toEqual([]);
    });

    test("refuses the Internet split into two /1s, naming both", () => {
        expect(
            violations(restrictedSsh, SG, {
                ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/1", "128.0.0.0/1"] }],
            }),
        ).toEqual([
            "ingress admits port 22 from 0.0.0.0/1, 128.0.0.0/1, which cover public 64.0.0.0/2, 32.0.0.0/3, 128.0.0.0/3, … (wider than IPv4 /16 or IPv6 /48); list the operators' CIDRs instead",
        ]);
    });

    test("refuses two /1s in two rules of one group", () => {
        const ingress = [
            { protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["0.0.0.0/1"] },
            { protocol: "tcp", fromPort: 0, toPort: 65535, cidrBlocks: ["128.0.0.0/1"] },
        ];
        expect(violations(restrictedSsh, SG, { ingress })).toEqual([
            expect.stringContaining("port 22 from 0.0.0.0/1, 128.0.0.0/1, which cover public"),
            expect.stringContaining("port 3389 from 128.0.0.0/1, which cover public"),
        ]);
    });

    const WIDER = "(wider than IPv4 /16 or IPv6 /48)";
    test.each([
        [
            "a public /15",
            SG,
            { ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["198.50.0.0/15"] }] },
            22,
            `198.50.0.0/15, which cover public 198.50.0.0/15 ${WIDER}`,
        ],
        [
            "a /7 reaching past 10.0.0.0/8",
            SG,
            { ingress: [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["10.0.0.0/7"] }] },
            22,
            `10.0.0.0/7, which cover public 11.0.0.0/8 ${WIDER}`,
        ],
        [
            "an IPv6 /32 on RDP",
            RULE,
            { ipProtocol: "tcp", fromPort: 3389, toPort: 3389, cidrIpv6: "2001:db8::/32" },
            3389,
            `2001:db8::/32, which cover public 2001:db8::/32 ${WIDER}`,
        ],
        [
            "IPv4-mapped IPv6",
            RULE,
            { ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv6: "::ffff:0:0/96" },
            22,
            "::ffff:0:0/96, which cover IPv4-mapped IPv6 addresses",
        ],
        [
            "a CIDR that does not parse",
            RULE,
            { ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv4: "0.0.0.0/-1" },
            22,
            "0.0.0.0/-1, which cover ranges that do not parse as CIDRs",
        ],
    ])("refuses %s", (_, type, props, port, detail) => {
        expect(violations(restrictedSsh, type, props)).toEqual([
            `ingress admits port ${port} from ${detail}; list the operators' CIDRs instead`,
        ]);
    });

    test("keeps the plain message for the whole Internet", () => {
        expect(openSshSources(["0.0.0.0/0", "203.0.113.0/24"])).toBe("0.0.0.0/0");
        expect(openSshSources(["203.0.113.0/24"])).toBeUndefined();
    });
});
