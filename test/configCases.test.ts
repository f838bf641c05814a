// Bad and tricky stack configurations as a new user writes them (issue #12, and the
// validator points of issue #11): each is accepted, or refused at its key path with a
// message that says what is wrong and how to fix it.

import * as fs from "fs";
import * as path from "path";
import { ConfigContext, Problem } from "../config/schema";
import {
    configProblems,
    ec2Stack as ec2,
    expectOutcome,
    makeProject,
    STATIC_HOST as STATIC,
    staticStack as statics,
} from "./fixtures";
import { ECDSA_256, ECDSA_384, ECDSA_521, ED25519_HOST, ED25519_OTHER, RSA_1024, RSA_3072 } from "./keyFixtures";

type Config = Record<string, any>;

let root: string;
beforeAll(() => {
    root = makeProject();
    fs.writeFileSync(path.join(root, "Dockerfile"), "FROM scratch\n");
    fs.writeFileSync(
        path.join(root, "plain.toml"),
        'debug = true\n[registry."docker.io"]\n  mirrors = ["mirror.example.com"]\nEOF\n',
    );
    fs.writeFileSync(path.join(root, "delimiter.toml"), "debug = true\nNBF_BUILDKITD_TOML\nrm -rf ~\n");
    fs.writeFileSync(path.join(root, "nul.toml"), Buffer.from("debug = true\n\0\n"));
    fs.writeFileSync(path.join(root, "latin1.toml"), Buffer.from([0x23, 0x20, 0xe9, 0x0a]));
});

const problemsOf = (raw: unknown, overrides: Partial<ConfigContext>): Problem[] => configProblems(root, raw, overrides);

const GHP = `ghp_${"a1B2c3D4e5".repeat(4)}`;
const FAKE_PRIVATE =
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----";
const ED25519_DATA = ED25519_HOST.split(" ")[1];
const ECDSA_DATA = ECDSA_256.split(" ")[1];
/** A well-formed blob of type ssh-ed25519 holding a 4-byte key. */
const SHORT_ED25519 = Buffer.concat([
    Buffer.from([0, 0, 0, 11]),
    Buffer.from("ssh-ed25519"),
    Buffer.from([0, 0, 0, 4]),
    Buffer.from("abcd"),
]).toString("base64");

/** [name, stack config, key path and message fragment of the refusal, or "accepted", context]. */
type Case = [string, Config, [string, string] | "accepted", Partial<ConfigContext>?];

/** A case with registry.immutableTags: `tags` as rendered for the build, `templates` as written. */
const immutable = (name: string, tags: string[], templates: string[], expected: Case[2]): Case => [
    name,
    ec2((c) => {
        c.registry = { type: "ecr", immutableTags: true };
        c.images[0].tags = tags;
    }),
    expected,
    { tagTemplates: { "images[0]": templates } },
];

