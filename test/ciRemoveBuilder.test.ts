// scripts/ci-remove-builder.sh, the pipelines' last step: run for real against a scratch
// home and a stub docker, so the fleet key cannot outlive a job on a self-hosted runner.

import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { defaultBuilderName } from "../config/schema";
import { userSshConfig } from "../runner/builderSpec";

const script = path.join(__dirname, "..", "scripts", "ci-remove-builder.sh");
const INCLUDE = (home: string) => `Include "${home}/.ssh/native-build-fleet/*/config"`;

const scratchDirs: string[] = [];
afterAll(() => scratchDirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function scratch() {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "nbf-cleanup-"));
    scratchDirs.push(home);
    const bin = path.join(home, "bin");
    fs.mkdirSync(bin);
    // Records every call; `buildx inspect` succeeds for builders listed in registered.
    fs.writeFileSync(
        path.join(bin, "docker"),
        [
            "#!/bin/sh",
            `printf '%s\\n' "$*" >> "${home}/docker.log"`,
            `if [ "$2" = ls ]; then cat "${home}/registered"; fi`,
            `if [ "$2" = inspect ]; then grep -qxF "$3" "${home}/registered"; fi`,
            "",
        ].join("\n"),
        { mode: 0o755 },
    );
    fs.writeFileSync(path.join(home, "registered"), "");
    const builder = (name: string) => {
        const dir = path.join(home, ".ssh", "native-build-fleet", name);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, "id_fleet"), "-----BEGIN OPENSSH PRIVATE KEY-----\n");
        fs.writeFileSync(path.join(dir, "config"), `Host ${name}-arm-0\n`);
        fs.appendFileSync(path.join(home, "registered"), `${name}\n`);
    };
    const tmp = path.join(home, "tmp");
    fs.mkdirSync(tmp);
    // stdin is not a socket (Node's default pipe), which would make bash read ~/.bashrc.
    const run = (args: string[], env: Record<string, string> = {}) =>
        spawnSync("bash", [script, ...args], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
            env: { PATH: `${bin}:${process.env.PATH}`, NBF_HOME: home, TMPDIR: tmp, ...env },
        });
    const docker = () =>
        fs.existsSync(path.join(home, "docker.log")) ? fs.readFileSync(path.join(home, "docker.log"), "utf8") : "";
    /** The `docker buildx rm` calls, in order. */
    const removed = () =>
        docker()
            .split("\n")
            .filter((l) => l.startsWith("buildx rm"));
    return { home, tmp, builder, run, docker, removed };
}

