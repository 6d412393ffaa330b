import { randomUUID } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { Clock } from '../../common/Clock.js';
import { systemClock } from '../../common/Clock.js';
import type { Logger } from '../../common/Logger.js';
import { silentLogger } from '../../common/Logger.js';
import { AUTO_MAX_INITIAL_VIPS } from './AutoFetchMode.js';
import { basicAuthorization, durationMs, invalidOption, nonEmptyString, positiveInt } from '../../internal/validate.js';

/** Options of {@link EurekaRegistry}. Only `serviceUrls` is required. */
export interface EurekaRegistryOptions {
  /**
   * The Eureka servers, e.g. `http://eureka-1:8761/eureka` (Spring Cloud) or `http://eureka-1:8080/eureka/v2`
   * (Netflix). Requests go to `${url}/apps/...`, so both shapes work. Credentials in a URL
   * (`http://user:pass@host/eureka`) are sent as HTTP basic authentication. A map of zone to URLs (Spring's
   * `eureka.client.service-url`) tells which zone each server is in: those of `zone` are tried first.
   *
   * As the Java client does, each client shuffles the list (same zone first; see `shuffleSeed`), sticks to the
   * server that answered last, tries at most 3 servers per request, and quarantines a failing server until too
   * many are (two thirds), so a fleet spreads over the servers and moves off a dead one within one request.
   */
  readonly serviceUrls: readonly string[] | Readonly<Record<string, readonly string[]>>;
  /**
   * The zone this client is in: the servers of that zone (in a zone map of `serviceUrls`) come first.
   * @default none: every server is equal
   */
  readonly zone?: string;
  /**
   * Whether to shuffle the service URLs per client (same zone first). `false` keeps the order given: every
   * client then starts with the first URL.
   * @default true
   */
  readonly shuffleServiceUrls?: boolean;
  /**
   * What the shuffle of the service URLs is derived from: the same seed gives the same order. A service passes
   * its instance id, so an instance keeps its order across restarts and different instances spread.
   * @default a random seed per registry
   */
  readonly shuffleSeed?: string;
  /**
   * How often each registered instance renews its lease, in ms (jittered by `jitterRatio`).
   * @default 30000
   */
  readonly heartbeatIntervalMs?: number;
  /**
   * How often the registry view is refreshed (a delta, or a full fetch when needed), in ms.
   * It is also the registry's `propagationDelayMs`.
   * @default 30000
   */
  readonly registryFetchIntervalMs?: number;
  /**
   * Whether to fetch the registry at all. Set it to `false` for a process that only registers itself.
   * @default true
   */
  readonly fetchRegistry?: boolean;
  /**
   * Whether to refresh with deltas (`GET /apps/delta`) once a full fetch succeeded; `false` always fetches
   * the full registry.
   * @default true
   */
  readonly fetchDeltas?: boolean;
  /**
   * What a refresh fetches. `full`: the whole registry (`GET /apps`, then deltas). `vips`: only the instances of
   * `fetchVips` (`GET /vips/{vip}` each, every refresh, as the Java client's single-VIP refresh does), so a
   * service that calls 3 VIPs of a 100,000-instance fleet neither downloads nor holds the rest. `auto`: whichever
   * of the two costs less, measured (bytes received and event-loop time of each refresh, the other mode probed
   * every 10 refreshes, a full fetch weighed over 120 refreshes); it starts as `vips` when `fetchVips` names 1 to
   * 16 VIPs, and is `full` when it names none.
   * @default 'full'
   */
  readonly fetchMode?: 'full' | 'vips' | 'auto';
  /**
   * The VIP addresses the service's clients call, fetched one by one in `vips` mode (case-insensitive).
   * @default []
   */
  readonly fetchVips?: readonly string[];
  /**
   * How long opening a connection to a server may take, in ms (the Java client's default). Applies to the
   * dispatcher this registry makes; a `dispatcher` you pass keeps its own.
   * @default 5000
   */
  readonly connectTimeoutMs?: number;
  /**
   * How long one request may take from sending to the end of the response, in ms; then the next server is tried.
   * @default 8000
   */
  readonly requestTimeoutMs?: number;
  /**
   * Delay before retrying a failed registration, status change, heartbeat or fetch, in ms.
   * @default 1000
   */
  readonly retryInitialDelayMs?: number;
  /**
   * Upper bound of the retry delay, in ms. The delay also stops growing at the interval of the work that
   * failed: a registration, status change or heartbeat retries at least every `heartbeatIntervalMs`, a fetch at
   * least every `registryFetchIntervalMs`, so the instance and its view are back about one interval after the
   * registry returns.
   * @default 60000
   */
  readonly retryMaxDelayMs?: number;
  /**
   * Factor applied to the retry delay after each consecutive failure.
   * @default 2
   */
  readonly retryMultiplier?: number;
  /**
   * How far heartbeats, fetches and retry delays are spread either way, as a fraction of the delay, so a fleet
   * started together does not call in lockstep. 0 disables jitter.
   * @default 0.1
   */
  readonly jitterRatio?: number;
  /**
   * A full fetch that lists fewer than this share of the instances the view holds for an application keeps the
   * held ones (Envoy's panic threshold applied to membership): a registry that restarted empty, or that answers
   * before its instances registered again, does not empty the view and fail every call. The view follows the
   * registry again once it lists every held instance again, or after `viewProtectionMaxMs`; new and changed
   * records are applied meanwhile. Deltas (an instance cancelled or evicted, one by one) are applied as they
   * come. 0 turns the protection off.
   * @default 0.5
   */
  readonly viewProtectionRatio?: number;
  /**
   * Longest an application's last good view is kept against the registry's, in ms (after it, a fleet that
   * really shrank by more than `viewProtectionRatio` at once is shown as it is).
   * @default 300000 (the Netflix server's wait before it serves reads after an empty start)
   */
  readonly viewProtectionMaxMs?: number;
  /**
   * Extra headers sent with every request (e.g. a gateway token). They cannot replace the protocol's own
   * `accept`, `accept-encoding` and `content-type`, nor be `x-netflix-discovery-replication`, which only Eureka
   * peers send to each other.
   * @default {}
   */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * A token sent with every request, in `tokenHeader`: the application's owner token on a development Eureka
   * server with owner tokens (`karyon registry --owner-tokens`), or what a gateway in front of a Eureka cluster
   * checks. Never logged. Undefined is none, so an unset `process.env.X` can be passed as it is.
   * @default none
   */
  readonly token?: string | undefined;
  /**
   * The header `token` is sent in: `authorization` sends `Bearer <token>`; any other header (e.g.
   * `x-karyon-registry-token`, which the development server also accepts, or a gateway's `x-api-key`) sends the
   * token alone. Give another header when the service URLs carry basic-auth credentials, which use
   * `authorization`.
   * @default 'authorization'
   */
  readonly tokenHeader?: string;
  /**
   * Largest response accepted, in bytes, after decompression; a bigger one fails the request.
   * @default 268435456 (256 MiB: a registry of 100,000 instances is about 100 MiB of JSON)
   */
  readonly maxResponseBytes?: number;
  /**
   * The CPU priority of the thread that decodes a large full fetch (from 512 KB of JSON), on Linux. `low`: nice
   * 10. `idle`: SCHED_IDLE besides, set with util-linux's `chrt` (run once per new decoding thread; without it the
   * thread stays at nice 10): the decoder gives way at once to any thread that wants the CPU, so requests served
   * meanwhile wait less, and a fetch takes longer where the machine is busy. See docs/eureka.md, "Decoding at idle
   * priority", for what each costs.
   * @default 'low'
   */
  readonly decodePriority?: 'low' | 'idle';
  /**
   * The undici dispatcher requests go through (a proxy agent, a mock). When absent the registry makes its own
   * keep-alive agent and closes it on `close()`; a dispatcher passed here is left open.
   */
  readonly dispatcher?: Dispatcher;
  /**
   * Time source for timers and timestamps.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Where the registry writes what it does.
   * @default silentLogger
   */
  readonly logger?: Logger;
}