const cases: Case[] = [
    // Messages: a value of the wrong type says what was expected, what was found, and how to write it.
    [
        "count given as a string",
        ec2((c) => {
            c.hosts[0].count = "2";
        }),
        [
            "hosts[0].count",
            "must be a number, but is the string \"2\"; write it without quotes (2) or set it with `pulumi config set --path 'hosts[0].count' 2`",
        ],
    ],
    [
        "spot: yes",
        ec2((c) => {
            c.hosts[0].spot = "yes";
        }),
        ["hosts[0].spot", 'must be true or false, but is the string "yes"; write true without quotes'],
    ],
    [
        "a tag YAML read as a number",
        ec2((c) => {
            c.images[0].tags = [1.1];
        }),
        [
            "images[0].tags[0]",
            "must be a string, but is the number 1.1; YAML reads an unquoted value such as 1.10 as a number",
        ],
    ],
    [
        "a tag pulumi config set --path stored as a number",
        ec2((c) => {
            c.images[0].tags = [2];
        }),
        ["images[0].tags[0]", "`pulumi config set --path 'images[0].tags[0]' --type string 2`"],
    ],
    [
        "platforms given as one string",
        ec2((c) => {
            c.images[0].platforms = "linux/amd64";
        }),
        [
            "images[0].platforms",
            'must be a list, but is the string "linux/amd64"; write it as a list, such as [linux/amd64]',
        ],
    ],
    [
        "a build arg stored as a number",
        ec2((c) => {
            c.images[0].buildArgs = { JOBS: 4 };
        }),
        ["images[0].buildArgs.JOBS", 'must be a string, but is the number 4; quote it in the stack file ("4")'],
    ],
    [
        "a build arg stored as a boolean",
        ec2((c) => {
            c.images[0].buildArgs = { DEBUG: true };
        }),
        ["images[0].buildArgs.DEBUG", "--type string true`, since --path alone stores true and false as booleans"],
    ],
    [
        "root volume as a string",
        ec2((c) => {
            c.hosts[1].rootVolumeGiB = "200";
        }),
        ["hosts[1].rootVolumeGiB", 'must be a number, but is the string "200"'],
    ],
    [
        "idle minutes as a string",
        ec2((c) => {
            c.hosts[1].idleMinutes = "30";
        }),
        ["hosts[1].idleMinutes", 'must be a number, but is the string "30"'],
    ],
    [
        "static port as a string",
        statics((c) => {
            c.staticHosts[0].port = "2222";
        }),
        ["staticHosts[0].port", 'must be a number, but is the string "2222"'],
    ],
    [
        "fractional count",
        ec2((c) => {
            c.hosts[0].count = 1.5;
        }),
        ["hosts[0].count", "must be a whole number, but is the number 1.5"],
    ],
    [
        "image without a name",
        ec2((c) => {
            delete c.images[0].name;
        }),
        ["images[0].name", "is required; set it with `pulumi config set --path 'images[0].name' …`"],
    ],
    [
        "no registry",
        ec2((c) => {
            delete c.registry;
        }),
        ["registry", "is required"],
    ],
    [
        "registry without a type",
        ec2((c) => {
            c.registry = {};
        }),
        ["registry.type", 'is required: one of "ecr", "external"'],
    ],
    [
        "unknown registry type",
        ec2((c) => {
            c.registry = { type: "gcr" };
        }),
        ["registry.type", 'is the string "gcr"; it must be one of "ecr", "external"'],
    ],
    [
        "unknown access mode",
        ec2((c) => {
            c.ssh.access = "sm";
        }),
        ["ssh.access", 'is the string "sm"; it must be one of "cidr", "ssm"'],
    ],
    [
        "images given as one string",
        ec2((c) => {
            c.images = "app";
        }),
        ["images", 'must be a list, but is the string "app"'],
    ],
    [
        "an empty pool entry",
        ec2((c) => {
            c.hosts[0] = null;
        }),
        ["hosts[0]", "must be a map of keys, but is an empty value (null)"],
    ],
    [
        "tags given as one string",
        ec2((c) => {
            c.images[0].tags = "latest";
        }),
        ["images[0].tags", 'must be a list, but is the string "latest"'],
    ],
    [
        "a driver option name the driver does not have",
        ec2((c) => {
            c.builder = { driverOptions: { "Network!": "bridge" } };
        }),
        [
            'builder.driverOptions["Network!"]',
            '"Network!" is not a valid key here: must be a docker-container driver option name',
        ],
    ],
    [
        "an ECR registry with an address",
        ec2((c) => {
            c.registry = { type: "ecr", address: "ghcr.io" };
        }),
        ["registry.address", "is not a key of registry; registry takes type, immutableTags, untaggedExpiryDays"],
    ],
    [
        "an external registry with immutable tags",
        statics((c) => {
            c.registry.immutableTags = true;
        }),
        ["registry.immutableTags", "is not a key of registry; registry takes type, address, username"],
    ],
    [
        "a misspelt static host key",
        statics((c) => {
            c.staticHosts[0].hostkey = c.staticHosts[0].hostKey;
            delete c.staticHosts[0].hostKey;
        }),
        ["staticHosts[0].hostkey", "is not a key of staticHosts[0]; did you mean hostKey?"],
    ],
    [
        "a misspelt builder key",
        ec2((c) => {
            c.builder = { driverOption: {} };
        }),
        ["builder.driverOption", "did you mean driverOptions?"],
    ],
    [
        "a misspelt image key",
        ec2((c) => {
            c.images[0].buildargs = {};
        }),
        ["images[0].buildargs", "did you mean buildArgs?"],
    ],
    [
        "a misspelt top-level key",
        ec2((c) => {
            c.host = [];
        }),
        ["host", "is not a key of the stack config; did you mean hosts?"],
    ],
    [
        "a static port out of range",
        statics((c) => {
            c.staticHosts[0].port = 70000;
        }),
        ["staticHosts[0].port", "must be a TCP port, 1 to 65535"],
    ],
    [
        "a remote Git context",
        ec2((c) => {
            c.images[0].context = "https://github.com/acme/app.git";
        }),
        ["images[0].context", "is a remote context (a URL); this program builds from paths inside the project only"],
    ],
    [
        "a remote SSH Git context",
        ec2((c) => {
            c.images[0].context = "git@github.com:acme/app.git";
        }),
        ["images[0].context", "is a remote context (a URL)"],
    ],
    [
        "a build-arg name with a dot",
        ec2((c) => {
            c.images[0].buildArgs = { "A.B": "1" };
        }),
        ['images[0].buildArgs["A.B"]', "is not a valid build-arg name"],
    ],

    // Instance types: real families with a hyphen, Mac types refused with a true message.
    [
        "a mac2 instance",
        ec2((c) => {
            c.hosts[0].instanceType = "mac2.metal";
        }),
        [
            "hosts[0].instanceType",
            "is an EC2 Mac instance type: a Mac mini on a dedicated host that runs macOS, so it cannot be a Linux build host",
        ],
    ],
    [
        "a mac2-m2pro instance",
        ec2((c) => {
            c.hosts[0].instanceType = "mac2-m2pro.metal";
        }),
        ["hosts[0].instanceType", "cannot be a Linux build host"],
    ],
    [
        "a mac-m4 instance",
        ec2((c) => {
            c.hosts[0].instanceType = "mac-m4.metal";
        }),
        ["hosts[0].instanceType", "EC2 Mac instance type"],
    ],
    [
        "a size that does not exist",
        ec2((c) => {
            c.hosts[0].instanceType = "c7g.huge";
        }),
        ["hosts[0].instanceType", "is not an EC2 instance type such as m7g.large"],
    ],
    [
        "u-6tb1.metal",
        ec2((c) => {
            c.hosts[1].instanceType = "u-6tb1.metal";
        }),
        "accepted",
    ],
    [
        "u7i-12tb.224xlarge",
        ec2((c) => {
            c.hosts[1].instanceType = "u7i-12tb.224xlarge";
        }),
        "accepted",
    ],
    [
        "p6-b200.48xlarge",
        ec2((c) => {
            c.hosts[1].instanceType = "p6-b200.48xlarge";
        }),
        "accepted",
    ],
    [
        "m7i-flex.large",
        ec2((c) => {
            c.hosts[1].instanceType = "m7i-flex.large";
        }),
        "accepted",
    ],
    [
        "p6e-gb200.36xlarge, NVIDIA Grace, for arm64",
        ec2((c) => {
            c.hosts[0].instanceType = "p6e-gb200.36xlarge";
        }),
        "accepted",
    ],
    [
        "r8g.metal-24xl",
        ec2((c) => {
            c.hosts[0].instanceType = "r8g.metal-24xl";
        }),
        "accepted",
    ],

    // Platforms: what BuildKit knows but this fleet cannot build, and x86-64-v4 without AVX-512.
    [
        "linux/arm/v8 for an image",
        ec2((c) => {
            c.images[0].platforms = ["linux/arm/v8"];
        }),
        [
            "images[0].platforms[0]",
            "is a platform BuildKit knows (32-bit ARM code for ARMv8 CPUs), but this fleet cannot build it",
        ],
    ],
    [
        "linux/arm/v8 to emulate",
        ec2((c) => {
            c.hosts[1].emulate = ["linux/arm/v8"];
        }),
        ["hosts[1].emulate[0]", "build linux/arm/v7, which ARMv8 CPUs run in 32-bit mode, or linux/arm64"],
    ],
    [
        "a Windows platform",
        ec2((c) => {
            c.images[0].platforms = ["windows/amd64"];
        }),
        ["images[0].platforms[0]", "only linux platforms can be built on Linux build hosts"],
    ],
    [
        "amd64/v4 on AMD Zen 3",
        ec2((c) => {
            c.hosts[1].instanceType = "c6a.large";
            c.hosts[1].platforms = ["linux/amd64", "linux/amd64/v4"];
        }),
        [
            "hosts[1].platforms",
            "c6a.large has AMD EPYC CPUs from before Zen 4, without the AVX-512 that linux/amd64/v4 (x86-64-v4) code needs",
        ],
    ],
    [
        "amd64/v4 on Intel Broadwell",
        ec2((c) => {
            c.hosts[1].instanceType = "m4.large";
            c.hosts[1].platforms = ["linux/amd64/v4"];
        }),
        ["hosts[1].platforms", "m4.large has Intel CPUs from before Skylake"],
    ],
    [
        "amd64/v4 on g5",
        ec2((c) => {
            c.hosts[1].instanceType = "g5.xlarge";
            c.hosts[1].platforms = ["linux/amd64/v4"];
        }),
        ["hosts[1].platforms", "or build linux/amd64/v3"],
    ],
    [
        "amd64/v4 on t3a",
        ec2((c) => {
            c.hosts[1].instanceType = "t3a.large";
            c.hosts[1].platforms = ["linux/amd64/v4"];
        }),
        ["hosts[1].platforms", "before Zen 4"],
    ],
    [
        "amd64/v4 on Sapphire Rapids",
        ec2((c) => {
            c.hosts[1].platforms = ["linux/amd64", "linux/amd64/v4"];
        }),
        "accepted",
    ],
    [
        "amd64/v4 on Zen 4",
        ec2((c) => {
            c.hosts[1].instanceType = "m7a.large";
            c.hosts[1].platforms = ["linux/amd64/v4"];
            c.images[0].platforms = ["linux/amd64/v4"];
        }),
        "accepted",
    ],
    [
        "amd64/v3 on Zen 3",
        ec2((c) => {
            c.hosts[1].instanceType = "c6a.large";
            c.hosts[1].platforms = ["linux/amd64", "linux/amd64/v3"];
        }),
        "accepted",
    ],

    // Image names: no registry host, and no two that become one resource name.
    [
        "an ECR host in the image name",
        ec2((c) => {
            c.images[0].name = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app";
        }),
        [
            "images[0].name",
            'starts with a registry host (123456789012.dkr.ecr.eu-west-1.amazonaws.com); give the repository name only, such as "app"',
        ],
    ],
    [
        "ghcr.io in the image name",
        statics((c) => {
            c.images[0].name = "ghcr.io/acme/app";
        }),
        [
            "images[0].name",
            'give the repository name only, such as "acme/app": the registry comes from registry.address',
        ],
    ],
    [
        "localhost:5000 in the image name",
        ec2((c) => {
            c.images[0].name = "localhost:5000/app";
        }),
        ["images[0].name", "starts with a registry host (localhost:5000)"],
    ],
    [
        "localhost in the image name",
        ec2((c) => {
            c.images[0].name = "localhost/app";
        }),
        ["images[0].name", "starts with a registry host (localhost)"],
    ],
    [
        "a namespaced image name",
        ec2((c) => {
            c.images[0].name = "acme/app";
        }),
        "accepted",
    ],
    [
        "a deep image name",
        ec2((c) => {
            c.images[0].name = "team/web/api";
        }),
        "accepted",
    ],
    [
        "team/web then team-web",
        ec2((c) => {
            c.images = [
                { ...c.images[0], name: "team/web" },
                { ...c.images[0], name: "team-web" },
            ];
        }),
        ["images[1].name", '"team-web" and images[0].name "team/web" give the same resource name (team-web'],
    ],
    [
        "team-web then team/web",
        ec2((c) => {
            c.images = [
                { ...c.images[0], name: "team-web" },
                { ...c.images[0], name: "team/web" },
            ];
        }),
        ["images[1].name", "give the same resource name"],
    ],
    [
        "team/web and team/api",
        ec2((c) => {
            c.images = [
                { ...c.images[0], name: "team/web" },
                { ...c.images[0], name: "team/api" },
            ];
        }),
        "accepted",
    ],

    // ssh.user: not root, not a system account.
    [
        "ssh.user root",
        ec2((c) => {
            c.ssh.user = "root";
        }),
        [
            "ssh.user",
            "is root, whom the hosts' sshd refuses (PermitRootLogin no), so readiness would wait until it timed out",
        ],
    ],
    [
        "ssh.user bin",
        ec2((c) => {
            c.ssh.user = "bin";
        }),
        ["ssh.user", '"bin" is a Linux system account without a login shell'],
    ],
    [
        "ssh.user systemd-network",
        ec2((c) => {
            c.ssh.user = "systemd-network";
        }),
        ["ssh.user", "system account"],
    ],
    [
        "ssh.user nobody",
        ec2((c) => {
            c.ssh.user = "nobody";
        }),
        ["ssh.user", "system account"],
    ],
    [
        "ssh.user ubuntu",
        ec2((c) => {
            c.ssh.user = "ubuntu";
        }),
        "accepted",
    ],
    [
        "ssh.user builder",
        ec2((c) => {
            c.ssh.user = "builder";
        }),
        "accepted",
    ],

    // Keys: read in the SSH wire format.
    [
        "an ECDSA P-256 operator key",
        ec2((c) => {
            c.ssh.publicKey = ECDSA_256;
        }),
        "accepted",
    ],
    [
        "an ECDSA P-384 operator key",
        ec2((c) => {
            c.ssh.publicKey = ECDSA_384;
        }),
        "accepted",
    ],
    [
        "an RSA 3072 operator key",
        ec2((c) => {
            c.ssh.publicKey = RSA_3072;
        }),
        "accepted",
    ],
    [
        "an RSA 1024 operator key",
        ec2((c) => {
            c.ssh.publicKey = RSA_1024;
        }),
        ["ssh.publicKey", "it is a 1024-bit RSA key, shorter than the 2048 bits"],
    ],
    [
        "ssh-rsa naming ed25519 data",
        ec2((c) => {
            c.ssh.publicKey = `ssh-rsa ${ED25519_DATA}`;
        }),
        ["ssh.publicKey", "names ssh-rsa, but its data is a ssh-ed25519 key"],
    ],
    [
        "ssh-ed25519 naming ECDSA data",
        ec2((c) => {
            c.ssh.publicKey = `ssh-ed25519 ${ECDSA_DATA} me`;
        }),
        ["ssh.publicKey", "names ssh-ed25519, but its data is a ecdsa-sha2-nistp256 key"],
    ],
    [
        "nistp384 naming P-256 data",
        statics((c) => {
            c.staticHosts[0].hostKey = `ecdsa-sha2-nistp384 ${ECDSA_DATA}`;
        }),
        ["staticHosts[0].hostKey", "its data is a ecdsa-sha2-nistp256 key"],
    ],
    [
        "truncated base64",
        statics((c) => {
            c.staticHosts[0].hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIQemu";
        }),
        ["staticHosts[0].hostKey", "the field after ssh-ed25519 is not base64 key data"],
    ],
    [
        "not base64 at all",
        ec2((c) => {
            c.ssh.publicKey = "ssh-ed25519 !!!!";
        }),
        ["ssh.publicKey", "is not base64 key data"],
    ],
    [
        "an ed25519 key of 4 bytes",
        statics((c) => {
            c.staticHosts[0].hostKey = `ssh-ed25519 ${SHORT_ED25519}`;
        }),
        ["staticHosts[0].hostKey", "its data is not a whole ed25519 key (a 32-byte public key)"],
    ],
    [
        "base64 that is no key",
        ec2((c) => {
            c.ssh.publicKey = `ssh-ed25519 ${Buffer.from("hello, world").toString("base64")}`;
        }),
        ["ssh.publicKey", "names ssh-ed25519, but its data is not an OpenSSH public key"],
    ],
    [
        "a private key as the operator key",
        ec2((c) => {
            c.ssh.publicKey = FAKE_PRIVATE;
        }),
        ["ssh.publicKey", "is a private key; give the operator's public key"],
    ],
    [
        "a private key as a host key",
        statics((c) => {
            c.staticHosts[0].hostKey = FAKE_PRIVATE;
        }),
        ["staticHosts[0].hostKey", "is a private key"],
    ],
    [
        "a known_hosts line as a host key",
        statics((c) => {
            c.staticHosts[0].hostKey = `rack-1 ${ED25519_HOST}`;
        }),
        [
            "staticHosts[0].hostKey",
            "has a field before the key type (a known_hosts host name or authorized_keys options)",
        ],
    ],
    [
        "a security-key operator key",
        ec2((c) => {
            c.ssh.publicKey = `sk-ssh-ed25519@openssh.com ${ED25519_DATA}`;
        }),
        ["ssh.publicKey", "is a security-key (FIDO) key, which needs a touch at every connection"],
    ],
    [
        "two key lines",
        ec2((c) => {
            c.ssh.publicKey = `${ED25519_HOST}\n${ED25519_OTHER}`;
        }),
        ["ssh.publicKey", "holds more than one line"],
    ],
    [
        "a DSA key",
        ec2((c) => {
            c.ssh.publicKey = "ssh-dss AAAAB3NzaC1kc3M=";
        }),
        ["ssh.publicKey", "one OpenSSH public key line of type ssh-ed25519, ecdsa-sha2-nistp256"],
    ],
    [
        "an ECDSA P-521 host key",
        statics((c) => {
            c.staticHosts[0].hostKey = ECDSA_521;
        }),
        "accepted",
    ],
    [
        "an ed25519 host key without a comment",
        statics((c) => {
            c.staticHosts[0].hostKey = `ssh-ed25519 ${ED25519_DATA}`;
        }),
        "accepted",
    ],

    // Static host addresses.
    [
        "an IPv4 address out of range",
        statics((c) => {
            c.staticHosts[0].address = "192.0.2.300";
        }),
        [
            "staticHosts[0].address",
            '"192.0.2.300" is neither a valid IP address nor a valid host name: ends in an all-digit label',
        ],
    ],
    [
        "an address with white space",
        statics((c) => {
            c.staticHosts[0].address = "rack 1";
        }),
        ["staticHosts[0].address", "contains white space"],
    ],
    [
        "an address starting with '-'",
        statics((c) => {
            c.staticHosts[0].address = "-oProxyCommand=x";
        }),
        ["staticHosts[0].address", "starts with '-', which ssh would read as an option"],
    ],
    [
        "host:22",
        statics((c) => {
            c.staticHosts[0].address = "rack-1:22";
        }),
        ["staticHosts[0].address", 'includes a port; give "rack-1" as the address and set staticHosts[0].port: 22'],
    ],
    [
        "[IPv6]:port",
        statics((c) => {
            c.staticHosts[0].address = "[2001:db8::1]:2222";
        }),
        ["staticHosts[0].address", 'give "2001:db8::1" as the address and set staticHosts[0].port: 2222'],
    ],
    [
        "user@host",
        statics((c) => {
            c.staticHosts[0].address = "builder@rack-1";
        }),
        ["staticHosts[0].address", "has a user in it"],
    ],
    [
        "an underscore in a host name",
        statics((c) => {
            c.staticHosts[0].address = "rack_1.example.com";
        }),
        ["staticHosts[0].address", "its label \"rack_1\" is not letters, digits and '-'"],
    ],
    [
        "two dots in a row",
        statics((c) => {
            c.staticHosts[0].address = "rack..example.com";
        }),
        ["staticHosts[0].address", "has an empty label"],
    ],
    [
        "a label over 63 characters",
        statics((c) => {
            c.staticHosts[0].address = `${"a".repeat(64)}.example.com`;
        }),
        ["staticHosts[0].address", "at most 63 characters"],
    ],
    [
        "a broken IPv6 address",
        statics((c) => {
            c.staticHosts[0].address = "2001:db8::zz";
        }),
        ["staticHosts[0].address", "is not a valid IPv6 address"],
    ],
    [
        "an IPv6 address in brackets",
        statics((c) => {
            c.staticHosts[0].address = "[2001:db8::1]";
        }),
        ["staticHosts[0].address", "give the IPv6 address without them"],
    ],
    [
        "an empty address",
        statics((c) => {
            c.staticHosts[0].address = "";
        }),
        ["staticHosts[0].address", "is empty"],
    ],
    [
        "a fully qualified name with its trailing dot",
        statics((c) => {
            c.staticHosts[0].address = "rack-1.example.com.";
        }),
        "accepted",
    ],
    [
        "an IPv6 address",
        statics((c) => {
            c.staticHosts[0].address = "2001:db8::20";
        }),
        "accepted",
    ],
    [
        "a host name in capitals",
        statics((c) => {
            c.staticHosts[0].address = "RACK-1.Example.COM";
        }),
        "accepted",
    ],
    [
        "two static hosts at one address and port",
        statics((c) => {
            c.staticHosts.push({ ...STATIC, name: "rack-2", hostKey: ED25519_OTHER });
        }),
        [
            "staticHosts[1].address",
            "192.0.2.20 port 22 is also staticHosts[0]: one machine would join the builder twice",
        ],
    ],
    [
        "one host name spelt two ways",
        statics((c) => {
            c.staticHosts = [
                { ...STATIC, address: "rack.example.com" },
                { ...STATIC, name: "rack-2", address: "RACK.example.com." },
            ];
        }),
        ["staticHosts[1].address", "is also staticHosts[0]"],
    ],
    [
        "one IPv6 address spelt two ways",
        statics((c) => {
            c.staticHosts = [
                { ...STATIC, address: "2001:db8::1", port: 2222 },
                { ...STATIC, name: "rack-2", address: "2001:0db8:0:0:0:0:0:1", port: 2222 },
            ];
        }),
        ["staticHosts[1].address", "port 2222 is also staticHosts[0]"],
    ],
    [
        "one address, two ports",
        statics((c) => {
            c.staticHosts.push({ ...STATIC, name: "rack-2", port: 2222 });
        }),
        "accepted",
    ],

    // External registries.
    [
        "a registry port above 65535",
        statics((c) => {
            c.registry.address = "registry.example.com:70000";
        }),
        ["registry.address", 'port "70000" is not a TCP port (1–65535)'],
    ],
    [
        "registry port 0",
        statics((c) => {
            c.registry.address = "registry.example.com:0/team";
        }),
        ["registry.address", 'port "0" is not a TCP port'],
    ],
    [
        "a .. segment",
        statics((c) => {
            c.registry.address = "registry.example.com/../other";
        }),
        ["registry.address", 'has a ".." segment'],
    ],
    [
        "a . segment",
        statics((c) => {
            c.registry.address = "registry.example.com/./team";
        }),
        ["registry.address", 'has a "." segment'],
    ],
    [
        "an underscore in the registry host",
        statics((c) => {
            c.registry.address = "registry_1.example.com";
        }),
        ["registry.address", "is not a registry host[:port]"],
    ],
    [
        "capitals in the namespace",
        statics((c) => {
            c.registry.address = "ghcr.io/Acme";
        }),
        ["registry.address", 'namespace component "Acme" must be lowercase'],
    ],
    [
        "an empty registry address",
        statics((c) => {
            c.registry.address = "";
        }),
        ["registry.address", "is not a registry host[:port]"],
    ],
    [
        "a username with a colon",
        statics((c) => {
            c.registry.username = "ci:hunter2";
        }),
        ["registry.username", "contains ':', which HTTP basic authentication reads as the start of the password"],
    ],
    [
        "a username of spaces",
        statics((c) => {
            c.registry.username = "   ";
        }),
        ["registry.username", "is empty or only spaces"],
    ],
    [
        "a username with a leading space",
        statics((c) => {
            c.registry.username = " ci";
        }),
        ["registry.username", "has spaces at its start or end"],
    ],
    [
        "a registry with port and namespace",
        statics((c) => {
            c.registry.address = "registry.example.com:5000/team";
        }),
        "accepted",
    ],
    [
        "a local registry",
        statics((c) => {
            c.registry.address = "localhost:5000";
        }),
        "accepted",
    ],
    [
        "a registry at an IP address",
        statics((c) => {
            c.registry.address = "127.0.0.1:5000/ci";
        }),
        "accepted",
    ],

    // The builder.
    [
        "builder.name default",
        ec2((c) => {
            c.builder = { name: "default" };
        }),
        ["builder.name", '"default" is the name buildx gives the Docker engine\'s own builder'],
    ],
    [
        "a builder name of its own",
        ec2((c) => {
            c.builder = { name: "ci-fleet" };
        }),
        "accepted",
    ],
    [
        "network=host with EC2 pools",
        ec2((c) => {
            c.builder = { driverOptions: { network: "host" } };
        }),
        [
            "builder.driverOptions.network",
            "is host, which puts every RUN step in the EC2 host's network namespace, where the IMDS hop limit of 1 no longer keeps builds from the instance's credentials",
        ],
    ],
    [
        "network=host on one EC2 pool",
        ec2((c) => {
            c.hosts[0].driverOptions = { network: "host" };
        }),
        ["hosts[0].driverOptions.network", "is host, which puts every RUN step in the EC2 host's network namespace"],
    ],
    [
        "a CPU set and memory limit per pool",
        ec2((c) => {
            c.hosts[0].driverOptions = { "cpuset-cpus": "0-3", memory: "16g" };
        }),
        "accepted",
    ],
    [
        "network=host on a static host of a fleet with EC2 pools",
        ec2((c) => {
            c.staticHosts = [{ ...STATIC, driverOptions: { network: "host" } }];
        }),
        "accepted",
    ],
    [
        "network=host with static hosts only",
        statics((c) => {
            c.builder = { driverOptions: { network: "host" } };
        }),
        "accepted",
    ],
    [
        "an env driver option in upper case",
        ec2((c) => {
            c.builder = { driverOptions: { "env.BUILDKIT_STEP_LOG_MAX_SIZE": "10485760" } };
        }),
        "accepted",
    ],
    [
        "a memory limit",
        ec2((c) => {
            c.builder = { driverOptions: { memory: "8g", "memory-swap": "8g" } };
        }),
        "accepted",
    ],
    // The runner writes the file from JSON (runner/registerBuilders.ts), so no line of it can end a script early.
    [
        "a buildkitd.toml with a line like a here-document delimiter",
        ec2((c) => {
            c.builder = { buildkitdConfig: "delimiter.toml" };
        }),
        "accepted",
    ],
    [
        "a buildkitd.toml with a NUL byte",
        ec2((c) => {
            c.builder = { buildkitdConfig: "nul.toml" };
        }),
        ["builder.buildkitdConfig", "contains NUL bytes"],
    ],
    [
        "a buildkitd.toml in Latin-1",
        ec2((c) => {
            c.builder = { buildkitdConfig: "latin1.toml" };
        }),
        ["builder.buildkitdConfig", "is not valid UTF-8 text"],
    ],
    [
        "a buildkitd.toml with an EOF line",
        ec2((c) => {
            c.builder = { buildkitdConfig: "plain.toml" };
        }),
        "accepted",
    ],

    // Per-platform args and contexts.
    [
        "args for arm64 under two aliases",
        ec2((c) => {
            c.images[0].platformBuildArgs = { "linux/arm64": { A: "1" }, "linux/aarch64": { A: "2" } };
        }),
        [
            "images[0].platformBuildArgs.linux/aarch64",
            '"linux/aarch64" and "linux/arm64" are both linux/arm64, so one set of args would silently replace the other',
        ],
    ],
    [
        "args for amd64 under two aliases",
        ec2((c) => {
            c.images[0].platformBuildArgs = { "linux/x86_64": { A: "1" }, "linux/amd64": { B: "2" } };
        }),
        ["images[0].platformBuildArgs.linux/amd64", "are both linux/amd64"],
    ],
    [
        "args under one alias",
        ec2((c) => {
            c.images[0].platformBuildArgs = { "linux/aarch64": { A: "1" } };
        }),
        "accepted",
    ],
    [
        "an empty context",
        ec2((c) => {
            c.images[0].context = "";
        }),
        [
            "images[0].context",
            "is empty, which would send the whole checkout (.git, node_modules, the stack files) to every build",
        ],
    ],
    [
        "a context of spaces",
        ec2((c) => {
            c.images[0].context = "  ";
        }),
        ["images[0].context", "is empty"],
    ],
    [
        "the project root as the context, said so",
        ec2((c) => {
            c.images[0].context = ".";
        }),
        "accepted",
    ],

    // Build args that carry credentials, by name and by value; public ones pass.
    [
        "githubToken",
        ec2((c) => {
            c.images[0].buildArgs = { githubToken: "x" };
        }),
        [
            "images[0].buildArgs.githubToken",
            "looks like a secret; build args are stored in the image history and cache",
        ],
    ],
    [
        "DB_PASS",
        ec2((c) => {
            c.images[0].buildArgs = { DB_PASS: "x" };
        }),
        ["images[0].buildArgs.DB_PASS", "looks like a secret"],
    ],
    [
        "NPM_AUTH",
        ec2((c) => {
            c.images[0].buildArgs = { NPM_AUTH: "x" };
        }),
        ["images[0].buildArgs.NPM_AUTH", "looks like a secret"],
    ],
    [
        "GH_PAT",
        ec2((c) => {
            c.images[0].buildArgs = { GH_PAT: "x" };
        }),
        ["images[0].buildArgs.GH_PAT", "looks like a secret"],
    ],
    [
        "dbPassword",
        ec2((c) => {
            c.images[0].buildArgs = { dbPassword: "x" };
        }),
        ["images[0].buildArgs.dbPassword", "looks like a secret"],
    ],
    [
        "APIKey",
        ec2((c) => {
            c.images[0].buildArgs = { APIKey: "x" };
        }),
        ["images[0].buildArgs.APIKey", "looks like a secret"],
    ],
    [
        "githubtoken run together",
        ec2((c) => {
            c.images[0].buildArgs = { githubtoken: "x" };
        }),
        ["images[0].buildArgs.githubtoken", "looks like a secret"],
    ],
    [
        "AWS_SECRET_ACCESS_KEY",
        ec2((c) => {
            c.images[0].buildArgs = { AWS_SECRET_ACCESS_KEY: "x" };
        }),
        ["images[0].buildArgs.AWS_SECRET_ACCESS_KEY", "looks like a secret"],
    ],
    [
        "NPM_CREDS",
        ec2((c) => {
            c.images[0].buildArgs = { NPM_CREDS: "x" };
        }),
        ["images[0].buildArgs.NPM_CREDS", "looks like a secret"],
    ],
    [
        "a URL with a password",
        ec2((c) => {
            c.images[0].buildArgs = { REPO_URL: "https://ci:hunter2@git.example.com/repo.git" };
        }),
        [
            "images[0].buildArgs.REPO_URL",
            "has a value that looks like a URL with a password in it (scheme://user:password@)",
        ],
    ],
    [
        "a GitHub token as a value",
        ec2((c) => {
            c.images[0].buildArgs = { SOURCE: GHP };
        }),
        ["images[0].buildArgs.SOURCE", "looks like a GitHub token (ghp_…)"],
    ],
    [
        "a GitLab token as a value",
        ec2((c) => {
            c.images[0].buildArgs = { SOURCE: "glpat-abcdefghij0123456789" };
        }),
        ["images[0].buildArgs.SOURCE", "a GitLab personal access token"],
    ],
    [
        "an AWS access key id as a value",
        ec2((c) => {
            c.images[0].buildArgs = { SOURCE: "AKIAIOSFODNN7EXAMPLE" };
        }),
        ["images[0].buildArgs.SOURCE", "an AWS access key id"],
    ],
    [
        "a Slack token as a value",
        ec2((c) => {
            c.images[0].buildArgs = { HOOK: "xoxb-123456789012-abcdefghij" };
        }),
        ["images[0].buildArgs.HOOK", "a Slack token"],
    ],
    [
        "a token in a per-platform arg",
        ec2((c) => {
            c.images[0].platformBuildArgs = { "linux/arm64": { MIRROR: `https://x:${GHP}@mirror.example.com` } };
        }),
        ["images[0].platformBuildArgs.linux/arm64.MIRROR", "has a value that looks like"],
    ],
    [
        "GPG_KEY",
        ec2((c) => {
            c.images[0].buildArgs = { GPG_KEY: "7169605F62C751356D054A26A821E680E5FA6305" };
        }),
        "accepted",
    ],
    [
        "CACHE_KEY",
        ec2((c) => {
            c.images[0].buildArgs = { CACHE_KEY: "v2" };
        }),
        "accepted",
    ],
    [
        "COSIGN_PUBLIC_KEY",
        ec2((c) => {
            c.images[0].buildArgs = { COSIGN_PUBLIC_KEY: "x" };
        }),
        "accepted",
    ],
    [
        "SIGNING_KEY_ID",
        ec2((c) => {
            c.images[0].buildArgs = { SIGNING_KEY_ID: "0xA821E680E5FA6305" };
        }),
        "accepted",
    ],
    [
        "TOKEN_URL",
        ec2((c) => {
            c.images[0].buildArgs = { TOKEN_URL: "https://auth.example.com/token" };
        }),
        "accepted",
    ],
    [
        "a *_KEY_ID name",
        ec2((c) => {
            c.images[0].buildArgs = { KMS_KEY_ID: "alias/build" };
        }),
        "accepted",
    ],
    [
        "a URL without credentials",
        ec2((c) => {
            c.images[0].buildArgs = { REPO: "https://git.example.com/repo.git" };
        }),
        "accepted",
    ],
    [
        "an SSH URL with only a user",
        ec2((c) => {
            c.images[0].buildArgs = { REPO: "git+ssh://git@github.com/acme/app" };
        }),
        "accepted",
    ],
    [
        "words that contain credential words",
        ec2((c) => {
            c.images[0].buildArgs = { PASSTHROUGH: "1", AUTHOR: "a", MONKEY: "b", BYPASS_CACHE: "1" };
        }),
        "accepted",
    ],

    // SSH CIDRs: public IPv4 at most /16, IPv6 at most /48, private ranges wider, no IPv4-mapped forms.
    [
        "two halves of the Internet",
        ec2((c) => {
            c.ssh.allowedCidrs = ["0.0.0.0/1", "128.0.0.0/1"];
        }),
        ["ssh.allowedCidrs[1]", "is wider than /16"],
    ],
    [
        "the carrier-grade NAT range",
        ec2((c) => {
            c.ssh.allowedCidrs = ["100.64.0.0/10"];
        }),
        ["ssh.allowedCidrs[0]", "public IPv4 ranges may be at most /16"],
    ],
    [
        "a /8 around the private /12",
        ec2((c) => {
            c.ssh.allowedCidrs = ["172.0.0.0/8"];
        }),
        ["ssh.allowedCidrs[0]", "is wider than /16"],
    ],
    [
        "a public /15",
        ec2((c) => {
            c.ssh.allowedCidrs = ["198.50.0.0/15"];
        }),
        ["ssh.allowedCidrs[0]", "is wider than /16"],
    ],
    [
        "all of 10/8",
        ec2((c) => {
            c.ssh.allowedCidrs = ["10.0.0.0/8"];
        }),
        "accepted",
    ],
    [
        "all of 172.16/12",
        ec2((c) => {
            c.ssh.allowedCidrs = ["172.16.0.0/12"];
        }),
        "accepted",
    ],
    [
        "all of 192.168/16",
        ec2((c) => {
            c.ssh.allowedCidrs = ["192.168.0.0/16"];
        }),
        "accepted",
    ],
    [
        "a public /16",
        ec2((c) => {
            c.ssh.allowedCidrs = ["198.51.0.0/16"];
        }),
        "accepted",
    ],
    [
        "an IPv6 /32",
        ec2((c) => {
            c.ssh.allowedCidrs = ["2001:db8::/32"];
        }),
        ["ssh.allowedCidrs[0]", "is wider than /48"],
    ],
    [
        "an IPv6 /48",
        ec2((c) => {
            c.ssh.allowedCidrs = ["2001:db8:1::/48"];
        }),
        "accepted",
    ],
    [
        "a unique local /8",
        ec2((c) => {
            c.ssh.allowedCidrs = ["fd00::/8"];
        }),
        "accepted",
    ],
    [
        "an IPv4-mapped /120",
        ec2((c) => {
            c.ssh.allowedCidrs = ["::ffff:203.0.113.0/120"];
        }),
        [
            "ssh.allowedCidrs[0]",
            "is an IPv4-mapped IPv6 range, which security groups never match against IPv4 traffic; write it as 203.0.113.0/24",
        ],
    ],
    [
        "all IPv4-mapped addresses",
        ec2((c) => {
            c.ssh.allowedCidrs = ["::ffff:0:0/96"];
        }),
        ["ssh.allowedCidrs[0]", "list the IPv4 range instead, at most /16 if public"],
    ],

    // Immutable tags: nothing that moves, nothing under the cache- exclusion.
    immutable(
        "{{branch}} with immutable tags",
        ["main"],
        ["{{branch}}"],
        [
            "images[0].tags[0]",
            '"{{branch}}" moves with every build of the branch, which registry.immutableTags forbids',
        ],
    ),
    immutable(
        "{{major}} with immutable tags",
        ["1"],
        ["{{major}}"],
        ["images[0].tags[0]", "moves with every release of that version line"],
    ),
    immutable(
        "{{major}}.{{minor}} with immutable tags",
        ["v1", "1.4"],
        ["v1", "{{major}}.{{minor}}"],
        ["images[0].tags[1]", "moves with every release"],
    ),
    immutable(
        "a cache- tag with immutable tags",
        ["cache-v1"],
        ["cache-v1"],
        ["images[0].tags[0]", "starts with cache-, which registry.immutableTags leaves mutable for the build cache"],
    ),
    immutable(
        "a template that renders into cache-",
        ["cache-fix-4f6c1e2"],
        ["{{branch}}-{{short_sha}}"],
        ["images[0].tags", 'renders "cache-fix-4f6c1e2", which starts with cache-'],
    ),
    immutable("{{version}} with immutable tags", ["1.4.2"], ["{{version}}"], "accepted"),
    immutable(
        "{{branch}}-{{short_sha}} with immutable tags",
        ["main-4f6c1e2"],
        ["{{branch}}-{{short_sha}}"],
        "accepted",
    ),
    immutable("a version tag with immutable tags", ["v1.2.3"], ["v1.2.3"], "accepted"),
    [
        "{{branch}} with mutable tags",
        ec2((c) => {
            c.images[0].tags = ["main"];
        }),
        "accepted",
        { tagTemplates: { "images[0]": ["{{branch}}"] } },
    ],
    [
        "a cache- tag with mutable tags",
        ec2((c) => {
            c.images[0].tags = ["cache-v1"];
        }),
        "accepted",
    ],
];

