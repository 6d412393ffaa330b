import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { killSpawnedProcesses } from '../support/processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { track } = killSpawnedProcesses();

// The public surface of every entry point is recorded in etc/*.api.md. A change of the API that does not change
// the report with it fails here (and in CI's `npm run api:check`), with what to run when the change is meant.
describe('the API report', () => {
  it('etc/*.api.md match the built public surface of every entry point', async () => {
    const run = await new Promise<{ code: number; stderr: string }>((resolve) => {
      track(
        execFile(process.execPath, ['scripts/api-report.mjs'], { cwd: root }, (error, _stdout, stderr) =>
          resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stderr: stderr || (error?.message ?? '') }),
        ),
      );
    });
    expect(run.stderr, 'the API changed: npm run build && npm run api:update, and commit etc/*.api.md').toBe('');
    expect(run.code).toBe(0);
  }, 240_000);
});
