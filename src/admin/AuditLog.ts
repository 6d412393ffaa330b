import type { Clock } from '../common/Clock.js';
import type { Logger } from '../common/Logger.js';
import type { AdminRole } from './AdminTokens.js';

/** How a mutation attempt ended: done, refused before it ran (401, 403, 429), or run and failed (4xx, 5xx). */
export type AuditOutcome = 'ok' | 'denied' | 'failed';

/** One mutation attempt on the admin port, as `GET /audit` shows it. Never holds a token or a secret value. */
export interface AuditEntry {
  /** When it ended (epoch ms). */
  readonly at: number;
  /** Who: the token's name, `loopback` (no tokens configured) or `anonymous` (no valid token). */
  readonly actor: string;
  /** The role the actor acted with; for a caller without a valid token, the role the route needs. */
  readonly role: AdminRole;
  /** The caller's address, as the socket saw it (a proxy in front shows as itself). */
  readonly remote: string;
  /** The HTTP method. */
  readonly method: string;
  /** The request path, without its query. */
  readonly path: string;
  /** What was done (`status.set`, `breaker.forceOpen`, `config.set`...), or `METHOD /route/:pattern` when the route named nothing. */
  readonly action: string;
  /** The state before, as the route recorded it (secrets masked); null when it recorded none. */
  readonly before: unknown;
  /** The state after, as the route recorded it (secrets masked); null when it recorded none. */
  readonly after: unknown;
  /** How it ended. */
  readonly outcome: AuditOutcome;
  /** The HTTP status answered. */
  readonly status: number;
  /** Why it was denied (the reason the caller got); absent otherwise. */
  readonly reason?: string;
}

/** What a mutation route tells the audit log through `context.audit.record()`. */
export interface AuditChange {
  /** A short stable name of what is done (`config.set`); it is also a metric tag, so no ids or values in it. */
  readonly action?: string;
  /** The state before the change; mask anything secret. */
  readonly before?: unknown;
  /** The state after the change; mask anything secret. */
  readonly after?: unknown;
}

/** Where a mutation route records what it changed. Calls merge: a later `action`, `before` or `after` wins. */
export interface AuditRecorder {
  /** Records (part of) what the mutation changes; ignored on routes that are not mutations. */
  record(change: AuditChange): void;
}

/**
 * The metric seam of the audit log, taking plain strings so the admin layer needs no metrics handle;
 * `adminMetrics(metrics)` from the metrics module fits it.
 */
export interface AuditMetrics {
  /** Counts one mutation attempt by action, outcome (`ok`, `denied`, `failed`) and actor. */
  mutation(action: string, outcome: string, actor: string): void;
}

/** Options of the audit log. */
export interface AuditLogOptions {
  /**
   * How many entries of mutations that ran (`ok` and `failed`) are kept; the oldest go first.
   * @default 1000
   */
  readonly capacity?: number;
  /**
   * How many `denied` entries are kept, apart from the others, so a flood of refused requests cannot push
   * the record of real changes out.
   * @default 200
   */
  readonly deniedCapacity?: number;
  /**
   * Largest JSON size of a recorded `before` or `after`, in bytes; a larger value is kept as
   * `{ "truncated": true, "bytes": n }`, so the log's memory stays bounded.
   * @default 4096
   */
  readonly maxValueBytes?: number;
}

/** {@link AuditLogOptions} with defaults filled. */
export interface ResolvedAuditLogOptions {
  /** Entries kept of mutations that ran. */
  readonly capacity: number;
  /** Denied entries kept. */
  readonly deniedCapacity: number;
  /** Largest JSON size of a recorded value, in bytes. */
  readonly maxValueBytes: number;
}

/** What the audit log needs besides its options. */
export interface AuditLogDeps {
  /** Receives one structured line per entry (`info`, `warn` for denied). */
  readonly logger: Logger;
  /** Counts each entry. */
  readonly metrics?: AuditMetrics | undefined;
  /** Source of the entries' time. */
  readonly clock: Clock;
}

/** An entry as it is recorded, before its time is stamped. */
export type AuditDraft = Omit<AuditEntry, 'at'>;

interface Stored {
  readonly seq: number;
  readonly entry: AuditEntry;
}

/**
 * The bounded, in-memory audit log of the admin port: every mutation attempt, with who, what, before/after,
 * when and from where. Each entry is also a structured log line and a metric. Routes record values already
 * masked; the log itself never sees a token (the admin server passes only the token's name).
 */
export class AuditLog {
  readonly #options: ResolvedAuditLogOptions;
  readonly #deps: AuditLogDeps;
  readonly #ran: Stored[] = [];
  readonly #denied: Stored[] = [];
  #seq = 0;

  /**
   * @param options - capacities and the value size limit
   * @param deps - logger, metrics and clock
   */
  constructor(options: ResolvedAuditLogOptions, deps: AuditLogDeps) {
    this.#options = options;
    this.#deps = deps;
  }

  /** Entries kept now. */
  get size(): number {
    return this.#ran.length + this.#denied.length;
  }

  /** Stamps, keeps, logs and counts an entry; returns it as kept. */
  append(draft: AuditDraft): AuditEntry {
    const entry: AuditEntry = Object.freeze({
      at: this.#deps.clock.now(),
      ...draft,
      before: this.#bounded(draft.before),
      after: this.#bounded(draft.after),
    });
    const denied = entry.outcome === 'denied';
    const list = denied ? this.#denied : this.#ran;
    list.push({ seq: this.#seq++, entry });
    if (list.length > (denied ? this.#options.deniedCapacity : this.#options.capacity)) list.shift();
    const { logger, metrics } = this.#deps;
    const line = `admin audit: ${entry.actor} ${entry.action} ${entry.outcome} (${entry.status})`;
    if (denied) logger.warn(line, { audit: entry });
    else logger.info(line, { audit: entry });
    metrics?.mutation(entry.action, entry.outcome, entry.actor);
    return entry;
  }

  /** The entries kept, oldest first (denied and others interleaved in the order they happened); the last `limit` when given. */
  entries(limit?: number): AuditEntry[] {
    const out: AuditEntry[] = [];
    let i = 0;
    let j = 0;
    while (i < this.#ran.length || j < this.#denied.length) {
      const a = this.#ran[i];
      const b = this.#denied[j];
      if (b === undefined || (a !== undefined && a.seq < b.seq)) {
        out.push(a!.entry);
        i++;
      } else {
        out.push(b.entry);
        j++;
      }
    }
    return limit === undefined ? out : out.slice(Math.max(0, out.length - limit));
  }

  /** A detached, frozen copy of a recorded value within the size limit; null for undefined. */
  #bounded(value: unknown): unknown {
    if (value === undefined) return null;
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch {
      return '[not serializable]';
    }
    if (json === undefined) return null;
    const bytes = Buffer.byteLength(json);
    if (bytes > this.#options.maxValueBytes) return Object.freeze({ truncated: true, bytes });
    return deepFreeze(JSON.parse(json) as unknown);
  }
}

function deepFreeze(value: unknown): unknown {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
