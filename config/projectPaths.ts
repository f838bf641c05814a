// Build contexts, Dockerfiles and other files a stack names: they must exist inside the
// project, so a stack works on every machine and cannot reach outside its checkout.

import * as fs from "fs";
import * as path from "path";

/** Records a problem at a config key path. */
export type Reporter = (path: string, message: string) => void;

/**
 * Resolves `relative` under the project root and checks it exists as `kind` without
 * leaving the project, symlinks included. Returns the POSIX path relative to the root:
 * relative paths keep the provider's context hash and inputs equal across machines.
 */
export function checkInsideProject(
    relative: string,
    root: string,
    at: string,
    kind: "directory" | "file",
    report: Reporter,
): string | undefined {
    const posix = relative.replace(/\\/g, "/");
    // A URL is what `docker build` takes as a remote context (Git or a tarball); this program
    // labels and hashes contexts from the checkout, so it builds local ones only.
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(relative) || /^git@/.test(relative)) {
        report(
            at,
            `"${relative}" is a remote ${kind === "directory" ? "context" : "file"} (a URL); this program builds from paths inside the project only: add the sources to the repository (a git submodule, say) and give their path`,
        );
        return undefined;
    }
    if (path.isAbsolute(relative) || path.posix.isAbsolute(posix)) {
        report(
            at,
            `"${relative}" is absolute; give a path relative to the project root so the stack works on every machine`,
        );
        return undefined;
    }
    const normalized = path.posix.normalize(posix);
    if (normalized === ".." || normalized.startsWith("../")) {
        report(at, `"${relative}" leaves the project directory; build contexts and Dockerfiles must be inside it`);
        return undefined;
    }
    let real: string;
    try {
        real = fs.realpathSync(path.join(root, normalized));
    } catch {
        report(
            at,
            `"${relative}" does not exist in the project (looked for ${path.join(root, normalized)}); create it or fix the path`,
        );
        return undefined;
    }
    const realRoot = fs.realpathSync(root);
    if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
        report(
            at,
            `"${relative}" is a symlink to ${real}, outside the project; build contexts and Dockerfiles must be inside it`,
        );
        return undefined;
    }
    const stat = fs.statSync(real);
    if (kind === "directory" ? !stat.isDirectory() : !stat.isFile()) {
        report(at, `"${relative}" is not a ${kind}`);
        return undefined;
    }
    return normalized;
}