/** A Eureka server: where requests go and how to present ourselves to it. */
export interface ServiceUrl {
  /** The base URL without credentials or trailing slash, e.g. `http://eureka:8761/eureka`. */
  readonly url: string;
  /** The `authorization` header value when the URL carried credentials. */
  readonly authorization: string | undefined;
  /** The server's zone, when `serviceUrls` was a zone map. */
  readonly zone: string | undefined;
}

/** {@link EurekaRegistryOptions} after validation, with every default filled in. */
export interface ResolvedEurekaRegistryOptions {
  /** The servers, normalized, in the order given. */
  readonly serviceUrls: readonly ServiceUrl[];
  /** See {@link EurekaRegistryOptions.zone}. */
  readonly zone: string | undefined;
  /** See {@link EurekaRegistryOptions.shuffleServiceUrls}. */
  readonly shuffleServiceUrls: boolean;
  /** See {@link EurekaRegistryOptions.shuffleSeed}. */
  readonly shuffleSeed: string;
  /** See {@link EurekaRegistryOptions.heartbeatIntervalMs}. */
  readonly heartbeatIntervalMs: number;
  /** See {@link EurekaRegistryOptions.registryFetchIntervalMs}. */
  readonly registryFetchIntervalMs: number;
  /** See {@link EurekaRegistryOptions.fetchRegistry}. */
  readonly fetchRegistry: boolean;
  /** See {@link EurekaRegistryOptions.fetchDeltas}. */
  readonly fetchDeltas: boolean;
  /** The mode to start with: {@link EurekaRegistryOptions.fetchMode}, `auto` starting as `vips` with 1 to 16 VIPs. */
  readonly fetchMode: 'full' | 'vips';
  /** True when `auto` chooses the mode by measured cost (`fetchMode: 'auto'` with VIPs named). */
  readonly autoFetchMode: boolean;
  /** See {@link EurekaRegistryOptions.fetchVips}: lower-cased, without repeats. */
  readonly fetchVips: readonly string[];
  /** See {@link EurekaRegistryOptions.connectTimeoutMs}. */
  readonly connectTimeoutMs: number;
  /** See {@link EurekaRegistryOptions.requestTimeoutMs}. */
  readonly requestTimeoutMs: number;
  /** See {@link EurekaRegistryOptions.retryInitialDelayMs}. */
  readonly retryInitialDelayMs: number;
  /** See {@link EurekaRegistryOptions.retryMaxDelayMs}. */
  readonly retryMaxDelayMs: number;
  /** See {@link EurekaRegistryOptions.retryMultiplier}. */
  readonly retryMultiplier: number;
  /** See {@link EurekaRegistryOptions.jitterRatio}. */
  readonly jitterRatio: number;
  /** See {@link EurekaRegistryOptions.viewProtectionRatio}. */
  readonly viewProtectionRatio: number;
  /** See {@link EurekaRegistryOptions.viewProtectionMaxMs}. */
  readonly viewProtectionMaxMs: number;
  /** See {@link EurekaRegistryOptions.headers}; names lower-cased, the `token` header included. */
  readonly headers: Readonly<Record<string, string>>;
  /** See {@link EurekaRegistryOptions.maxResponseBytes}. */
  readonly maxResponseBytes: number;
  /** See {@link EurekaRegistryOptions.decodePriority}. */
  readonly decodePriority: 'low' | 'idle';
  /** See {@link EurekaRegistryOptions.dispatcher}. */
  readonly dispatcher: Dispatcher | undefined;
  /** See {@link EurekaRegistryOptions.clock}. */
  readonly clock: Clock;
  /** See {@link EurekaRegistryOptions.logger}. */
  readonly logger: Logger;
}

