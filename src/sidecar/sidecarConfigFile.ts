// Over 500 lines because the sidecar's file and environment keys are one table (the one place each key is
// declared; a `KARYON_*` variable it shares with an in-process service comes from the settings schema) with the
// loader and the type checks that read it; splitting the table from its checks would let them drift apart.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { KaryonError, isKaryonError } from '../common/KaryonError.js';
import { defineConfig } from '../config/DynamicConfig.js';
import { fileSource } from '../config/FileSource.js';
import { remoteSource } from '../config/RemoteSource.js';
import { settingEnv } from '../config/schema.js';
import type { RemoteSourceOptions } from '../config/RemoteSource.js';
import type { ConfigSource } from '../config/types.js';
import { serviceClientOptionKeys } from '../http/ServiceClientOptions.js';
import type { ClientOptionKey, ServiceClientOptions } from '../http/ServiceClientOptions.js';
import { errorMessage } from '../internal/async.js';
import type { MetricsOptions } from '../metrics/MetricsOptions.js';
import { isSignalName } from './SidecarOptions.js';
import type { SidecarCheckOptions, SidecarOptions } from './SidecarOptions.js';

/** How a key's text (from the environment) or JSON value is read. */
export type SidecarConfigKeyType = 'string' | 'port' | 'int' | 'ms' | 'boolean' | 'list' | 'object' | 'array' | 'signal' | 'json';

/** One key of the sidecar's JSON file, with the environment variables that set it. */
export interface SidecarConfigKey {
  /** The dotted key (`process.stopTimeoutMs`). */
  readonly key: string;
  /** How its value is read: from JSON as is, from the environment as text (JSON for objects and lists). */
  readonly type: SidecarConfigKeyType;
  /** Environment variables that set it, strongest first: its own `KARYON_SIDECAR_*`, then a `KARYON_*` key of the same meaning. */
  readonly env: readonly string[];
  /** What it means. */
  readonly doc: string;
}

/**
 * Keys of the file that mean what a setting of an in-process service means (`metrics.host` is the settings'
 * `statsd.host`): each is also set by that setting's environment variable, as the settings schema declares it.
 */
const sameAsSetting: Readonly<Record<string, string>> = {
  'app.name': 'app.name',
  'app.port': 'app.port',
  'app.zone': 'app.zone',
  'app.hostName': 'app.hostName',
  'app.ipAddr': 'app.ipAddr',
  'app.preferIpAddress': 'eureka.preferIpAddress',
  'eureka.serviceUrls': 'eureka.serviceUrls',
  'eureka.heartbeatIntervalMs': 'eureka.heartbeatIntervalMs',
  'eureka.registryFetchIntervalMs': 'eureka.registryFetchIntervalMs',
  'eureka.decodePriority': 'eureka.decodePriority',
  'lifecycle.deregistrationDelayMs': 'lifecycle.deregistrationDelayMs',
  'admin.port': 'admin.port',
  'admin.token': 'admin.token',
  'metrics.host': 'statsd.host',
  'metrics.port': 'statsd.port',
};

