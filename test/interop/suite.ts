// The describe() of the interop suites, apart from the harness so that the build script runs without vitest.
import { describe, it } from 'vitest';
import { interopMissing } from './harness.js';

/**
 * A suite against the real Java peers: skipped, its title saying why and how to enable it, where Java or
 * Maven is missing; failing in CI, which must install them.
 */
export function interopSuite(title: string, body: () => void): void {
  if (interopMissing !== undefined && process.env['CI'] !== undefined) {
    describe(title, () => {
      it('has Java and Maven in CI', () => {
        throw new Error(`${interopMissing}: CI must install them before running the tests`);
      });
    });
    return;
  }
  describe.skipIf(interopMissing !== undefined)(`${title}${interopMissing === undefined ? '' : ` (skipped: ${interopMissing})`}`, body);
}