/** Headers the protocol sets itself; a user header of the same name would break requests. */
const reservedHeaders = new Set(['accept', 'accept-encoding', 'content-type', 'content-length', 'host', 'transfer-encoding']);

/**
 * The header Eureka peers mark replicated writes with. A client sending it would be taken for a peer: the
 * server skips LeaseExistsRule, does not replicate the write, and may answer renewals with 409.
 */
const REPLICATION_HEADER = 'x-netflix-discovery-replication';
const replicationHeaderUse = `a header other than ${REPLICATION_HEADER}, which only Eureka peers send to each other`;

/**
 * Validates {@link EurekaRegistryOptions}, fills in defaults and freezes the result. The caller's object is
 * not changed.
 * @throws KaryonError ERR_INVALID_OPTION naming the option, what was expected and what was given.
 */
export function resolveEurekaRegistryOptions(options: EurekaRegistryOptions): ResolvedEurekaRegistryOptions {
  if (typeof options !== 'object' || options === null) invalidOption('eureka', 'an options object', options);
  const retryInitialDelayMs = durationMs('retryInitialDelayMs', options.retryInitialDelayMs, 1000);
  // A failed write waits at least this long before it is sent again: 0 would retry back to back.
  if (retryInitialDelayMs < 1) invalidOption('retryInitialDelayMs', 'at least 1 ms', retryInitialDelayMs);
  const retryMaxDelayMs = durationMs('retryMaxDelayMs', options.retryMaxDelayMs, 60_000);
  if (retryMaxDelayMs < retryInitialDelayMs) {
    invalidOption('retryMaxDelayMs', `at least retryInitialDelayMs (${retryInitialDelayMs})`, retryMaxDelayMs);
  }
  const fetchVips = resolveVips(options.fetchVips);
  const mode = options.fetchMode ?? 'full';
  if (mode !== 'full' && mode !== 'vips' && mode !== 'auto') invalidOption('fetchMode', "'full', 'vips' or 'auto'", mode);
  if (mode === 'vips' && fetchVips.length === 0) invalidOption('fetchVips', "at least one VIP with fetchMode 'vips'", options.fetchVips);
  const fetchMode = mode === 'auto' ? (fetchVips.length > 0 && fetchVips.length <= AUTO_MAX_INITIAL_VIPS ? 'vips' : 'full') : mode;
  return Object.freeze({
    serviceUrls: Object.freeze(resolveServiceUrls(options.serviceUrls)),
    zone: options.zone === undefined ? undefined : nonEmptyString('zone', options.zone),
    shuffleServiceUrls: boolOption('shuffleServiceUrls', options.shuffleServiceUrls, true),
    shuffleSeed: options.shuffleSeed === undefined ? randomUUID() : nonEmptyString('shuffleSeed', options.shuffleSeed),
    heartbeatIntervalMs: positiveDuration('heartbeatIntervalMs', options.heartbeatIntervalMs, 30_000),
    registryFetchIntervalMs: positiveDuration('registryFetchIntervalMs', options.registryFetchIntervalMs, 30_000),
    fetchRegistry: boolOption('fetchRegistry', options.fetchRegistry, true),
    fetchDeltas: boolOption('fetchDeltas', options.fetchDeltas, true),
    fetchMode,
    autoFetchMode: mode === 'auto' && fetchVips.length > 0,
    fetchVips,
    connectTimeoutMs: positiveDuration('connectTimeoutMs', options.connectTimeoutMs, 5000),
    requestTimeoutMs: positiveDuration('requestTimeoutMs', options.requestTimeoutMs, 8000),
    retryInitialDelayMs,
    retryMaxDelayMs,
    retryMultiplier: numberAtLeast('retryMultiplier', options.retryMultiplier, 1, 2),
    jitterRatio: ratio('jitterRatio', options.jitterRatio, 0.1),
    viewProtectionRatio: ratio('viewProtectionRatio', options.viewProtectionRatio, 0.5),
    viewProtectionMaxMs: durationMs('viewProtectionMaxMs', options.viewProtectionMaxMs, 300_000),
    headers: withToken(resolveHeaders(options.headers), options),
    maxResponseBytes: positiveInt('maxResponseBytes', options.maxResponseBytes, 256 * 1024 * 1024),
    decodePriority: decodePriority(options.decodePriority),
    dispatcher: options.dispatcher,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
  });
}


