import type { Clock } from '../../common/Clock.js';
import { systemClock } from '../../common/Clock.js';
import type { Logger } from '../../common/Logger.js';
import { silentLogger } from '../../common/Logger.js';
import { durationMs, invalidOption, port as portOption, positiveInt } from '../../internal/validate.js';
import { resolveRegistryAccess } from './RegistryAccess.js';
import type { RegistryAccess } from './RegistryAccess.js';

/** Options of {@link EurekaServer}, the development Eureka server. */
export interface EurekaServerOptions {
  /**
   * TCP port to listen on; 0 picks a free one (read it from `listen()` or `port`).
   * @default 8761
   */
  readonly port?: number;
  /**
   * Address to bind. Give `127.0.0.1` to keep the registry off the network.
   * @default all interfaces, as Eureka servers do
   */
  readonly host?: string;
  /**
   * How long a lease lasts without a renewal, in ms, for instances that do not send their own
   * `leaseInfo.durationInSecs` (one they send wins, as on a Netflix server). An instance expires one lease
   * duration after its last renewal, not two as on Netflix's server.
   * @default 90000
   */
  readonly leaseDurationMs?: number;
  /**
   * How often expired leases are evicted, in ms.
   * @default 60000
   */
  readonly evictionIntervalMs?: number;
  /**
   * How long a change stays in `GET /apps/delta`, in ms.
   * @default 180000
   */
  readonly deltaRetentionMs?: number;
  /**
   * When above 0, `GET /apps`, `/apps/delta` and `/apps/{APP}` answer from a read-only cache refreshed every
   * that many ms, as Netflix's server does with its 30 s cache. 0 serves every change at once.
   * @default 0
   */
  readonly responseCacheMs?: number;
  /**
   * After a start with an empty registry (every start of this in-memory server, and `reset()`), registry reads
   * (`GET /apps`, `/apps/delta`, `/apps/{APP}`, `/vips/...`, `/svips/...`) are refused with 403 for this long,
   * as a Netflix server does for `waitTimeInMsWhenSyncEmpty` (5 minutes there): a registry that restarts under a
   * running fleet does not hand its clients an empty view while the instances register again (each does at its
   * next heartbeat, which the restarted server answers 404). Writes are served at once. Spring Cloud's server
   * opens at once by default (its `defaultOpenForTrafficCount` of 1 bypasses the wait), as 0 does here.
   * `karyon registry` waits 40 s unless told otherwise.
   * @default 0
   */
  readonly waitWhenEmptyMs?: number;
  /**
   * Largest request body accepted, in bytes; a larger one gets 413.
   * @default 262144
   */
  readonly maxBodyBytes?: number;
  /**
   * How long `close()` lets requests in flight finish before cutting their connections, in ms.
   * @default 1000
   */
  readonly closeTimeoutMs?: number;
  /**
   * Source of time for leases, eviction, the delta queue and the response cache.
   * @default systemClock
   */
  readonly clock?: Clock;
  /**
   * Receives one `info` line per registration, status change, cancellation and eviction, `debug` lines for
   * renewals, and a `warn` line per request refused for its token.
   * @default silentLogger
   */
  readonly logger?: Logger;
  /**
   * Owner tokens by application name (any case), e.g. from `loadRegistryTokens()`. With them, registering,
   * renewing, changing the status or metadata of, and cancelling an application's instances need that
   * application's token (401 without one, 403 with another); reads stay open unless `readToken` is set.
   * @default none: anyone may write anything, as on a plain Eureka server
   */
  readonly ownerTokens?: Readonly<Record<string, string>>;
  /**
   * A token every read needs (the read token or any owner token is accepted).
   * @default none: reads are open
   */
  readonly readToken?: string;
  /**
   * The header a token comes in: `authorization` carries `Bearer <token>`, any other header the token alone.
   * `X-Karyon-Registry-Token: <token>` is accepted too, whatever this is.
   * @default 'authorization'
   */
  readonly tokenHeader?: string;
  /**
   * With owner tokens, whether an application that has none may be written by anyone. Off, such an
   * application cannot be written at all (403), so no one can slip an unknown application in.
   * @default false
   */
  readonly allowUnlistedApps?: boolean;
}

/** {@link EurekaServerOptions} with defaults filled and values checked. */
export interface ResolvedEurekaServerOptions {
  /** Port to listen on (0 = any free port). */
  readonly port: number;
  /** Address to bind, or undefined for all interfaces. */
  readonly host: string | undefined;
  /** Default lease duration, in ms. */
  readonly leaseDurationMs: number;
  /** Eviction interval, in ms. */
  readonly evictionIntervalMs: number;
  /** Delta retention, in ms. */
  readonly deltaRetentionMs: number;
  /** Read-only response cache refresh interval, in ms; 0 = off. */
  readonly responseCacheMs: number;
  /** How long reads are refused after a start with an empty registry, in ms; 0 = never. */
  readonly waitWhenEmptyMs: number;
  /** Largest request body, in bytes. */
  readonly maxBodyBytes: number;
  /** How long `close()` waits for requests in flight, in ms. */
  readonly closeTimeoutMs: number;
  /** The clock. */
  readonly clock: Clock;
  /** The logger. */
  readonly logger: Logger;
  /** Who may write and read: the owner tokens and read token as digests, never the tokens. */
  readonly access: RegistryAccess;
}

/**
 * Fills the defaults of {@link EurekaServerOptions} and validates them, without touching the caller's object.
 * @throws KaryonError `ERR_INVALID_OPTION` naming the option, what was expected and what was given (never a token).
 */
export function resolveEurekaServerOptions(options: EurekaServerOptions = {}): ResolvedEurekaServerOptions {
  if (options.host !== undefined && (typeof options.host !== 'string' || options.host.trim() === '')) {
    invalidOption('host', 'a non-empty string', options.host);
  }
  return Object.freeze({
    port: portOption('port', options.port, 8761),
    host: options.host,
    leaseDurationMs: positiveMs('leaseDurationMs', options.leaseDurationMs, 90_000),
    evictionIntervalMs: positiveMs('evictionIntervalMs', options.evictionIntervalMs, 60_000),
    deltaRetentionMs: durationMs('deltaRetentionMs', options.deltaRetentionMs, 180_000),
    responseCacheMs: durationMs('responseCacheMs', options.responseCacheMs, 0),
    waitWhenEmptyMs: durationMs('waitWhenEmptyMs', options.waitWhenEmptyMs, 0),
    maxBodyBytes: positiveInt('maxBodyBytes', options.maxBodyBytes, 256 * 1024),
    closeTimeoutMs: durationMs('closeTimeoutMs', options.closeTimeoutMs, 1000),
    clock: options.clock ?? systemClock,
    logger: options.logger ?? silentLogger,
    access: resolveRegistryAccess(options),
  });
}

/** A duration that must be above zero: a zero lease or eviction interval would spin or expire everything. */
function positiveMs(name: string, value: number | undefined, fallback: number): number {
  const ms = durationMs(name, value, fallback);
  return ms > 0 ? ms : invalidOption(name, 'a positive number of milliseconds', value);
}
