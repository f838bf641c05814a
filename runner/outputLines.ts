// Keeps every line the runner writes to a logged stream far below what the command provider
// can read. The real command provider 1.2.1 reads a logged stream with a bufio.Scanner and its
// default 64 KiB token limit (pulumi-command provider/pkg/provider/util/util.go `LogOutput`);
// a longer line stops the scanner, nothing drains the pipe after that, and the command hangs
// for good, past its timeout (provider notes: a 70,000-byte stderr line never returned). The
// resources log only stderr, so the runner's stderr goes through here; stdout, which carries
// the JSON results the program parses, is never logged and stays whole.

/**
 * Longest line, in code points, written to a logged stream: at most 4 UTF-8 bytes each, so
 * 16 KiB at most, a quarter of the provider's limit. Long enough that no message the runner
 * writes itself is split.
 */
export const MAX_LINE_CODE_POINTS = 4096;

/**
 * `text` with a newline inserted wherever a line would exceed `max` code points, given that the
 * current line already holds `column` of them; returns the text and the column it ends at.
 * Nothing is dropped and a surrogate pair is never cut.
 */
export function splitLongLines(
    text: string,
    max: number = MAX_LINE_CODE_POINTS,
    column = 0,
): { text: string; column: number } {
    const lines = text.split("\n");
    let col = column;
    const out = lines.map((line, i) => {
        if (i > 0) {
            col = 0;
        }
        // Only a line that could be too long is walked by code point; a short one is counted in
        // UTF-16 units, never fewer than its code points.
        if (col + line.length <= max) {
            col += line.length;
            return line;
        }
        let piece = "";
        for (const ch of line) {
            if (col >= max) {
                piece += "\n";
                col = 0;
            }
            piece += ch;
            col++;
        }
        return piece;
    });
    return { text: out.join("\n"), column: col };
}

/**
 * A writer for a logged stream: passes what it is given to `write` with long lines split, keeping
 * count across calls, since a child's output arrives in chunks that cut lines anywhere.
 */
export function lineSplitter(
    write: (text: string) => void,
    max: number = MAX_LINE_CODE_POINTS,
): (text: string) => void {
    let column = 0;
    return (text) => {
        const split = splitLongLines(text, max, column);
        column = split.column;
        write(split.text);
    };
}