const table: readonly (readonly [key: string, type: SidecarConfigKeyType, doc: string])[] = [
  ['port', 'port', 'port of the sidecar endpoints and proxy (default 8078; 0 = any free port)'],
  ['host', 'string', 'address the sidecar endpoints bind (default 127.0.0.1)'],
  ['app.name', 'string', 'application name in Eureka (required)'],
  ['app.port', 'port', "the application's port, registered and given to the process as PORT (required)"],
  ['app.zone', 'string', 'availability zone (default "default")'],
  ['app.vipAddress', 'string', 'VIP address (default: app.name)'],
  ['app.version', 'string', 'version, published as metadata'],
  ['app.hostName', 'string', 'host name published, what other machines reach the application by (default: app.ipAddr)'],
  ['app.ipAddr', 'string', 'IP address published (default: the first non-internal IPv4)'],
  ['app.preferIpAddress', 'boolean', "publish app.ipAddr as the host name too, as Spring's preferIpAddress (default false)"],
  ['app.instanceId', 'string', 'instance id (default host:name:port)'],
  ['app.metadata', 'object', 'extra metadata, string values'],
  ['eureka.serviceUrls', 'list', 'Eureka service URLs (env: comma-separated); none = in-memory registry'],
  ['eureka.heartbeatIntervalMs', 'ms', 'heartbeat interval (default 30s)'],
  ['eureka.registryFetchIntervalMs', 'ms', 'registry fetch interval (default 30s)'],
  ['eureka.decodePriority', 'string', "CPU priority of the thread decoding a large full fetch: low (default, nice 10) or idle (SCHED_IDLE, with util-linux's chrt)"],
  ['admin.enabled', 'boolean', 'false turns the admin server off (default true)'],
  ['admin.port', 'port', 'admin port (default 8077; 0 = any free port)'],
  ['admin.host', 'string', 'address the admin server binds (default: all interfaces)'],
  ['admin.token', 'string', 'bearer token for admin mutations and remote TTL reports (default: loopback only)'],
  ['lifecycle.deregistrationDelayMs', 'ms', 'wait after DOWN before stopping the process (default: the fetch interval)'],
  ['lifecycle.shutdownTimeoutMs', 'ms', 'default limit of each shutdown step (default 10s)'],
  ['lifecycle.readinessTimeoutMs', 'ms', 'how long the application may take to become ready (default 5m)'],
  ['lifecycle.readinessPollMs', 'ms', 'how often readiness is tried at start (default 500ms)'],
  ['process.command', 'string', 'program to spawn'],
  ['process.args', 'array', 'its arguments (env: a JSON list)'],
  ['process.env', 'object', 'extra environment variables (env: a JSON object)'],
  ['process.inheritEnv', 'boolean', "whether the process inherits the sidecar's environment (default true)"],
  ['process.cwd', 'string', 'working directory (default: the directory of the file)'],
  ['process.pid', 'int', 'pid of a running process to watch instead of spawning one'],
  ['process.stopSignal', 'signal', 'signal asking the process to stop (default SIGTERM)'],
  ['process.stopTimeoutMs', 'ms', 'time to exit after the stop signal before SIGKILL (default 10s)'],
  ['process.restart', 'string', "'never' (default), 'on-failure' or 'always'"],
  ['process.maxRestarts', 'int', 'most restarts within restartWindowMs (default 5)'],
  ['process.restartWindowMs', 'ms', 'window of maxRestarts (default 60s)'],
  ['process.restartBackoffMs', 'ms', 'first restart delay, doubled each time (default 1s)'],
  ['process.maxRestartBackoffMs', 'ms', 'longest restart delay (default 30s)'],
  ['process.checkIntervalMs', 'ms', "how often the 'process' check looks (default 1s)"],
  ['checks', 'array', 'the checks (env: a JSON list); see the check keys'],
  ['proxy.rule', 'string', "balancing rule (default 'p2c-ewma')"],
  ['proxy.balancer', 'string', 'the former name of proxy.rule, still accepted (deprecated)'],
  ['proxy.timeoutMs', 'ms', 'per-try timeout (default 5s)'],
  ['proxy.deadlineMs', 'ms', 'whole-call deadline (default 10s)'],
  ['proxy.connectTimeoutMs', 'ms', 'connect timeout (default 2s)'],
  ['proxy.retries', 'json', 'retry options object, or false'],
  ['proxy.breaker', 'json', 'breaker (command) options object, or false'],
  ['proxy.hedging', 'json', 'hedging: true, false or an options object'],
  ['proxy.outlierDetection', 'json', 'outlier ejection options object, or false'],
  ['proxy.maxBufferedBodyBytes', 'int', 'largest request body read whole so it can be retried (default 1 MiB)'],
  ['proxy.maxVips', 'int', 'most distinct VIPs proxied (default 256)'],
  ['proxy.vips', 'object', 'client options per VIP (env: a JSON object)'],
  ['metrics.host', 'string', 'statsd host; none = no statsd'],
  ['metrics.port', 'port', 'statsd port (default 8125)'],
  ['metrics.prefix', 'string', 'prefix of every metric name'],
  ['metrics.tagFormat', 'string', "'dogstatsd' (default), 'telegraf' or 'none'"],
  ['metrics.prometheus', 'boolean', 'serve GET /metrics on the admin port (default false)'],
  ['statsdRelay.enabled', 'boolean', 'turn the statsd relay on (on when any statsdRelay key is set)'],
  ['statsdRelay.port', 'port', 'UDP port of the relay (default 8125)'],
  ['statsdRelay.host', 'string', 'address the relay binds (default 127.0.0.1)'],
  ['config.schema', 'object', 'convict schema of the configuration (JSON: formats by name)'],
  ['config.files', 'list', 'configuration files (cascaded .json/.properties, without extension)'],
  ['config.remote', 'object', 'a remote source: { url, format, application, profile, label, intervalMs }'],
  ['config.environment', 'string', 'environment name for cascaded files and remote profiles'],
  ['config.template', 'string', 'template rendered for the process (${key} placeholders)'],
  ['config.output', 'string', 'file the template is rendered to, atomically'],
  ['config.reloadSignal', 'signal', 'signal sent to the process after a re-render, or false (default SIGHUP)'],
  ['config.reloadSignalTarget', 'string', 'who gets the reload signal: "process" (the one started, the default) or "group" (its process group)'],
];

