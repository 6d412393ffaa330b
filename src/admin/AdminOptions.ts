import { KaryonError } from '../common/KaryonError.js';
import { durationMs, invalidOption, port as portOption, positiveInt } from '../internal/validate.js';
import { AdminTokenSet, resolveAdminTokens } from './AdminTokens.js';
import type { AdminTokenOptions } from './AdminTokens.js';
import type { AuditLogOptions, ResolvedAuditLogOptions } from './AuditLog.js';

/** Rate limits of the admin port: per actor on mutations, per address on failed authentications. */
export interface AdminRateLimitOptions {
  /**
   * Mutations each actor (token name, or `loopback`) may make per minute, on average. Only mutations that
   * changed something spend from the bucket; a refused or failed one does not.
   * @default 60
   */
  readonly mutationsPerMinute?: number;
  /**
   * How many mutations an actor may make at once before the per-minute rate applies.
   * @default 30
   */
  readonly mutationBurst?: number;
  /**
   * Wrong tokens accepted per minute from one address, on average, once the burst is spent; past it the
   * address gets 429 without its token being looked at, so tokens cannot be guessed quickly.
   * @default 10
   */
  readonly failedAuthPerMinute?: number;
  /**
   * How many wrong tokens one address may present before the per-minute rate applies.
   * @default 10
   */
  readonly failedAuthBurst?: number;
}

/** Options of the admin HTTP server. */
export interface AdminOptions {
  /**
   * Port to listen on; 0 picks a free one.
   * @default 8077
   */
  readonly port?: number;
  /**
   * Address to bind: `'0.0.0.0'` or `'::'` for every interface (what a container's probes and other machines
   * need), `'127.0.0.1'` for this machine only.
   * @default `'127.0.0.1'` (loopback only) when no token is configured, every interface when one is
   */
  readonly host?: string;
  /**
   * A bearer token with the `operate` role, named `admin` in the audit log (the single-token form of `tokens`).
   * Without any token, mutations are accepted from loopback only. Undefined is none, so an unset
   * `process.env.X` can be passed as it is.
   * @default none
   */
  readonly token?: string | undefined;
  /**
   * Named tokens, each with a role: `read` (every read route) or `operate` (reads and mutations). From a file
   * or the environment with `loadAdminTokens()`. Without any token, mutations are accepted from loopback only.
   * @default none
   */
  readonly tokens?: readonly AdminTokenOptions[];
  /**
   * Whether read routes need a token too (any role). The probes (`/healthcheck`, `/livez`, `/readyz`) and routes
   * added with `access: 'public'` stay open. With no token configured, protected reads are accepted from
   * loopback only.
   * @default true when a token with the `read` role is configured, else false
   */
  readonly protectReads?: boolean;
  /**
   * Rate limits, or `false` for none.
   * @default see {@link AdminRateLimitOptions}
   */
  readonly rateLimit?: AdminRateLimitOptions | false;
  /** The audit log's bounds. */
  readonly audit?: AuditLogOptions;
  /**
   * Largest request body accepted, in bytes.
   * @default 65536
   */
  readonly maxBodyBytes?: number;
  /**
   * How long `close()` lets admin requests in flight finish, in ms.
   * @default 1000
   */
  readonly closeTimeoutMs?: number;
  /**
   * Whether a service serves the web UI at `GET /` on this port.
   * @default true
   */
  readonly ui?: boolean;
}

/** {@link AdminRateLimitOptions} with defaults filled. */
export interface ResolvedAdminRateLimit {
  /** Mutations per actor per minute. */
  readonly mutationsPerMinute: number;
  /** Mutation burst per actor. */
  readonly mutationBurst: number;
  /** Wrong tokens per address per minute. */
  readonly failedAuthPerMinute: number;
  /** Wrong-token burst per address. */
  readonly failedAuthBurst: number;
}

