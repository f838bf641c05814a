// Prints one closing line, "N passed, N failed", that any CI log reader understands.
// It is written at exit so that it comes after jest's own summary.
class SummaryReporter {
    onRunComplete(_contexts, results) {
        const skipped = results.numPendingTests + results.numTodoTests;
        const line = `${results.numPassedTests} passed, ${results.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ""}\n`;
        process.once("exit", () => process.stdout.write(line));
    }
}
module.exports = SummaryReporter;
