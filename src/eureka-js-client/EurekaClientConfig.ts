import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KaryonError } from '../common/KaryonError.js';
import type { InstanceDescriptor, InstanceStatus } from '../registry/types.js';

/** A port in Eureka's wire form. */
export interface EurekaClientPortObject {
  /** The port number. */
  readonly $: number | string;
  /** Whether it is enabled: `true`, `false`, `'true'` or `'false'`. @default true */
  readonly '@enabled'?: boolean | string;
}

/** A port as eureka-js-client takes it: a number, or Eureka's wire form `{ $: 8080, '@enabled': true }`. */
export type EurekaClientPort = number | EurekaClientPortObject;

/** Where the instance runs. */
export interface EurekaClientDataCenterInfo {
  /** Java class name Eureka servers expect. @default 'com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo' */
  readonly '@class'?: string;
  /** `'MyOwn'` (`'Amazon'` is refused). */
  readonly name?: string;
  /** `availability-zone` sets the instance's zone. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The lease the instance asks for. */
export interface EurekaClientLeaseInfo {
  /** Seconds between renewals. @default 30 */
  readonly renewalIntervalInSecs?: number;
  /** Seconds the server keeps the lease without a renewal. @default 90 */
  readonly durationInSecs?: number;
}

/** Credentials a request middleware may set. */
export interface EurekaClientAuth {
  /** User name. */
  readonly user?: string;
  /** User name (request's other spelling). */
  readonly username?: string;
  /** Password. */
  readonly pass?: string;
  /** Password (request's other spelling). */
  readonly password?: string;
}

/** The `instance` section of eureka-js-client's configuration: the record registered, in Eureka's wire form. */
export interface EurekaClientInstanceConfig {
  /** Application name (upper-cased on the wire). Required when registering. */
  readonly app?: string;
  /** The instance id. @default `hostName`, as eureka-js-client */
  readonly instanceId?: string;
  /** Host name other machines reach the instance by. Required when registering. */
  readonly hostName?: string;
  /** IP address other machines reach the instance by. Required when registering. */
  readonly ipAddr?: string;
  /** Plain HTTP port. Required when registering. */
  readonly port?: EurekaClientPort;
  /** HTTPS port. @default `{ $: 443, '@enabled': false }` */
  readonly securePort?: EurekaClientPort;
  /** VIP address clients look the service up by. Required when registering. */
  readonly vipAddress?: string;
  /** Secure VIP address. @default `vipAddress` */
  readonly secureVipAddress?: string;
  /** The status registered first: `UP`, `STARTING`, `DOWN` or `OUT_OF_SERVICE` (eureka-js-client forces UP). @default 'UP' */
  readonly status?: string;
  /** The home page URL. @default `http://{hostName}:{port}/` */
  readonly homePageUrl?: string;
  /** The status page URL. @default `homePageUrl` */
  readonly statusPageUrl?: string;
  /** The health check URL. @default `homePageUrl` */
  readonly healthCheckUrl?: string;
  /** `{ '@class': ..., name: 'MyOwn' }`. Required when registering; `name: 'Amazon'` is refused. */
  readonly dataCenterInfo?: EurekaClientDataCenterInfo;
  /** String metadata published with the instance. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** `renewalIntervalInSecs` and `durationInSecs` of the lease. @default 30 and 90 */
  readonly leaseInfo?: EurekaClientLeaseInfo;
  /** Always 1 on the wire; another value is refused. */
  readonly countryId?: number;
}

/** The `eureka` section of eureka-js-client's configuration: where the servers are and how to talk to them. */
export interface EurekaClientServerConfig {
  /** The server's host, when `serviceUrls` is not given. */
  readonly host?: string;
  /** The server's port, when `serviceUrls` is not given. */
  readonly port?: number | string;
  /** The path of the applications resource. @default '/eureka/v2/apps/' */
  readonly servicePath?: string;
  /** Use https with `host` and `port`. @default false */
  readonly ssl?: boolean;
  /** Server URLs by zone, each ending in the applications path (`http://eureka:8761/eureka/apps/`). */
  readonly serviceUrls?: Readonly<Record<string, readonly string[]>>;
  /** Put the URLs of the instance's own zone (`dataCenterInfo.metadata['availability-zone']`) first. @default true */
  readonly preferSameZone?: boolean;
  /** With `availabilityZones`: the region whose zones order `serviceUrls`. */
  readonly ec2Region?: string;
  /** Zones by region, in order. */
  readonly availabilityZones?: Readonly<Record<string, readonly string[]>>;
  /** Heartbeat interval, ms. @default 30000 */
  readonly heartbeatInterval?: number;
  /** Registry fetch interval, ms. @default 30000 */
  readonly registryFetchInterval?: number;
  /** Failed attempts after which `start()` and `stop()` report an error (retries go on in the background). @default 3 */
  readonly maxRetries?: number;
  /** First retry delay, ms (it then grows exponentially, with jitter). @default 500 */
  readonly requestRetryDelay?: number;
  /** Fetch and cache the registry. @default true */
  readonly fetchRegistry?: boolean;
  /** `getInstancesBy*()` return UP instances only. @default true */
  readonly filterUpInstances?: boolean;
  /** Register the instance. @default true */
  readonly registerWithEureka?: boolean;
  /** `start()` waits until the instance's own VIP has instances. @default false */
  readonly waitForRegistry?: boolean;
  /** Only meaningful with AWS metadata (refused), as in eureka-js-client. @default false */
  readonly preferIpAddress?: boolean;
  /** Only meaningful with AWS metadata (refused), as in eureka-js-client. @default true */
  readonly fetchMetadata?: boolean;
  /** Only meaningful with AWS metadata (refused); `true` is refused. @default false */
  readonly useLocalMetadata?: boolean;
  /** DNS TXT discovery of the servers: refused when `true`; list the servers in `serviceUrls`. @default false */
  readonly useDns?: boolean;
  /** Only meaningful with `useDns` (refused), as in eureka-js-client. */
  readonly clusterRefreshInterval?: number;
}

/** A logger as eureka-js-client takes it. */
export interface EurekaClientLogger {
  /** Detail. */
  debug(...args: unknown[]): void;
  /** Normal events. */
  info(...args: unknown[]): void;
  /** Handled problems. */
  warn(...args: unknown[]): void;
  /** Unhandled problems. */
  error(...args: unknown[]): void;
}

/** What a `requestMiddleware` receives and hands back: eureka-js-client's request options. */
export interface EurekaClientRequestOptions {
  /** HTTP method. */
  readonly method: string;
  /** Path under the applications resource (`''`, `'delta'`, `'APP'`, `'APP/id'`, `'APP/id/status'`). */
  readonly uri: string;
  /** The server URL (ending in the applications path). */
  readonly baseUrl: string;
  /** Query parameters. */
  readonly qs: Readonly<Record<string, string>>;
  /** Request headers; changes are applied. */
  headers: Record<string, string>;
  /** `{ user, pass }` (or `username`, `password`): sent as Basic authorization. */
  auth?: EurekaClientAuth;
}

/** eureka-js-client 4.5's constructor configuration. */
export interface EurekaClientConfig {
  /** The instance registered. */
  readonly instance?: EurekaClientInstanceConfig;
  /** The servers and timings. */
  readonly eureka?: EurekaClientServerConfig;
  /** Where the client logs. @default eureka-js-client's console logger at `info`: here, nothing */
  readonly logger?: EurekaClientLogger;
  /** Called with each request's options before it is sent; may change its headers (and `auth`). */
  readonly requestMiddleware?: (request: EurekaClientRequestOptions, done: (request: EurekaClientRequestOptions) => void) => void;
  /** Fetch deltas after the first full fetch. @default true here (false in eureka-js-client: its deltas corrupt its cache) */
  readonly shouldUseDelta?: boolean;
  /** Where eureka-js-client looks for `eureka-client.yml`: such files are refused, not read. @default process.cwd() */
  readonly cwd?: string;
  /** The name of those YAML files. @default 'eureka-client' */
  readonly filename?: string;
}

/** The configuration checked and turned into what our Eureka client takes. */
export interface ResolvedEurekaClientConfig {
  readonly serviceUrls: readonly string[];
  readonly instance: InstanceDescriptor | undefined;
  readonly status: InstanceStatus;
  readonly heartbeatIntervalMs: number;
  readonly registryFetchIntervalMs: number;
  readonly maxRetries: number;
  readonly retryDelayMs: number;
  readonly fetchRegistry: boolean;
  readonly fetchDeltas: boolean;
  readonly filterUpInstances: boolean;
  readonly waitForRegistry: boolean;
  readonly logger: EurekaClientLogger | undefined;
  readonly requestMiddleware: EurekaClientConfig['requestMiddleware'];
}

const topKeys = new Set(['instance', 'eureka', 'logger', 'requestMiddleware', 'shouldUseDelta', 'cwd', 'filename']);
const eurekaKeys = new Set([
  'host',
  'port',
  'servicePath',
  'ssl',
  'serviceUrls',
  'preferSameZone',
  'ec2Region',
  'availabilityZones',
  'heartbeatInterval',
  'registryFetchInterval',
  'maxRetries',
  'requestRetryDelay',
  'fetchRegistry',
  'filterUpInstances',
  'registerWithEureka',
  'waitForRegistry',
  'preferIpAddress',
  'fetchMetadata',
  'useLocalMetadata',
  'useDns',
  'clusterRefreshInterval',
]);
const instanceKeys = new Set([
  'app',
  'instanceId',
  'hostName',
  'ipAddr',
  'port',
  'securePort',
  'vipAddress',
  'secureVipAddress',
  'status',
  'homePageUrl',
  'statusPageUrl',
  'healthCheckUrl',
  'dataCenterInfo',
  'metadata',
  'leaseInfo',
  'countryId',
]);
const statuses = new Set(['UP', 'STARTING', 'DOWN', 'OUT_OF_SERVICE']);

function refuse(message: string): never {
  throw new KaryonError('ERR_INVALID_OPTION', `eureka-js-client configuration: ${message}`);
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

function section(value: unknown, name: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) refuse(`'${name}' must be an object (got ${show(value)})`);
  return value as Record<string, unknown>;
}

function checkKeys(object: Record<string, unknown>, known: ReadonlySet<string>, where: string): void {
  for (const key of Object.keys(object)) {
    if (!known.has(key)) refuse(`'${where}${key}' is not an option this drop-in knows, so it is refused rather than ignored (see the migration guide)`);
  }
}

function bool(value: unknown, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') refuse(`'${name}' must be a boolean (got ${show(value)})`);
  return value;
}

function ms(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > 2_147_483_647) {
    refuse(`'${name}' must be a number of milliseconds from ${min} to 2147483647 (got ${show(value)})`);
  }
  return value;
}

