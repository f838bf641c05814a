// Quoting for values interpolated into generated shell.

/** Quotes `value` as one POSIX shell word: single quotes, with embedded ones escaped. */
export function shq(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}
