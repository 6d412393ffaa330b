import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { KaryonError } from '../../common/KaryonError.js';
import { abortReason } from '../../internal/async.js';
import { invalidOption } from '../../internal/validate.js';
import type { HealthCheckFunction, HealthResult } from '../types.js';
import { OutputBuffer, resolveMaxOutputBytes } from './output.js';

/** Options of {@link scriptCheck}. */
export interface ScriptCheckOptions {
  /** The program and its arguments, run without a shell: `['./check.sh', 'arg']`. Wrap in `['sh', '-c', '...']` for a shell line. */
  readonly args: readonly string[];
  /**
   * Working directory of the script.
   * @default the process's working directory
   */
  readonly cwd?: string;
  /**
   * Environment of the script.
   * @default the process's environment
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Most bytes of output (stdout and stderr interleaved) kept and shown in the check's details.
   * @default 4096
   */
  readonly maxOutputBytes?: number;
}

/** The ready-made check scripts shipped with the package, under `scripts/checks/`. */
export type BundledCheckScript = 'http-200' | 'kill-switch';

const bundled: readonly BundledCheckScript[] = ['http-200', 'kill-switch'];

/**
 * The absolute path of a ready-made check script: `http-200` (exits 0 when a URL answers 200, 2 otherwise) or
 * `kill-switch` (exits 2 while a file exists, 0 otherwise).
 * @throws KaryonError ERR_INVALID_OPTION for an unknown name.
 *
 * @example
 * ```ts
 * service.addHealthCheck('kill-switch', scriptCheck({ args: [bundledCheckScript('kill-switch'), '/etc/app/disabled'] }));
 * ```
 */
export function bundledCheckScript(name: BundledCheckScript): string {
  if (!bundled.includes(name)) invalidOption('bundled check script', `one of ${bundled.map((b) => `'${b}'`).join(', ')}`, name);
  // src/health/checks and dist/health/checks are both three levels below the package root.
  return fileURLToPath(new URL(`../../../scripts/checks/${name}.sh`, import.meta.url));
}

/**
 * A Consul-style script check: runs a program and maps its exit code to a result, as Consul does:
 * 0 is UP (passing), 1 is WARN (warning), anything else (or death by a signal) is DOWN (critical). Its output
 * is kept in the result's details. When the check's timeout aborts the signal, the script's whole process
 * group is killed, so a script's own children (a `curl` it started) do not outlive it.
 * @throws KaryonError ERR_INVALID_OPTION when `args` is not a non-empty list of strings.
 *
 * @example
 * ```ts
 * service.addHealthCheck('disk', scriptCheck({ args: ['/usr/local/bin/check-disk', '/var'] }), { intervalMs: 30_000, timeoutMs: 5_000 });
 * ```
 */
export function scriptCheck(options: ScriptCheckOptions): HealthCheckFunction {
  if (typeof options !== 'object' || options === null) invalidOption('scriptCheck', 'an options object', options);
  const args = options.args as unknown;
  if (!Array.isArray(args) || args.length === 0 || !args.every((arg) => typeof arg === 'string') || args[0] === '') {
    invalidOption('script', 'a non-empty list of strings (the program, then its arguments)', args);
  }
  const [command, ...rest] = args;
  const maxOutputBytes = resolveMaxOutputBytes('maxOutputBytes', options.maxOutputBytes);
  const spawnOptions = {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
  };
  return (signal) => runScript(command as string, rest, spawnOptions, maxOutputBytes, signal);
}

function runScript(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: Readonly<Record<string, string | undefined>> },
  maxOutputBytes: number,
  signal: AbortSignal,
): Promise<HealthResult> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<HealthResult>((resolve, reject) => {
    const output = new OutputBuffer(maxOutputBytes);
    // Its own process group, so a timeout can kill what the script started too.
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
    const collect = (chunk: Buffer): void => output.add(chunk);
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const onAbort = (): void => {
      killGroup(child.pid, () => child.kill('SIGKILL'));
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (error: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', onAbort);
      reject(
        new KaryonError('ERR_HEALTH_CHECK_FAILED', `script ${JSON.stringify(command)} could not be run: ${error.message}`, { cause: error }),
      );
    });
    // 'close' waits for the output to be read to its end, so the result carries all of it.
    child.once('close', (code: number | null, killedBy: NodeJS.Signals | null) => {
      signal.removeEventListener('abort', onAbort);
      const text = output.text();
      const details: Record<string, unknown> = { exitCode: code, output: text };
      if (killedBy !== null) details.signal = killedBy;
      resolve({ status: code === 0 ? 'UP' : code === 1 ? 'WARN' : 'DOWN', details });
    });
  });
}

/** Kills a process group; falls back to killing the process alone where groups do not exist. */
export function killGroup(pid: number | undefined, fallback: () => void): void {
  if (pid === undefined) return;
  try {
    if (process.platform === 'win32') fallback();
    else process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
}