function decodePriority(value: unknown): 'low' | 'idle' {
  if (value === undefined) return 'low';
  if (value !== 'low' && value !== 'idle') invalidOption('decodePriority', "'low' or 'idle'", value);
  return value;
}

function resolveVips(value: unknown): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value)) invalidOption('fetchVips', 'an array of VIP addresses', value);
  const vips: string[] = [];
  for (const entry of value as unknown[]) {
    if (typeof entry !== 'string' || entry.trim() === '' || entry.includes(',') || entry.includes('/')) {
      invalidOption('fetchVips', 'VIP addresses (non-blank strings without "," or "/")', entry);
    }
    const vip = entry.trim().toLowerCase();
    if (!vips.includes(vip)) vips.push(vip);
  }
  return Object.freeze(vips);
}

function resolveServiceUrls(value: unknown): ServiceUrl[] {
  const zoned = typeof value === 'object' && value !== null && !Array.isArray(value);
  const entries: [name: string, url: unknown, zone: string | undefined][] = [];
  if (zoned) {
    for (const [zone, list] of Object.entries(value)) {
      if (!Array.isArray(list)) return invalidOption(`serviceUrls.${zone}`, 'an array of http(s) URLs', list);
      (list as unknown[]).forEach((url, index) => entries.push([`serviceUrls.${zone}[${index}]`, url, zone]));
    }
  } else if (Array.isArray(value)) {
    (value as unknown[]).forEach((url, index) => entries.push([`serviceUrls[${index}]`, url, undefined]));
  }
  if (entries.length === 0) {
    return invalidOption('serviceUrls', 'a non-empty array of http(s) URLs, or a map of zone to such arrays', value);
  }
  const urls: ServiceUrl[] = [];
  for (const [name, entry, zone] of entries) {
    if (typeof entry !== 'string' || entry.trim() === '') return invalidOption(name, 'an http(s) URL', entry);
    let parsed: URL;
    try {
      parsed = new URL(entry.trim());
    } catch {
      return invalidOption(name, 'an http(s) URL', entry);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return invalidOption(name, 'an http(s) URL', entry);
    if (parsed.search !== '' || parsed.hash !== '') {
      return invalidOption(name, 'a URL without query or fragment (paths are appended to it)', entry);
    }
    const authorization = basicAuthorization(name, parsed);
    parsed.username = '';
    parsed.password = '';
    const url = parsed.toString().replace(/\/+$/, '');
    if (!urls.some((known) => known.url === url && known.authorization === authorization)) {
      urls.push(Object.freeze({ url, authorization, zone }));
    }
  }
  return urls;
}

/** Every URL of `serviceUrls`, whichever shape it has (for checks made before it is resolved). */
function serviceUrlList(value: EurekaRegistryOptions['serviceUrls']): readonly unknown[] {
  if (Array.isArray(value)) return value as readonly unknown[];
  return typeof value === 'object' && value !== null ? Object.values(value).flatMap((list) => (Array.isArray(list) ? (list as unknown[]) : [])) : [];
}

function resolveHeaders(value: Readonly<Record<string, string>> | undefined): Readonly<Record<string, string>> {
  if (value === undefined) return Object.freeze({});
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return invalidOption('headers', 'an object of strings', value);
  const headers: Record<string, string> = {};
  for (const [name, header] of Object.entries(value)) {
    const lower = name.toLowerCase();
    if (typeof header !== 'string') return invalidOption(`headers.${name}`, 'a string', header);
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(lower)) return invalidOption('headers', 'valid HTTP header names', name);
    if (reservedHeaders.has(lower)) return invalidOption(`headers.${name}`, 'a header the protocol does not set itself', name);
    if (lower === REPLICATION_HEADER) return invalidOption(`headers.${name}`, replicationHeaderUse, name);
    headers[lower] = header;
  }
  return Object.freeze(headers);
}

