import convict from 'convict';
import { KaryonError } from '../common/KaryonError.js';
import type { ConfigSchema } from './ConfigSchema.js';
import { SchemaIndex } from './SchemaIndex.js';
import type { SchemaLeaf } from './SchemaIndex.js';
import { parseFlag } from './values.js';

/** The settings every service reads: the keys and environment variables of the configuration contract. */
export interface KaryonSettings {
  /** The application. */
  readonly app: {
    /** Application name (`KARYON_APP_NAME`). */
    readonly name: string;
    /** HTTP port (`PORT`). */
    readonly port: number;
    /** Availability zone (`KARYON_ZONE`). */
    readonly zone: string;
    /** Host name published to the registry (`KARYON_HOST_NAME`); null = the IP address. */
    readonly hostName: string | null;
    /** IP address published to the registry (`KARYON_IP_ADDR`); null = the first non-internal IPv4 address. */
    readonly ipAddr: string | null;
  };
  /** Eureka. */
  readonly eureka: {
    /** Service URLs (`KARYON_EUREKA_URLS`, comma-separated); empty = in-memory registry. */
    readonly serviceUrls: readonly string[];
    /** Heartbeat interval in ms (`KARYON_EUREKA_HEARTBEAT_MS`). */
    readonly heartbeatIntervalMs: number;
    /** Registry fetch interval in ms (`KARYON_EUREKA_FETCH_MS`). */
    readonly registryFetchIntervalMs: number;
    /** Token sent to the registry on every request (`KARYON_EUREKA_TOKEN`); null = none. */
    readonly token: string | null;
    /** Header carrying the token (`KARYON_EUREKA_TOKEN_HEADER`); null = `authorization` as a bearer token. */
    readonly tokenHeader: string | null;
    /** Publish the IP address as `hostName` too, as Spring's `preferIpAddress` does (`KARYON_PREFER_IP_ADDRESS`). */
    readonly preferIpAddress: boolean;
    /** CPU priority of the thread decoding a large full fetch (`KARYON_EUREKA_DECODE_PRIORITY`): `low` or `idle`. */
    readonly decodePriority: 'low' | 'idle';
  };
  /** The lifecycle. */
  readonly lifecycle: {
    /** Wait after DOWN before draining, in ms (`KARYON_DEREGISTRATION_DELAY_MS`); null = the fetch interval. */
    readonly deregistrationDelayMs: number | null;
    /**
     * Longest wait after DOWN while callers that do not retry elsewhere still call, in ms
     * (`KARYON_MAX_DEREGISTRATION_DELAY_MS`); null = 100000 unless the delay is set, then the delay.
     */
    readonly maxDeregistrationDelayMs: number | null;
    /** Time without such a call that ends that wait, in ms (`KARYON_QUIET_PERIOD_MS`). */
    readonly quietPeriodMs: number;
  };
  /** The admin server. */
  readonly admin: {
    /** Port (`KARYON_ADMIN_PORT`); 0 = ephemeral. */
    readonly port: number;
    /** Address to bind (`KARYON_ADMIN_HOST`); null = loopback, or every interface when a token is set. */
    readonly host: string | null;
    /** Bearer token for mutations (`KARYON_ADMIN_TOKEN`); null = loopback only. */
    readonly token: string | null;
    /** JSON file of named tokens with roles (`KARYON_ADMIN_TOKENS_FILE`); null = none. */
    readonly tokensFile: string | null;
  };
  /** statsd. */
  readonly statsd: {
    /** Host (`KARYON_STATSD_HOST`); null = no statsd. */
    readonly host: string | null;
    /** Port (`KARYON_STATSD_PORT`). */
    readonly port: number;
  };
  /** Metrics served by the service itself. */
  readonly metrics: {
    /** Serve `GET /metrics` in Prometheus text format on the admin port (`KARYON_METRICS_PROMETHEUS`). */
    readonly prometheus: boolean;
  };
}

const appName = {
  name: 'app-name',
  validate(value: unknown): void {
    if (typeof value !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(value)) {
      throw new Error('must be a name of letters, digits, ".", "_" or "-" (set KARYON_APP_NAME)');
    }
  },
};

const url = {
  name: 'url-list',
  validate(value: unknown): void {
    if (!Array.isArray(value)) throw new Error('must be a list of URLs');
    for (const item of value) {
      if (typeof item !== 'string' || !/^https?:\/\/[^/]/.test(item)) throw new Error(`must be http(s) URLs (got ${JSON.stringify(item)})`);
    }
  },
  coerce: (value: unknown): unknown =>
    typeof value === 'string'
      ? value
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '')
      : value,
};