function envName(key: string): string {
  return `KARYON_SIDECAR_${key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/\./g, '_').toUpperCase()}`;
}

/** Every key of the sidecar's JSON file, with its environment variables. */
export const sidecarConfigKeys: readonly SidecarConfigKey[] = Object.freeze(
  table.map(([key, type, doc]) => {
    const setting = sameAsSetting[key];
    return Object.freeze({ key, type, doc, env: Object.freeze(setting === undefined ? [envName(key)] : [envName(key), settingEnv(setting)]) });
  }),
);

const byKey = new Map(sidecarConfigKeys.map((entry) => [entry.key, entry]));
const sections = new Set(sidecarConfigKeys.filter((entry) => entry.key.includes('.')).map((entry) => entry.key.split('.')[0] as string));

const checkKeys = new Set([
  'name', 'kind', 'script', 'http', 'tcp', 'ttlMs', 'method', 'headers', 'cwd', 'env',
  'intervalMs', 'timeoutMs', 'cacheMs', 'successBeforePassing', 'failuresBeforeCritical',
]);

/** Where {@link loadSidecarConfig} reads from: nothing is read unless passed. */
export interface SidecarConfigSources {
  /** Path of the JSON file; without one, every key comes from the environment. */
  readonly file?: string;
  /** Environment variables (`KARYON_SIDECAR_*` and the matching `KARYON_*`), e.g. `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Directory relative paths are resolved against when there is no file. */
  readonly cwd?: string;
}

/** What {@link loadSidecarConfig} made of a file and the environment. */
export interface LoadedSidecarConfig {
  /** Sidecar options, ready for `createSidecar` (add a logger, streams, a clock). */
  readonly options: SidecarOptions;
  /** The file read, absolute, if any. */
  readonly file: string | undefined;
  /** Where each key set by the environment came from (`process.stopTimeoutMs` -> `KARYON_SIDECAR_PROCESS_STOP_TIMEOUT_MS`). */
  readonly fromEnv: Readonly<Record<string, string>>;
}

type Json = Record<string, unknown>;

/**
 * Reads a sidecar JSON file and the environment (which wins) into {@link SidecarOptions}, strictly: an unknown
 * key, a value of the wrong type or a bad check is an error naming the key and where it came from. Relative
 * paths (`process.cwd`, `config.files`, `config.template`, `config.output`) are resolved against the file's
 * directory, which is also the default working directory of the process and its script checks. The
 * `config` section becomes a started-on-demand `DynamicConfig` from its schema, files and remote source.
 * @throws KaryonError ERR_INVALID_CONFIG naming the file, the key and what was wrong.
 *
 * @example
 * ```ts
 * const { options } = await loadSidecarConfig({ file: 'sidecar.json', env: process.env });
 * const sidecar = createSidecar({ ...options, logger });
 * ```
 */
