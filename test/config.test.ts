import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { checkCidr } from "../config/cidr";
import { ConfigError, DEFAULT_BINFMT_IMAGE, DEFAULT_BUILDKIT_IMAGE, parseConfig } from "../config/schema";
import { context, makeProject, validConfig } from "./fixtures";
import { ED25519_HOST } from "./keyFixtures";

type Config = Record<string, any>;

let root: string;
beforeAll(() => {
    root = makeProject();
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-outside-"));
    fs.symlinkSync(outside, path.join(root, "escape"));
});

function problems(raw: unknown, ctx = context(root)): string[] {
    try {
        parseConfig(raw, ctx);
    } catch (e) {
        if (e instanceof ConfigError) {
            return e.problems.map((p) => `${p.path}: ${p.message}`);
        }
        throw e;
    }
    return [];
}

function withChange(change: (c: Config) => void): Config {
    const config = validConfig() as Config;
    change(config);
    return config;
}

const STATIC = {
    name: "rack-1",
    address: "192.0.2.20",
    user: "builder",
    platforms: ["linux/arm64"],
    hostKey: ED25519_HOST,
};

describe("a valid config", () => {
    test("parses with every default filled in", () => {
        const parsed = parseConfig(validConfig(), context(root));
        expect(parsed.hosts).toEqual([
            {
                name: "arm",
                instanceType: "c7g.2xlarge",
                arch: "arm64",
                count: 1,
                platforms: ["linux/arm64"],
                emulate: [],
                rootVolumeGiB: 100,
                spot: false,
                driverOptions: {},
            },
            {
                name: "x86",
                instanceType: "c7i.2xlarge",
                arch: "amd64",
                count: 1,
                platforms: ["linux/amd64"],
                emulate: [],
                rootVolumeGiB: 100,
                spot: false,
                driverOptions: {},
            },
        ]);
        expect(parsed.ssh.user).toBe("ec2-user");
        expect(parsed.images[0]).toEqual({
            name: "app",
            context: "app",
            dockerfile: "app/Dockerfile",
            platforms: ["linux/amd64", "linux/arm64"],
            tags: ["latest"],
            buildArgs: {},
            platformBuildArgs: {},
            target: undefined,
            test: undefined,
            secrets: {},
            ssh: [],
            contexts: {},
            dockerfileInline: undefined,
            pull: false,
        });
        expect(parsed.builder).toEqual({
            name: "native-build-fleet-dev",
            buildOnPreview: true,
            buildTimeoutMinutes: 60,
            driverOptions: { image: DEFAULT_BUILDKIT_IMAGE },
            buildkitdConfig: undefined,
            binfmtImage: DEFAULT_BINFMT_IMAGE,
        });
    });

    test("normalises platform aliases and accepts every platform of the tutorial where a pool serves it", () => {
        const parsed = parseConfig(
            withChange((c) => {
                c.hosts[1].platforms = ["linux/x86_64", "linux/386"];
                c.hosts.push({
                    name: "qemu",
                    instanceType: "c7i.xlarge",
                    emulate: ["linux/arm/v7", "linux/ppc64le", "linux/s390x"],
                });
                c.images[0].platforms = [
                    "linux/x86_64",
                    "linux/aarch64",
                    "linux/arm/v7",
                    "linux/ppc64le",
                    "linux/s390x",
                    "linux/386",
                ];
            }),
            context(root),
        );
        expect(parsed.images[0].platforms).toEqual([
            "linux/amd64",
            "linux/arm64",
            "linux/arm/v7",
            "linux/ppc64le",
            "linux/s390x",
            "linux/386",
        ]);
        expect(parsed.hosts[2].platforms).toEqual(["linux/amd64"]);
    });

    test("resolves the Dockerfile relative to its context", () => {
        const parsed = parseConfig(
            withChange((c) => {
                c.images.push({
                    name: "team/worker",
                    context: "./worker/",
                    dockerfile: "Dockerfile.prod",
                    platforms: ["linux/arm64"],
                    tags: ["v1.2.3", "stable"],
                });
            }),
            context(root),
        );
        expect(parsed.images[1]).toMatchObject({
            context: "worker/",
            dockerfile: "worker/Dockerfile.prod",
            tags: ["v1.2.3", "stable"],
        });
    });

    test("accepts a stack of static hosts only, with no AWS settings at all", () => {
        const raw = {
            staticHosts: [
                STATIC,
                {
                    ...STATIC,
                    name: "rack-2",
                    address: "rack-2.example.internal",
                    port: 2222,
                    platforms: ["linux/x86_64"],
                    emulate: ["linux/arm/v7"],
                },
            ],
            registry: { type: "external", address: "registry.example.com", username: "ci" },
            images: [{ name: "app", context: "app", platforms: ["linux/amd64", "linux/arm64", "linux/arm/v7"] }],
        };
        const parsed = parseConfig(raw, context(root, { secretsSet: { sshPrivateKey: true, registryPassword: true } }));
        expect(parsed.hosts).toEqual([]);
        expect(parsed.staticHosts[1]).toEqual({
            name: "rack-2",
            address: "rack-2.example.internal",
            port: 2222,
            user: "builder",
            platforms: ["linux/amd64"],
            emulate: ["linux/arm/v7"],
            hostKey: STATIC.hostKey,
            driverOptions: {},
        });
        expect(parsed.staticHosts[0].port).toBe(22);
    });

    test("folds the BuildKit image into the driver options and resolves the buildkitd config", () => {
        fs.writeFileSync(path.join(root, "buildkitd.toml"), "debug = true\n");
        const parsed = parseConfig(
            withChange((c) => {
                c.builder = {
                    name: "ci-fleet",
                    buildkitImage: "registry.example.com:5000/mirror/buildkit:v0.31.0",
                    driverOptions: { memory: "8g" },
                    buildkitdConfig: "./buildkitd.toml",
                };
            }),
            context(root),
        );
        expect(parsed.builder).toMatchObject({
            name: "ci-fleet",
            driverOptions: { image: "registry.example.com:5000/mirror/buildkit:v0.31.0", memory: "8g" },
            buildkitdConfig: "buildkitd.toml",
        });
    });

    test("keys per-platform build args by the normalised platform", () => {
        const parsed = parseConfig(
            withChange((c) => {
                c.images[0].platformBuildArgs = {
                    "linux/aarch64": { JEMALLOC_LG_PAGE: "16" },
                    "linux/x86_64": { SIMD: "avx2" },
                };
            }),
            context(root),
        );
        expect(parsed.images[0].platformBuildArgs).toEqual({
            "linux/arm64": { JEMALLOC_LG_PAGE: "16" },
            "linux/amd64": { SIMD: "avx2" },
        });
    });

    test("accepts an external registry when its password is set", () => {
        const raw = withChange((c) => {
            c.registry = { type: "external", address: "registry.example.com:5000/team", username: "ci" };
        });
        expect(problems(raw, context(root, { secretsSet: { sshPrivateKey: true, registryPassword: true } }))).toEqual(
            [],
        );
    });
});