/**
 * A switch: true or false, also written 1 or 0 in the environment. Convict's own Boolean takes any text but
 * "false" as true (so "0" or "off" would turn a switch on); anything else here is an error naming the key.
 */
const flag = {
  name: 'flag',
  validate(value: unknown): void {
    if (typeof value !== 'boolean') throw new Error(`must be true or false (got ${JSON.stringify(value)})`);
  },
  coerce: (value: unknown): unknown => parseFlag(value) ?? value,
};

const nullableNat = {
  name: 'nullable-nat',
  validate(value: unknown): void {
    if (value !== null && (typeof value !== 'number' || !Number.isInteger(value) || value < 0)) {
      throw new Error('must be a non-negative integer');
    }
  },
  coerce: (value: unknown): unknown => (typeof value === 'string' && value !== '' ? Number(value) : value),
};

convict.addFormats({ 'app-name': appName, 'url-list': url, 'nullable-nat': nullableNat, flag });

/**
 * The convict schema of {@link KaryonSettings}: doc, format, default, environment variable and argument of each
 * key. Spread it into your own schema to add your keys to the library's.
 */
export const karyonSettingsSchema: ConfigSchema<KaryonSettings> = {
  app: {
    name: { doc: 'Application name (Eureka app, upper-cased on the wire)', format: 'app-name', default: '', env: 'KARYON_APP_NAME', arg: 'app-name' },
    port: { doc: 'HTTP port of the application', format: 'port', default: 8080, env: 'PORT', arg: 'app-port' },
    zone: { doc: 'Availability zone', format: String, default: 'default', env: 'KARYON_ZONE', arg: 'app-zone' },
    hostName: {
      doc: 'Host name published to the registry (what other machines reach this instance by); none = the IP address',
      format: '*',
      default: null,
      nullable: true,
      env: 'KARYON_HOST_NAME',
      arg: 'app-host-name',
    },
    ipAddr: {
      doc: 'IP address published to the registry; none = the first non-internal IPv4 address of this host',
      format: '*',
      default: null,
      nullable: true,
      env: 'KARYON_IP_ADDR',
      arg: 'app-ip-addr',
    },
  },
  eureka: {
    serviceUrls: { doc: 'Eureka service URLs; empty = in-memory registry', format: 'url-list', default: [], env: 'KARYON_EUREKA_URLS', arg: 'eureka-urls' },
    heartbeatIntervalMs: { doc: 'Heartbeat interval, ms', format: 'nat', default: 30_000, env: 'KARYON_EUREKA_HEARTBEAT_MS', arg: 'eureka-heartbeat-ms' },
    registryFetchIntervalMs: { doc: 'Registry fetch interval, ms', format: 'nat', default: 30_000, env: 'KARYON_EUREKA_FETCH_MS', arg: 'eureka-fetch-ms' },
    token: { doc: 'Token sent to the registry on every request; none = no token', format: '*', default: null, nullable: true, sensitive: true, env: 'KARYON_EUREKA_TOKEN', arg: 'eureka-token' },
    tokenHeader: { doc: 'Header carrying the registry token; none = authorization (bearer)', format: '*', default: null, nullable: true, env: 'KARYON_EUREKA_TOKEN_HEADER', arg: 'eureka-token-header' },
    preferIpAddress: {
      doc: "Publish the IP address as hostName too (Spring's preferIpAddress), for callers that connect by hostName",
      format: 'flag',
      default: false,
      env: 'KARYON_PREFER_IP_ADDRESS',
      arg: 'eureka-prefer-ip-address',
    },
    decodePriority: {
      doc: "CPU priority of the thread decoding a large full registry fetch (Linux): low (nice 10) or idle (SCHED_IDLE, set with util-linux's chrt)",
      format: ['low', 'idle'],
      default: 'low',
      env: 'KARYON_EUREKA_DECODE_PRIORITY',
      arg: 'eureka-decode-priority',
    },
  },
  lifecycle: {
    deregistrationDelayMs: {
      doc: 'Wait after DOWN before draining, ms; null = the registry fetch interval',
      format: 'nullable-nat',
      default: null,
      env: 'KARYON_DEREGISTRATION_DELAY_MS', arg: 'deregistration-delay-ms',
    },
    maxDeregistrationDelayMs: {
      doc: 'Longest wait after DOWN while callers that do not retry elsewhere still call, ms; null = 100000 unless the delay is set',
      format: 'nullable-nat',
      default: null,
      env: 'KARYON_MAX_DEREGISTRATION_DELAY_MS', arg: 'max-deregistration-delay-ms',
    },
    quietPeriodMs: {
      doc: 'Time without a call from a caller that does not retry elsewhere that ends the wait after DOWN, ms',
      format: 'nat',
      default: 10000,
      env: 'KARYON_QUIET_PERIOD_MS', arg: 'quiet-period-ms',
    },
  },
  admin: {
    port: { doc: 'Admin port; 0 = ephemeral', format: 'port', default: 8077, env: 'KARYON_ADMIN_PORT', arg: 'admin-port' },
    host: { doc: 'Admin address to bind; none = loopback, or every interface when a token is set', format: '*', default: null, nullable: true, env: 'KARYON_ADMIN_HOST', arg: 'admin-host' },
    token: { doc: 'Admin bearer token; none = mutations from loopback only', format: '*', default: null, nullable: true, sensitive: true, env: 'KARYON_ADMIN_TOKEN', arg: 'admin-token' },
    tokensFile: { doc: 'JSON file of named admin tokens with roles (read, operate)', format: '*', default: null, nullable: true, env: 'KARYON_ADMIN_TOKENS_FILE', arg: 'admin-tokens-file' },
  },
  statsd: {
    host: { doc: 'statsd host; none = no statsd', format: '*', default: null, nullable: true, env: 'KARYON_STATSD_HOST', arg: 'statsd-host' },
    port: { doc: 'statsd port', format: 'port', default: 8125, env: 'KARYON_STATSD_PORT', arg: 'statsd-port' },
  },
  metrics: {
    prometheus: {
      doc: 'Serve GET /metrics (Prometheus text format) on the admin port',
      format: 'flag',
      default: false,
      env: 'KARYON_METRICS_PROMETHEUS',
      arg: 'metrics-prometheus',
    },
  },
};

