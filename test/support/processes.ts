import { execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { afterAll, afterEach, describe, it } from 'vitest';

// Processes a test spawns may spawn their own in new process groups (a sidecar's application, a shell
// script's socat): killing the child a test holds leaves those running. These helpers find and kill them all.

/** The environment variable that marks every process a test file spawned, down to its grandchildren. */
export const PROCESS_TAG_VARIABLE = 'KARYON_TEST_PROCESS_TAG';

interface ProcessRow {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
}

/** Every process of the machine, with its parent and group (from /proc, or `ps` where there is none). */
function processTable(): ProcessRow[] {
  if (existsSync('/proc/self/stat')) {
    return readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .flatMap((name) => {
        try {
          const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
          // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
          const [, ppid, pgid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          return [{ pid: Number(name), ppid: Number(ppid), pgid: Number(pgid) }];
        } catch {
          return []; // it exited meanwhile
        }
      });
  }
  return execFileSync('ps', ['-A', '-o', 'pid=,ppid=,pgid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number))
    .map(([pid, ppid, pgid]) => ({ pid: pid!, ppid: ppid!, pgid: pgid! }));
}

/** The pids of `pid` and of every process below it. */
export function processTree(pid: number): number[] {
  const table = processTable();
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const row of table) if (row.ppid === tree[i] && !tree.includes(row.pid)) tree.push(row.pid);
  }
  return tree;
}

/** The pids of the processes whose environment holds `variable=value` (Linux only: empty elsewhere). */
function processesWithEnv(variable: string, value: string): number[] {
  if (!existsSync('/proc/self/environ')) return [];
  const wanted = `${variable}=${value}`;
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)
    .filter((name) => {
      try {
        return readFileSync(`/proc/${name}/environ`, 'utf8').split('\0').includes(wanted);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function kill(target: number): void {
  try {
    process.kill(target, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * Kills every process in `pids` with SIGKILL, and the process group of each one that leads its own group
 * (never the test runner's group).
 */
function killAll(pids: readonly number[]): void {
  const table = processTable();
  const ownGroup = table.find((row) => row.pid === process.pid)?.pgid;
  for (const pid of pids) {
    const row = table.find((r) => r.pid === pid);
    if (row !== undefined && row.pgid === pid && row.pgid !== ownGroup) kill(-pid);
    kill(pid);
  }
}

/** Kills `child` and every process below it, their own process groups included. */
export function killTree(child: ChildProcess | number): void {
  // A child that exited was reaped: its pid may belong to another process now.
  if (typeof child !== 'number' && (child.exitCode !== null || child.signalCode !== null)) return;
  const pid = typeof child === 'number' ? child : child.pid;
  if (pid === undefined) return;
  killAll(processTree(pid));
}

/** Whether a process with this pid is running (a zombie counts as gone). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc: signal 0 is all there is
  }
}

/**
 * For a test file that spawns processes: tags every process spawned from it (through the environment they
 * inherit), kills each tracked child's whole tree after each test, and after the file kills whatever still
 * carries the tag (a grandchild orphaned by a parent that died), so a failed test leaves nothing running.
 * Returns `track`, to register a child whose tree dies after the current test, and `killTagged`, the sweep.
 */
export function killSpawnedProcesses(): { readonly track: (child: ChildProcess) => ChildProcess; readonly killTagged: () => void } {
  const tag = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  process.env[PROCESS_TAG_VARIABLE] = tag;
  const tracked: ChildProcess[] = [];
  afterEach(() => {
    for (const child of tracked.splice(0)) killTree(child);
  });
  const killTagged = (): void => killAll(processesWithEnv(PROCESS_TAG_VARIABLE, tag));
  afterAll(() => {
    for (const child of tracked.splice(0)) killTree(child);
    killTagged();
  });
  return {
    killTagged,
    track: (child) => {
      tracked.push(child);
      return child;
    },
  };
}

/** The path of `name` on the PATH (or in the usual sbin folders), or undefined. */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'].filter((d) => d !== '');
  return dirs.map((d) => join(d, name)).find((path) => existsSync(path));
}

/**
 * Why a suite needing these programs cannot run here (`socat is not installed (apt-get install socat)`),
 * or undefined when all are present. In CI (`CI` set) a missing program fails a test instead: CI installs them.
 */
export function missingPrograms(programs: Readonly<Record<string, string>>, suite: string): string | undefined {
  const missing = Object.entries(programs).filter(([name]) => findBinary(name) === undefined);
  if (missing.length === 0) return undefined;
  const why = missing.map(([name, pkg]) => `${name} is not installed (apt-get install ${pkg})`).join('; ');
  if (process.env['CI'] !== undefined) {
    describe(suite, () => {
      it('has what it needs installed in CI', () => {
        throw new Error(`${why}: CI must install it before running the tests`);
      });
    });
  }
  return why;
}

export { freePort } from './ports.js';
