import { relative } from 'node:path';
import type { Reporter, TestCase } from 'vitest/node';

/**
 * Lists, at the end of a run, every test that failed and then passed when vitest ran it again (`retry` in
 * vitest.config.ts, on CI only). A retry keeps a shared machine's load from failing the whole run on one lost
 * race; this list keeps the race from going unseen: each entry is a test to make robust.
 */
export default class FlakyReporter implements Reporter {
  readonly #flaky: string[] = [];

  onTestCaseResult(test: TestCase): void {
    const diagnostic = test.diagnostic();
    if (diagnostic?.flaky === true) {
      // What the failed try threw, first line of each error, to know which wait lost the race.
      const errors = (test.result().errors ?? []).map((error) => {
        const where = error.stack?.split('\n').find((line) => line.includes('.test.ts'))?.trim().replace(`${process.cwd()}/`, '') ?? '';
        return `      ${(error.message ?? error.name ?? 'error').split('\n')[0]} ${where}`;
      });
      this.#flaky.push([`${relative(process.cwd(), test.module.moduleId)} > ${test.fullName} (passed on try ${diagnostic.retryCount + 1})`, ...errors].join('\n'));
    }
  }

  onTestRunEnd(): void {
    if (this.#flaky.length === 0) return;
    process.stdout.write(`\nFlaky: ${this.#flaky.length} test(s) failed and then passed when run again:\n${this.#flaky.map((line) => `  - ${line}\n`).join('')}`);
  }
}