/**
 * Every key of {@link karyonSettingsSchema}, flattened (`app.port`), with its environment variable, argument and
 * doc: the one declaration of each. What else names a setting (the sidecar's `KARYON_*` variables, the
 * configuration docs, `serviceOptionsFromSettings`) reads it here or is checked against it by a test.
 */
export const karyonSettingKeys: ReadonlyMap<string, SchemaLeaf> = new SchemaIndex(karyonSettingsSchema).leaves;

/**
 * The environment variable of a setting (`statsd.host` -> `KARYON_STATSD_HOST`).
 * @throws KaryonError ERR_INVALID_OPTION when the schema has no such key, or none for it.
 */
export function settingEnv(key: string): string {
  const env = karyonSettingKeys.get(key)?.env;
  if (env === undefined) throw new KaryonError('ERR_INVALID_OPTION', `no setting '${key}' with an environment variable in the settings schema`);
  return env;
}

const loadedFrom = new WeakMap<object, SettingsSources>();

/** What {@link loadSettings} read the settings from; undefined for settings it did not make. */
export function sourcesOfSettings(settings: KaryonSettings): SettingsSources | undefined {
  return loadedFrom.get(settings);
}

/** Where {@link loadSettings} reads from: nothing is read unless passed. */
export interface SettingsSources {
  /** Environment variables, e.g. `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Command-line arguments (`--app-port 9090`, `--eureka-urls ...`), e.g. `process.argv.slice(2)`. */
  readonly argv?: readonly string[];
  /** Values that override defaults (and are overridden by env and argv), shaped like the settings. */
  readonly values?: Readonly<Record<string, unknown>>;
}

/**
 * Builds the settings from defaults, `values`, environment and arguments (that precedence), validated
 * strictly.
 * @throws KaryonError ERR_INVALID_CONFIG naming every key that is wrong.
 */
export function loadSettings(sources: SettingsSources = {}): KaryonSettings {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(sources.env ?? {})) {
    if (value !== undefined && value !== '') env[key] = value;
  }
  try {
    const config = convict(karyonSettingsSchema as convict.Schema<KaryonSettings>, { env, args: [...(sources.argv ?? [])] });
    // convict gives env and argv precedence over loaded values, as documented.
    if (sources.values !== undefined) config.load(sources.values);
    config.validate({ allowed: 'strict' });
    const settings = deepFreeze(config.getProperties());
    loadedFrom.set(settings, sources);
    return settings;
  } catch (error) {
    throw new KaryonError('ERR_INVALID_CONFIG', `invalid configuration: ${(error as Error).message}`, { cause: error });
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
