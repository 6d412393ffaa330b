import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { systemClock } from 'karyon-ts';
import type { Clock } from 'karyon-ts';
import { resolveSidecarOptions } from '../../src/sidecar/SidecarOptions.js';
import type { SidecarProcessOptions, ProcessExit } from 'karyon-ts/sidecar';
import { SpawnedProcess } from '../../src/sidecar/SupervisedProcess.js';
import { ManualClock } from 'karyon-ts/testing';
import { memoryLogger } from '../support/logger.js';
import { killSpawnedProcesses } from '../support/processes.js';

// Whatever fails, no process spawned here outlives the file.
killSpawnedProcesses();

// stop() (and close()) while the process is being spawned, at the first start or at a restart, with real
// child processes: the stop signal reaches the process once it runs, and nothing outlives the stop.

/**
 * The application: every run appends `run <pid>` to $EVENTS; with $FAIL_FIRST set, the first run exits with
 * code 3. Otherwise it traps SIGTERM (appending `term <pid> SIGTERM` and exiting 0), then appends
 * `ready <pid>` and waits.
 */
const appSource = [
  "const fs = require('node:fs');",
  'const events = process.env.EVENTS;',
  "const log = (line) => fs.appendFileSync(events, line + '\\n');",
  "log('run ' + process.pid);",
  "const runs = fs.readFileSync(events, 'utf8').split('\\n').filter((line) => line.startsWith('run ')).length;",
  'if (process.env.FAIL_FIRST && runs === 1) process.exit(3);',
  "process.on('SIGTERM', (signal) => {",
  "  log('term ' + process.pid + ' ' + signal);",
  '  process.exit(0);',
  '});',
  "log('ready ' + process.pid);",
  'setInterval(() => undefined, 60_000);',
].join('\n');

const dir = mkdtempSync(join(tmpdir(), 'karyon-sidecar-stop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Pids started by a test: any still alive after it (a failed test) are killed with their groups. */
const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
  }
});

let count = 0;

interface Made {
  readonly process: SpawnedProcess;
  readonly events: string;
  readonly logger: ReturnType<typeof memoryLogger>;
}

function makeProcess(options: SidecarProcessOptions, env: Record<string, string> = {}, clock: Clock = systemClock): Made {
  const events = join(dir, `events-${++count}`);
  const output = new PassThrough();
  output.resume();
  const resolved = resolveSidecarOptions({
    app: { name: 'stop-test', port: 1 },
    process: { command: process.execPath, args: ['-e', appSource], stdout: output, stderr: output, ...options },
  }).process;
  const logger = memoryLogger();
  const spawned = new SpawnedProcess(resolved, { ...process.env, EVENTS: events, ...env }, { clock, logger });
  spawned.on('start', (info) => started.push(info.pid));
  return { process: spawned, events, logger };
}

function lines(events: string): string[] {
  return existsSync(events) ? readFileSync(events, 'utf8').split('\n').filter((line) => line !== '') : [];
}

/**
 * Waits, blocking the event loop, until `condition()` holds. Blocking is the point: while it waits, the
 * parent cannot see the child's 'spawn' event, so it cannot signal the child before the child has trapped
 * the signal (which it reports through the events file).
 */
function blockUntil(condition: () => boolean, what: string, timeoutMs = 10_000): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    Atomics.wait(cell, 0, 0, 5);
  }
}

function readyCount(events: string): number {
  return lines(events).filter((line) => line.startsWith('ready ')).length;
}

/** The next 'exit' event of `spawned`. */
function nextExit(spawned: SpawnedProcess): Promise<[ProcessExit, boolean]> {
  return new Promise((resolve) => spawned.once('exit', (exit, final) => resolve([exit, final])));
}

/** Whether a process (or, with a negative pid, a process group) exists. */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe('ESRCH');
    return false;
  }
}