describe("stack configurations: accepted, or refused at the key with the fix", () => {
    // Rows of one length: jest reads a callback with more parameters than a row as async (done).
    test.each(cases.map((c): [string, Case] => [c[0], c]))("%s", (_, [, raw, expected, ctx]) => {
        expectOutcome(problemsOf(raw, ctx ?? {}), expected);
    });

    test("the table holds at least 120 cases, bad and good", () => {
        expect(cases.length).toBeGreaterThanOrEqual(120);
        expect(cases.filter((c) => c[2] === "accepted").length).toBeGreaterThanOrEqual(40);
    });
});

describe("messages never echo what they refuse", () => {
    test("a token-shaped build-arg value is named by its kind, not repeated", () => {
        const found = problemsOf(
            ec2((c) => {
                c.images[0].buildArgs = { SOURCE: GHP };
            }),
            {},
        );
        expect(found.map((p) => p.message).join("\n")).not.toContain(GHP.slice(4));
    });

    test("a private key given as a public key is not repeated", () => {
        const found = problemsOf(
            ec2((c) => {
                c.ssh.publicKey = FAKE_PRIVATE;
            }),
            {},
        );
        expect(found.map((p) => p.message).join("\n")).not.toContain("b3BlbnNzaC1rZXkt");
    });
});