function text(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') refuse(`'${name}' must be a non-empty string (got ${show(value)})`);
  return value;
}

function port(value: unknown, name: string, fallback: { port: number; enabled: boolean } | undefined): { port: number; enabled: boolean } {
  if (value === undefined) {
    if (fallback === undefined) refuse(`'${name}' is required to register (a number, or { $: 8080, '@enabled': true })`);
    return fallback;
  }
  const raw = typeof value === 'object' && value !== null ? (value as Record<string, unknown>).$ : value;
  const enabledRaw = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)['@enabled'] : true;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) {
    refuse(`'${name}' must be a port from 0 to 65535, as a number or { $: 8080, '@enabled': true } (got ${show(value)})`);
  }
  const enabled = enabledRaw === undefined ? true : enabledRaw === true || enabledRaw === 'true';
  if (enabledRaw !== undefined && typeof enabledRaw !== 'boolean' && enabledRaw !== 'true' && enabledRaw !== 'false') {
    refuse(`'${name}['@enabled']' must be true, false, 'true' or 'false' (got ${show(enabledRaw)})`);
  }
  return { port: n, enabled };
}

/** The server URLs in the order eureka-js-client's ConfigClusterResolver puts them, as our service URLs. */
function serverUrls(eureka: Record<string, unknown>, zone: string | undefined): string[] {
  const ssl = bool(eureka.ssl, 'eureka.ssl', false);
  const preferSameZone = bool(eureka.preferSameZone, 'eureka.preferSameZone', true);
  const byZone = section(eureka.serviceUrls, 'eureka.serviceUrls');
  const regions = section(eureka.availabilityZones, 'eureka.availabilityZones');
  const region = text(eureka.ec2Region, 'eureka.ec2Region');
  const zonesRaw = region === undefined ? undefined : regions[region];
  const zones = Array.isArray(zonesRaw) ? (zonesRaw as unknown[]).map((z) => String(z)) : ['default'];
  const urls: string[] = [];
  for (const z of zones) {
    const list = byZone[z];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.some((u) => typeof u !== 'string')) refuse(`'eureka.serviceUrls.${z}' must be an array of URLs (got ${show(list)})`);
    if (preferSameZone && zone !== undefined && zone === z) urls.unshift(...(list as string[]));
    else urls.push(...(list as string[]));
  }
  for (const key of Object.keys(byZone)) {
    if (!zones.includes(key)) {
      refuse(`'eureka.serviceUrls.${key}' names a zone outside the zones in use (${zones.join(', ')}); eureka-js-client would ignore it, so it is refused`);
    }
  }
  if (urls.length === 0) {
    const host = text(eureka.host, 'eureka.host');
    if (host === undefined) refuse(`'eureka.host' (with 'eureka.port') or 'eureka.serviceUrls' is required`);
    const p = eureka.port;
    if ((typeof p !== 'number' && typeof p !== 'string') || !/^\d+$/.test(String(p))) refuse(`'eureka.port' must be a port number (got ${show(p)})`);
    const servicePath = text(eureka.servicePath, 'eureka.servicePath') ?? '/eureka/v2/apps/';
    urls.push(`${ssl ? 'https' : 'http'}://${host}:${String(p)}${servicePath.startsWith('/') ? '' : '/'}${servicePath}`);
  }
  // Ours take the base under which `/apps` lives; eureka-js-client's name the applications resource itself.
  return [...new Set(urls)].map((url) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return refuse(`server URL ${show(url)} is not a URL`);
    }
    const path = parsed.pathname.replace(/\/+$/, '');
    if (!path.endsWith('/apps')) refuse(`server URL ${show(url)} must end with the applications path '/apps/' (as '/eureka/apps/' or '/eureka/v2/apps/')`);
    parsed.pathname = path.slice(0, -'/apps'.length) || '/';
    return parsed.toString().replace(/\/+$/, '');
  });
}