/** Adds the token header to the headers, refusing a clash with a header given or with URL credentials. */
function withToken(headers: Readonly<Record<string, string>>, options: EurekaRegistryOptions): Readonly<Record<string, string>> {
  const { token } = options;
  if (options.tokenHeader !== undefined && token === undefined) return invalidOption('tokenHeader', 'given only with a token', options.tokenHeader);
  if (token === undefined) return headers;
  if (typeof token !== 'string' || !/^[\x21-\x7e]+$/.test(token)) {
    // Never echo the token: its length is enough to find the mistake.
    return invalidOption('token', 'printable ASCII without spaces', typeof token === 'string' ? `a string of ${token.length} characters` : typeof token);
  }
  const name = options.tokenHeader ?? 'authorization';
  const lower = typeof name === 'string' ? name.toLowerCase() : '';
  if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(lower)) return invalidOption('tokenHeader', 'an HTTP header name', name);
  if (reservedHeaders.has(lower)) return invalidOption('tokenHeader', 'a header the protocol does not set itself', name);
  if (lower === REPLICATION_HEADER) return invalidOption('tokenHeader', replicationHeaderUse, name);
  if (lower in headers) return invalidOption(`headers.${lower}`, 'absent when tokenHeader names the same header', 'both');
  if (lower === 'authorization') {
    const withCredentials = serviceUrlList(options.serviceUrls).find((url) => typeof url === 'string' && /^[a-z]+:\/\/[^/]*@/i.test(url.trim()));
    if (withCredentials !== undefined) {
      return invalidOption('tokenHeader', "another header than 'authorization' when a service URL carries credentials (they are sent as basic authentication)", 'authorization');
    }
  }
  return Object.freeze({ ...headers, [lower]: lower === 'authorization' ? `Bearer ${token}` : token });
}

function positiveDuration(name: string, value: number | undefined, fallback: number): number {
  const ms = durationMs(name, value, fallback);
  return ms > 0 ? ms : invalidOption(name, 'a positive number of milliseconds', value);
}

function boolOption(name: string, value: boolean | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  return typeof value === 'boolean' ? value : invalidOption(name, 'true or false', value);
}

function numberAtLeast(name: string, value: number | undefined, min: number, fallback: number): number {
  if (value === undefined) return fallback;
  return typeof value === 'number' && Number.isFinite(value) && value >= min ? value : invalidOption(name, `a number >= ${min}`, value);
}

function ratio(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  return typeof value === 'number' && value >= 0 && value <= 1 ? value : invalidOption(name, 'a number between 0 and 1', value);
}