export async function loadSidecarConfig(sources: SidecarConfigSources): Promise<LoadedSidecarConfig> {
  const file = sources.file === undefined ? undefined : resolve(sources.file);
  const where = file ?? 'the environment';
  let raw: Json = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new KaryonError('ERR_INVALID_CONFIG', `cannot read ${file}: ${errorMessage(error)}`, { cause: error });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new KaryonError('ERR_INVALID_CONFIG', `${file} is not valid JSON: ${errorMessage(error)}`, { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new KaryonError('ERR_INVALID_CONFIG', `${file} must hold a JSON object (got ${Array.isArray(parsed) ? 'an array' : typeof parsed})`);
    }
    raw = parsed as Json;
  }
  const values = new Map<string, unknown>();
  const origin = new Map<string, string>();
  // `key` may be a path inside a key (`proxy.vips.slow-report.timeoutMs`): where it came from is its key's.
  const place = (key: string): string => origin.get(key) ?? [...origin].find(([known]) => key.startsWith(`${known}.`))?.[1] ?? `in ${where}`;
  const fail = (key: string, message: string): never => {
    throw new KaryonError('ERR_INVALID_CONFIG', `key '${key}' ${place(key)} ${message}`);
  };
  const problems: Problems = {
    fail,
    unknown: (key, section, known) => {
      throw new KaryonError('ERR_INVALID_CONFIG', `unknown key '${key}' ${place(key)} (known in '${section}': ${known.join(', ')})`);
    },
  };
  for (const [top, value] of Object.entries(raw)) {
    if (top === '$schema' || top === '//') continue;
    if (byKey.has(top)) {
      values.set(top, value);
      continue;
    }
    if (!sections.has(top)) throw new KaryonError('ERR_INVALID_CONFIG', `unknown key '${top}' in ${where} (known: ${[...new Set(table.map(([k]) => k.split('.')[0]))].join(', ')})`);
    if (top === 'admin' && value === false) {
      values.set('admin.enabled', false);
      continue;
    }
    if (top === 'statsdRelay' && value === false) {
      values.set('statsdRelay.enabled', false);
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new KaryonError('ERR_INVALID_CONFIG', `key '${top}' in ${where} must be an object`);
    }
    if (top === 'statsdRelay') values.set('statsdRelay.enabled', true);
    for (const [inner, innerValue] of Object.entries(value as Json)) {
      const key = `${top}.${inner}`;
      if (!byKey.has(key)) {
        const known = table.filter(([k]) => k.startsWith(`${top}.`)).map(([k]) => k.slice(top.length + 1));
        throw new KaryonError('ERR_INVALID_CONFIG', `unknown key '${key}' in ${where} (known in '${top}': ${known.join(', ')})`);
      }
      values.set(key, innerValue);
    }
  }
  const fromEnv: Record<string, string> = {};
  for (const entry of sidecarConfigKeys) {
    for (const name of [...entry.env].reverse()) {
      const text = sources.env?.[name];
      if (text === undefined || text === '') continue;
      values.set(entry.key, fromText(entry, text, name));
      origin.set(entry.key, `from ${name}`);
      fromEnv[entry.key] = name;
      if (entry.key.startsWith('statsdRelay.') && entry.key !== 'statsdRelay.enabled' && !values.has('statsdRelay.enabled')) values.set('statsdRelay.enabled', true);
    }
  }
  for (const [key, value] of values) values.set(key, checkType(key, value, problems));

  const base = file === undefined ? resolve(sources.cwd ?? '.') : dirname(file);
  const path = (key: string): string | undefined => {
    const value = values.get(key) as string | undefined;
    return value === undefined ? undefined : isAbsolute(value) ? value : resolve(base, value);
  };
  const get = <T>(key: string): T | undefined => values.get(key) as T | undefined;
  const section = (prefix: string, transform: (key: string, value: unknown) => unknown = (_k, v) => v): Json | undefined => {
    const out: Json = {};
    let any = false;
    for (const [key, value] of values) {
      if (!key.startsWith(`${prefix}.`)) continue;
      out[key.slice(prefix.length + 1)] = transform(key, value);
      any = true;
    }
    return any ? out : undefined;
  };

  const app = section('app') ?? {};
  if (app.name === undefined) fail('app.name', 'is required: the application name in Eureka (or set KARYON_APP_NAME)');
  if (app.port === undefined) fail('app.port', "is required: the application's port (or set PORT)");
  // `${app.port}`, `${app.name}` and `${port}` let one file serve several copies on one machine.
  const vars: Readonly<Record<string, string>> = { 'app.name': String(app.name), 'app.port': String(app.port), port: String(get<number>('port') ?? 8078) };
  const expand = (key: string, value: unknown): unknown => expandVars(key, value, vars, where);
  for (const key of ['process.args', 'process.env', 'config.output', 'config.template']) if (values.has(key)) values.set(key, expand(key, values.get(key)));
  const checks = (get<unknown[]>('checks') ?? []).map((check, index) => {
    const entry = checkEntry(check, index, where, origin.get('checks')) as unknown as Record<string, unknown>;
    for (const field of ['http', 'tcp', 'script', 'env', 'headers']) if (entry[field] !== undefined) entry[field] = expand(`checks[${index}].${field}`, entry[field]);
    return entry as unknown as SidecarCheckOptions;
  });
  const processSection = section('process', (key, value) => (key === 'process.cwd' ? path(key) : value));
  if (processSection !== undefined && processSection.command !== undefined && processSection.cwd === undefined) processSection.cwd = base;
  for (const check of checks) {
    if (check.script !== undefined && check.cwd === undefined) (check as { cwd?: string }).cwd = (processSection?.cwd as string | undefined) ?? base;
    if (check.cwd !== undefined && !isAbsolute(check.cwd)) (check as { cwd?: string }).cwd = resolve(base, check.cwd);
  }
  const eureka = section('eureka');
  const adminEnabled = get<boolean>('admin.enabled') ?? true;
  const { enabled: _enabled, ...admin } = section('admin') ?? {};
  const relayEnabled = get<boolean>('statsdRelay.enabled') ?? false;
  const { enabled: _relay, ...relay } = section('statsdRelay') ?? {};
  const metrics = section('metrics') as MetricsOptions | undefined;
  const options: SidecarOptions = {
    ...(get('port') === undefined ? {} : { port: get<number>('port') as number }),
    ...(get('host') === undefined ? {} : { host: get<string>('host') as string }),
    app: app as unknown as SidecarOptions['app'],
    ...(eureka === undefined || (eureka.serviceUrls as string[] | undefined)?.length === 0 || eureka.serviceUrls === undefined
      ? {}
      : { registry: { eureka: eureka as { serviceUrls: string[] } } }),
    ...(adminEnabled ? { admin } : { admin: false }),
    ...(section('lifecycle') === undefined ? {} : { lifecycle: section('lifecycle') as NonNullable<SidecarOptions['lifecycle']> }),
    ...(processSection === undefined ? {} : { process: processSection }),
    checks,
    ...(section('proxy') === undefined ? {} : { proxy: section('proxy') as NonNullable<SidecarOptions['proxy']> }),
    ...(metrics === undefined ? {} : { metrics }),
    ...(relayEnabled ? { statsdRelay: relay } : {}),
    ...(section('config') === undefined ? {} : { config: makeConfig(section('config') as Json, base, sources.env, where) }),
  };
  return { options, file, fromEnv };
}

