// Over 500 lines because it runs the whole sidecar around one Service: the supervised process, its readiness,
// the local HTTP server, the egress proxy, the statsd relay and the stop order; each of those parts has its
// own file, and this one orders them.
import { resolve as resolvePath } from 'node:path';
import { EventEmitter } from 'eventemitter3';
import { resolveAdminOptions } from '../admin/AdminServer.js';
import type { Clock } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import { renderTemplate } from '../config/TemplateRenderer.js';
import type { TemplateRenderer } from '../config/TemplateRenderer.js';
import { httpCheck } from '../health/checks/httpCheck.js';
import { bundledCheckScript, scriptCheck } from '../health/checks/scriptCheck.js';
import type { BundledCheckScript } from '../health/checks/scriptCheck.js';
import { parseHostPort, tcpCheck } from '../health/checks/tcpCheck.js';
import { TtlCheck } from '../health/checks/TtlCheck.js';
import { HealthCheck, resolveHealthCheckOptions } from '../health/HealthCheck.js';
import type { HealthCheckFunction, HealthCheckOptions, HealthResult } from '../health/types.js';
import { sleep } from '../internal/async.js';
import { createService } from '../lifecycle/createService.js';
import type { LifecycleOptions, Service, ServiceOptions } from '../lifecycle/Service.js';
import { instanceIdentityKeys } from '../lifecycle/ServiceOptions.js';
import { EgressProxy } from './EgressProxy.js';
import { SidecarServer } from './SidecarServer.js';
import { resolveSidecarOptions } from './SidecarOptions.js';
import type { ResolvedSidecarCheck, ResolvedSidecarOptions, SidecarOptions } from './SidecarOptions.js';
import { StatsdRelay } from './StatsdRelay.js';
import { SpawnedProcess, WatchedProcess, describeExit, exitCodeOf } from './SupervisedProcess.js';
import type { ProcessExit, ProcessStartInfo, SupervisedProcess } from './SupervisedProcess.js';

/** Why a sidecar ended, and the exit code a command line should end with. */
export interface SidecarOutcome {
  /** `stopped` (asked to), `process-exited` (the application's process ended by itself) or `failed` (start failed). */
  readonly reason: 'stopped' | 'process-exited' | 'failed';
  /** How the process ended, when it did. */
  readonly exit: ProcessExit | undefined;
  /** The error, when the start failed or the stop reported errors. */
  readonly error: unknown;
  /** 0 when stopped cleanly; the process's exit code (128 + signal number for a signal) when it ended by itself; 1 on failure. */
  readonly exitCode: number;
}

/** The events of a {@link Sidecar}. */
export interface SidecarEvents {
  /** The application's process started (or restarted). */
  processStart: [info: ProcessStartInfo];
  /** The application's process exited; `final` is false when a restart follows. */
  processExit: [exit: ProcessExit, final: boolean];
  /** The sidecar ended; the same outcome `finished` resolves with. */
  finished: [outcome: SidecarOutcome];
}

interface BuiltCheck {
  readonly name: string;
  readonly fn: HealthCheckFunction;
  readonly options: HealthCheckOptions;
}

/** Tags the service's metrics scope owns: a relayed line cannot change which instance it speaks for. */
const STANDARD_TAGS = ['app', 'instance', 'zone', 'version'];

/**
 * The sidecar for an application in any language, built on the same service lifecycle as an in-process
 * service: the application's process is registered in Eureka under its own name and port, STARTING until its
 * readiness checks pass, UP, DOWN while a readiness check is critical (its process not running counts),
 * OUT_OF_SERVICE from the admin API, and on stop DOWN, a wait for clients to notice, the stop signal to the
 * process, a wait for it to exit, and the cancel. Its own port serves Prana's endpoints, TTL check-ins and an
 * egress proxy through `service.client(vip)`; a statsd relay and a configuration template complete it.
 * Create it with {@link createSidecar}.
 */
