// scripts/install-pulumi-plugins.sh, run for real against a stub pulumi: every provider plugin
// of package-lock.json is installed with `--checksum`, or nothing is (issue 20, Low).

import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const script = path.join(__dirname, "..", "scripts", "install-pulumi-plugins.sh");
const lock = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "package-lock.json"), "utf8")) as {
    packages: Record<string, { version: string }>;
};
const platform = ["arm64", "aarch64"].includes(os.arch()) ? "linux-arm64" : "linux-amd64";
const plugins = ["aws", "command", "docker-build", "tls"].map((name) => ({
    name,
    version: lock.packages[`node_modules/@pulumi/${name}`].version,
}));
const sha = (name: string) =>
    name
        .padEnd(64, "0")
        .replace(/[^0-9a-f]/g, "a")
        .slice(0, 64);
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function run(env: Record<string, string>) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-plugins-"));
    dirs.push(dir);
    fs.writeFileSync(path.join(dir, "pulumi"), `#!/bin/sh\nprintf '%s\\n' "$*" >> "${dir}/calls"\n`, { mode: 0o755 });
    const result = spawnSync("bash", [script], {
        encoding: "utf8",
        env: { PATH: `${dir}:${process.env.PATH}`, ...env },
    });
    const calls = fs.existsSync(path.join(dir, "calls"))
        ? fs.readFileSync(path.join(dir, "calls"), "utf8").trim().split("\n")
        : [];
    return { ...result, calls };
}

test("installs each plugin of package-lock.json at its exact version with its checksum", () => {
    const sums = plugins.map((p) => `${sha(p.name)}  ${p.name} ${p.version} ${platform}`).join("\n");
    const result = run({ NBF_PLUGIN_SHA256: sums });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.calls).toEqual(
        plugins.map(
            (p) => `plugin install resource ${p.name} ${p.version} --exact --reinstall --checksum ${sha(p.name)}`,
        ),
    );
});

test("trusts no plugin already installed: each is downloaded and checked again", () => {
    // A stub that, like `pulumi plugin install`, skips a plugin already in PULUMI_HOME unless
    // told --reinstall, and checks the checksum only when it downloads.
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-plugins-home-"));
    dirs.push(home);
    const planted = path.join(home, "plugins", `resource-aws-v${plugins[0].version}`);
    fs.mkdirSync(planted, { recursive: true });
    fs.writeFileSync(path.join(planted, "PLANTED"), "");
    const sums = plugins.map((p) => `${sha(p.name)}  ${p.name} ${p.version} ${platform}`).join("\n");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-plugins-"));
    dirs.push(dir);
    fs.writeFileSync(
        path.join(dir, "pulumi"),
        [
            "#!/bin/sh",
            'target="$PULUMI_HOME/plugins/resource-$4-v$5"',
            'case " $* " in *" --reinstall "*) rm -rf "$target" ;; esac',
            '[ -d "$target" ] && exit 0',
            'mkdir -p "$target" && touch "$target/CHECKED"',
        ].join("\n"),
        { mode: 0o755 },
    );
    const result = spawnSync("bash", [script], {
        encoding: "utf8",
        env: { PATH: `${dir}:${process.env.PATH}`, PULUMI_HOME: home, NBF_PLUGIN_SHA256: sums },
    });
    expect(result.status).toBe(0);
    expect(fs.readdirSync(planted)).toEqual(["CHECKED"]);
});

test("with a checksum missing (or for another version or platform), installs nothing and lists the lines to add", () => {
    const [first, ...rest] = plugins;
    const sums = [
        `${sha(first.name)}  ${first.name} 0.0.1 ${platform}`,
        ...rest.map((p) => `${sha(p.name)}  ${p.name} ${p.version} ${platform}`),
    ].join("\n");
    const result = run({ NBF_PLUGIN_SHA256: sums });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`<sha256>  ${first.name} ${first.version} ${platform}`);
    expect(result.calls).toEqual([]);
});

test("refuses without any checksum", () => {
    const result = run({});
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/no SHA-256 committed in PINNED_SHA256 or given in NBF_PLUGIN_SHA256/);
    expect(result.calls).toEqual([]);
});
