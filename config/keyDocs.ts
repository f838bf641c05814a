// The configuration reference's words: each config key's meaning, and its default where the
// schema (config/schema.ts) applies none itself. Keys, types and schema defaults come from the
// schema; config/configReference.ts joins the two into docs/configuration.md and refuses a key
// one side has and the other lacks. Edit here, then run `npm run docs:config`.

import { DEFAULT_BUILDKIT_IMAGE, DEFAULT_DOCKERFILE, DEFAULT_SMOKE_TEST_COMMAND } from "./schema";
import { CAPS, MAX_ARG_STRLEN } from "./sizes";

// Values the code decides are written here from the constants it uses, never retyped.
const code = (text: string) => `\`${text}\``;
const BUILDKIT_VERSION = DEFAULT_BUILDKIT_IMAGE.replace(/^[^:]*:([^@]*)@.*$/, "$1");

export interface KeyDoc {
    /** Markdown, one table cell: what the key does, its rules, and links to the docs that say more. */
    description: string;
    /** The Default column, only for a key the schema gives no default (a later step decides it). */
    default?: string;
    /** Said after the schema's own default, for a key a cross-field rule may require anyway. */
    defaultNote?: string;
    /** The Type column, only for a key the schema does not read (the secrets). */
    type?: string;
}

/** Before the table. */
export const REFERENCE_INTRO = `
All keys are in the project's namespace (\`native-build-fleet:\`). Set structured values in the
stack file or with \`pulumi config set --path\`. With \`--path\`, \`true\`/\`false\` become booleans and
integers numbers; add \`--type string\` for a value that must stay a string, such as a tag \`2\` or a
build arg \`4\` (\`pulumi config set --path 'images[0].tags[0]' --type string 2\`). In the stack file,
quote such values: YAML reads an unquoted \`1.10\` as the number 1.1.
`;

/** After the table. */
export const REFERENCE_NOTES = `
Unknown keys anywhere are refused, so a typo never silently falls back to a default; the message
names the full key path, the closest key it knows (\`hosts[0].instancetype: … did you mean
instanceType?\`) and the keys that map takes. A value of the wrong type says what was expected and
what was found. \`aws:region\` (or \`AWS_REGION\`/\`AWS_DEFAULT_REGION\`) must be a region name such as
\`eu-west-1\`; it reaches command lines (the SSM \`ProxyCommand\`), so anything else is refused.

Fleet-wide totals have caps far above a real fleet, so a slip (a count of 1000) fails here rather
than in AWS quotas or a 1000-node builder: at most ${CAPS.buildHosts} build hosts in all (pool counts plus static
hosts), ${CAPS.images} images, and ${CAPS.tagsPerImage} tags per image (each tag is an index written and read back on every change).

A \`{{branch}}\` tag template (see [Tags from git](build-inputs.md#tags-from-git)) too long for a tag (a dependabot branch, say) is
shortened to fit, with \`<tag>-<platform>\` within 128 characters: the start of the branch name, \`-\`,
and the first 8 hex digits of the SHA-256 of the whole name, so a branch always gets the same tag
and two long branches never share one.
`;

