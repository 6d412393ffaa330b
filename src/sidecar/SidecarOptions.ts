// Over 500 lines because every sidecar option carries the documentation users read in the API docs (about
// two thirds of the file); the code is the one resolution, resolveSidecarOptions().
import { constants } from 'node:os';
import type { AdminOptions } from '../admin/AdminServer.js';
import type { Clock } from '../common/Clock.js';
import { systemClock } from '../common/Clock.js';
import { KaryonError, isKaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import { silentLogger } from '../common/Logger.js';
import type { AnyDynamicConfig } from '../config/DynamicConfig.js';
import type { HealthCheckKind } from '../health/types.js';
import { resolveServiceClientOptions } from '../http/ServiceClientOptions.js';
import type { ServiceClientOptions } from '../http/ServiceClientOptions.js';
import { durationMs, invalidOption, nonEmptyString, port as portOption, positiveInt } from '../internal/validate.js';
import type { LeaseOptions, LifecycleOptions } from '../lifecycle/Service.js';
import type { InstanceIdentityOptions } from '../lifecycle/ServiceOptions.js';
import type { MetricsOptions } from '../metrics/MetricsOptions.js';
import type { Metrics } from '../metrics/types.js';
import type { EurekaRegistryOptions } from '../registry/eureka/EurekaRegistryOptions.js';
import type { ServiceRegistry } from '../registry/types.js';

/**
 * The application the sidecar stands for: what is registered in Eureka. Its name and port, and the same
 * instance identity as an in-process service's ({@link InstanceIdentityOptions}: zone, VIP address, version,
 * host name, IP address, instance id, metadata).
 */
export interface SidecarAppOptions extends InstanceIdentityOptions {
  /** The application name (Eureka's app, upper-cased on the wire) and default VIP address. */
  readonly name: string;
  /** The port the application serves on: registered in Eureka, and given to a spawned process as `PORT`. */
  readonly port: number;
}

/** What to do when the supervised process exits without being asked to. */
export type RestartPolicy = 'never' | 'on-failure' | 'always';

/**
 * The application's process: spawned by the sidecar (`command`), or already running and watched (`pid`).
 * Without either, the sidecar follows the application by its checks alone.
 */
export interface SidecarProcessOptions {
  /** The program to spawn (found on `PATH` unless it contains a `/`). */
  readonly command?: string;
  /**
   * Its arguments.
   * @default []
   */
  readonly args?: readonly string[];
  /** Environment variables for the process, over the inherited ones and those the sidecar sets. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Whether the process inherits the sidecar's own environment.
   * @default true
   */
  readonly inheritEnv?: boolean;
  /**
   * Working directory of the process.
   * @default the sidecar's working directory
   */
  readonly cwd?: string;
  /** The pid of a process already running, to watch instead of spawning one. */
  readonly pid?: number;
  /**
   * The signal that asks the process to stop (on `stop()`), unless the stop forwards another one.
   * @default 'SIGTERM'
   */
  readonly stopSignal?: NodeJS.Signals;
  /**
   * How long the process gets to exit after the stop signal before it is killed (SIGKILL), in ms.
   * @default 10000
   */
  readonly stopTimeoutMs?: number;
  /**
   * What to do when a spawned process exits by itself: `never` restart (the service goes down and the
   * sidecar stops, leaving restarts to the supervisor that runs the sidecar), restart `on-failure`
   * (a non-zero code or a signal) or `always`. With restarts on, a liveness check turning critical also
   * restarts the process (stop signal, then SIGKILL after `stopTimeoutMs`).
   * @default 'never'
   */
  readonly restart?: RestartPolicy;
  /**
   * Most restarts within `restartWindowMs`; one more exit stops the sidecar.
   * @default 5
   */
  readonly maxRestarts?: number;
  /**
   * The window `maxRestarts` is counted in, in ms.
   * @default 60000
   */
  readonly restartWindowMs?: number;
  /**
   * Delay before the first restart, in ms; doubled after each restart within the window.
   * @default 1000
   */
  readonly restartBackoffMs?: number;
  /**
   * Longest delay between restarts, in ms.
   * @default 30000
   */
  readonly maxRestartBackoffMs?: number;
  /**
   * How often the built-in `process` readiness check looks at the process, in ms (and how often a watched
   * pid is polled).
   * @default 1000
   */
  readonly checkIntervalMs?: number;
  /**
   * Where the process's standard output goes.
   * @default the sidecar's own standard output
   */
  readonly stdout?: NodeJS.WritableStream;
  /**
   * Where the process's standard error goes.
   * @default the sidecar's own standard error
   */
  readonly stderr?: NodeJS.WritableStream;
}

/**
 * One Consul-style check of the application: exactly one of `script`, `http`, `tcp` or `ttlMs`, with the
 * health check's timing and hysteresis.
 */
export interface SidecarCheckOptions {
  /** The check's name (unique; `process` is the sidecar's own). */
  readonly name: string;
  /**
   * `readiness` (ready for requests: DOWN in Eureka while critical, and awaited before UP) or `liveness`.
   * @default 'readiness'
   */
  readonly kind?: HealthCheckKind;
  /** A script check: the program and its arguments; `karyon:http-200` and `karyon:kill-switch` name the bundled scripts. */
  readonly script?: readonly string[];
  /** An HTTP check: the URL (2xx passing, 429 warning, else critical). */
  readonly http?: string;
  /** A TCP check: `host:port`. */
  readonly tcp?: string;
  /** A TTL check: the application reports within this many ms, over HTTP (`PUT /v1/agent/check/pass/{name}`). */
  readonly ttlMs?: number;
  /**
   * The HTTP check's method.
   * @default 'GET'
   */
  readonly method?: string;
  /** The HTTP check's request headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The script check's working directory.
   * @default the process's `cwd`
   */
  readonly cwd?: string;
  /** Extra environment variables of the script check. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * How often the check runs, in ms.
   * @default 10000 (1000 for a TTL check)
   */
  readonly intervalMs?: number;
  /**
   * How long one run may take, in ms; a script that takes longer is killed.
   * @default 2000
   */
  readonly timeoutMs?: number;
  /**
   * How long the health endpoints reuse a result, in ms.
   * @default 1000
   */
  readonly cacheMs?: number;
  /**
   * Consecutive passing results needed to become passing again (and before UP at start).
   * @default 1
   */
  readonly successBeforePassing?: number;
  /**
   * Consecutive failing results needed to become critical.
   * @default 1
   */
  readonly failuresBeforeCritical?: number;
}

/** The egress proxy's clients: options of every `service.client(vip)` it makes, and per VIP. */
export interface SidecarProxyOptions extends ServiceClientOptions {
  /** Options for particular VIPs, over the common ones. */
  readonly vips?: Readonly<Record<string, ServiceClientOptions>>;
  /**
   * Request bodies up to this size are read whole before they are sent, so they can be retried on another
   * instance; larger ones (and those of unknown length) are streamed, without retries.
   * @default 1048576
   */
  readonly maxBufferedBodyBytes?: number;
  /**
   * Most distinct VIPs the proxy keeps a client for; calls to more get 503.
   * @default 256
   */
  readonly maxVips?: number;
}

/** The statsd relay: a UDP port the application sends plain statsd to. */
export interface StatsdRelayOptions {
  /**
   * UDP port to listen on; 0 picks a free one.
   * @default 8125
   */
  readonly port?: number;
  /**
   * Address to bind.
   * @default '127.0.0.1'
   */
  readonly host?: string;
}

/** Dynamic configuration for an application that reads only files. */
export interface SidecarConfigOptions {
  /** The configuration (from `defineConfig()`); the service starts it and serves it on the admin port. */
  readonly config: AnyDynamicConfig;
  /** A template (`${key}` placeholders) rendered to `output` at start and on every change. */
  readonly template?: string;
  /** The rendered file, replaced atomically. */
  readonly output?: string;
  /**
   * The signal sent to the process after each re-render, or false for none.
   * @default 'SIGHUP'
   */
  readonly reloadSignal?: NodeJS.Signals | false;
  /**
   * Who gets the reload signal: `'process'`, the process the sidecar started (a shell script's own children,
   * such as its listener, are left alone), or `'group'`, its whole process group.
   * @default 'process'
   */
  readonly reloadSignalTarget?: 'process' | 'group';
}

/** Timings of the sidecar's lifecycle: the service's, plus how readiness is awaited at start. */
export interface SidecarLifecycleOptions extends LifecycleOptions {
  /**
   * How long the application may take to pass its readiness checks at start, in ms, before the start fails.
   * @default 300000
   */
  readonly readinessTimeoutMs?: number;
  /**
   * How often the readiness checks are tried while waiting at start, in ms.
   * @default 500
   */
  readonly readinessPollMs?: number;
}

/** A Eureka client the sidecar's service makes, reports metrics of and closes. */
export interface SidecarEurekaOption {
  /** The Eureka client's options (`serviceUrls`, intervals...). */
  readonly eureka: EurekaRegistryOptions;
}

/** The statsd relay's address, resolved. */
export interface ResolvedStatsdRelay {
  /** UDP port (0 = any free one). */
  readonly port: number;
  /** Address bound. */
  readonly host: string;
}

/** Options of {@link createSidecar}. */
export interface SidecarOptions {
  /** The application registered in Eureka. */
  readonly app: SidecarAppOptions;
  /**
   * Port of the sidecar's own HTTP endpoints (Prana's, the egress proxy, TTL check-ins); 0 picks a free one.
   * @default 8078
   */
  readonly port?: number;
  /**
   * Address the sidecar's endpoints bind.
   * @default '127.0.0.1'
   */
  readonly host?: string;
  /**
   * The registry: a `ServiceRegistry`, or `{ eureka: { serviceUrls, ... } }` for a Eureka client.
   * @default an in-memory registry
   */
  readonly registry?: ServiceRegistry | SidecarEurekaOption;
  /**
   * The admin server (health, status, OUT_OF_SERVICE, breakers, config, metrics), or false for none.
   * @default port 8077
   */
  readonly admin?: AdminOptions | false;
  /** Lifecycle timings. */
  readonly lifecycle?: SidecarLifecycleOptions;
  /** Lease timings sent to the registry. */
  readonly lease?: LeaseOptions;
  /** The application's process. */
  readonly process?: SidecarProcessOptions;
  /** The application's checks. */
  readonly checks?: readonly SidecarCheckOptions[];
  /** The egress proxy's client options. */
  readonly proxy?: SidecarProxyOptions;
  /**
   * Metrics: a `Metrics`, or options for one the service makes (statsd, Prometheus); the relay forwards through it.
   * @default none
   */
  readonly metrics?: Metrics | MetricsOptions;
  /**
   * The statsd relay, or false for none.
   * @default none
   */
  readonly statsdRelay?: StatsdRelayOptions | false;
  /** Dynamic configuration and a template rendered for the application. */
  readonly config?: SidecarConfigOptions;
  /**
   * Time source.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Where the sidecar writes what it does.
   * @default silentLogger
   */
  readonly logger?: Logger;
}

/** A check with its kind settled and its options checked. */
export interface ResolvedSidecarCheck {
  /** The check's options as given. */
  readonly spec: SidecarCheckOptions;
  /** Which of the four kinds it is. */
  readonly type: 'script' | 'http' | 'tcp' | 'ttl';
}

/** {@link SidecarProcessOptions} with defaults filled. */
export interface ResolvedSidecarProcess {
  /** `spawn`, `watch` (a pid) or `none`. */
  readonly mode: 'spawn' | 'watch' | 'none';
  /** The program, for `spawn`. */
  readonly command: string | undefined;
  /** Its arguments. */
  readonly args: readonly string[];
  /** Extra environment variables. */
  readonly env: Readonly<Record<string, string>>;
  /** Whether the environment is inherited. */
  readonly inheritEnv: boolean;
  /** Working directory. */
  readonly cwd: string | undefined;
  /** The watched pid, for `watch`. */
  readonly pid: number | undefined;
  /** Stop signal. */
  readonly stopSignal: NodeJS.Signals;
  /** Stop timeout, ms. */
  readonly stopTimeoutMs: number;
  /** Restart policy. */
  readonly restart: RestartPolicy;
  /** Most restarts in the window. */
  readonly maxRestarts: number;
  /** Restart window, ms. */
  readonly restartWindowMs: number;
  /** First restart delay, ms. */
  readonly restartBackoffMs: number;
  /** Longest restart delay, ms. */
  readonly maxRestartBackoffMs: number;
  /** Process check interval, ms. */
  readonly checkIntervalMs: number;
  /** Output stream, or undefined to inherit. */
  readonly stdout: NodeJS.WritableStream | undefined;
  /** Error stream, or undefined to inherit. */
  readonly stderr: NodeJS.WritableStream | undefined;
}

/** {@link SidecarOptions} with defaults filled and values checked. */
export interface ResolvedSidecarOptions {
  /** The application's name. */
  readonly name: string;
  /** The application's port. */
  readonly appPort: number;
  /** The sidecar's port. */
  readonly port: number;
  /** The sidecar's bind address. */
  readonly host: string;
  /** The process. */
  readonly process: ResolvedSidecarProcess;
  /** The checks. */
  readonly checks: readonly ResolvedSidecarCheck[];
  /** Readiness wait at start, ms. */
  readonly readinessTimeoutMs: number;
  /** Readiness poll at start, ms. */
  readonly readinessPollMs: number;
  /** Largest buffered proxy body, bytes. */
  readonly maxBufferedBodyBytes: number;
  /** Most proxied VIPs. */
  readonly maxVips: number;
  /** The relay, or undefined for none. */
  readonly statsdRelay: ResolvedStatsdRelay | undefined;
  /** Reload signal after a re-render, or undefined for none. */
  readonly reloadSignal: NodeJS.Signals | undefined;
  /** Who gets the reload signal. */
  readonly reloadSignalTarget: 'process' | 'group';
  /** The configuration, its template and output, checked. */
  readonly config: SidecarConfigOptions | undefined;
  /** Time source. */
  readonly clock: Clock;
  /** Logger. */
  readonly logger: Logger;
}

const CHECK_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** True for a signal name this platform knows (`SIGTERM`, `SIGHUP`...). */
export function isSignalName(value: unknown): value is NodeJS.Signals {
  return typeof value === 'string' && value.startsWith('SIG') && Object.hasOwn(constants.signals, value);
}

function signalOption(name: string, value: unknown, fallback: NodeJS.Signals): NodeJS.Signals {
  if (value === undefined) return fallback;
  return isSignalName(value) ? value : invalidOption(name, "a signal name such as 'SIGTERM'", value);
}

function stringMap(name: string, value: unknown): Readonly<Record<string, string>> {
  if (value === undefined) return Object.freeze({});
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return invalidOption(name, 'an object of strings', value);
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') invalidOption(`${name}.${key}`, 'a string', item);
  }
  return Object.freeze({ ...(value as Record<string, string>) });
}

