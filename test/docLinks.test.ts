// The README and docs/ link to each other by file and heading; a moved or renamed section must
// not leave a link that goes nowhere.

import * as fs from "fs";
import * as path from "path";

const projectRoot = path.join(__dirname, "..");
const pages = [
    "README.md",
    ...fs
        .readdirSync(path.join(projectRoot, "docs"))
        .filter((f) => f.endsWith(".md"))
        .map((f) => `docs/${f}`),
];

/** GitHub's heading anchor: lower case, punctuation other than `-` and `_` dropped, spaces as `-`. */
function anchorOf(heading: string): string {
    return heading
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\- _]/gu, "")
        .replace(/ /g, "-");
}

/** The anchors a Markdown page defines, outside code fences. */
function anchorsOf(text: string): Set<string> {
    const anchors = new Set<string>();
    let fenced = false;
    for (const line of text.split("\n")) {
        if (line.startsWith("```")) {
            fenced = !fenced;
        } else if (!fenced && /^#{1,6} /.test(line)) {
            anchors.add(anchorOf(line.replace(/^#+ /, "")));
        }
    }
    return anchors;
}

/** Relative links `[text](target)` of a page, outside code fences and code spans. */
function linksOf(text: string): string[] {
    const prose = text.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
    return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((target) => !/^[a-z]+:/.test(target));
}

test("GitHub anchors: punctuation goes, spaces become dashes", () => {
    expect(anchorOf("Build secrets, SSH, named contexts")).toBe("build-secrets-ssh-named-contexts");
    expect(anchorOf("IAM roles for the pipelines (`examples/iam/`)")).toBe("iam-roles-for-the-pipelines-examplesiam");
});

test.each(pages)("every relative link in %s reaches a file and, if it names one, a heading", (page) => {
    const text = fs.readFileSync(path.join(projectRoot, page), "utf8");
    const broken = linksOf(text).filter((target) => {
        const [file, anchor] = target.split("#");
        const resolved = file === "" ? path.join(projectRoot, page) : path.join(projectRoot, path.dirname(page), file);
        if (!fs.existsSync(resolved)) {
            return true;
        }
        return (
            anchor !== undefined &&
            resolved.endsWith(".md") &&
            !anchorsOf(fs.readFileSync(resolved, "utf8")).has(anchor)
        );
    });
    expect(broken).toEqual([]);
});