describe("removing a builder from a CI runner", () => {
    test("removes each host's own builder too, as the stack's directory lists them", () => {
        const { home, builder, run, removed } = scratch();
        builder("fleet-prod");
        fs.writeFileSync(
            path.join(home, ".ssh", "native-build-fleet", "fleet-prod", "builders"),
            "fleet-prod\nfleet-prod-arm-0\nfleet-prod-x86-0\n",
        );
        fs.appendFileSync(path.join(home, "registered"), "fleet-prod-arm-0\nfleet-prod-x86-0\n");
        expect(run(["fleet-prod"]).status).toBe(0);
        expect(removed()).toEqual([
            "buildx rm --keep-daemon fleet-prod",
            "buildx rm --keep-daemon fleet-prod-arm-0",
            "buildx rm --keep-daemon fleet-prod-x86-0",
        ]);
    });

    test("removes the builder's key, files and buildx entry, and keeps another builder's and the Include", () => {
        const { home, builder, run, docker } = scratch();
        builder("fleet-prod");
        builder("fleet-dev");
        fs.writeFileSync(path.join(home, ".ssh", "config"), `${INCLUDE(home)}\n\nHost *\n    ServerAliveInterval 60\n`);
        const result = run(["fleet-prod"]);
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        expect(fs.existsSync(path.join(home, ".ssh", "native-build-fleet", "fleet-prod"))).toBe(false);
        expect(fs.existsSync(path.join(home, ".ssh", "native-build-fleet", "fleet-dev", "id_fleet"))).toBe(true);
        expect(fs.readFileSync(path.join(home, ".ssh", "config"), "utf8")).toContain(INCLUDE(home));
        expect(docker()).toBe(
            "buildx ls --format {{.Name}}\nbuildx inspect fleet-prod\nbuildx rm --keep-daemon fleet-prod\n",
        );
    });

    test("drops the Include line with the last builder, editing a symlinked ~/.ssh/config through its target", () => {
        const { home, builder, run } = scratch();
        builder("fleet-prod");
        const target = path.join(home, "dotfiles-ssh-config");
        fs.writeFileSync(target, `${INCLUDE(home)}\n\nHost *\n    ServerAliveInterval 60\n`);
        fs.symlinkSync(target, path.join(home, ".ssh", "config"));
        expect(run(["fleet-prod"]).status).toBe(0);
        expect(fs.lstatSync(path.join(home, ".ssh", "config")).isSymbolicLink()).toBe(true);
        expect(fs.readFileSync(target, "utf8")).toBe("\nHost *\n    ServerAliveInterval 60\n");
        expect(fs.existsSync(path.join(home, ".ssh", "native-build-fleet"))).toBe(false);
    });

    test("removes the stack's host builders that no list names (a job killed before the runner wrote it), and no other stack's", () => {
        const { home, builder, run, removed } = scratch();
        builder("fleet-prod");
        builder("fleet-prod-eu");
        fs.writeFileSync(
            path.join(home, ".ssh", "native-build-fleet", "fleet-prod-eu", "builders"),
            "fleet-prod-eu\nfleet-prod-eu-arm-0\n",
        );
        fs.appendFileSync(
            path.join(home, "registered"),
            "fleet-prod-arm-0\nfleet-prod-x86-1\nfleet-prod-eu-arm-0\nfleet-dev-arm-0\n",
        );
        expect(run(["fleet-prod"]).status).toBe(0);
        expect(removed()).toEqual([
            "buildx rm --keep-daemon fleet-prod",
            "buildx rm --keep-daemon fleet-prod-arm-0",
            "buildx rm --keep-daemon fleet-prod-x86-1",
        ]);
        expect(fs.existsSync(path.join(home, ".ssh", "native-build-fleet", "fleet-prod-eu", "id_fleet"))).toBe(true);
    });

    test("removes the temporary files the job recorded as its own, and leaves another job's alone", () => {
        const { home, tmp, builder, run } = scratch();
        builder("fleet-prod");
        // Two jobs of one runner user at once: each made its PULUMI_HOME and token file.
        const made = (name: string) => {
            fs.mkdirSync(path.join(tmp, name), { mode: 0o700 });
            fs.writeFileSync(path.join(tmp, name, "config.json"), "{}");
            return path.join(tmp, name);
        };
        const own = [made("nbf-pulumi-home.mine01"), made("nbf-web-identity.mine02")];
        made("nbf-pulumi-home.other1");
        made("nbf-web-identity.other2");
        made("other-tool");
        const record = path.join(home, ".nbf-job-temp");
        // Lines that are not this job's TMPDIR entries are ignored.
        fs.writeFileSync(record, [...own, path.join(home, "bin"), `${tmp}/nbf-x/../other-tool`, ""].join("\n"));
        const result = run(["fleet-prod"], { NBF_JOB_TEMP: record });
        expect(result.status).toBe(0);
        // The closing line names the builder, not the last temporary file it read.
        expect(result.stdout).toBe("removed builder fleet-prod from this runner\n");
        expect(fs.readdirSync(tmp).sort()).toEqual(["nbf-pulumi-home.other1", "nbf-web-identity.other2", "other-tool"]);
        expect(fs.existsSync(path.join(home, "bin"))).toBe(true);
        expect(fs.existsSync(record)).toBe(false);
    });

    test("removes what killed runs left in the private directory, but not a running job's", () => {
        const { tmp, builder, run } = scratch();
        builder("fleet-prod");
        const root = path.join(tmp, `nbf-${process.getuid?.()}`);
        const dead = path.join(root, "nbf-readiness-99999999-abc");
        const live = path.join(root, `nbf-registry-${process.pid}-def`);
        for (const dir of [dead, live]) fs.mkdirSync(dir, { recursive: true });
        expect(run(["fleet-prod"]).status).toBe(0);
        expect(fs.existsSync(dead)).toBe(false);
        expect(fs.existsSync(live)).toBe(true);
    });

    test("drops the scoped blocks the runner writes first and last with the last builder, and the runner's temporary keys", () => {
        const { home, tmp, builder, run } = scratch();
        builder("fleet-prod");
        fs.writeFileSync(
            path.join(home, ".ssh", "config"),
            userSshConfig("Host *\n    ServerAliveInterval 60\n", path.join(home, ".ssh", "native-build-fleet")),
        );
        const left = path.join(tmp, `nbf-${process.getuid?.()}`, "nbf-readiness-99999999-abc");
        fs.mkdirSync(left, { recursive: true });
        fs.writeFileSync(path.join(left, "key"), "-----BEGIN OPENSSH PRIVATE KEY-----\n");
        expect(run(["fleet-prod"], { TMPDIR: tmp }).status).toBe(0);
        expect(fs.readFileSync(path.join(home, ".ssh", "config"), "utf8")).toBe(
            "\nHost *\n    ServerAliveInterval 60\n\n",
        );
        expect(fs.existsSync(path.join(tmp, `nbf-${process.getuid?.()}`))).toBe(false);
    });

    test("succeeds when the job failed before anything was registered", () => {
        const { run, docker } = scratch();
        const result = run(["fleet-prod"]);
        expect(result.status).toBe(0);
        expect(docker()).toBe("buildx ls --format {{.Name}}\nbuildx inspect fleet-prod\n");
    });

    test.each([
        ["acme/prod", "native-build-fleet-prod"],
        ["acme/native-build-fleet/Prod EU", "native-build-fleet-prod-eu"],
        ["dev", "native-build-fleet-dev"],
    ])("without a name, derives the builder of stack %s as the program does", (stack, expected) => {
        expect(defaultBuilderName("native-build-fleet", stack.split("/").at(-1) ?? "")).toBe(expected);
        const { builder, run } = scratch();
        builder(expected);
        const result = run([""], { PULUMI_STACK: stack });
        expect(result.stdout).toBe(`removed builder ${expected} from this runner\n`);
    });

    test.each(["..", "../../etc", ".ssh", "Fleet", "a/b", "x y"])(
        "refuses %j as a builder name, removing nothing",
        (name) => {
            const { home, builder, run } = scratch();
            builder("fleet-prod");
            const result = run([name]);
            expect(result.status).toBe(2);
            expect(result.stderr).toContain("is not a builder name");
            expect(fs.existsSync(path.join(home, ".ssh", "native-build-fleet", "fleet-prod", "id_fleet"))).toBe(true);
        },
    );
});
