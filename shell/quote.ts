// Quoting for values interpolated into generated shell.

/** Quotes `value` as one POSIX shell word: single quotes, with embedded ones escaped. */
export function shq(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * A quoted here-document carrying `body` verbatim (no expansion). Refuses a body that
 * contains its delimiter on a line of its own, which would end the document early.
 */
export function heredoc(delimiter: string, body: string): string {
    if (body.split("\n").includes(delimiter)) {
        throw new Error(`here-document body contains its delimiter ${delimiter}`);
    }
    return `<<'${delimiter}'\n${body.endsWith("\n") ? body : `${body}\n`}${delimiter}`;
}