/** Reads an environment variable's text as the key's type. */
function fromText(entry: SidecarConfigKey, text: string, name: string): unknown {
  const bad = (expected: string): never => {
    throw new KaryonError('ERR_INVALID_CONFIG', `${name} (key '${entry.key}') must be ${expected} (got ${JSON.stringify(text)})`);
  };
  switch (entry.type) {
    case 'string':
    case 'ms':
      return text;
    case 'signal':
      return text === 'false' ? false : text;
    case 'port':
    case 'int':
      return /^\d+$/.test(text.trim()) ? Number(text) : bad('an integer');
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : bad("'true' or 'false'");
    case 'list': {
      const trimmed = text.trim();
      if (trimmed.startsWith('[')) {
        try {
          return JSON.parse(trimmed) as unknown;
        } catch {
          return bad('a comma-separated list or a JSON list');
        }
      }
      return trimmed.split(',').map((item) => item.trim()).filter((item) => item !== '');
    }
    case 'object':
    case 'array':
    case 'json':
      try {
        return JSON.parse(text) as unknown;
      } catch (error) {
        if (entry.type === 'json' && /^[A-Za-z]/.test(text)) return text;
        return bad(`JSON (${errorMessage(error)})`);
      }
  }
}

/** Proxy keys holding a part of the client options, checked and converted as the same options per VIP. */
const clientOptionKeys = new Set(['proxy.retries', 'proxy.breaker', 'proxy.hedging', 'proxy.outlierDetection']);

