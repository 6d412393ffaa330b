import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../support/logger.js';
import { isRunning, killSpawnedProcesses, killTree } from '../support/processes.js';

// A failed test must leave nothing running: a sidecar's application and a shell script's socat run in process
// groups of their own, which killing the child a test holds does not reach.

const root = fileURLToPath(new URL('../..', import.meta.url));
const { track, killTagged } = killSpawnedProcesses();

/** A Node process that starts a grandchild in a new process group (as a sidecar does) and prints its pid. */
async function parentWithGrandchild(exitAfterSpawn = false): Promise<{ parent: ReturnType<typeof spawn>; grandchild: number }> {
  const script = [
    "const c = require('node:child_process').spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });",
    'console.log(c.pid);',
    exitAfterSpawn ? 'process.exit(0);' : 'setInterval(() => {}, 1000);',
  ].join('\n');
  const parent = track(spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] }));
  let out = '';
  parent.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await waitFor(() => /^\d+\n/.test(out), 10_000, 'the grandchild pid');
  return { parent, grandchild: Number(out.trim()) };
}

describe('no process outlives a test', () => {
  it('killing the child alone leaves its grandchild running; killTree takes the whole tree', async () => {
    const first = await parentWithGrandchild();
    first.parent.kill('SIGKILL');
    await new Promise((resolve) => first.parent.once('exit', resolve));
    expect(isRunning(first.grandchild)).toBe(true); // what a plain child.kill() in a cleanup left behind
    killTree(first.grandchild);
    await waitFor(() => !isRunning(first.grandchild), 5_000, 'the orphan to die');

    const second = await parentWithGrandchild();
    killTree(second.parent);
    await waitFor(() => !isRunning(second.grandchild) && second.parent.exitCode === null && second.parent.signalCode !== null, 5_000, 'both to die');
  });

  it.runIf(process.platform === 'linux')('the file-level sweep kills a grandchild orphaned by a parent that already exited', async () => {
    const { parent, grandchild } = await parentWithGrandchild(true);
    await new Promise((resolve) => (parent.exitCode === null ? parent.once('exit', resolve) : resolve(undefined)));
    killTree(parent); // finds nothing: the parent is gone and the orphan has a new parent
    expect(isRunning(grandchild)).toBe(true);
    killTagged();
    await waitFor(() => !isRunning(grandchild), 5_000, 'the orphan to die');
  });

  it('every test file that spawns processes kills them in its cleanup, whatever failed', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []));
    // Anything that starts a process: node:child_process, a sidecar, a supervised process, a script check, a browser.
    const spawns = /from 'node:child_process'|createSidecar\(|new SupervisedProcess|scriptCheck\(|\.launch\(/;
    const offenders = files(join(root, 'test'))
      .filter((file) => spawns.test(readFileSync(file, 'utf8')) && !readFileSync(file, 'utf8').includes('killSpawnedProcesses()'))
      .map((file) => relative(root, file));
    expect(offenders).toEqual([]);
  });
});
