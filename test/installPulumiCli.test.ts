// scripts/install-pulumi-cli.sh, which the pipelines use instead of `curl | sh`, run for real
// against a stub curl serving a fake release: it installs only an archive whose SHA-256
// matches a committed or pinned value, and never reads the release's own checksums file.

import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const script = path.join(__dirname, "..", "scripts", "install-pulumi-cli.sh");
const version = /^PULUMI_VERSION=(\S+)$/m.exec(fs.readFileSync(script, "utf8"))?.[1] ?? "";
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

/** A fake release for both architectures, and a curl that serves it by file name and logs each URL. */
function release(tamper = false) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-pulumi-cli-"));
    dirs.push(root);
    const served = path.join(root, "served");
    const bin = path.join(root, "bin");
    fs.mkdirSync(path.join(root, "pulumi"), { recursive: true });
    fs.mkdirSync(served);
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(root, "pulumi", "pulumi"), `#!/bin/sh\necho v${version}\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(root, "pulumi", "pulumi-language-nodejs"), "#!/bin/sh\n", { mode: 0o755 });
    const sums: string[] = [];
    for (const arch of ["x64", "arm64"]) {
        const archive = `pulumi-v${version}-linux-${arch}.tar.gz`;
        expect(spawnSync("tar", ["-czf", path.join(served, archive), "-C", root, "pulumi"]).status).toBe(0);
        const digest = createHash("sha256")
            .update(fs.readFileSync(path.join(served, archive)))
            .digest("hex");
        sums.push(`${tamper ? digest.replace(/^./, (c) => (c === "0" ? "1" : "0")) : digest}  ${archive}`);
    }
    fs.writeFileSync(path.join(served, `pulumi-${version}-checksums.txt`), `${sums.join("\n")}\n`);
    fs.writeFileSync(
        path.join(bin, "curl"),
        [
            "#!/bin/bash",
            "while [ $# -gt 0 ]; do case $1 in -o) out=$2; shift 2 ;; https://*) url=$1; shift ;; *) shift ;; esac; done",
            `echo "$url" >> "${root}/urls"`,
            `cp "${served}/\${url##*/}" "$out"`,
            "",
        ].join("\n"),
        { mode: 0o755 },
    );
    const dest = path.join(root, "installed");
    /** The script as committed, or a copy whose PINNED_SHA256 lists the fake release's archives. */
    const committed = path.join(root, "install-pulumi-cli.sh");
    fs.writeFileSync(
        committed,
        fs.readFileSync(script, "utf8").replace(/^PINNED_SHA256=""$/m, `PINNED_SHA256="${sums.join("\n")}"`),
    );
    const run = (env: Record<string, string> = {}, pinned = false) =>
        spawnSync("bash", [pinned ? committed : script, dest], {
            encoding: "utf8",
            env: { PATH: `${bin}:${process.env.PATH}`, ...env },
        });
    const urls = () =>
        fs.existsSync(path.join(root, "urls"))
            ? fs.readFileSync(path.join(root, "urls"), "utf8").trim().split("\n")
            : [];
    const sha = (arch: string) =>
        createHash("sha256")
            .update(fs.readFileSync(path.join(served, `pulumi-v${version}-linux-${arch}.tar.gz`)))
            .digest("hex");
    return { dest, run, urls, sha };
}

test("installs the pinned release from its versioned URL when the committed checksum matches", () => {
    const { dest, run, urls } = release();
    const result = run({}, true);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe(`v${version}\n`);
    expect(fs.existsSync(path.join(dest, "pulumi-language-nodejs"))).toBe(true);
    expect(
        urls().every((url) => url.startsWith(`https://github.com/pulumi/pulumi/releases/download/v${version}/`)),
    ).toBe(true);
});

test("refuses an archive whose SHA-256 is not the committed one, installing nothing", () => {
    const { dest, run } = release(true);
    const result = run({}, true);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/has SHA-256 [0-9a-f]{64}, expected [0-9a-f]{64}; not installed/);
    expect(fs.existsSync(path.join(dest, "pulumi"))).toBe(false);
});

test("never reads the release's own checksums file, which whoever replaced the archive could replace too", () => {
    const { run, urls } = release();
    run({}, true);
    run();
    expect(urls().length).toBeGreaterThan(0);
    expect(urls().some((url) => url.endsWith("checksums.txt"))).toBe(false);
});

test("with no committed checksum and no PULUMI_CLI_SHA256, refuses before downloading anything and says what to set", () => {
    const { dest, run, urls } = release();
    const result = run();
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
        /no SHA-256 for pulumi-v.*: none is committed in PINNED_SHA256; set the CI variable PULUMI_CLI_SHA256/,
    );
    expect(urls()).toEqual([]);
    expect(fs.existsSync(path.join(dest, "pulumi"))).toBe(false);
});

test("a pinned PULUMI_CLI_SHA256 wins over the committed checksums", () => {
    const tampered = release(true);
    const arch = process.arch === "arm64" ? "arm64" : "x64";
    expect(tampered.run({ PULUMI_CLI_SHA256: tampered.sha(arch) }, true).status).toBe(0);
    const honest = release();
    expect(honest.run({ PULUMI_CLI_SHA256: "0".repeat(64) }).status).toBe(1);
    expect(fs.existsSync(path.join(honest.dest, "pulumi"))).toBe(false);
});