/** How a check reports a bad key; where the key came from (the file, an environment variable) is the loader's to say. */
interface Problems {
  /** Throws `key '<key>' <where> <message>`. */
  readonly fail: (key: string, message: string) => never;
  /** Throws `unknown key '<key>' <where> (known in '<section>': ...)`, as for the file's own keys. */
  readonly unknown: (key: string, section: string, known: readonly string[]) => never;
}

const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

const durationMessage = 'must be milliseconds, or a duration with a unit as in 500ms, 30s, 2m';

/** Checks a value against its key's type; returns it, with a duration given with a unit in milliseconds. */
function checkType(key: string, value: unknown, problems: Problems): unknown {
  const { fail } = problems;
  const entry = byKey.get(key) as SidecarConfigKey;
  if (key === 'proxy.vips') {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(key, `must be an object of client options by VIP (got ${show(value)})`);
    return Object.fromEntries(
      Object.entries(value as Json).map(([vip, options]) => {
        if (typeof options !== 'object' || options === null || Array.isArray(options)) fail(`${key}.${vip}`, `must be an object of client options (got ${show(options)})`);
        return [vip, clientOptions(`${key}.${vip}`, options, serviceClientOptionKeys, problems)];
      }),
    );
  }
  if (clientOptionKeys.has(key)) return clientOptions(key, value, serviceClientOptionKeys[key.slice('proxy.'.length) as keyof ServiceClientOptions], problems);
  switch (entry.type) {
    case 'string':
      if (typeof value !== 'string' || value === '') fail(key, `must be a non-empty string (got ${show(value)})`);
      return value;
    case 'port':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) fail(key, `must be a port from 0 to 65535 (got ${show(value)})`);
      return value;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) fail(key, `must be a non-negative integer (got ${show(value)})`);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') fail(key, `must be true or false (got ${show(value)})`);
      return value;
    case 'signal':
      if (value !== false && !isSignalName(value)) fail(key, `must be a signal name such as "SIGHUP"${key === 'config.reloadSignal' ? ' or false' : ''} (got ${show(value)})`);
      return value;
    case 'ms':
      if (typeof value === 'string') {
        const ms = parseDuration(value);
        return ms ?? fail(key, `${durationMessage} (got ${show(value)})`);
      }
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(key, `must be a non-negative number of milliseconds (got ${show(value)})`);
      return value;
    case 'list':
      if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) fail(key, `must be a list of strings (got ${show(value)})`);
      return value;
    case 'array':
      if (!Array.isArray(value)) fail(key, `must be a list (got ${show(value)})`);
      if (key === 'process.args' && !(value as unknown[]).every((item) => typeof item === 'string')) fail(key, `must be a list of strings (got ${show(value)})`);
      return value;
    case 'object':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(key, `must be an object (got ${show(value)})`);
      return value;
    case 'json':
      return value;
  }
}

/**
 * Client options (`service.client()`'s, or a part of them such as `retries`) checked against `keys`, the keys
 * of their type: an unknown key is an error (a typo would otherwise be silently ignored), and so is a key only
 * code can give (a transport, a clock, a logger). Every duration given with a unit becomes milliseconds: every
 * duration of the client options, nested ones included (`breaker.sleepWindowMs`, `retries.budget.ttlMs`,
 * `outlierDetection.baseEjectionMs`...), is named `...Ms`, and every key so named is a duration. Values of
 * known keys (and `false`, `true` in place of nested options) are left to the client's own checks.
 */
function clientOptions(path: string, value: unknown, keys: ClientOptionKey, problems: Problems): unknown {
  if (typeof keys === 'string' || typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const known = Object.keys(keys).filter((name) => keys[name] !== 'code');
  return Object.fromEntries(
    Object.entries(value as Json).map(([name, item]) => {
      const at = `${path}.${name}`;
      const kind = Object.hasOwn(keys, name) ? keys[name] : undefined;
      if (kind === undefined) return problems.unknown(at, path, known);
      if (kind === 'code') return problems.fail(at, 'cannot be set in a file or the environment: it takes a function or object only code can give (pass it to createSidecar())');
      if (kind === 'value') return [name, name.endsWith('Ms') && typeof item === 'string' ? (parseDuration(item) ?? problems.fail(at, `${durationMessage} (got ${show(item)})`)) : item];
      return [name, clientOptions(at, item, kind, problems)];
    }),
  );
}

function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) return undefined;
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 'ms'] ?? 1;
  return Math.round(Number(match[1]) * factor);
}

