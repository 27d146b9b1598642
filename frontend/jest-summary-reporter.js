// Prints one plain closing line, "frontend: N passed, N failed[, N skipped]", at the very end
// of the run so CI logs state the frontend test count in a runner-neutral form.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    let line = `frontend: ${results.numPassedTests} passed, ${failed} failed`;
    if (skipped > 0) {
      line += `, ${skipped} skipped`;
    }
    // Written at exit so it comes after jest's own summary and is the last line of the run.
    process.once('exit', () => process.stdout.write(`${line}\n`));
  }
}
module.exports = SummaryReporter;