function resolveProcess(options: SidecarProcessOptions | undefined): ResolvedSidecarProcess {
  const given: SidecarProcessOptions = options ?? {};
  if (typeof given !== 'object' || given === null) invalidOption('process', 'an object', given);
  if (given.command !== undefined && given.pid !== undefined) invalidOption('process.pid', "unset when 'process.command' is set (spawn or watch, not both)", given.pid);
  const command = given.command === undefined ? undefined : nonEmptyString('process.command', given.command);
  const pid = given.pid;
  if (pid !== undefined && (typeof pid !== 'number' || !Number.isInteger(pid) || pid < 1)) invalidOption('process.pid', 'a positive integer', pid);
  const args = given.args ?? [];
  if (!Array.isArray(args) || !args.every((arg) => typeof arg === 'string')) invalidOption('process.args', 'a list of strings', args);
  if (command === undefined && given.args !== undefined) invalidOption('process.args', "unset without 'process.command'", given.args);
  const restart = given.restart ?? 'never';
  if (restart !== 'never' && restart !== 'on-failure' && restart !== 'always') invalidOption('process.restart', "'never', 'on-failure' or 'always'", restart);
  if (given.inheritEnv !== undefined && typeof given.inheritEnv !== 'boolean') invalidOption('process.inheritEnv', 'a boolean', given.inheritEnv);
  const restartBackoffMs = durationMs('process.restartBackoffMs', given.restartBackoffMs, 1000);
  const maxRestartBackoffMs = durationMs('process.maxRestartBackoffMs', given.maxRestartBackoffMs, 30_000);
  if (maxRestartBackoffMs < restartBackoffMs) invalidOption('process.maxRestartBackoffMs', `at least process.restartBackoffMs (${restartBackoffMs})`, maxRestartBackoffMs);
  const checkIntervalMs = durationMs('process.checkIntervalMs', given.checkIntervalMs, 1000);
  if (checkIntervalMs < 1) invalidOption('process.checkIntervalMs', 'at least 1 millisecond', checkIntervalMs);
  for (const stream of ['stdout', 'stderr'] as const) {
    const value = given[stream];
    if (value !== undefined && (typeof value !== 'object' || value === null || typeof value.write !== 'function')) invalidOption(`process.${stream}`, 'a writable stream', value);
  }
  return Object.freeze({
    mode: command !== undefined ? 'spawn' : pid !== undefined ? 'watch' : 'none',
    command,
    args: Object.freeze([...(args)]),
    env: stringMap('process.env', given.env),
    inheritEnv: given.inheritEnv ?? true,
    cwd: given.cwd === undefined ? undefined : nonEmptyString('process.cwd', given.cwd),
    pid,
    stopSignal: signalOption('process.stopSignal', given.stopSignal, 'SIGTERM'),
    stopTimeoutMs: durationMs('process.stopTimeoutMs', given.stopTimeoutMs, 10_000),
    restart,
    maxRestarts: nonNegativeInt('process.maxRestarts', given.maxRestarts, 5),
    restartWindowMs: durationMs('process.restartWindowMs', given.restartWindowMs, 60_000),
    restartBackoffMs,
    maxRestartBackoffMs,
    checkIntervalMs,
    stdout: given.stdout,
    stderr: given.stderr,
  });
}

function nonNegativeInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) return invalidOption(name, 'a non-negative integer', value);
  return value;
}

function resolveCheck(check: SidecarCheckOptions, index: number): ResolvedSidecarCheck {
  const at = `checks[${index}]`;
  if (typeof check !== 'object' || check === null || Array.isArray(check)) invalidOption(at, 'an object', check);
  const name = nonEmptyString(`${at}.name`, check.name);
  if (!CHECK_NAME.test(name)) invalidOption(`${at}.name`, "letters, digits, '.', '_' or '-'", name);
  if (name === 'process') invalidOption(`${at}.name`, "another name than 'process' (the sidecar's own check)", name);
  const kinds = (['script', 'http', 'tcp', 'ttlMs'] as const).filter((key) => check[key] !== undefined);
  if (kinds.length !== 1) {
    invalidOption(`${at}`, "exactly one of 'script', 'http', 'tcp' or 'ttlMs'", kinds.length === 0 ? 'none' : kinds.join(' and '));
  }
  const type = kinds[0] === 'ttlMs' ? 'ttl' : (kinds[0] as 'script' | 'http' | 'tcp');
  const onlyFor: readonly [keyof SidecarCheckOptions, string][] = [
    ['method', 'http'],
    ['headers', 'http'],
    ['cwd', 'script'],
    ['env', 'script'],
  ];
  for (const [key, kind] of onlyFor) {
    if (check[key] !== undefined && type !== kind) invalidOption(`${at}.${key}`, `unset on a ${type} check (it applies to ${kind} checks)`, check[key]);
  }
  if (type === 'ttl') {
    const ttl = durationMs(`${at}.ttlMs`, check.ttlMs, NaN);
    if (!(ttl > 0)) invalidOption(`${at}.ttlMs`, 'a positive number of milliseconds', check.ttlMs);
  }
  if (check.kind !== undefined && check.kind !== 'readiness' && check.kind !== 'liveness') invalidOption(`${at}.kind`, "'readiness' or 'liveness'", check.kind);
  stringMap(`${at}.env`, check.env);
  stringMap(`${at}.headers`, check.headers);
  return Object.freeze({ spec: check, type });
}