/** Every key, in the reference's order: each section's key, then its members. */
export const KEY_DOCS: Record<string, KeyDoc> = {
    "hosts": {
        description: "EC2 host pools, see below. At least one host overall (`hosts` or `staticHosts`).",
    },
    "hosts[].name": {
        description: "Pool name: lowercase letters, digits, `-`; unique. Hosts are `<name>-<index>`.",
    },
    "hosts[].instanceType": {
        description:
            "EC2 instance type, hyphenated families included (`m7i-flex.large`, `u-6tb1.metal`, `u7i-12tb.224xlarge`, `p6-b200.48xlarge`). The architecture comes from it: a `g` after the generation digit (c7g, m7gd, c7gn, im4gn, r8g), `a1`, or a Grace part (`p6e-gb200`) is arm64, anything else x86-64. Mac types (`mac2.metal`, `mac-m4.metal`) are refused: they run macOS, not Linux.",
    },
    "hosts[].count": {
        description: "Hosts in the pool (1–100).",
    },
    "hosts[].platforms": {
        default: "the native platform",
        description:
            "Platforms the pool builds natively. x86 pools may list `linux/amd64` (and `/v2`–`/v4`) and `linux/386`; Graviton pools `linux/arm64`. Anything else is refused with the fix. `linux/amd64/v4` needs AVX-512, so it is refused on families without it: AMD before Zen 4 (`c6a`, `m5a`, `t3a`, `g5`, `g6`, `p5`, …) and Intel before Skylake (`m4`, `c4`, `t2`, …).",
    },
    "hosts[].emulate": {
        description:
            "Platforms this pool builds under QEMU. Only these pools get binfmt handlers; native pools never do, so buildx cannot route a foreign platform to them.",
    },
    "hosts[].rootVolumeGiB": {
        description: "Encrypted gp3 root volume size (20–16384).",
    },
    "hosts[].spot": {
        description: "Run the pool on spot capacity (one-time requests, terminated on interruption).",
    },
    "hosts[].driverOptions": {
        description:
            "`docker-container` driver options for this pool's nodes, over `builder.driverOptions` (`cpuset-cpus`, `memory`, `network` per pool), with the same rules. A change restarts the pool's BuildKit containers.",
    },
    "hosts[].idleMinutes": {
        default: "off",
        description:
            'Hosts power themselves off after this many minutes (5–1440) without a build; the next `pulumi up` starts them, see "Idle hosts" under [Design choices](architecture.md#design-choices). Not with `spot`. Needs the AWS CLI on the machine running Pulumi. With any idle pool, previews build nothing.',
    },
    "staticHosts": {
        description:
            "Machines you already run (on-prem Arm servers, existing VMs), see [Static hosts](hosts.md#static-hosts).",
    },
    "staticHosts[].name": {
        description:
            "Host name: lowercase letters, digits, `-`; unique, and not the name of an EC2 host (`<pool>-<index>`).",
    },
    "staticHosts[].address": {
        description:
            "Host name (a trailing dot is fine) or IP address, without scheme, user or port (`host:22` is refused: use `port`). Not starting with `-`; no `%` (an IPv6 zone id such as `fe80::1%eth0` is refused: ssh reads `%` as a token, and a link-local address names a link of this machine). No two static hosts may share an address and port, however spelt: `192.0.2.20`, `::ffff:192.0.2.20` and `::ffff:c000:214` are one machine, as are `localhost` and `127.0.0.1`, and host names compare without case or trailing dot.",
    },
    "staticHosts[].port": {
        description: "SSH port (1–65535).",
    },
    "staticHosts[].user": {
        description:
            "Login user; must be able to use Docker (docker group). Letters (capitals too: Linux and OpenSSH take them), digits, `_`, `-`, starting with a letter or `_`, at most 32 characters.",
    },
    "staticHosts[].platforms": {
        description: "Platforms the host builds natively, as you declare them.",
    },
    "staticHosts[].emulate": {
        description: "Platforms it builds under QEMU (register the handlers yourself).",
    },
    "staticHosts[].driverOptions": {
        description:
            "`docker-container` driver options for this host's node, over `builder.driverOptions`, with the same rules.",
    },
    "staticHosts[].hostKey": {
        description:
            "The host's public key line, as in its `/etc/ssh/ssh_host_ed25519_key.pub`. It is pinned; the host must present exactly this key. The key data is decoded: it must be a whole key of the type the line names.",
    },
    "ssh": {
        description: "How SSH reaches the EC2 hosts and who may log in; each key below has its own default.",
    },
    "ssh.access": {
        description: "How SSH reaches the EC2 hosts, see [SSH access](hosts.md#ssh-access).",
    },
    "ssh.user": {
        description:
            "Login user on the EC2 hosts; created if the AMI lacks it, and it joins the docker group. Not `root` (the hosts' sshd refuses it) nor a system account (`bin`, `nobody`, `systemd-*`, …).",
    },
    "ssh.publicKey": {
        default: "required with `hosts`",
        description:
            "The operator's OpenSSH public key line (`ssh-ed25519`, `ecdsa-sha2-nistp256`/`384`/`521`, or `ssh-rsa` of at least 2048 bits), the only key that may log in. The key data is decoded and must be a whole key of the named type; a private key, a known_hosts line or a security-key (`sk-`) key is refused.",
    },
    "ssh.allowedCidrs": {
        defaultNote: "required with `hosts` in `cidr` mode, refused in `ssm` mode",
        description:
            "CIDRs allowed to reach port 22, canonical form. Public ranges may be at most /16 (IPv4) or /48 (IPv6); private ranges (RFC 1918 `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`, and IPv6 unique local `fc00::/7`) may be wider. IPv4-mapped IPv6 forms (`::ffff:…`) are refused: security groups never match them against IPv4 traffic.",
    },
    "sshPrivateKey": {
        default: "required",
        description:
            "The private key that logs in to every build host (the one matching `ssh.publicKey`, and authorized on the static hosts). Must be set with `--secret`; a plain-text value is refused.",
    },
    "network": {
        description: "Where the EC2 hosts run; each key below has its own default.",
    },
    "network.vpcId": {
        default: "default VPC",
        description: "VPC for the hosts; requires `subnetIds`.",
    },
    "network.subnetIds": {
        defaultNote: "the default subnet",
        description: "Subnets hosts are spread over (round robin); requires `vpcId`.",
    },
    "registry": {
        description:
            "Where images and their caches are pushed: `{ type: ecr, … }` or `{ type: external, … }`. Required: Pulumi.yaml gives it no default.",
    },
    "registry.type": {
        description:
            "`ecr`: one repository per image, created by the program (scan on push, AES-256). `external`: a registry you run.",
    },
    "registry.immutableTags": {
        description:
            "ECR only: release tags can never be overwritten (`IMMUTABLE_WITH_EXCLUSION`); the `cache-*` tags stay writable. Tags that move are then refused: `latest` and `{{branch}}` move with every build, `{{major}}` and `{{major}}.{{minor}}` with every release (a template with `{{sha}}`, `{{short_sha}}`, `{{version}}` or `{{patch}}` is fine, such as `{{branch}}-{{short_sha}}`). So is any tag starting with `cache-`, which the exclusion would leave mutable.",
    },
    "registry.untaggedExpiryDays": {
        description:
            'ECR only: a lifecycle policy expires untagged images (superseded cache manifests, images whose tag moved on) after this many days (1–3650). Everything a stack exports is tagged and never expires, nor do its signatures and attestations: the sign step lists them under their subject\'s `sha256-<hex>` tag ("Signatures outlive what they sign" under [Design choices](architecture.md#design-choices)).',
    },
    "registry.address": {
        description:
            "External only: `host[:port][/namespace]`, no scheme; the port 1–65535, no `.` or `..` segments. Images go to `<address>/<name>`.",
    },
    "registry.username": {
        description:
            "External only; not blank, no spaces around it, no `:` (basic authentication reads it as the start of the password).",
    },
    "registryPassword": {
        default: "—",
        description: "External only: password or token, set with `--secret`.",
    },
    "images": {
        description: `Images to build, see below. At least one image overall (\`images\` or \`compose\`), at most ${CAPS.images} in all.`,
    },
    "compose": {
        description:
            "A Compose file in the project, read through the Compose CLI exactly as `docker compose build` reads it (`docker compose -f <file> config`, run from the project root with this machine's environment: interpolation with `.env`, merge keys, `extends`, profiles via `COMPOSE_PROFILES`). Every service with a `build` section becomes an image; see [Build secrets, SSH, named contexts](build-inputs.md#build-secrets-ssh-named-contexts) for the build keys honoured and refused. Needs Compose v2 or later (`docker compose`, or a standalone `docker-compose` v2+); without it the key is refused before anything is created. Errors name the file, service and key as the Compose file spells them, as `compose(docker-compose.yml).services.web.build.args.MODE` or `compose(docker-compose.yml).secrets.npmrc.file`, never the stack key a service became. An unset `${VAR}` is refused (Compose would read it as an empty string; export it or write `${VAR:-default}`), and so is a file whose build services are all behind profiles that are not active (set `COMPOSE_PROFILES`).",
    },
    "images[].name": {
        description:
            "Repository name (OCI distribution rules; at most 255 characters with the registry host), without a registry host (`ghcr.io/acme/app`, `<account>.dkr.ecr.<region>.amazonaws.com/app` are refused: the registry comes from `registry`); unique, also after `/` becomes `-` in resource names (`team/web` and `team-web` cannot both be used).",
    },
    "images[].context": {
        description:
            'Build context, relative to the project root; must exist and stay inside the project (no `..`, no absolute path, no symlink out, no URL). `""` is refused because it would send the whole checkout; write `.` if the project root really is the context.',
    },
    "images[].dockerfile": {
        default: code(DEFAULT_DOCKERFILE),
        description: "Relative to the context; must exist inside the project.",
    },
    "images[].platforms": {
        description:
            "Platforms to build, each served by some pool. Aliases are folded (`linux/aarch64` and `linux/arm64/v8` are `linux/arm64`, `linux/x86_64` is `linux/amd64`, `linux/arm` is `linux/arm/v7`); duplicates after folding are refused. Accepted: `linux/amd64`, `linux/arm64`, `linux/arm/v7`, `linux/arm/v6`, `linux/ppc64le`, `linux/s390x`, `linux/386`, `linux/riscv64`, `linux/mips64le`, `linux/loong64`.",
    },
    "images[].tags": {
        description: `Index tags (at most ${CAPS.tagsPerImage}; OCI tag rules; short enough that \`<tag>-<platform>\` fits 128 characters; not a cache tag \`cache-<platform>\` or another tag's platform tag, and with \`registry.immutableTags\` nothing starting with \`cache-\`). Tags may be templates, see [Tags from git](build-inputs.md#tags-from-git). Values must be strings: quote \`"1.10"\` in YAML.`,
    },
    "images[].buildArgs": {
        description:
            "Build args (string values). Build args land in image history and cache, so what looks like a credential is refused; use build secrets. By name, in any case style: a word such as token, secret, password, passwd, pass, pwd, key, apikey, auth, cred(s), credential(s), pat, jwt (`NPM_TOKEN`, `githubToken`, `DB_PASS`, `NPM_AUTH`, `GH_PAT`, `githubtoken`). By value: a URL with a password (`scheme://user:pass@`) or a token of a known shape (`ghp_…`, `github_pat_…`, `glpat-…`, `AKIA…`, `xoxb-…`, `npm_…`, a JWT, a private key). Accepted as public by convention: `GPG_KEY`, `CACHE_KEY`, `*_PUBLIC_KEY`, `*_KEY_ID`, and names where the word is described rather than held (`TOKEN_URL`, `AUTH_DOMAIN`).",
    },
    "images[].platformBuildArgs": {
        description:
            "Build args for one platform only, keyed by one of the image's platforms (aliases folded; two aliases of one platform are refused), applied over `buildArgs` — the tutorial's jemalloc page size or NEON flags for `linux/arm64`, say. Same rules as `buildArgs`.",
    },
    "images[].target": {
        description: "Dockerfile stage to build.",
    },
    "images[].pools": {
        default: "every pool",
        description:
            "Pool names (`hosts[].name`) or static host names the image's builds may use, such as a pool of bigger machines for a heavy image. For each platform, those of them that serve it; a platform none of them serves is refused, naming the key. See [How builds are spread](spreading.md#how-builds-are-spread).",
    },
    "images[].secrets": {
        description:
            "Build secrets for `RUN --mount=type=secret,id=<id>`, keyed by id (letters, digits, `_`, `.`, `-`). Each value names one source: `{ config: <key> }`, a config key of this stack that must be stored with `--secret` (a plain-text value is refused); `{ env: <VAR> }`, an environment variable of the machine running Pulumi, which must be set; or `{ file: <path> }`, a plain file on that machine (relative to the project root or absolute), inside the project unless the source says `outsideProject: true`. Sources that would hand a build the runner's own credentials or odd files are refused, see [Build secrets, SSH, named contexts](build-inputs.md#build-secrets-ssh-named-contexts). Values stay Pulumi secrets.",
    },
    "images[].secrets.<id>.config": {
        description:
            "A config key of this stack holding the secret, stored with `--secret` (a plain-text value is refused); not one of the program's own keys (the fleet's credentials `sshPrivateKey`, `registryPassword`, `signingKey`, `signingKeyPassword`, or a key such as `images` or `builder`). See [What a source may not be](build-inputs.md#build-secrets-ssh-named-contexts).",
    },
    "images[].secrets.<id>.env": {
        description:
            "An environment variable of the machine running Pulumi, which must be set; not one that authenticates the runner itself (`AWS_*`, `PULUMI_*`, `ACTIONS_*`, `CI_JOB_*`, `CI_REPOSITORY_*`, `COSIGN_*`, `*OIDC*`, `GITHUB_TOKEN`, `SSH_AUTH_SOCK`, …), nor one whose value holds such a credential or a URL with a password; see [What a source may not be](build-inputs.md#build-secrets-ssh-named-contexts).",
    },
    "images[].secrets.<id>.file": {
        description:
            "A plain file on the machine running Pulumi, relative to the project root or absolute, inside the project unless `outsideProject` is `true`. Nothing in `/proc`, `/sys` or `/dev` (directly or through a symlink), and no FIFO, socket, device or directory.",
    },
    "images[].secrets.<id>.outsideProject": {
        description:
            "With `file`: `true` lets this one source read a file outside the project (`{ file: /etc/ci/npmrc, outsideProject: true }`); the opt-in is per source, so sharing one file never opens the rest of the machine.",
    },
    "images[].ssh": {
        description:
            "SSH forwarding for `RUN --mount=type=ssh[,id=<id>]`: `{ id: default }` forwards this machine's agent (`SSH_AUTH_SOCK` must be set); `{ id: <id>, paths: [<key or socket>] }` forwards those keys instead (each must be a private key file or an agent socket, not the fleet's own key; no `~`; `paths: []` is refused). Ids are unique.",
    },
    "images[].ssh[].id": {
        description:
            "The id `RUN --mount=type=ssh,id=<id>` names (letters, digits, `_`, `.`, `-`); `default` without `paths` forwards the agent of the machine running Pulumi. Unique within the image.",
    },
    "images[].ssh[].paths": {
        description:
            "Forward these instead of the agent: each an SSH private key file (`-----BEGIN … PRIVATE KEY-----`) or an agent socket; no `~`; `/proc`, `/sys`, `/dev`, directories and FIFOs are refused, and so is a file holding the fleet's own `sshPrivateKey`. `paths: []` is refused.",
    },
    "images[].contexts": {
        description:
            "Named build contexts for `FROM <name>` and `COPY --from=<name>`: a directory with the same rules as `context`, or `docker-image://<image reference>`.",
    },
    "images[].dockerfileInline": {
        description:
            "The Dockerfile as text; then `dockerfile` must not be set and no Dockerfile is read. With `signing`, the sign step carries it whole for the provenance, and its spec (this text, the build args, the test command and the tags) must fit one environment variable (128 KiB, Linux's `MAX_ARG_STRLEN`); a larger one is refused before anything is built, naming the key that weighs most.",
    },
    "images[].pull": {
        description:
            "Always look for newer base images. With it, every `pulumi up` rebuilds the image (see [Build secrets, SSH, named contexts](build-inputs.md#build-secrets-ssh-named-contexts)).",
    },
    "images[].test": {
        default: "none",
        description: `A smoke test run from every platform image on the node that builds that platform, see [Smoke tests](build-inputs.md#smoke-tests). \`{}\` runs the default (${code(DEFAULT_SMOKE_TEST_COMMAND.join(" "))}, checked against the platform's machine name).`,
    },
    "images[].test.command": {
        default: code(`[${DEFAULT_SMOKE_TEST_COMMAND.map((word) => JSON.stringify(word)).join(", ")}]`),
        description: `Program and arguments, run in exec form (no shell needed in the image). With \`expect\`, short enough that the smoke test's spec for all the image's platforms fits one environment variable (${MAX_ARG_STRLEN / 1024} KiB, Linux's \`MAX_ARG_STRLEN\`), and with \`signing\` so does the sign step's; a longer one is refused before anything is built.`,
    },
    "images[].test.expect": {
        description:
            "Text the command's output must contain; needs `command`. `{{platform}}` and `{{arch}}` are filled in per platform (`linux/arm/v7`, `arm`). Without it a custom command passes on exit status 0.",
    },
    "builder": {
        description: "The stack's buildx builder and its BuildKit nodes; each key below has its own default.",
    },
    "builder.name": {
        default: "`<project>-<stack>`",
        description:
            "Name of the stack's buildx builder; each host's own builder is `<name>-<host>`. `default` and any builder this stack did not create on the machine are refused at run time, so nothing of anyone else's is changed or removed.",
    },
    "builder.buildOnPreview": {
        description: "Build changed images during `pulumi preview` (reading, never writing, the cache).",
    },
    "builder.buildTimeoutMinutes": {
        description: "How long one platform build may run before Pulumi fails it (1–1440).",
    },
    "builder.buildSlots": {
        default: "none (no limit)",
        description:
            "The most solves of this stack one host runs at once (1–64); each platform image and the cache-only build beside it count one each. Further builds for the host wait, through Pulumi dependencies, until one of its builds ends; see [How builds are spread](spreading.md#how-builds-are-spread). Set `4` when many images go to few hosts: unbounded, sshd began dropping connections and cold ups failed ([measured](benchmarks.md#many-images-on-few-hosts-npm-run-benchslots)).",
    },
    "builder.buildkitImage": {
        default: code(DEFAULT_BUILDKIT_IMAGE),
        description: `BuildKit image for the nodes (\`--driver-opt image=\`), pinned by digest by default (${BUILDKIT_VERSION} verifies blob digests before caching). The digest is the one many independent public projects pin for ${BUILDKIT_VERSION}; no registry was reachable here to read it first-hand. A \`driverOptions.image\` of a pool or static host follows the same rule.`,
    },
    "builder.driverOptions": {
        description:
            "Further `docker-container` driver options for every node, such as `memory: 8g` or `env.BUILDKIT_STEP_LOG_MAX_SIZE: \"10485760\"`. Only the options buildx v0.35.0's driver knows (its `driver/docker-container/factory.go`), each with a value of its shape: `network` (a network name), `image` (an image reference), `memory`/`memory-swap` (`4g`, `512m`; swap also `-1`), `cpu-period`/`cpu-quota`/`cpu-shares` (whole numbers), `cpuset-cpus`/`cpuset-mems` (`0-3`), `cgroup-parent` (a path), `restart-policy` (`no`, `always`, `unless-stopped`, `on-failure[:N]`), `default-load`/`provenance-add-gha` (`true`/`false`), `env.<VARIABLE>`; anything else would fail `buildx create` after the hosts exist, so it is refused with the list. `network: host` is refused while the stack has EC2 pools: it puts every `RUN` step in the host's network namespace, where the IMDS hop limit of 1 no longer keeps builds from the instance's credentials; stacks of static hosts only may use it.",
    },
    "builder.buildkitdConfig": {
        description:
            "A `buildkitd.toml` in the project (registry mirrors, CAs) given to every node. UTF-8 text without NUL bytes.",
    },
    "builder.binfmtImage": {
        description:
            "Image that registers QEMU handlers on emulating pools, pinned by digest by default (the digest as public projects pin it; not read from Docker Hub here).",
    },
    "signing": {
        default: "none",
        description:
            "Sign every exported index and attest SLSA v1 provenance and an SPDX SBOM on every platform image with cosign, see [Verifiable releases](signing.md#verifiable-releases). Absent: images are pushed unsigned, and every run warns so.",
    },
    "signing.mode": {
        description: "Where the signing key comes from.",
    },
    "signing.publicKey": {
        description:
            "`key` only: the cosign public key in PEM form (`cosign.pub`). The private key must be its other half; the sign step checks that and fails naming both keys.",
    },
    "signing.key": {
        description:
            "`kms` only: an AWS KMS key URI, `awskms:///arn:aws:kms:<region>:<account>:key/<id>`, `awskms:///alias/<name>`, `awskms:///<key id>` (an endpoint may follow `awskms://`). The machine running Pulumi needs `kms:Sign` and `kms:GetPublicKey` on it.",
    },
    "signing.identity": {
        description:
            "`keyless` only, or `identityRegexp`: the one certificate identity verifiers must expect: the workflow, `https://github.com/<org>/<repo>/.github/workflows/<file>@refs/heads/main`, or on GitLab `https://gitlab.com/<group>/<project>//.gitlab-ci.yml@refs/heads/main`. Fulcio certifies each run with its own ref, so a stack that `up`s from main **and** v* tags needs `identityRegexp`.",
    },
    "signing.identityRegexp": {
        description:
            "`keyless` only, instead of `identity`: a pattern every signing run's identity matches, in RE2 syntax (https://github.com/google/re2/wiki/Syntax), which cosign's Go regexp reads and the sign step reads with re2js, a JavaScript port of the same engine, so `[[:alpha:]]`, `\\Q..\\E`, `(?i)` and the like mean the same on both sides; anchored with `^` (or `\\A`) first and `$` (or `\\z`) last, not under the `m` flag, and with no `\\|` outside a group (else it would match inside a longer identity). What RE2 refuses (look-arounds, back-references, atomic groups, possessive repetitions) is refused with RE2's message, and `\\p` may name only general categories (`\\pL`, `\\p{Lu}`, `\\p{Nd}` …), as script and property names differ between Go releases and re2js; exported as `certificateIdentityRegexp` and verified with `--certificate-identity-regexp`. For the shipped pipelines: `^https://github\\.com/<org>/<repo>/\\.github/workflows/fleet\\.yml@refs/(heads/main\\|tags/v[^/]+)$`, or `^https://gitlab\\.com/<group>/<project>//\\.gitlab-ci\\.yml@refs/(heads/main\\|tags/v[^/]+)$` (see [CI pipelines](previews-and-ci.md#ci-pipelines)). The sign step refuses, before signing, a run whose identity the pattern (or `identity`) does not accept.",
    },
    "signing.issuer": {
        description:
            "`keyless` only: the OIDC issuer, `https://token.actions.githubusercontent.com` or `https://gitlab.com`.",
    },
    "signing.transparencyLog": {
        description:
            "`key` and `kms` only: record signatures in Sigstore's public Rekor log. `false` signs without any Sigstore service, for registries and verifiers that cannot reach it (the acceptance run does); verifiers then pass `--insecure-ignore-tlog=true` and a trusted root, as the exported commands do. Keyless always uses Rekor.",
    },
    "signingKey": {
        default: "—",
        description:
            "`signing.mode` key: cosign's encrypted private key, `pulumi config set --secret signingKey < cosign.key`.",
    },
    "signingKeyPassword": {
        default: "—",
        description:
            "`signing.mode` key: its password, set with `--secret`. Only cosign sees it, in `COSIGN_PASSWORD`.",
    },
};
