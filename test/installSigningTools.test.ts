// scripts/install-signing-tools.sh, run for real against a stub go: cosign and syft are built
// at their pinned versions from modules whose hash is the pinned one, with every dependency
// checked against go.sum, or nothing is built.

import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const script = path.join(__dirname, "..", "scripts", "install-signing-tools.sh");
const PINNED: Record<string, { module: string; version: string; sum: string }> = {};
for (const m of fs.readFileSync(script, "utf8").matchAll(/^\s+"(\w+) (\S+) (v\S+) (h1:\S+) /gm)) {
    PINNED[m[1]] = { module: m[2], version: m[3], sum: m[4] };
}
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

/** The go settings the stub records on each call, in this order. */
const RECORDED = [
    "GOTOOLCHAIN",
    "GOFLAGS",
    "GOMODCACHE",
    "GOCACHE",
    "GOENV",
    "GOWORK",
    "GOSUMDB",
    "GONOSUMDB",
    "GONOSUMCHECK",
    "GONOVERIFY",
    "GOINSECURE",
    "GOPRIVATE",
    "GONOPROXY",
];

interface RunOptions {
    sums?: Record<string, string>;
    withGo?: boolean;
    /** The runner's environment besides PATH, HOME and TMPDIR. */
    env?: Record<string, string>;
    /** Called with DIR before the script runs (to plant what an attacker would). */
    prepare?: (dest: string) => void;
}

/**
 * A stub go: `mod download -json M@V` answers with a module tree and `sums[M]` (the pinned
 * hash unless overridden), and leaves a read-only file in GOMODCACHE as go does; `build`
 * records its environment and writes a binary that prints the version stamped with -X. Every
 * call records the go settings it was run with.
 */
function run({ sums = {}, withGo = true, env: extra = {}, prepare }: RunOptions = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-signing-tools-"));
    dirs.push(dir);
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    fs.mkdirSync(path.join(dir, "module"));
    fs.mkdirSync(path.join(dir, "tmp"));
    fs.writeFileSync(path.join(dir, "module", "go.sum"), "");
    fs.chmodSync(path.join(dir, "module"), 0o555);
    const sumOf = Object.entries(PINNED)
        .map(([, p]) => `  ${p.module}@${p.version}) sum='${sums[p.module] ?? p.sum}';;`)
        .join("\n");
    if (withGo) {
        fs.writeFileSync(
            path.join(bin, "go"),
            [
                "#!/bin/bash",
                `echo "go $* ${RECORDED.map((v) => `${v}=\${${v}-<unset>}`).join(" ")} CGO_ENABLED=\${CGO_ENABLED-}" >> '${dir}/calls'`,
                `case "$1" in`,
                `  mod) case "$4" in`,
                sumOf,
                `  esac`,
                `       mkdir -p "$GOMODCACHE/cache/download" && echo x > "$GOMODCACHE/cache/download/m.zip" && chmod -R a-w "$GOMODCACHE"`,
                `       printf '{\\n\\t"Path": "%s",\\n\\t"Dir": "%s",\\n\\t"Sum": "%s",\\n\\t"GoModSum": "h1:x="\\n}\\n' "\${4%@*}" '${dir}/module' "$sum";;`,
                `  build) for a; do [ "$prev" = -o ] && out=$a; [ "$prev" = -ldflags ] && stamp=\${a##*=}; prev=$a; done`,
                `         printf '#!/bin/sh\\necho "version %s"\\n' "$stamp" > "$out"; chmod +x "$out";;`,
                `esac`,
            ].join("\n"),
            { mode: 0o755 },
        );
    }
    const dest = path.join(dir, "tools");
    prepare?.(dest);
    const env = {
        PATH: withGo ? `${bin}:/usr/bin:/bin` : path.join(dir, "module"),
        HOME: dir,
        TMPDIR: path.join(dir, "tmp"),
        GOTOOLCHAIN: "local",
        ...extra,
    };
    const result = spawnSync("/bin/bash", [script, dest], { encoding: "utf8", env });
    const calls = fs.existsSync(path.join(dir, "calls"))
        ? fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n")
        : [];
    /** The go settings of each call, by name. */
    const settings = calls.map((c) =>
        Object.fromEntries(RECORDED.map((v) => [v, new RegExp(` ${v}=(.*?) (?:GO|CGO_)`).exec(c)?.[1]])),
    );
    return {
        ...result,
        calls,
        settings,
        dest,
        tmp: path.join(dir, "tmp"),
        again: () => spawnSync("/bin/bash", [script, dest], { encoding: "utf8", env }),
    };
}

test("pins cosign and syft by version and module hash", () => {
    expect(Object.keys(PINNED)).toEqual(["cosign", "syft"]);
    expect(PINNED.cosign).toEqual({
        module: "github.com/sigstore/cosign/v3",
        version: "v3.1.3",
        sum: "h1:001JQRI/PJ/5T+g/kJ1KTvKFbb322+fomc+pHDZ/6sg=",
    });
});

test("builds each at its exact version, go.sum enforced (-mod=readonly), without cgo, into the directory", () => {
    const result = run();
    expect(result.status).toBe(0);
    const builds = result.calls.filter((c) => c.startsWith("go build"));
    expect(result.calls.filter((c) => c.startsWith("go mod")).map((c) => c.split(" ").slice(0, 5).join(" "))).toEqual(
        Object.values(PINNED).map((p) => `go mod download -json ${p.module}@${p.version}`),
    );
    expect(builds).toHaveLength(2);
    for (const call of builds) {
        expect(call).toMatch(/ -trimpath /);
        expect(call).toMatch(/ GOTOOLCHAIN=auto GOFLAGS=-mod=readonly .* CGO_ENABLED=0$/);
    }
    expect(spawnSync(path.join(result.dest, "cosign"), { encoding: "utf8" }).stdout.trim()).toBe("version v3.1.3");
    expect(spawnSync(path.join(result.dest, "syft"), { encoding: "utf8" }).stdout.trim()).toBe("version 1.57.2");
    expect(fs.readdirSync(result.dest).sort()).toEqual(["cosign", "syft"]);
});

test("builds fresh every time: a second run into the same directory is refused, naming it, and builds nothing", () => {
    const result = run();
    const again = result.again();
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(
        new RegExp(
            `${result.dest} is not empty \\(it holds .*cosign.*\\); the tools are built fresh every run and nothing found there is run or kept: remove`,
        ),
    );
    expect(
        fs
            .readFileSync(path.join(path.dirname(result.dest), "calls"), "utf8")
            .trim()
            .split("\n"),
    ).toHaveLength(result.calls.length);
});

test("never runs or keeps a cosign planted in the directory (a restored cache, a persistent project directory)", () => {
    const result = run({
        prepare: (dest) => {
            fs.mkdirSync(dest);
            // A fake that claims the pinned version, and leaves a mark if anything runs it.
            fs.writeFileSync(
                path.join(dest, "cosign"),
                `#!/bin/sh\ntouch '${path.join(path.dirname(dest), "planted-ran")}'\necho "cosign v3.1.3"\n`,
                { mode: 0o755 },
            );
        },
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/tools is not empty \(it holds cosign \)/);
    expect(fs.existsSync(path.join(path.dirname(result.dest), "planted-ran"))).toBe(false);
    expect(result.calls).toEqual([]);
});

test.each([
    ["a symbolic link", (dest: string) => fs.symlinkSync(os.tmpdir(), dest)],
    ["a file", (dest: string) => fs.writeFileSync(dest, "")],
])("refuses a DIR that is %s", (_, prepare) => {
    const result = run({ prepare });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/tools is not a directory; give a new directory for cosign and syft/);
});

test("takes an empty directory that exists (as mktemp -d makes)", () => {
    const result = run({ prepare: (dest) => fs.mkdirSync(dest) });
    expect(result.status).toBe(0);
    expect(fs.readdirSync(result.dest).sort()).toEqual(["cosign", "syft"]);
});

test("uses its own module and build caches, not the runner's shared ones, and removes them (read-only as go leaves them) on exit", () => {
    const shared = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-shared-gomodcache-"));
    dirs.push(shared);
    const result = run({ env: { GOMODCACHE: shared, GOCACHE: shared, GOPATH: shared } });
    expect(result.status).toBe(0);
    const caches = new Set(result.settings.flatMap((s) => [s.GOMODCACHE, s.GOCACHE]));
    expect(caches.size).toBe(2);
    for (const cache of caches) {
        expect(cache!.startsWith(`${result.tmp}/`)).toBe(true);
    }
    expect(fs.readdirSync(shared)).toEqual([]);
    expect(fs.readdirSync(result.tmp)).toEqual([]);
});

test("runs go with GOFLAGS exactly -mod=readonly, its config file off, and nothing that skips or weakens a checksum check", () => {
    const result = run({
        env: {
            GOFLAGS: "-mod=mod -insecure",
            GOENV: path.join(os.tmpdir(), "attacker-go.env"),
            GOWORK: "/tmp/go.work",
            GOSUMDB: "off",
            GONOSUMDB: "*",
            GONOSUMCHECK: "1",
            GONOVERIFY: "*",
            GOINSECURE: "*",
            GOPRIVATE: "*",
            GONOPROXY: "*",
        },
    });
    expect(result.status).toBe(0);
    expect(result.settings).toHaveLength(4);
    for (const s of result.settings) {
        expect(s).toMatchObject({
            GOTOOLCHAIN: "auto",
            GOFLAGS: "-mod=readonly",
            GOENV: "off",
            GOWORK: "off",
            GOSUMDB: "<unset>",
            GONOSUMDB: "<unset>",
            GONOSUMCHECK: "<unset>",
            GONOVERIFY: "<unset>",
            GOINSECURE: "<unset>",
            GOPRIVATE: "<unset>",
            GONOPROXY: "<unset>",
        });
    }
    expect(result.stderr).toContain("GOSUMDB=off is not sum.golang.org; using sum.golang.org for this build");
});

test.each([
    ["sum.golang.org", "sum.golang.org"],
    ["sum.golang.org through a mirror", "sum.golang.org https://goproxy.example.com/sumdb/sum.golang.org"],
])("keeps GOSUMDB when it is %s, whose answers go checks against its built-in key", (_, sumdb) => {
    const result = run({ env: { GOSUMDB: sumdb } });
    expect(result.status).toBe(0);
    expect(new Set(result.settings.map((s) => s.GOSUMDB))).toEqual(new Set([sumdb]));
});

test("replaces a GOSUMDB that names another database or key", () => {
    const result = run({
        env: { GOSUMDB: "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ld4pU2 https://evil.example" },
    });
    expect(result.status).toBe(0);
    expect(new Set(result.settings.map((s) => s.GOSUMDB))).toEqual(new Set(["<unset>"]));
});

test("refuses a module whose hash is not the pinned one, naming both, and installs nothing", () => {
    const result = run({ sums: { "github.com/anchore/syft": "h1:tampered=" } });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
        `github.com/anchore/syft@v1.57.2 has hash h1:tampered=, not the pinned ${PINNED.syft.sum}; nothing was installed`,
    );
    expect(result.calls.filter((c) => c.startsWith("go build"))).toHaveLength(1);
    expect(fs.existsSync(result.dest)).toBe(false);
    expect(fs.readdirSync(result.tmp)).toEqual([]);
});

test("says what to install when there is no go", () => {
    const result = run({ withGo: false });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/the go command is needed to build cosign and syft; install Go 1\.21 or later/);
});