/**
 * Fills the defaults of {@link SidecarOptions} and validates them; the message of an error names the option
 * as the sidecar's JSON file spells it (`checks[1].intervalMs`, `process.stopSignal`).
 * @throws KaryonError ERR_INVALID_OPTION naming the option, what was expected and what was given.
 */
export function resolveSidecarOptions(options: SidecarOptions): ResolvedSidecarOptions {
  if (typeof options !== 'object' || options === null) invalidOption('sidecar', 'an options object', options);
  const app = options.app;
  if (typeof app !== 'object' || app === null) invalidOption('app', 'an object with at least name and port', app);
  const name = nonEmptyString('app.name', app.name);
  const appPort = portOption('app.port', app.port, NaN);
  if (!(appPort >= 1)) invalidOption('app.port', 'a port between 1 and 65535', app.port);
  const checks = options.checks ?? [];
  if (!Array.isArray(checks)) invalidOption('checks', 'a list of checks', checks);
  const resolvedChecks = checks.map(resolveCheck);
  const seen = new Set<string>();
  for (const [index, check] of resolvedChecks.entries()) {
    if (seen.has(check.spec.name)) invalidOption(`checks[${index}].name`, 'a name no other check has', check.spec.name);
    seen.add(check.spec.name);
  }
  const lifecycle = options.lifecycle ?? {};
  const readinessPollMs = durationMs('lifecycle.readinessPollMs', lifecycle.readinessPollMs, 500);
  if (readinessPollMs < 1) invalidOption('lifecycle.readinessPollMs', 'at least 1 millisecond', readinessPollMs);
  const proxy = options.proxy ?? {};
  if (typeof proxy !== 'object' || proxy === null) invalidOption('proxy', 'an object', proxy);
  const { vips = {}, maxBufferedBodyBytes, maxVips, ...common } = proxy;
  checkClientOptions('proxy', common);
  if (typeof vips !== 'object' || vips === null || Array.isArray(vips)) invalidOption('proxy.vips', 'an object of client options by VIP', vips);
  for (const [vip, clientOptions] of Object.entries(vips)) {
    if (typeof clientOptions !== 'object' || clientOptions === null || Array.isArray(clientOptions)) invalidOption(`proxy.vips.${vip}`, 'an object of client options', clientOptions);
    checkClientOptions(`proxy.vips.${vip}`, { ...common, ...clientOptions });
  }
  const relay = options.statsdRelay;
  if (relay !== undefined && relay !== false && (typeof relay !== 'object' || relay === null)) invalidOption('statsdRelay', 'an object or false', relay);
  const config = options.config;
  if (config !== undefined) {
    if (typeof config !== 'object' || config === null || typeof config.config?.onChange !== 'function') invalidOption('config.config', 'a DynamicConfig', config?.config);
    if ((config.template === undefined) !== (config.output === undefined)) {
      invalidOption(config.template === undefined ? 'config.template' : 'config.output', "set together with 'config.template' and 'config.output'", undefined);
    }
  }
  const reloadSignal = config?.reloadSignal === false ? undefined : signalOption('config.reloadSignal', config?.reloadSignal, 'SIGHUP');
  const reloadSignalTarget = config?.reloadSignalTarget ?? 'process';
  if (reloadSignalTarget !== 'process' && reloadSignalTarget !== 'group') invalidOption('config.reloadSignalTarget', "'process' or 'group'", reloadSignalTarget);
  return Object.freeze({
    name,
    appPort,
    port: portOption('port', options.port, 8078),
    host: nonEmptyString('host', options.host, '127.0.0.1'),
    process: resolveProcess(options.process),
    checks: Object.freeze(resolvedChecks),
    readinessTimeoutMs: durationMs('lifecycle.readinessTimeoutMs', lifecycle.readinessTimeoutMs, 300_000),
    readinessPollMs,
    maxBufferedBodyBytes: nonNegativeInt('proxy.maxBufferedBodyBytes', maxBufferedBodyBytes, 1024 * 1024),
    maxVips: positiveInt('proxy.maxVips', maxVips, 256),
    statsdRelay:
      relay === undefined || relay === false
        ? undefined
        : Object.freeze({ port: portOption('statsdRelay.port', relay.port, 8125), host: nonEmptyString('statsdRelay.host', relay.host, '127.0.0.1') }),
    reloadSignal,
    reloadSignalTarget,
    config,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
  });
}

/** Validates client options now, so a mistake fails the start rather than the first proxied call. */
function checkClientOptions(prefix: string, options: ServiceClientOptions): void {
  try {
    resolveServiceClientOptions(options);
  } catch (error) {
    if (isKaryonError(error, 'ERR_INVALID_OPTION')) {
      throw new KaryonError('ERR_INVALID_OPTION', error.message.replace(/option '([^']+)'/, `option '${prefix}.$1'`), { cause: error });
    }
    throw error;
  }
}