/**
 * Checks eureka-js-client 4.5's configuration and turns it into what our Eureka client takes. Every option is
 * supported, changed as the migration guide says, or refused with an error naming it: none is ignored.
 * @throws KaryonError `ERR_INVALID_OPTION` naming the option refused or wrong; `ERR_INVALID_CONFIG` when an
 * `eureka-client.yml` file is where eureka-js-client would read it
 */
export function resolveEurekaClientConfig(config: EurekaClientConfig = {}): ResolvedEurekaClientConfig {
  const top = section(config, 'the configuration');
  checkKeys(top, topKeys, '');
  const eureka = section(top.eureka, 'eureka');
  checkKeys(eureka, eurekaKeys, 'eureka.');
  const instance = section(top.instance, 'instance');
  checkKeys(instance, instanceKeys, 'instance.');

  // eureka-js-client merges YAML files found here into its configuration; reading them is refused, not skipped.
  const cwd = text(top.cwd, 'cwd') ?? process.cwd();
  const filename = text(top.filename, 'filename') ?? 'eureka-client';
  const env = process.env.EUREKA_ENV ?? process.env.NODE_ENV ?? 'development';
  for (const file of [join(cwd, `${filename}.yml`), join(cwd, `${filename}-${env}.yml`)]) {
    if (existsSync(file)) {
      throw new KaryonError(
        'ERR_INVALID_CONFIG',
        `eureka-js-client configuration: ${file} exists, and this drop-in reads no configuration files; pass its settings to the constructor`,
      );
    }
  }

  if (bool(eureka.useDns, 'eureka.useDns', false)) refuse(`'eureka.useDns' is not supported: list the servers in 'eureka.serviceUrls'`);
  if (bool(eureka.useLocalMetadata, 'eureka.useLocalMetadata', false)) refuse(`'eureka.useLocalMetadata' needs AWS metadata, which is not supported`);
  bool(eureka.preferIpAddress, 'eureka.preferIpAddress', false);
  bool(eureka.fetchMetadata, 'eureka.fetchMetadata', true);
  if (eureka.clusterRefreshInterval !== undefined) ms(eureka.clusterRefreshInterval, 'eureka.clusterRefreshInterval', 0, 1);

  const middleware = top.requestMiddleware;
  if (middleware !== undefined && typeof middleware !== 'function') refuse(`'requestMiddleware' must be a function (got ${show(middleware)})`);
  const logger = top.logger;
  if (logger !== undefined) {
    const l = section(logger, 'logger');
    for (const level of ['debug', 'info', 'warn', 'error']) {
      if (typeof l[level] !== 'function') refuse(`'logger.${level}' must be a function`);
    }
  }

  const registerWithEureka = bool(eureka.registerWithEureka, 'eureka.registerWithEureka', true);
  const dataCenter = section(instance.dataCenterInfo, 'instance.dataCenterInfo');
  if (typeof dataCenter.name === 'string' && dataCenter.name.toLowerCase() === 'amazon') {
    refuse(`'instance.dataCenterInfo.name' 'Amazon' is not supported (no AWS metadata is fetched): use 'MyOwn' and give hostName and ipAddr`);
  }
  const dcMetadata = section(dataCenter.metadata, 'instance.dataCenterInfo.metadata');
  const az = dcMetadata['availability-zone'];
  const zone = typeof az === 'string' && az !== '' ? az : undefined;

  const status = instance.status ?? 'UP';
  if (typeof status !== 'string' || !statuses.has(status)) refuse(`'instance.status' must be one of ${[...statuses].join(', ')} (got ${show(instance.status)})`);
  if (instance.countryId !== undefined && instance.countryId !== 1) refuse(`'instance.countryId' must be 1, the only value Eureka uses (got ${show(instance.countryId)})`);

  const heartbeatIntervalMs = ms(eureka.heartbeatInterval, 'eureka.heartbeatInterval', 30_000, 1);
  let descriptor: InstanceDescriptor | undefined;
  if (registerWithEureka) {
    for (const key of ['app', 'vipAddress', 'port', 'dataCenterInfo'] as const) {
      if (instance[key] === undefined) refuse(`'instance.${key}' is required when registerWithEureka is true`);
    }
    const app = text(instance.app, 'instance.app') as string;
    const hostName = text(instance.hostName, 'instance.hostName');
    if (hostName === undefined) refuse(`'instance.hostName' is required to register`);
    const ipAddr = text(instance.ipAddr, 'instance.ipAddr');
    if (ipAddr === undefined) refuse(`'instance.ipAddr' is required to register`);
    const plain = port(instance.port, 'instance.port', undefined);
    const secure = port(instance.securePort, 'instance.securePort', { port: 443, enabled: false });
    const vipAddress = text(instance.vipAddress, 'instance.vipAddress') as string;
    const homePageUrl = text(instance.homePageUrl, 'instance.homePageUrl') ?? `http://${hostName}:${plain.port}/`;
    const metadata = section(instance.metadata, 'instance.metadata');
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') refuse(`'instance.metadata.${key}' must be a string (got ${show(value)})`);
    }
    const lease = section(instance.leaseInfo, 'instance.leaseInfo');
    checkKeys(lease, new Set(['renewalIntervalInSecs', 'durationInSecs']), 'instance.leaseInfo.');
    descriptor = {
      instanceId: text(instance.instanceId, 'instance.instanceId') ?? hostName,
      app: app.toUpperCase(),
      vipAddress,
      secureVipAddress: text(instance.secureVipAddress, 'instance.secureVipAddress') ?? vipAddress,
      hostName,
      ipAddr,
      port: plain.port,
      portEnabled: plain.enabled,
      securePort: secure.port,
      securePortEnabled: secure.enabled,
      zone: zone ?? (typeof metadata.zone === 'string' ? metadata.zone : 'default'),
      metadata: metadata as Record<string, string>,
      homePageUrl,
      statusPageUrl: text(instance.statusPageUrl, 'instance.statusPageUrl') ?? homePageUrl,
      healthCheckUrl: text(instance.healthCheckUrl, 'instance.healthCheckUrl') ?? homePageUrl,
      leaseRenewalIntervalMs: ms(lease.renewalIntervalInSecs === undefined ? undefined : Number(lease.renewalIntervalInSecs) * 1000, 'instance.leaseInfo.renewalIntervalInSecs', 30_000, 1000),
      leaseDurationMs: ms(lease.durationInSecs === undefined ? undefined : Number(lease.durationInSecs) * 1000, 'instance.leaseInfo.durationInSecs', 90_000, 1000),
    };
  }
  const maxRetries = eureka.maxRetries ?? 3;
  if (typeof maxRetries !== 'number' || !Number.isInteger(maxRetries) || maxRetries < 0) refuse(`'eureka.maxRetries' must be a whole number >= 0 (got ${show(maxRetries)})`);

  return Object.freeze({
    serviceUrls: serverUrls(eureka, zone),
    instance: descriptor,
    status: status as InstanceStatus,
    heartbeatIntervalMs,
    registryFetchIntervalMs: ms(eureka.registryFetchInterval, 'eureka.registryFetchInterval', 30_000, 1),
    maxRetries,
    retryDelayMs: ms(eureka.requestRetryDelay, 'eureka.requestRetryDelay', 500, 1),
    fetchRegistry: bool(eureka.fetchRegistry, 'eureka.fetchRegistry', true),
    fetchDeltas: bool(top.shouldUseDelta, 'shouldUseDelta', true),
    filterUpInstances: bool(eureka.filterUpInstances, 'eureka.filterUpInstances', true),
    waitForRegistry: bool(eureka.waitForRegistry, 'eureka.waitForRegistry', false),
    logger: logger as EurekaClientLogger | undefined,
    requestMiddleware: middleware as EurekaClientConfig['requestMiddleware'],
  });
}
