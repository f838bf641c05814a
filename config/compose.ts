// Images from a Compose file: every service with a `build` section becomes an image,
// following the Compose specification's short (`build: ./dir`) and long build syntax
// (https://github.com/compose-spec/compose-spec/blob/main/build.md).

import * as fs from "fs";
import * as path from "path";
import { parse } from "yaml";
import { Reporter } from "./projectPaths";

/** An image entry as the stack's `images` list would spell it. */
export interface ComposeImage {
    /** Where it came from, for error messages: `compose(docker-compose.yml).services.web`. */
    at: string;
    image: {
        name: string;
        context: string;
        dockerfile?: string;
        platforms: string[];
        tags?: string[];
        buildArgs: Record<string, string>;
        target?: string;
    };
}

type Build = string | { context?: string; dockerfile?: string; args?: Record<string, unknown> | string[]; target?: string; platforms?: string[] };
type Service = { build?: Build; image?: string; platform?: string };

/** `args` as a map or as a list of `KEY=value` (a bare `KEY` takes no value, so it is skipped). */
function buildArgs(args: Record<string, unknown> | string[] | undefined): Record<string, string> {
    if (Array.isArray(args)) {
        return Object.fromEntries(args.filter((a) => a.includes("=")).map((a) => [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]));
    }
    return Object.fromEntries(Object.entries(args ?? {}).filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k, String(v)]));
}

/** `registry.example.com/team/web:1.2` → name `team/web`, tag `1.2`; the registry is this stack's. */
export function splitImage(image: string): { name: string; tag?: string } {
    const withoutDigest = image.split("@")[0];
    const parts = withoutDigest.split("/");
    if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0])) {
        parts.shift();
    }
    const last = parts.pop() ?? "";
    const colon = last.indexOf(":");
    return colon < 0 ? { name: [...parts, last].join("/") } : { name: [...parts, last.slice(0, colon)].join("/"), tag: last.slice(colon + 1) };
}

/** Reads `file` (relative to the project root) and returns its buildable services as images. */
export function composeImages(file: string, projectRoot: string, report: Reporter): ComposeImage[] {
    const at = `compose(${file})`;
    let doc: { services?: Record<string, Service> };
    try {
        doc = (parse(fs.readFileSync(path.join(projectRoot, file), "utf8")) ?? {}) as typeof doc;
    } catch (e) {
        report("compose", `cannot read ${file}: ${(e as Error).message.split("\n")[0]}`);
        return [];
    }
    const base = path.posix.dirname(file.replace(/\\/g, "/"));
    return Object.entries(doc.services ?? {}).filter(([, service]) => service?.build !== undefined).map(([name, service]) => {
        const build: Exclude<Build, string> = typeof service.build === "string" ? { context: service.build } : service.build ?? {};
        const platforms = build.platforms ?? (service.platform ? [service.platform] : []);
        if (platforms.length === 0) {
            report(`${at}.services.${name}`, "names no platform; set build.platforms (or platform) on the service");
        }
        const image = service.image ? splitImage(service.image) : { name };
        return {
            at: `${at}.services.${name}`,
            image: {
                name: image.name,
                context: path.posix.join(base, build.context ?? "."),
                dockerfile: build.dockerfile,
                platforms,
                tags: image.tag ? [image.tag] : undefined,
                buildArgs: buildArgs(build.args),
                target: build.target,
            },
        };
    });
}
