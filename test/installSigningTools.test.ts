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

/**
 * A stub go: `mod download -json M@V` answers with a module tree and `sums[M]` (the pinned
 * hash unless overridden); `build` records its environment and writes a binary that prints
 * the version stamped with -X.
 */
function run(sums: Record<string, string> = {}, withGo = true) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-signing-tools-"));
    dirs.push(dir);
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    fs.mkdirSync(path.join(dir, "module"));
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
                `echo "go $* GOTOOLCHAIN=$GOTOOLCHAIN GOFLAGS=$GOFLAGS CGO_ENABLED=\${CGO_ENABLED-}" >> '${dir}/calls'`,
                `case "$1" in`,
                `  mod) case "$4" in`,
                sumOf,
                `  esac; printf '{\\n\\t"Path": "%s",\\n\\t"Dir": "%s",\\n\\t"Sum": "%s",\\n\\t"GoModSum": "h1:x="\\n}\\n' "\${4%@*}" '${dir}/module' "$sum";;`,
                `  build) for a; do [ "$prev" = -o ] && out=$a; [ "$prev" = -ldflags ] && stamp=\${a##*=}; prev=$a; done`,
                `         printf '#!/bin/sh\\necho "version %s"\\n' "$stamp" > "$out"; chmod +x "$out";;`,
                `esac`,
            ].join("\n"),
            { mode: 0o755 },
        );
    }
    const dest = path.join(dir, "tools");
    const env = { PATH: withGo ? `${bin}:/usr/bin:/bin` : path.join(dir, "module"), HOME: dir, GOTOOLCHAIN: "local" };
    const result = spawnSync("/bin/bash", [script, dest], { encoding: "utf8", env });
    const calls = fs.existsSync(path.join(dir, "calls"))
        ? fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n")
        : [];
    return { ...result, calls, dest, again: () => spawnSync("/bin/bash", [script, dest], { encoding: "utf8", env }) };
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
        expect(call).toMatch(/GOTOOLCHAIN=auto GOFLAGS= ?-mod=readonly CGO_ENABLED=0$/);
    }
    expect(spawnSync(path.join(result.dest, "cosign"), { encoding: "utf8" }).stdout.trim()).toBe("version v3.1.3");
    expect(spawnSync(path.join(result.dest, "syft"), { encoding: "utf8" }).stdout.trim()).toBe("version 1.57.2");
});

test("keeps tools already at their version: a second run builds nothing", () => {
    const result = run();
    const again = result.again();
    expect(again.status).toBe(0);
    expect(
        fs
            .readFileSync(path.join(path.dirname(result.dest), "calls"), "utf8")
            .trim()
            .split("\n"),
    ).toHaveLength(result.calls.length);
});

test("refuses a module whose hash is not the pinned one, naming both, and builds nothing from it", () => {
    const result = run({ "github.com/anchore/syft": "h1:tampered=" });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
        `github.com/anchore/syft@v1.57.2 has hash h1:tampered=, not the pinned ${PINNED.syft.sum}; nothing was built`,
    );
    expect(result.calls.filter((c) => c.startsWith("go build"))).toHaveLength(1);
    expect(fs.existsSync(path.join(result.dest, "syft"))).toBe(false);
});

test("says what to install when there is no go", () => {
    const result = run({}, false);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/the go command is needed to build cosign and syft; install Go 1\.21 or later/);
});