export class Sidecar extends EventEmitter<SidecarEvents> implements AsyncDisposable {
  readonly #options: ResolvedSidecarOptions;
  readonly #service: Service;
  readonly #server: SidecarServer;
  readonly #proxy: EgressProxy;
  readonly #relay: StatsdRelay | undefined;
  readonly #ttlChecks = new Map<string, TtlCheck>();
  readonly #readiness: BuiltCheck[] = [];
  /** While the start waits for readiness: each check not passing yet, with why. */
  readonly #waitingFor = new Map<string, string>();
  readonly #clock: Clock;
  readonly #logger: Logger;
  #process: SupervisedProcess | undefined;
  #renderer: TemplateRenderer | undefined;
  #stopSignal: NodeJS.Signals;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #exit: ProcessExit | undefined;
  /** Set once the readiness wait of the start has passed: a later exit stops the sidecar. */
  #ready = false;
  #outcome: SidecarOutcome | undefined;
  readonly #finished: Promise<SidecarOutcome>;
  #settle: (outcome: SidecarOutcome) => void = () => undefined;

  /** Use {@link createSidecar}. */
  constructor(options: SidecarOptions) {
    super();
    const o = resolveSidecarOptions(options);
    this.#options = o;
    this.#clock = o.clock;
    this.#logger = o.logger;
    this.#stopSignal = o.process.stopSignal;
    this.#finished = new Promise((resolve) => (this.#settle = resolve));
    const app = options.app;
    const { readinessTimeoutMs: _timeout, readinessPollMs: _poll, ...lifecycle }: NonNullable<SidecarOptions['lifecycle']> = options.lifecycle ?? {};
    const serviceOptions: ServiceOptions = {
      name: o.name,
      port: o.appPort,
      ...pick(app, instanceIdentityKeys),
      metadata: { ...app.metadata, 'karyon.sidecar': o.process.mode },
      ...(options.registry === undefined ? {} : { registry: options.registry }),
      ...(options.admin === undefined ? {} : { admin: options.admin }),
      lifecycle: lifecycle satisfies LifecycleOptions,
      ...(options.lease === undefined ? {} : { lease: options.lease }),
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      ...(o.config === undefined ? {} : { config: o.config.config }),
      clock: o.clock,
      logger: o.logger,
    };
    this.#service = createService(serviceOptions);
    const service = this.#service;

    const proxy = options.proxy ?? {};
    const { vips = {}, maxBufferedBodyBytes: _max, maxVips: _vips, ...common } = proxy;
    this.#proxy = new EgressProxy({
      clientOf: (vip, clientOptions) => service.client(vip, clientOptions),
      common,
      vips,
      maxBufferedBodyBytes: o.maxBufferedBodyBytes,
      maxVips: o.maxVips,
      logger: o.logger,
      knows: (vip) => service.registry.instancesByVip(vip).length > 0,
    });
    const admin = options.admin;
    this.#server = new SidecarServer({
      app: o.name,
      status: () => service.status,
      health: () => service.healthReport(),
      registry: service.registry,
      config: o.config?.config,
      process: () => this.#process?.report(),
      ttlCheck: (name) => this.#ttlChecks.get(name),
      hasCheck: (name) => name in service.healthReport().checks,
      waitingFor: () => Object.fromEntries(this.#waitingFor),
      proxy: this.#proxy,
      tokens: admin === undefined || admin === false ? undefined : resolveAdminOptions(admin).tokens,
      clock: o.clock,
      logger: o.logger,
    });
    this.#relay =
      o.statsdRelay === undefined
        ? undefined
        : new StatsdRelay({ metrics: service.metrics, reservedTags: STANDARD_TAGS, clock: o.clock, logger: o.logger });

    for (const check of o.checks) {
      const built = this.#buildCheck(check);
      service.addHealthCheck(built.name, built.fn, built.options);
      if (built.options.kind !== 'liveness') this.#readiness.push(built);
    }
    if (o.process.mode !== 'none') {
      const processCheck: BuiltCheck = {
        name: 'process',
        fn: () => this.#processHealth(),
        options: { kind: 'readiness', intervalMs: o.process.checkIntervalMs, timeoutMs: 1000, cacheMs: 0 },
      };
      service.addHealthCheck(processCheck.name, processCheck.fn, processCheck.options);
      this.#readiness.push(processCheck);
    }

    // A liveness check turning critical means the process is alive but not well: with restarts on, it is
    // restarted (once per turn to critical), as an orchestrator restarts a container failing its liveness probe.
    service.on('healthChange', (change) => {
      if (change.to !== 'CRITICAL' || change.report.kind !== 'liveness' || this.#stopping !== undefined) return;
      const supervised = this.#process;
      if (supervised instanceof SpawnedProcess && supervised.restart(o.process.stopSignal)) {
        this.#logger.warn(`liveness check '${change.name}' is critical: restarting the process`);
      }
    });

    // Shutdown hooks run in reverse: the process stops first, then the sidecar's endpoints close (the
    // process may call through the proxy until it is gone). Added before any initialize hook, so they run
    // even when the start fails half-way.
    service.onShutdown(() => this.#closeEndpoints(), { name: 'close the sidecar endpoints', timeoutMs: 5_000 });
    service.onShutdown(() => this.#stopProcess(), { name: 'stop the process', timeoutMs: o.process.stopTimeoutMs + 5_000 });
    if (o.config?.template !== undefined && o.config.output !== undefined) {
      const { template, output } = o.config;
      service.onInitialize(() => this.#render(template, output), { name: 'render the configuration template' });
    }
    if (o.process.mode !== 'none') service.onInitialize(() => this.#startProcess(), { name: 'start the process' });
    service.onInitialize((signal) => this.#awaitReadiness(signal), { name: 'wait for readiness', timeoutMs: o.readinessTimeoutMs });
  }

  /** The service behind the sidecar: lifecycle, registry, admin server, clients, commands, metrics. */
  get service(): Service {
    return this.#service;
  }

  /** The base URL of the sidecar's endpoints and proxy, once listening. */
  get url(): string | undefined {
    return this.#server.url;
  }

  /** The statsd relay's UDP port, once listening. */
  get statsdRelayPort(): number | undefined {
    return this.#relay?.port;
  }

  /** The statsd relay, if there is one. */
  get statsdRelay(): StatsdRelay | undefined {
    return this.#relay;
  }

  /** The application's process, once started (or being watched). */
  get process(): SupervisedProcess | undefined {
    return this.#process;
  }

  /** The egress proxy. */
  get proxy(): EgressProxy {
    return this.#proxy;
  }

  /** The TTL check of that name, to report to it in process. */
  ttlCheck(name: string): TtlCheck | undefined {
    return this.#ttlChecks.get(name);
  }

  /** Resolves when the sidecar has ended (stopped, its process exited, or its start failed). */
  get finished(): Promise<SidecarOutcome> {
    return this.#finished;
  }

  /**
   * Starts: the statsd relay and the sidecar's endpoints listen, then the service starts: the admin server
   * listens, the application registers as STARTING, the template is rendered, the process spawned, and the
   * readiness checks awaited before UP. Calling it again returns the same promise.
   * @throws KaryonError ERR_LISTEN when a port is taken; ERR_HOOK_FAILED or ERR_HOOK_TIMEOUT when the process
   * cannot be started, exits, or does not become ready in time (what started is stopped again).
   */
  start(signal?: AbortSignal): Promise<void> {
    this.#starting ??= this.#start(signal);
    return this.#starting;
  }

  /**
   * Stops, as the service does: SHUTTING_DOWN (DOWN in Eureka), the deregistration delay, then `signal` to
   * the process (by default its `stopSignal`) and a wait for it (SIGKILL after `stopTimeoutMs`), then the
   * endpoints close and the instance is cancelled. Idempotent.
   */
  stop(signal?: NodeJS.Signals): Promise<void> {
    if (signal !== undefined) this.#stopSignal = signal;
    this.#stopping ??= this.#stop({ reason: 'stopped' });
    return this.#stopping;
  }

  /** Same as `stop()`. */
  close(): Promise<void> {
    return this.stop();
  }

  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /**
   * Forwards a signal (SIGHUP to reload, SIGUSR1...) to the process's group, or to the process alone with
   * `'process'`; false when none is running.
   */
  signalProcess(signal: NodeJS.Signals, target: 'process' | 'group' = 'group'): boolean {
    return this.#process?.signal(signal, target) ?? false;
  }

  async #start(signal: AbortSignal | undefined): Promise<void> {
    const o = this.#options;
    try {
      if (this.#relay !== undefined && o.statsdRelay !== undefined) await this.#relay.listen(o.statsdRelay.port, o.statsdRelay.host);
      await this.#server.listen(o.port, o.host);
      this.#logger.info(`sidecar for ${o.name} listening on ${this.#server.url ?? ''}${this.#relay === undefined ? '' : `, statsd relay on udp ${o.statsdRelay?.host ?? ''}:${this.#relay.port ?? ''}`}`);
      await this.#service.start(signal);
    } catch (error) {
      // Interrupted by stop(): the stop finishes the sidecar, with its own outcome.
      if (this.#stopping !== undefined) throw error;
      await this.#closeEndpoints();
      await this.#process?.close();
      this.#finish(this.#exit === undefined ? { reason: 'failed', exit: undefined, error, exitCode: 1 } : { reason: 'process-exited', exit: this.#exit, error, exitCode: exitCodeOf(this.#exit) || 1 });
      throw error;
    }
    this.#logger.info(`${o.name} is ${this.#service.status}; admin at ${this.#service.adminUrl ?? '(off)'}`);
  }

  async #stop(outcome: { reason: 'stopped' | 'process-exited'; exit?: ProcessExit }): Promise<void> {
    let error: unknown;
    try {
      await this.#service.stop();
    } catch (stopError) {
      error = stopError;
    }
    await this.#closeEndpoints();
    await this.#process?.close();
    const exit = outcome.exit;
    this.#finish({
      reason: outcome.reason,
      exit,
      error,
      exitCode: exit !== undefined ? exitCodeOf(exit) : error === undefined ? 0 : 1,
    });
  }

  #finish(outcome: SidecarOutcome): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = outcome;
    this.#settle(outcome);
    this.emit('finished', outcome);
  }

  #buildCheck(check: ResolvedSidecarCheck): BuiltCheck {
    const spec = check.spec;
    const options: HealthCheckOptions = {
      ...pick(spec, ['kind', 'intervalMs', 'timeoutMs', 'cacheMs', 'successBeforePassing', 'failuresBeforeCritical']),
    };
    switch (check.type) {
      case 'script': {
        const [program = '', ...args] = spec.script ?? [];
        const cwd = spec.cwd ?? this.#options.process.cwd;
        const command = program.startsWith('karyon:') ? bundledCheckScript(program.slice('karyon:'.length) as BundledCheckScript) : program;
        return {
          name: spec.name,
          fn: scriptCheck({
            args: [command, ...args],
            ...(cwd === undefined ? {} : { cwd }),
            ...(spec.env === undefined ? {} : { env: { ...process.env, ...spec.env } }),
          }),
          options,
        };
      }
      case 'http':
        return { name: spec.name, fn: httpCheck({ url: spec.http ?? '', ...pick(spec, ['method', 'headers']) }), options };
      case 'tcp':
        return { name: spec.name, fn: tcpCheck(parseHostPort(spec.tcp ?? '')), options };
      case 'ttl': {
        const ttl = new TtlCheck({ ttlMs: spec.ttlMs ?? 0, clock: this.#clock });
        this.#ttlChecks.set(spec.name, ttl);
        // Reading a TTL check costs nothing, so it is read often: a report shows within a second.
        return { name: spec.name, fn: ttl.check, options: { intervalMs: Math.min(1000, spec.ttlMs ?? 1000), ...options } };
      }
    }
  }

  #processHealth(): HealthResult {
    const report = this.#process?.report();
    if (report === undefined) return { status: 'DOWN', details: { output: 'the process has not been started yet' } };
    const lastExit = report.lastExit === undefined ? undefined : describeExit(report.lastExit);
    if (report.state === 'running') {
      return { status: 'UP', details: { output: `process ${report.pid ?? '?'} is running`, pid: report.pid, restarts: report.restarts } };
    }
    return {
      status: 'DOWN',
      details: { output: `the process is ${report.state}${lastExit === undefined ? '' : ` (last exit: ${lastExit})`}`, restarts: report.restarts },
    };
  }

  async #render(template: string, output: string): Promise<void> {
    const config = this.#options.config?.config;
    if (config === undefined) return;
    this.#renderer = await renderTemplate({ config, template, output, logger: this.#logger });
    const { reloadSignal, reloadSignalTarget } = this.#options;
    this.#renderer.on('rendered', (event) => {
      if (reloadSignal === undefined) return;
      if (this.signalProcess(reloadSignal, reloadSignalTarget)) {
        this.#logger.info(`sent ${reloadSignal} to the ${reloadSignalTarget === 'process' ? 'process' : "process's group"}: ${event.path} changed (configuration version ${event.version})`);
      }
    });
  }

  async #startProcess(): Promise<void> {
    const o = this.#options;
    const p = o.process;
    const supervised: SupervisedProcess =
      p.mode === 'watch'
        ? new WatchedProcess(p.pid as number, p.checkIntervalMs, { clock: this.#clock, logger: this.#logger })
        : new SpawnedProcess(p, this.#environment(), { clock: this.#clock, logger: this.#logger });
    const metrics = this.#service.metrics;
    supervised.on('start', (info) => this.emit('processStart', info));
    supervised.on('exit', (exit, final) => {
      metrics.increment('sidecar.process.exits', 1, { requested: exit.requested ? 'true' : 'false' });
      this.emit('processExit', exit, final);
      if (exit.requested) return;
      const what = `${o.name}'s process ${exit.pid} exited with ${describeExit(exit)} after ${exit.uptimeMs} ms`;
      if (!final) {
        this.#logger.warn(`${what}; it will be restarted`);
        return;
      }
      this.#exit = exit;
      if (this.#stopping !== undefined) return;
      if (!this.#ready) {
        // The readiness wait sees it and fails the start.
        this.#logger.error(`${what} before it was ready`);
        return;
      }
      this.#logger.error(`${what}: going DOWN and stopping`);
      this.#stopping = this.#stop({ reason: 'process-exited', exit });
    });
    this.#process = supervised;
    await supervised.start();
  }

  /** The process's environment: inherited, then what the sidecar tells it, then the configured variables. */
  #environment(): Record<string, string | undefined> {
    const o = this.#options;
    const relay = o.statsdRelay;
    const told: Record<string, string> = { PORT: String(o.appPort), KARYON_APP_NAME: o.name };
    if (this.#server.url !== undefined) told.KARYON_SIDECAR_URL = this.#server.url;
    if (relay !== undefined && this.#relay?.port !== undefined) {
      told.STATSD_HOST = relay.host === '0.0.0.0' ? '127.0.0.1' : relay.host;
      told.STATSD_PORT = String(this.#relay.port);
    }
    const output = o.config?.output;
    if (output !== undefined) told.KARYON_CONFIG_FILE = resolvePath(output);
    return { ...(o.process.inheritEnv ? process.env : {}), ...told, ...o.process.env };
  }

  /**
   * Waits until every readiness check has passed (or warned) `successBeforePassing` times in a row, each run a
   * `HealthCheck` like the service's (same timeout, same result handling).
   */
  async #awaitReadiness(signal: AbortSignal): Promise<void> {
    const o = this.#options;
    const started = this.#clock.now();
    const checks = this.#readiness.map((check) => new HealthCheck(check.name, check.fn, resolveHealthCheckOptions(check.name, check.options), this.#clock));
    const passing = (check: HealthCheck): boolean => check.passedInARow >= check.options.successBeforePassing;
    const reasons = this.#waitingFor;
    for (const check of checks) reasons.set(check.name, 'not run yet');
    let lastReport = started;
    if (checks.length > 0) this.#logger.info(`waiting for ${checks.map((c) => c.name).join(', ')} to pass`);
    for (;;) {
      await Promise.all(
        checks.map(async (check) => {
          if (passing(check)) return;
          await check.run(signal);
          if (check.passedInARow === 0) reasons.set(check.name, reasonOf(check.report().lastResult ?? { status: 'DOWN' }));
          else reasons.delete(check.name);
        }),
      );
      this.#failIfProcessEnded();
      if (checks.every(passing)) {
        this.#ready = true;
        this.#logger.info(`${o.name} is ready after ${this.#clock.now() - started} ms`);
        return;
      }
      const now = this.#clock.now();
      if (now - lastReport >= 10_000) {
        lastReport = now;
        this.#logger.info(`still waiting for readiness after ${now - started} ms: ${[...reasons].map(([name, reason]) => `${name}: ${reason}`).join('; ')}`);
      }
      await sleep(this.#clock, o.readinessPollMs, signal);
      this.#failIfProcessEnded();
    }
  }

  #failIfProcessEnded(): void {
    const exit = this.#exit;
    if (exit === undefined) return;
    throw new KaryonError('ERR_HOOK_FAILED', `the process exited with ${describeExit(exit)} before it was ready`, { service: this.#options.name });
  }

  async #stopProcess(): Promise<void> {
    const supervised = this.#process;
    if (supervised === undefined) return;
    const exit = await supervised.stop(this.#stopSignal);
    if (exit?.requested === true) this.#logger.info(`process ${exit.pid} exited with ${describeExit(exit)} after the stop signal`);
  }

  async #closeEndpoints(): Promise<void> {
    await this.#renderer?.close();
    await this.#server.close();
    await this.#relay?.close();
  }
}

function reasonOf(result: HealthResult): string {
  const details = result.details;
  const text = typeof details?.output === 'string' && details.output !== '' ? details.output : typeof details?.error === 'string' ? details.error : result.status;
  return text.split('\n')[0] ?? text;
}

/** The listed keys of `object` that are set, so `exactOptionalPropertyTypes` sees no `undefined`. */
function pick<T extends object, K extends keyof T>(object: T, keys: readonly K[]): { [P in K]?: Exclude<T[P], undefined> } {
  const out: { [P in K]?: Exclude<T[P], undefined> } = {};
  for (const key of keys) if (object[key] !== undefined) out[key] = object[key] as Exclude<T[K], undefined>;
  return out;
}

/**
 * Creates a sidecar for an application in any language; nothing listens or runs until `start()`.
 * @throws KaryonError ERR_INVALID_OPTION naming the option that is wrong.
 *
 * @example
 * ```ts
 * const sidecar = createSidecar({
 *   app: { name: 'hello-py', port: 8000 },
 *   registry: { eureka: { serviceUrls: ['http://localhost:8761/eureka'] } },
 *   process: { command: 'python3', args: ['server.py'] },
 *   checks: [{ name: 'http', http: 'http://127.0.0.1:8000/health', intervalMs: 5_000 }],
 * });
 * await sidecar.start();            // STARTING until the checks pass, then UP
 * process.on('SIGTERM', () => void sidecar.stop());
 * ```
 */
export function createSidecar(options: SidecarOptions): Sidecar {
  return new Sidecar(options);
}