describe.skipIf(process.platform === 'win32')('SpawnedProcess stopped while it is being spawned', () => {
  it('stop() right after start() waits for the spawn, sends the stop signal and resolves once the process has exited', async () => {
    const { process: spawned, events, logger } = makeProcess({ stopTimeoutMs: 10_000 });
    const order: string[] = [];
    spawned.on('exit', () => order.push('exit'));
    const starting = spawned.start();
    const stopping = spawned.stop('SIGTERM');
    void stopping.then(() => order.push('stop resolved'));
    blockUntil(() => readyCount(events) === 1, 'the child to trap SIGTERM');

    await starting;
    const exit = await stopping;
    const pid = Number(lines(events)[0]?.split(' ')[1]);
    expect(exit).toMatchObject({ pid, code: 0, signal: null, requested: true });
    expect(lines(events)).toEqual([`run ${pid}`, `ready ${pid}`, `term ${pid} SIGTERM`]);
    expect(order).toEqual(['exit', 'stop resolved']);
    expect(spawned.state).toBe('stopped');
    expect(spawned.report().lastExit).toEqual(exit);
    expect(exists(pid)).toBe(false);
    expect(exists(-pid)).toBe(false);
    expect(logger.lines).toContain(`info sending SIGTERM to process ${pid}, waiting up to 10000 ms`);
  });

  it('stop() while a restart is being spawned stops the new process with the stop signal: no orphan', async () => {
    const clock = new ManualClock();
    const { process: spawned, events } = makeProcess({ restart: 'on-failure', restartBackoffMs: 50, stopTimeoutMs: 10_000 }, { FAIL_FIRST: '1' }, clock);
    const starts: number[] = [];
    spawned.on('start', (info) => starts.push(info.pid));
    const failed = nextExit(spawned);
    await spawned.start();
    const [firstExit, final] = await failed;
    expect(firstExit).toMatchObject({ code: 3, requested: false });
    expect(final).toBe(false);
    expect(spawned.state).toBe('restarting');

    // The restart timer fires: the new process is spawned, and stop() comes before its 'spawn' event.
    clock.advance(50);
    const stopping = spawned.stop('SIGTERM');
    blockUntil(() => readyCount(events) === 1, 'the restarted child to trap SIGTERM');

    const exit = await stopping;
    expect(starts).toHaveLength(2);
    const pid = starts[1] as number;
    expect(pid).not.toBe(firstExit.pid);
    expect(exit).toMatchObject({ pid, code: 0, signal: null, requested: true });
    expect(lines(events)).toEqual([`run ${firstExit.pid}`, `run ${pid}`, `ready ${pid}`, `term ${pid} SIGTERM`]);
    expect(spawned.state).toBe('stopped');
    expect(spawned.report().restarts).toBe(1);
    for (const gone of [pid, -pid, firstExit.pid, -firstExit.pid]) expect(exists(gone)).toBe(false);
  });

  it('stop() while a restart is only scheduled cancels it: nothing is spawned', async () => {
    const clock = new ManualClock();
    const { process: spawned, events } = makeProcess({ restart: 'on-failure', restartBackoffMs: 50 }, { FAIL_FIRST: '1' }, clock);
    const exits: boolean[] = [];
    spawned.on('exit', (_exit, final) => exits.push(final));
    const failed = nextExit(spawned);
    await spawned.start();
    const [firstExit] = await failed;
    expect(spawned.state).toBe('restarting');
    expect(clock.pendingTimers).toBe(1);

    await expect(spawned.stop('SIGTERM')).resolves.toEqual(firstExit);
    expect(spawned.state).toBe('stopped');
    expect(clock.pendingTimers).toBe(0);
    clock.advance(60_000);
    expect(spawned.state).toBe('stopped');
    expect(spawned.report().restarts).toBe(0);
    expect(lines(events)).toEqual([`run ${firstExit.pid}`]);
    expect(exits).toEqual([false]);
    expect(exists(firstExit.pid)).toBe(false);
    expect(exists(-firstExit.pid)).toBe(false);
  });

  it('close() right after start() kills the process once it is spawned: no orphan', async () => {
    const { process: spawned, events } = makeProcess({ stopTimeoutMs: 10_000 });
    const pids: number[] = [];
    spawned.on('start', (info) => pids.push(info.pid));
    const starting = spawned.start();
    const closing = spawned.close();
    await starting;
    await closing;
    expect(pids).toHaveLength(1);
    const pid = pids[0] as number;
    expect(spawned.state).toBe('stopped');
    expect(spawned.report().lastExit).toMatchObject({ pid, signal: 'SIGKILL', requested: true });
    expect(exists(pid)).toBe(false);
    expect(exists(-pid)).toBe(false);
    expect(lines(events).some((line) => line.startsWith('term '))).toBe(false);
  });

  it('stop() during a spawn that fails resolves, and the start fails', async () => {
    const { process: spawned } = makeProcess({ command: join(dir, 'no-such-program'), args: [] });
    const starting = spawned.start();
    const stopping = spawned.stop('SIGTERM');
    await expect(starting).rejects.toMatchObject({ code: 'ERR_HOOK_FAILED' });
    await expect(stopping).resolves.toBeUndefined();
    expect(spawned.state).toBe('stopped');
  });
});
