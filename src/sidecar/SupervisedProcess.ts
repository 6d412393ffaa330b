import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { EventEmitter } from 'eventemitter3';
import type { Clock, ClockTimer } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import { errorMessage } from '../internal/async.js';
import { RepeatingTask } from '../internal/RepeatingTask.js';
import type { ResolvedSidecarProcess } from './SidecarOptions.js';

/** How a supervised process ended. */
export interface ProcessExit {
  /** Its pid. */
  readonly pid: number;
  /** Its exit code, or null when a signal ended it (or, for a watched pid, when it is unknown). */
  readonly code: number | null;
  /** The signal that ended it, or null. */
  readonly signal: NodeJS.Signals | null;
  /** When (epoch ms). */
  readonly at: number;
  /** How long it ran, in ms (since the sidecar started or found it). */
  readonly uptimeMs: number;
  /** True when the sidecar asked it to stop. */
  readonly requested: boolean;
}

/** Where a supervised process stands. */
export type ProcessState = 'idle' | 'running' | 'restarting' | 'exited' | 'stopped';

/** What `GET /process` shows. */
export interface ProcessReport {
  /** `spawn` (the sidecar started it) or `watch` (a pid it was given). */
  readonly mode: 'spawn' | 'watch';
  /** Where it stands. */
  readonly state: ProcessState;
  /** Its current pid, or undefined while not running. */
  readonly pid: number | undefined;
  /** The command line, for a spawned process. */
  readonly command: readonly string[] | undefined;
  /** Restarts so far. */
  readonly restarts: number;
  /** When it last started (epoch ms). */
  readonly startedAt: number | undefined;
  /** How its last run ended, if it did. */
  readonly lastExit: ProcessExit | undefined;
}

/** A supervised process that started (or restarted). */
export interface ProcessStartInfo {
  /** Its pid. */
  readonly pid: number;
  /** Restarts before this start. */
  readonly restarts: number;
}

/** The events of a supervised process. */
export interface SupervisedProcessEvents {
  /** It started (or restarted). */
  start: [info: ProcessStartInfo];
  /** It exited; `final` is false when a restart follows. */
  exit: [exit: ProcessExit, final: boolean];
}

/** A process the sidecar looks after: spawned by it, or watched by pid. */
export interface SupervisedProcess extends EventEmitter<SupervisedProcessEvents> {
  /** Where it stands. */
  readonly state: ProcessState;
  /** Its current pid, if running. */
  readonly pid: number | undefined;
  /** Starts it (spawn) or starts watching it. */
  start(): Promise<void>;
  /** Sends a signal (to a spawned process's whole group); false when it is not running. */
  signal(signal: NodeJS.Signals, target?: 'process' | 'group'): boolean;
  /** Asks it to stop and waits; a watched process is left alone. */
  stop(signal: NodeJS.Signals): Promise<ProcessExit | undefined>;
  /** What `GET /process` shows. */
  report(): ProcessReport;
  /** Stops timers and watchers. Idempotent. */
  close(): Promise<void>;
}

/** The exit code a shell reports for a process a signal ended: 128 + the signal's number. */
export function exitCodeOf(exit: ProcessExit): number {
  if (exit.code !== null) return exit.code;
  const number = exit.signal === null ? undefined : constants.signals[exit.signal];
  return number === undefined ? 1 : 128 + number;
}

/** Describes an exit for a log line: `code 3`, `signal SIGKILL`. */
export function describeExit(exit: ProcessExit): string {
  if (exit.signal !== null) return `signal ${exit.signal}`;
  return exit.code === null ? 'an unknown status' : `code ${exit.code}`;
}

/**
 * A process the sidecar spawns: in its own process group (so signals reach what a shell script started,
 * and a Ctrl-C at the terminal reaches the sidecar first, which stops it in order), restarted by policy with
 * exponential backoff, stopped with a signal and killed after a timeout.
 */