function checkEntry(check: unknown, index: number, where: string, from: string | undefined): SidecarCheckOptions {
  const at = `checks[${index}]`;
  const place = from ?? `in ${where}`;
  if (typeof check !== 'object' || check === null || Array.isArray(check)) {
    throw new KaryonError('ERR_INVALID_CONFIG', `key '${at}' ${place} must be an object`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(check as Json)) {
    if (!checkKeys.has(key)) throw new KaryonError('ERR_INVALID_CONFIG', `unknown key '${at}.${key}' ${place} (known: ${[...checkKeys].join(', ')})`);
    if (key.endsWith('Ms') && typeof value === 'string') {
      const ms = parseDuration(value);
      if (ms === undefined) throw new KaryonError('ERR_INVALID_CONFIG', `key '${at}.${key}' ${place} must be milliseconds or a duration such as 30s (got ${JSON.stringify(value)})`);
      out[key] = ms;
    } else {
      out[key] = value;
    }
  }
  return out as unknown as SidecarCheckOptions;
}

function makeConfig(section: Json, base: string, env: Readonly<Record<string, string | undefined>> | undefined, where: string): NonNullable<SidecarOptions['config']> {
  const resolvePath = (value: unknown): string => (isAbsolute(value as string) ? (value as string) : resolve(base, value as string));
  const sources: ConfigSource[] = [];
  try {
    for (const file of (section.files as string[] | undefined) ?? []) sources.push(fileSource({ path: resolvePath(file) }));
    if (section.remote !== undefined) sources.push(remoteSource(section.remote as RemoteSourceOptions));
  } catch (error) {
    throw new KaryonError('ERR_INVALID_CONFIG', `key 'config' in ${where}: ${errorMessage(error)}`, { cause: error });
  }
  const schema = section.schema ?? {};
  let config;
  try {
    config = defineConfig<object>({
      schema,
      sources,
      ...(env === undefined ? {} : { env }),
      ...(section.environment === undefined ? {} : { environment: section.environment as string }),
    });
  } catch (error) {
    throw new KaryonError('ERR_INVALID_CONFIG', `key 'config.schema' in ${where}: ${errorMessage(error)}`, { cause: error });
  }
  const template = section.template === undefined ? undefined : resolvePath(section.template);
  const output = section.output === undefined ? undefined : resolvePath(section.output);
  return {
    config,
    ...(template === undefined ? {} : { template }),
    ...(output === undefined ? {} : { output }),
    ...(section.reloadSignal === undefined ? {} : { reloadSignal: section.reloadSignal as NodeJS.Signals | false }),
    ...(section.reloadSignalTarget === undefined ? {} : { reloadSignalTarget: section.reloadSignalTarget as 'process' | 'group' }),
  };
}

/** Replaces `${app.name}`, `${app.port}` and `${port}` in a string, or in the strings of a list or object. */
function expandVars(key: string, value: unknown, vars: Readonly<Record<string, string>>, where: string): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([^}]*)\}/g, (whole, name: string) => {
      const known = vars[name];
      if (known !== undefined) return known;
      throw new KaryonError('ERR_INVALID_CONFIG', `key '${key}' in ${where} uses ${whole}; the variables are ${Object.keys(vars).map((v) => `\${${v}}`).join(', ')}`);
    });
  }
  if (Array.isArray(value)) return value.map((item, index) => expandVars(`${key}[${index}]`, item, vars, where));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, expandVars(`${key}.${name}`, item, vars, where)]));
  }
  return value;
}

/** Rethrows an option error of `createSidecar` as a configuration error naming the file. */
export function asConfigError(error: unknown, where: string): unknown {
  if (!isKaryonError(error, 'ERR_INVALID_OPTION')) return error;
  return new KaryonError('ERR_INVALID_CONFIG', `${where}: ${error.message.replace(/^option /, 'key ')}`, { cause: error });
}
