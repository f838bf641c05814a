// Checks every section of the schema applies to its lists: repeats, and platform lists
// normalised through their aliases.

import { normalizePlatform } from "../plan/platforms";
import { Reporter } from "./projectPaths";

/** Reports every repeat in `values`; `at(i)` is the key path of entry i. */
export function checkUnique(values: string[], at: (i: number) => string, report: Reporter): void {
    values.forEach((v, i) => {
        const first = values.indexOf(v);
        if (first !== i) {
            report(at(i), `"${v}" repeats ${at(first)}; each entry must be unique`);
        }
    });
}

/** Normalises a platform list, reporting malformed entries and duplicates after aliasing. */
export function normalizeList(list: string[], at: string, report: Reporter): string[] {
    const out: string[] = [];
    list.forEach((p, i) => {
        const result = normalizePlatform(p);
        if (!result.ok) {
            report(`${at}[${i}]`, result.reason);
        } else if (out.includes(result.platform)) {
            report(`${at}[${i}]`, `"${p}" repeats ${result.platform}; list each platform once`);
        } else {
            out.push(result.platform);
        }
    });
    return out;
}