export class SpawnedProcess extends EventEmitter<SupervisedProcessEvents> implements SupervisedProcess {
  readonly #options: ResolvedSidecarProcess;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #clock: Clock;
  readonly #logger: Logger;
  #child: ChildProcess | undefined;
  #state: ProcessState = 'idle';
  #startedAt: number | undefined;
  #lastExit: ProcessExit | undefined;
  #restarts = 0;
  readonly #restartTimes: number[] = [];
  #restartTimer: ClockTimer | undefined;
  #stopping = false;
  #forcedRestart = false;
  #exited: Promise<ProcessExit> | undefined;
  /** Settles when the spawn in progress (the first start, or a restart whose timer fired) has run or failed. */
  #spawning: Promise<void> | undefined;

  /**
   * @param options - the process options
   * @param env - the full environment of the process
   */
  constructor(options: ResolvedSidecarProcess, env: Readonly<Record<string, string | undefined>>, deps: { clock: Clock; logger: Logger }) {
    super();
    this.#options = options;
    this.#env = env;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
  }

  get state(): ProcessState {
    return this.#state;
  }

  get pid(): number | undefined {
    return this.#state === 'running' ? this.#child?.pid : undefined;
  }

  /**
   * Spawns the process; resolves once it runs.
   * @throws KaryonError ERR_INVALID_STATE when it was already started; ERR_HOOK_FAILED when it cannot be spawned.
   */
  async start(): Promise<void> {
    if (this.#state !== 'idle') throw new KaryonError('ERR_INVALID_STATE', `the process was already started (it is ${this.#state})`);
    await this.#spawn();
  }

  signal(signal: NodeJS.Signals, target: 'process' | 'group' = 'group'): boolean {
    const child = this.#child;
    if (this.#state !== 'running' || child?.pid === undefined) return false;
    try {
      // The whole group by default (stopping): a shell script's children get it too.
      process.kill(process.platform === 'win32' || target === 'process' ? child.pid : -child.pid, signal);
      return true;
    } catch (error) {
      this.#logger.warn(`could not send ${signal} to process ${child.pid}: ${errorMessage(error)}`);
      return false;
    }
  }

  /**
   * Stops the process: `signal` to its group, SIGKILL after `stopTimeoutMs`; resolves once it has exited. A
   * spawn in progress (the first start, or a restart) is waited for, then its process is stopped the same way;
   * a pending restart is cancelled.
   */
  async stop(signal: NodeJS.Signals): Promise<ProcessExit | undefined> {
    this.#stopping = true;
    this.#restartTimer?.clear();
    // Its 'spawn' event makes it running (or its 'error' leaves it not started): then it is stopped as any other.
    if (this.#spawning !== undefined) await this.#spawning;
    if (this.#state === 'restarting' || this.#state === 'idle') {
      this.#state = 'stopped';
      return this.#lastExit;
    }
    if (this.#state !== 'running' || this.#exited === undefined) return this.#lastExit;
    const exited = this.#exited;
    const pid = this.#child?.pid;
    this.#logger.info(`sending ${signal} to process ${pid ?? '?'}, waiting up to ${this.#options.stopTimeoutMs} ms`);
    this.signal(signal);
    const timer = this.#clock.setTimeout(() => {
      this.#logger.warn(`process ${pid ?? '?'} did not exit within ${this.#options.stopTimeoutMs} ms of ${signal}: killing it`);
      this.signal('SIGKILL');
    }, this.#options.stopTimeoutMs);
    try {
      return await exited;
    } finally {
      timer.clear();
    }
  }

  /**
   * Restarts a running process that is alive but not well (a liveness check is critical): `signal` to its
   * group, SIGKILL after `stopTimeoutMs`, and a restart under the restart budget, as for a crash. Returns false
   * when the process is not running or restarts are off (`restart: 'never'`).
   */
  restart(signal: NodeJS.Signals): boolean {
    if (this.#state !== 'running' || this.#stopping || this.#options.restart === 'never' || this.#exited === undefined) return false;
    const exited = this.#exited;
    const pid = this.#child?.pid;
    this.#forcedRestart = true;
    this.signal(signal);
    const timer = this.#clock.setTimeout(() => {
      this.#logger.warn(`process ${pid ?? '?'} did not exit within ${this.#options.stopTimeoutMs} ms of ${signal}: killing it`);
      this.signal('SIGKILL');
    }, this.#options.stopTimeoutMs);
    void exited.then(() => timer.clear());
    return true;
  }

  report(): ProcessReport {
    return {
      mode: 'spawn',
      state: this.#state,
      pid: this.pid,
      command: [this.#options.command ?? '', ...this.#options.args],
      restarts: this.#restarts,
      startedAt: this.#startedAt,
      lastExit: this.#lastExit,
    };
  }

  async close(): Promise<void> {
    this.#stopping = true;
    this.#restartTimer?.clear();
    // A process still being spawned is killed once it runs: none outlives the sidecar.
    if (this.#spawning !== undefined) await this.#spawning;
    if (this.#state === 'running') await this.stop('SIGKILL');
  }

  #spawn(): Promise<void> {
    const spawned = this.#spawnChild();
    const settled = spawned.then(
      () => undefined,
      () => undefined,
    );
    this.#spawning = settled;
    void settled.then(() => {
      if (this.#spawning === settled) this.#spawning = undefined;
    });
    return spawned;
  }

  #spawnChild(): Promise<void> {
    const o = this.#options;
    return new Promise<void>((resolve, reject) => {
      const child = spawn(o.command as string, [...o.args], {
        ...(o.cwd === undefined ? {} : { cwd: o.cwd }),
        env: this.#env,
        stdio: ['ignore', o.stdout === undefined ? 'inherit' : 'pipe', o.stderr === undefined ? 'inherit' : 'pipe'],
        detached: process.platform !== 'win32',
      });
      if (o.stdout !== undefined) child.stdout?.pipe(o.stdout, { end: false });
      if (o.stderr !== undefined) child.stderr?.pipe(o.stderr, { end: false });
      let exitResolve: (exit: ProcessExit) => void = () => undefined;
      this.#exited = new Promise((r) => (exitResolve = r));
      child.once('error', (error) => {
        // No 'spawn' came: the program is missing or not executable.
        if (this.#child === child && this.#state === 'running') return;
        reject(new KaryonError('ERR_HOOK_FAILED', `could not start ${JSON.stringify(o.command)}: ${error.message}`, { cause: error }));
      });
      child.once('spawn', () => {
        this.#child = child;
        this.#state = 'running';
        this.#startedAt = this.#clock.now();
        this.#logger.info(`started process ${child.pid ?? '?'}: ${[o.command, ...o.args].join(' ')}`);
        this.emit('start', { pid: child.pid as number, restarts: this.#restarts });
        resolve();
      });
      child.once('exit', (code, signal) => {
        if (this.#child !== child) return;
        const now = this.#clock.now();
        const exit: ProcessExit = {
          pid: child.pid as number,
          code,
          signal,
          at: now,
          uptimeMs: now - (this.#startedAt ?? now),
          requested: this.#stopping,
        };
        this.#lastExit = exit;
        // Anything the process left in its group (a shell script's background jobs) goes with it.
        if (child.pid !== undefined && process.platform !== 'win32') {
          try {
            process.kill(-child.pid, 'SIGKILL');
          } catch {
            // Nothing was left.
          }
        }
        const final = !this.#scheduleRestart(exit);
        if (final) this.#state = this.#stopping ? 'stopped' : 'exited';
        exitResolve(exit);
        this.emit('exit', exit, final);
      });
    });
  }

  /** Schedules a restart when the policy and the budget allow; returns whether one was scheduled. */
  #scheduleRestart(exit: ProcessExit): boolean {
    const o = this.#options;
    const forced = this.#forcedRestart;
    this.#forcedRestart = false;
    if (this.#stopping || o.restart === 'never') return false;
    // An exit the sidecar caused with restart() counts as a failure, whatever code it exits with.
    if (o.restart === 'on-failure' && exit.code === 0 && !forced) return false;
    const now = exit.at;
    while (this.#restartTimes.length > 0 && now - (this.#restartTimes[0] as number) > o.restartWindowMs) this.#restartTimes.shift();
    if (this.#restartTimes.length >= o.maxRestarts) {
      this.#logger.error(`process exited with ${describeExit(exit)}: ${this.#restartTimes.length} restart(s) within ${o.restartWindowMs} ms already, giving up`);
      return false;
    }
    const delay = Math.min(o.maxRestartBackoffMs, o.restartBackoffMs * 2 ** this.#restartTimes.length);
    this.#restartTimes.push(now);
    this.#state = 'restarting';
    this.#logger.warn(`process exited with ${describeExit(exit)}: restarting it in ${delay} ms`);
    this.#restartTimer = this.#clock.setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#stopping) return;
      this.#restarts++;
      this.#spawn().catch((error: unknown) => {
        this.#logger.error(`restart failed: ${errorMessage(error)}`);
        this.#state = this.#stopping ? 'stopped' : 'exited';
        this.emit('exit', { ...exit, at: this.#clock.now() }, true);
      });
    }, delay);
    return true;
  }
}

/**
 * A process the sidecar did not start, watched by its pid: polled with signal 0, reported when it is gone
 * (its exit code cannot be known), sent forwarded signals, and never stopped by the sidecar.
 */
export class WatchedProcess extends EventEmitter<SupervisedProcessEvents> implements SupervisedProcess {
  readonly #pid: number;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  readonly #logger: Logger;
  #state: ProcessState = 'idle';
  #startedAt: number | undefined;
  #lastExit: ProcessExit | undefined;
  #task: RepeatingTask | undefined;

  constructor(pid: number, intervalMs: number, deps: { clock: Clock; logger: Logger }) {
    super();
    this.#pid = pid;
    this.#intervalMs = intervalMs;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
  }

  get state(): ProcessState {
    return this.#state;
  }

  get pid(): number | undefined {
    return this.#state === 'running' ? this.#pid : undefined;
  }

  /**
   * Starts watching.
   * @throws KaryonError ERR_HOOK_FAILED when no process has the pid.
   */
  start(): Promise<void> {
    if (!isAlive(this.#pid)) {
      return Promise.reject(new KaryonError('ERR_HOOK_FAILED', `no process with pid ${this.#pid} is running (or it may not be signalled by this user)`));
    }
    this.#state = 'running';
    this.#startedAt = this.#clock.now();
    this.#logger.info(`watching process ${this.#pid}`);
    this.emit('start', { pid: this.#pid, restarts: 0 });
    this.#task = new RepeatingTask({
      clock: this.#clock,
      initialDelayMs: this.#intervalMs,
      run: () => {
        if (this.#state === 'running' && !isAlive(this.#pid)) this.#gone();
        return Promise.resolve(this.#intervalMs);
      },
    });
    return Promise.resolve();
  }

  signal(signal: NodeJS.Signals): boolean {
    if (this.#state !== 'running') return false;
    try {
      process.kill(this.#pid, signal);
      return true;
    } catch (error) {
      this.#logger.warn(`could not send ${signal} to process ${this.#pid}: ${errorMessage(error)}`);
      return false;
    }
  }

  /** Stops watching; the process, which the sidecar did not start, keeps running. */
  async stop(): Promise<ProcessExit | undefined> {
    if (this.#state === 'running') this.#state = 'stopped';
    await this.#task?.close();
    return this.#lastExit;
  }

  report(): ProcessReport {
    return {
      mode: 'watch',
      state: this.#state,
      pid: this.pid,
      command: undefined,
      restarts: 0,
      startedAt: this.#startedAt,
      lastExit: this.#lastExit,
    };
  }

  async close(): Promise<void> {
    await this.stop();
  }

  #gone(): void {
    const now = this.#clock.now();
    const exit: ProcessExit = { pid: this.#pid, code: null, signal: null, at: now, uptimeMs: now - (this.#startedAt ?? now), requested: false };
    this.#lastExit = exit;
    this.#state = 'exited';
    void this.#task?.close();
    this.emit('exit', exit, true);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