describe("a bad config fails before any resource with the key and the fix", () => {
    test.each<[string, (c: Config) => void, string[]]>([
        [
            "unknown top-level key",
            (c) => {
                c.imgaes = [];
            },
            ["imgaes: is not a key of the stack config; did you mean images?"],
        ],
        [
            "unknown nested key",
            (c) => {
                c.hosts[0].instancetype = "x";
            },
            ["hosts[0].instancetype: is not a key of hosts[0]; did you mean instanceType?"],
        ],
        [
            "idle spot pool",
            (c) => {
                c.hosts[0].spot = true;
                c.hosts[0].idleMinutes = 30;
            },
            [
                "hosts[0].idleMinutes: cannot be combined with spot: a one-time spot instance cannot be stopped and started again",
            ],
        ],
        [
            "idle minutes too short",
            (c) => {
                c.hosts[0].idleMinutes = 1;
            },
            ["hosts[0].idleMinutes: must be at least 5 minutes"],
        ],
        [
            "smoke-test expectation without a command",
            (c) => {
                c.images[0].test = { expect: "aarch64" };
            },
            [
                "images[0].test.expect: needs test.command; the default command (uname -m) is checked against each platform's machine name on its own",
            ],
        ],
        [
            "smoke-test expectation with an unknown placeholder",
            (c) => {
                c.images[0].test = { command: ["/app", "-arch"], expect: "{{goarch}}" };
            },
            ["images[0].test.expect: uses {{goarch}}; the expectation knows {{platform}} and {{arch}}"],
        ],
        [
            "smoke test with an empty command",
            (c) => {
                c.images[0].test = { command: [] };
            },
            ["images[0].test.command: must name a program"],
        ],
        [
            "smoke test with a misspelt key",
            (c) => {
                c.images[0].test = { comand: ["true"] };
            },
            ["images[0].test.comand: is not a key of images[0].test; did you mean command?"],
        ],
        [
            "missing ssh with EC2 pools",
            (c) => {
                delete c.ssh;
            },
            ["ssh.publicKey: is required for EC2 pools", "ssh.allowedCidrs: is empty"],
        ],
        [
            "missing images",
            (c) => {
                delete c.images;
            },
            ["images: no image to build: list images, or point compose at a Compose file"],
        ],
        [
            "no hosts at all",
            (c) => {
                c.hosts = [];
            },
            ["hosts: no build hosts: list EC2 pools under hosts, machines you run under staticHosts, or both"],
        ],
        [
            "EC2 pools without a public key",
            (c) => {
                delete c.ssh.publicKey;
            },
            ["ssh.publicKey: is required for EC2 pools"],
        ],
        [
            "static host without a host key",
            (c) => {
                c.staticHosts = [{ ...STATIC, hostKey: "AAAA" }];
            },
            ["staticHosts[0].hostKey: must be the host's public key line"],
        ],
        [
            "static host named like an EC2 host",
            (c) => {
                c.staticHosts = [{ ...STATIC, name: "arm-0" }];
            },
            ['staticHosts[0].name: "arm-0" is also the name of an EC2 host'],
        ],
        [
            "duplicate static hosts",
            (c) => {
                c.staticHosts = [STATIC, STATIC];
            },
            ['staticHosts[1].name: "rack-1" repeats staticHosts[0].name'],
        ],
        [
            "static host port out of range",
            (c) => {
                c.staticHosts = [{ ...STATIC, port: 70000 }];
            },
            ["staticHosts[0].port:"],
        ],
        [
            "static host with a malformed address",
            (c) => {
                c.staticHosts = [{ ...STATIC, address: "ssh://rack" }];
            },
            ['staticHosts[0].address: "ssh://rack" has a scheme; give only the host\'s name or IP address'],
        ],
        [
            "static host without user",
            (c) => {
                c.staticHosts = [{ ...STATIC, user: undefined }];
            },
            ["staticHosts[0].user: is required"],
        ],
        [
            "count below one",
            (c) => {
                c.hosts[0].count = 0;
            },
            ["hosts[0].count: must be at least 1"],
        ],
        [
            "fractional count",
            (c) => {
                c.hosts[0].count = 1.5;
            },
            ["hosts[0].count:"],
        ],
        [
            "duplicate pool names",
            (c) => {
                c.hosts[1].name = "arm";
            },
            ['hosts[1].name: "arm" repeats hosts[0].name'],
        ],
        [
            "uppercase pool name",
            (c) => {
                c.hosts[0].name = "Arm";
            },
            ["hosts[0].name: must be lowercase letters"],
        ],
        [
            "static host name with a dot",
            (c) => {
                c.staticHosts = [{ ...STATIC, name: "rack.1" }];
            },
            ["staticHosts[0].name: must be lowercase letters"],
        ],
        [
            "unknown instance type",
            (c) => {
                c.hosts[0].instanceType = "huge.box";
            },
            ['hosts[0].instanceType: "huge.box" is not an EC2 instance type'],
        ],
        [
            "Graviton asked for amd64",
            (c) => {
                c.hosts[0].platforms = ["linux/amd64"];
            },
            [
                "hosts[0].platforms: c7g.2xlarge is arm64 and cannot build linux/amd64 natively; move linux/amd64 to hosts[0].emulate or use an x86 instance type",
            ],
        ],
        [
            "x86 asked for arm64",
            (c) => {
                c.hosts[1].platforms = ["linux/arm64"];
            },
            ["hosts[1].platforms: c7i.2xlarge is amd64 and cannot build linux/arm64 natively"],
        ],
        [
            "emulating a native platform",
            (c) => {
                c.hosts[1].emulate = ["linux/386"];
            },
            ["hosts[1].emulate: c7i.2xlarge builds linux/386 natively"],
        ],
        [
            "empty pool platforms",
            (c) => {
                c.hosts[0].platforms = [];
            },
            ["hosts[0].platforms: is empty"],
        ],
        [
            "duplicate platforms after aliasing",
            (c) => {
                c.images[0].platforms = ["linux/arm64", "linux/aarch64"];
            },
            ['images[0].platforms[1]: "linux/aarch64" repeats linux/arm64'],
        ],
        [
            "malformed platform",
            (c) => {
                c.images[0].platforms = ["arm64"];
            },
            ['images[0].platforms[0]: "arm64" is not shaped os/arch[/variant]'],
        ],
        [
            "empty image platforms",
            (c) => {
                c.images[0].platforms = [];
            },
            ["images[0].platforms: must list at least one platform"],
        ],
        [
            "platform no pool serves",
            (c) => {
                c.images[0].platforms = ["linux/s390x"];
            },
            [
                "images[0].platforms: no host serves linux/s390x; add a pool or static host whose platforms include it, or list it under one's emulate",
            ],
        ],
        [
            "SSH open to the IPv4 world",
            (c) => {
                c.ssh.allowedCidrs = ["0.0.0.0/0"];
            },
            ['ssh.allowedCidrs[0]: "0.0.0.0/0" opens SSH to the whole Internet'],
        ],
        [
            "SSH open to the IPv6 world",
            (c) => {
                c.ssh.allowedCidrs = ["::/0"];
            },
            ['ssh.allowedCidrs[0]: "::/0" opens SSH to the whole Internet'],
        ],
        [
            "SSH open to half the world",
            (c) => {
                c.ssh.allowedCidrs = ["0.0.0.0/1"];
            },
            ["is wider than /16"],
        ],
        [
            "no SSH CIDRs",
            (c) => {
                c.ssh.allowedCidrs = [];
            },
            ["ssh.allowedCidrs: is empty"],
        ],
        [
            "malformed CIDR",
            (c) => {
                c.ssh.allowedCidrs = ["10.0.0.300/24"];
            },
            ['ssh.allowedCidrs[0]: "10.0.0.300/24" is not a CIDR'],
        ],
        [
            "CIDR with host bits",
            (c) => {
                c.ssh.allowedCidrs = ["10.0.0.1/24"];
            },
            ['"10.0.0.1/24" has host bits set; write it as 10.0.0.0/24'],
        ],
        [
            "bad public key",
            (c) => {
                c.ssh.publicKey = "not a key";
            },
            [
                "ssh.publicKey: must be the operator's public key (such as ~/.ssh/id_ed25519.pub): one OpenSSH public key line",
            ],
        ],
        [
            "missing private key",
            () => undefined,
            ["sshPrivateKey: the private key that logs in to the build hosts is needed"],
        ],
        [
            "uppercase repository",
            (c) => {
                c.images[0].name = "App";
            },
            ['images[0].name: "App" is not a valid repository name'],
        ],
        [
            "repository too long",
            (c) => {
                c.images[0].name = "a".repeat(200);
            },
            ["is too long: with the registry host an image name may have at most 255 characters"],
        ],
        [
            "duplicate image names",
            (c) => {
                c.images.push({ ...c.images[0] });
            },
            ['images[1].name: "app" repeats images[0].name'],
        ],
        [
            "invalid tag",
            (c) => {
                c.images[0].tags = [".hidden"];
            },
            ['images[0].tags[0]: ".hidden" is not a valid tag'],
        ],
        [
            "tag too long with platform suffix",
            (c) => {
                c.images[0].tags = ["v".repeat(120)];
            },
            ["must fit in 128 characters; shorten it to 116"],
        ],
        [
            "duplicate tags",
            (c) => {
                c.images[0].tags = ["v1", "v1"];
            },
            ['images[0].tags[1]: "v1" repeats images[0].tags[0]'],
        ],
        [
            "tag equal to a cache tag",
            (c) => {
                c.images[0].tags = ["cache-linux-amd64"];
            },
            ["collides with a tag this program writes"],
        ],
        [
            "tag equal to a platform tag",
            (c) => {
                c.images[0].tags = ["v1", "v1-linux-arm64"];
            },
            ['images[0].tags[1]: "v1-linux-arm64" collides'],
        ],
        [
            "missing context",
            (c) => {
                c.images[0].context = "nope";
            },
            ['images[0].context: "nope" does not exist in the project'],
        ],
        [
            "missing Dockerfile",
            (c) => {
                c.images[0].dockerfile = "Dockerfile.dev";
            },
            ['images[0].dockerfile: "app/Dockerfile.dev" does not exist'],
        ],
        [
            "context escaping with ..",
            (c) => {
                c.images[0].context = "../elsewhere";
            },
            ["leaves the project directory"],
        ],
        [
            "absolute context",
            (c) => {
                c.images[0].context = "/etc";
            },
            ['images[0].context: "/etc" is absolute'],
        ],
        [
            "context symlinked out",
            (c) => {
                c.images[0].context = "escape";
            },
            ['images[0].context: "escape" is a symlink to'],
        ],
        [
            "Dockerfile escaping the project",
            (c) => {
                c.images[0].dockerfile = "../../etc/passwd";
            },
            ["images[0].dockerfile:", "leaves the project directory"],
        ],
        [
            "secret-looking build arg",
            (c) => {
                c.images[0].buildArgs = { NPM_TOKEN: "x" };
            },
            ["images[0].buildArgs.NPM_TOKEN: looks like a secret", "build secret"],
        ],
        [
            "API key build arg",
            (c) => {
                c.images[0].buildArgs = { API_KEY: "x" };
            },
            ["images[0].buildArgs.API_KEY: looks like a secret"],
        ],
        [
            "per-platform args for a platform the image lacks",
            (c) => {
                c.images[0].platformBuildArgs = { "linux/s390x": { A: "1" } };
            },
            [
                "images[0].platformBuildArgs.linux/s390x: linux/s390x is not one of this image's platforms (linux/amd64, linux/arm64)",
            ],
        ],
        [
            "secret-looking per-platform arg",
            (c) => {
                c.images[0].platformBuildArgs = { "linux/arm64": { SIGNING_KEY: "x" } };
            },
            ["images[0].platformBuildArgs.linux/arm64.SIGNING_KEY: looks like a secret"],
        ],
        [
            "invalid build-arg name",
            (c) => {
                c.images[0].buildArgs = { "1BAD": "x" };
            },
            ["images[0].buildArgs.1BAD: is not a valid build-arg name"],
        ],
        [
            "vpc without subnets",
            (c) => {
                c.network = { vpcId: "vpc-0123abcd" };
            },
            ["network.subnetIds: is empty while network.vpcId is set"],
        ],
        [
            "external registry without password",
            (c) => {
                c.registry = { type: "external", address: "ghcr.io/acme", username: "ci" };
            },
            ["registryPassword: the external registry needs its password"],
        ],
        [
            "external registry with a scheme",
            (c) => {
                c.registry = { type: "external", address: "https://ghcr.io", username: "ci" };
            },
            ['registry.address: "https://ghcr.io" has a scheme; give host[:port][/namespace] without it'],
        ],
        [
            "unknown registry type",
            (c) => {
                c.registry = { type: "gcr" };
            },
            ["registry.type:"],
        ],
        [
            "latest with immutable tags",
            (c) => {
                c.registry = { type: "ecr", immutableTags: true };
            },
            ['images[0].tags[0]: "latest" moves with every build, which registry.immutableTags forbids'],
        ],
        [
            "lifecycle of zero days",
            (c) => {
                c.registry = { type: "ecr", untaggedExpiryDays: 0 };
            },
            ["registry.untaggedExpiryDays: must be at least 1 day"],
        ],
        [
            "BuildKit image set twice",
            (c) => {
                c.builder = {
                    buildkitImage: "moby/buildkit:v0.31.0",
                    driverOptions: { image: "moby/buildkit:v0.30.0" },
                };
            },
            ["builder.driverOptions.image: repeats builder.buildkitImage"],
        ],
        [
            "BuildKit image with a scheme",
            (c) => {
                c.builder = { buildkitImage: "https://registry.example.com/buildkit" };
            },
            ["builder.buildkitImage: must be an image reference"],
        ],
        [
            "driver option with a comma",
            (c) => {
                c.builder = { driverOptions: { network: "host,evil=1" } };
            },
            ["builder.driverOptions.network: must not contain commas"],
        ],
        [
            "missing buildkitd config",
            (c) => {
                c.builder = { buildkitdConfig: "missing.toml" };
            },
            ['builder.buildkitdConfig: "missing.toml" does not exist in the project'],
        ],
    ])("%s", (_, change, expected) => {
        const ctx = context(root, {
            secretsSet: { sshPrivateKey: _ !== "missing private key", registryPassword: false },
        });
        const found = problems(withChange(change), ctx).join("\n");
        for (const text of expected) {
            expect(found).toContain(text);
        }
    });

    test("lists every problem at once in one error", () => {
        const raw = withChange((c) => {
            c.ssh.allowedCidrs = ["0.0.0.0/0"];
            c.images[0].buildArgs = { GITHUB_TOKEN: "x" };
            c.images[0].platforms = ["linux/s390x"];
        });
        expect(() => parseConfig(raw, context(root))).toThrow(ConfigError);
        const message = (() => {
            try {
                parseConfig(raw, context(root));
                return "";
            } catch (e) {
                return (e as Error).message;
            }
        })();
        expect(message).toMatch(/^native-build-fleet: the stack configuration has 3 problems; nothing was created:/);
        expect(message).toContain("ssh.allowedCidrs[0]");
        expect(message).toContain("images[0].buildArgs.GITHUB_TOKEN");
        expect(message).toContain("images[0].platforms");
    });
});

describe("checkCidr", () => {
    test.each(["203.0.113.0/24", "198.51.100.7/32", "10.0.0.0/8", "2001:db8::/48", "2001:db8::1/128"])(
        "accepts %s",
        (cidr) => {
            expect(checkCidr(cidr)).toBeUndefined();
        },
    );

    test.each([
        ["2001:db8::1/48", "host bits"],
        ["2001:0db8::/48", "not written canonically; write it as 2001:db8::/48"],
        ["::/8", "wider than /48"],
        ["10.0.0.0/33", "is not a CIDR"],
    ])("refuses %s", (cidr, reason) => {
        expect(checkCidr(cidr)).toContain(reason);
    });
});