/** {@link AdminOptions} with defaults filled and values checked. Holds token digests, never tokens. */
export interface ResolvedAdminOptions {
  /** Port to listen on. */
  readonly port: number;
  /** Address to bind, or undefined for all interfaces. */
  readonly host: string | undefined;
  /** The tokens, as digests. */
  readonly tokens: AdminTokenSet;
  /** Whether read routes need a token (or loopback, when none is configured). */
  readonly protectReads: boolean;
  /** The rate limits, or undefined for none. */
  readonly rateLimit: ResolvedAdminRateLimit | undefined;
  /** The audit log's bounds. */
  readonly audit: ResolvedAuditLogOptions;
  /** Largest request body, in bytes. */
  readonly maxBodyBytes: number;
  /** How long `close()` waits for requests in flight, in ms. */
  readonly closeTimeoutMs: number;
  /** Whether a service serves the web UI. */
  readonly ui: boolean;
}

/**
 * Fills the defaults of {@link AdminOptions} and validates them, without touching the caller's object.
 * @throws KaryonError `ERR_INVALID_OPTION` naming the option, what was expected and what was given (never a token).
 */
export function resolveAdminOptions(options: AdminOptions = {}): ResolvedAdminOptions {
  if (typeof options !== 'object' || options === null) invalidOption('admin', 'an options object', options);
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token === '')) {
    throw new KaryonError('ERR_INVALID_OPTION', `option 'admin.token' must be a non-empty string (got ${typeof options.token})`);
  }
  const tokens = resolveAdminTokens('admin.tokens', options.tokens);
  if (options.token !== undefined) {
    // The single token keeps its old meaning: full control, under a name the audit log can show.
    if (tokens.some((t) => t.name === 'admin')) {
      throw new KaryonError('ERR_INVALID_OPTION', "option 'admin.token' is named 'admin' in the audit log, and 'admin.tokens' has a token of that name too: give only one");
    }
    if (tokens.some((t) => t.token === options.token)) {
      throw new KaryonError('ERR_INVALID_OPTION', "option 'admin.token' must differ from every token of 'admin.tokens' (got a repeated token)");
    }
    tokens.unshift({ name: 'admin', token: options.token, role: 'operate' });
  }
  if (options.host !== undefined && (typeof options.host !== 'string' || options.host === '')) invalidOption('admin.host', 'an address to bind', options.host);
  if (options.ui !== undefined && typeof options.ui !== 'boolean') invalidOption('admin.ui', 'true or false', options.ui);
  if (options.protectReads !== undefined && typeof options.protectReads !== 'boolean') {
    invalidOption('admin.protectReads', 'true or false', options.protectReads);
  }
  const audit = options.audit ?? {};
  return Object.freeze({
    port: portOption('admin.port', options.port, 8077),
    // Without a token anyone who reaches the port reads everything it serves: loopback unless asked otherwise.
    host: options.host ?? (tokens.length === 0 ? '127.0.0.1' : undefined),
    tokens: new AdminTokenSet(tokens),
    protectReads: options.protectReads ?? tokens.some((t) => t.role === 'read'),
    rateLimit: resolveRateLimit(options.rateLimit),
    audit: Object.freeze({
      capacity: positiveInt('admin.audit.capacity', audit.capacity, 1000),
      deniedCapacity: positiveInt('admin.audit.deniedCapacity', audit.deniedCapacity, 200),
      maxValueBytes: positiveInt('admin.audit.maxValueBytes', audit.maxValueBytes, 4096),
    }),
    maxBodyBytes: positiveInt('admin.maxBodyBytes', options.maxBodyBytes, 64 * 1024),
    closeTimeoutMs: durationMs('admin.closeTimeoutMs', options.closeTimeoutMs, 1000),
    ui: options.ui ?? true,
  });
}

function resolveRateLimit(value: AdminRateLimitOptions | false | undefined): ResolvedAdminRateLimit | undefined {
  if (value === false) return undefined;
  if (value !== undefined && (typeof value !== 'object' || value === null)) invalidOption('admin.rateLimit', 'an object or false', value);
  const limit = value ?? {};
  return Object.freeze({
    mutationsPerMinute: rate('admin.rateLimit.mutationsPerMinute', limit.mutationsPerMinute, 60),
    mutationBurst: positiveInt('admin.rateLimit.mutationBurst', limit.mutationBurst, 30),
    failedAuthPerMinute: rate('admin.rateLimit.failedAuthPerMinute', limit.failedAuthPerMinute, 10),
    failedAuthBurst: positiveInt('admin.rateLimit.failedAuthBurst', limit.failedAuthBurst, 10),
  });
}

function rate(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return invalidOption(name, 'a positive number per minute', value);
  return value;
}
