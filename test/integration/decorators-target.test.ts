import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumerProject } from '../support/consumerProject.js';
import type { ConsumerProject } from '../support/consumerProject.js';
import { killSpawnedProcesses } from '../support/processes.js';

// The decorators example in a user's project, compiled with tsc against the published package: with a target
// below ESNext (ES2022 here, as docs/lifecycle.md says) TypeScript lowers the decorators and the program runs;
// with target ESNext TypeScript 5.9 emits them as written, which Node cannot parse.

const root = fileURLToPath(new URL('../..', import.meta.url));
const { track } = killSpawnedProcesses();

let project: ConsumerProject;
beforeAll(async () => {
  project = await consumerProject();
  project.write('main.ts', readFileSync(join(root, 'examples', 'decorators', 'main.ts'), 'utf8'));
}, 240_000);
afterAll(() => project?.remove());

function runNode(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = track(spawn(process.execPath, [file], { cwd: project.dir, stdio: ['ignore', 'pipe', 'pipe'] }));
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, ...out })));
}

describe('decorators under the documented compiler settings', () => {
  it('target ES2022 (module nodenext, strict, skipLibCheck false): the example type-checks, compiles and runs', async () => {
    expect(await project.check(['--noEmit', 'false', '--target', 'ES2022', '--outDir', 'es2022'])).toBe('');
    const emitted = readFileSync(join(project.dir, 'es2022', 'main.js'), 'utf8');
    expect(emitted).not.toMatch(/^\s*@initialize\(/m);
    const run = await runNode('es2022/main.js');
    expect(run.stderr).not.toMatch(/warning:|error:|SyntaxError/); // the service's own log lines are fine
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('GET /?lang=fr -> 200 bonjour');
    expect(run.stdout).toContain('lifecycle: SHUTTING_DOWN -> STOPPED');
  }, 120_000);

  it('target ESNext: the decorators are emitted as written (what docs/lifecycle.md warns of)', async () => {
    expect(await project.check(['--noEmit', 'false', '--target', 'ESNext', '--outDir', 'esnext'])).toBe('');
    expect(readFileSync(join(project.dir, 'esnext', 'main.js'), 'utf8')).toMatch(/^\s*@initialize\(/m);
    const run = await runNode('esnext/main.js');
    // Node versions without decorator syntax (20, 22, 24 at least) refuse the file before running anything.
    if (run.code !== 0) expect(run.stderr).toContain('SyntaxError');
  }, 120_000);
});
