// Just over 500 lines because the full, delta and per-VIP refreshes, the hash check that falls back to a full
// fetch and the 'auto' choice between them decide together what the next refresh is: a split would spread
// that one decision across files.
import { readFileSync } from 'node:fs';
import { KaryonError, isKaryonError } from '../../common/KaryonError.js';
import { abortReason, errorMessage, jitter, yieldToLoop } from '../../internal/async.js';
import { RepeatingTask } from '../../internal/RepeatingTask.js';
import type { InstanceCache, InstanceKey } from '../InstanceCache.js';
import type { RegistryChange, RegistryInstance } from '../types.js';
import { EurekaInstance } from './EurekaInstance.js';
import type { InstancePool } from './EurekaInstance.js';
import type { FetchEvent, FullFetchReason, HashMismatchEvent } from './EurekaRegistryEvents.js';
import type { ResolvedEurekaRegistryOptions } from './EurekaRegistryOptions.js';
import type { EurekaExchange, EurekaTransport } from './EurekaTransport.js';
import { errorText } from './EurekaTransport.js';
import { retryDelayMs } from './retryDelay.js';
import { ViewGuard } from './ViewGuard.js';
import type { ProtectedApp, ViewProtectionEvent } from './ViewGuard.js';
import { appsHashcode, appsHashcodeOfCounts, decodeApplications } from './wire.js';
import type { DecodedApplications, DecodedInstance } from './wire.js';
import { Deletion, SLICE_BUDGET_MS, SliceDecoder } from './SliceDecoder.js';
import { AutoFetchMode } from './AutoFetchMode.js';
import type { AutoFetchState, FetchCost } from './AutoFetchMode.js';


// Discovery: keeps an InstanceCache in step with the Eureka servers.
//
// The first fetch is full (`GET /apps`); later ones are deltas (`GET /apps/delta`): every change of the
// server's last ~3 minutes, so the same change comes back several times and applying one must be idempotent
// (the cache upserts by id and ignores records equal to those held). After a delta, the hash of the whole
// view (counts by status, every status kept) must equal the delta's `apps__hashcode`; when it does not, or
// when the delta is refused, a full fetch replaces the view. A fetch that fails keeps the last view: callers
// go on balancing over what they knew. So does, app by app, a full fetch that lists far fewer instances of an
// application than the view holds (see ViewGuard): a registry that restarted empty does not empty its clients.

/** What the fetcher needs from its registry. */
export interface FetcherContext {
  readonly options: ResolvedEurekaRegistryOptions;
  readonly transport: EurekaTransport;
  readonly cache: InstanceCache;
  readonly pool: InstancePool;
  readonly onFetch: (event: FetchEvent) => void;
  readonly onHashMismatch: (event: HashMismatchEvent) => void;
  readonly onViewProtection: (event: ViewProtectionEvent) => void;
}

interface Waiter {
  readonly settle: (error: Error | undefined) => void;
}

/** How many undecodable instances are named in the log line of one fetch. */
const LOGGED_DECODE_ERRORS = 5;
const NOTHING_HELD: ReadonlyMap<string, ReadonlyMap<string, RegistryInstance>> = new Map();
const NO_CHANGE: RegistryChange = Object.freeze({ added: [], removed: [], modified: [] });
/** Refresh intervals the decoding worker of a full fetch waits for the next (see SliceDecoder). */
const KEEP_DECODER_INTERVALS = 2.5;

/** Refreshes the cache on a timer, and on demand with {@link RegistryFetcher.refresh}. */
export class RegistryFetcher {
  readonly #context: FetcherContext;
  readonly #task: RepeatingTask;
  #waiters: Waiter[] = [];
  #failures = 0;
  /** The retry delay drawn for the failure of the current run (reported in its event, then used). */
  #plannedRetryMs: number | undefined;
  #hasFull = false;
  /** Profiles held after the last full fetch; deltas that pile up many more trigger a sweep. */
  #profilesAfterFull = 0;
  readonly #guard: ViewGuard;
  readonly #decoder: SliceDecoder;
  /** A decoding thread could not be put in SCHED_IDLE: said once as a warning. */
  #idleRefused = false;
  /** With `fetchMode: 'auto'`: the costs measured and the mode they chose. */
  readonly #auto: AutoFetchMode | undefined;
  /** What the view held was made of: the whole registry, or only the VIPs (a full fetch must replace it). */
  #viewMode: 'full' | 'vips' | undefined;
  /** The view held when the full fetch under way began. */
  #heldAtFull: ReadonlyMap<string, ReadonlyMap<string, RegistryInstance>> = NOTHING_HELD;
  /**
   * The last full fetch applied, while the view is still what it made: the cache's version then, what it listed
   * and why the instances it skipped did not decode. A full fetch of the very same bytes changes nothing.
   */
  #lastFull: { readonly version: number; readonly listed: number; readonly errors: readonly string[] } | undefined;
  /**
   * The record a full fetch keeps of an instance: the one held when it is listed as it is held (a fetch over a
   * held view then makes records only for what changed, so little of what it allocates survives to be promoted
   * and collected by a long major GC), else a new one. One function for every fetch: a new closure each time
   * made V8 throw away the code it had optimized for the one before.
   */
  readonly #keepOrCompact = (instance: RegistryInstance): RegistryInstance => {
    const record = this.#heldAtFull.get(instance.app)?.get(instance.instanceId);
    return record instanceof EurekaInstance && record.matches(instance) ? record : this.#context.pool.compact(instance);
  };

  constructor(context: FetcherContext) {
    this.#context = context;
    // A full fetch that follows the last within a refresh or two (registry checks that failed, fetchDeltas off)
    // finds the decoding worker started and its code compiled.
    this.#decoder = new SliceDecoder({
      keepWorkerMs: KEEP_DECODER_INTERVALS * context.options.registryFetchIntervalMs,
      clock: context.options.clock,
      priority: context.options.decodePriority,
      onIdleRefused: (reason) => {
        // Once a warning (each new decoding thread tries again), then at debug level.
        const message = `eureka decodePriority 'idle' not applied, the decoding thread runs at nice 10: ${reason}`;
        if (this.#idleRefused) context.options.logger.debug(message);
        else context.options.logger.warn(message);
        this.#idleRefused = true;
      },
    });
    this.#guard = new ViewGuard(() => ({
      ratio: context.options.viewProtectionRatio,
      maxMs: context.options.viewProtectionMaxMs,
      logger: context.options.logger,
      onChange: context.onViewProtection,
    }));
    this.#auto = context.options.autoFetchMode ? new AutoFetchMode(context.options.fetchMode) : undefined;
    this.#task = new RepeatingTask({ clock: context.options.clock, initialDelayMs: 0, run: (signal) => this.#run(signal) });
  }

  /**
   * Fetches now (after a fetch in progress) and resolves when that fetch has been applied.
   * @throws KaryonError ERR_REGISTRY_UNAVAILABLE (or ERR_EUREKA_PROTOCOL) when it failed; the view is kept.
   */
  refresh(signal?: AbortSignal): Promise<void> {
    if (this.#task.closed) return Promise.reject(new KaryonError('ERR_INVALID_STATE', 'the Eureka registry is closed'));
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters = this.#waiters.filter((waiter) => waiter !== entry);
        reject(abortReason(signal));
      };
      const entry: Waiter = {
        settle: (error) => {
          signal?.removeEventListener('abort', onAbort);
          if (error === undefined) resolve();
          else reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(entry);
      this.#task.trigger();
    });
  }

  /** The mode in force: `fetchMode`, or what `auto` chose last. */
  get mode(): 'full' | 'vips' {
    return this.#auto?.mode ?? this.#context.options.fetchMode;
  }

  /** With `fetchMode: 'auto'`, why the mode in force was chosen and the costs it was chosen by. */
  get autoState(): AutoFetchState | undefined {
    return this.#auto?.state;
  }

  /** The applications whose last good view is kept because the registry lists too few of their instances. */
  get protectedApps(): readonly ProtectedApp[] {
    return this.#guard.protectedApps;
  }

  /** Stops fetching; a fetch in progress is aborted. */
  async close(): Promise<void> {
    await this.#task.close();
    this.#decoder.close();
    const closed = new KaryonError('ERR_INVALID_STATE', 'the Eureka registry is closed');
    for (const waiter of this.#waiters.splice(0)) waiter.settle(closed);
  }

  async #run(signal: AbortSignal): Promise<number> {
    const waiters = this.#waiters.splice(0);
    this.#plannedRetryMs = undefined;
    let outcome: Error | undefined;
    let delay: number;
    try {
      await this.#fetch(signal);
      this.#failures = 0;
      delay = this.#nextDelay(undefined);
    } catch (error) {
      outcome = error instanceof Error ? error : new Error(errorMessage(error));
      // Failures of the exchange or the payload were reported where they happened; anything else is a bug.
      if (!isKaryonError(error) && !signal.aborted) {
        this.#context.options.logger.error(`eureka fetch failed unexpectedly: ${errorMessage(error)}`);
      }
      delay = this.#nextDelay(outcome);
    }
    const result = signal.aborted ? abortReason(signal) : outcome;
    // After the task's bookkeeping (see InstanceRegistration#run): a refresh() right after runs at once.
    setImmediate(() => {
      for (const waiter of waiters) waiter.settle(result);
    });
    return delay;
  }

  /** The delay before the next run; counts a failure when there was one. */
  #nextDelay(failure: Error | undefined): number {
    const { options } = this.#context;
    if (failure === undefined) return jitter(options.registryFetchIntervalMs, options.jitterRatio);
    return this.#planRetry();
  }

  /** Counts a failure and draws the delay before the next try (at most about a fetch interval), once per failed run. */
  #planRetry(): number {
    const { options } = this.#context;
    this.#plannedRetryMs ??= retryDelayMs(++this.#failures, options, options.registryFetchIntervalMs);
    return this.#plannedRetryMs;
  }

  async #fetch(signal: AbortSignal): Promise<void> {
    const { options, cache } = this.#context;
    const mode = this.mode;
    const reason: FullFetchReason | undefined = !this.#hasFull
      ? 'initial'
      : this.#viewMode === 'vips'
        ? 'fetchModeChanged'
        : cache.size === 0
          ? 'empty'
          : !options.fetchDeltas
            ? 'deltasDisabled'
            : this.#guard.protecting
              ? 'viewProtected'
              : undefined;
    if (mode === 'vips') await this.#vips(signal);
    else if (reason !== undefined) await this.#full(reason, signal);
    else {
      const fallback = await this.#delta(signal);
      if (fallback !== undefined) await this.#full(fallback, signal);
    }
    if (this.#auto !== undefined) await this.#probe(this.#auto, mode, signal);
  }

  /**
   * `auto` mode, after a refresh: every few refreshes, measures what the other mode would have cost (a delta
   * parsed and decoded but not applied, or each VIP fetched and decoded), then lets the costs choose the mode of
   * the next refresh. A probe that fails changes nothing; no mode changes while a view is protected.
   */
  async #probe(auto: AutoFetchMode, mode: 'full' | 'vips', signal: AbortSignal): Promise<void> {
    if (this.#guard.protecting || signal.aborted) return;
    if (auto.probeDue()) {
      const { transport, options } = this.#context;
      try {
        if (mode === 'vips') {
          const exchange = await transport.send({ method: 'GET', path: '/apps/delta' }, signal);
          if (exchange.error !== undefined || exchange.status !== 200) return;
          const started = cpuNow();
          const decoded = decodeApplications(JSON.parse(exchange.body.toString('utf8')) as unknown, options.clock.now());
          auto.recordDelta({ bytes: exchange.bytes, cpuMs: cpuNow() - started, instances: decoded.instances.length }, decoded.appsHashcode);
        } else {
          const cost = { bytes: 0, cpuMs: 0, instances: 0 };
          for (const vip of options.fetchVips) {
            const exchange = await transport.send({ method: 'GET', path: `/vips/${encodeURIComponent(vip)}`, askNextOn: (status) => status !== 200 }, signal);
            if (exchange.error !== undefined || exchange.status !== 200) return;
            const started = cpuNow();
            const decoded = decodeApplications(JSON.parse(exchange.body.toString('utf8')) as unknown, options.clock.now());
            cost.cpuMs += cpuNow() - started;
            cost.bytes += exchange.bytes;
            cost.instances += decoded.instances.length;
          }
          auto.recordVips(cost);
        }
      } catch (error) {
        options.logger.debug(`eureka fetchMode auto: the probe of ${mode === 'vips' ? 'deltas' : 'the VIPs'} failed: ${errorMessage(error)}`);
        return;
      }
    }
    const next = auto.decide();
    if (next !== mode) {
      const { vips, delta, full } = auto.state;
      this.#context.options.logger.info(
        `eureka fetchMode auto: fetching ${next === 'vips' ? 'only the VIPs' : 'the full registry and its deltas'} from the next refresh (measured per refresh: VIPs ${describeCost(vips)}, delta ${describeCost(delta)}; full fetch ${describeCost(full)})`,
      );
    }
  }

  /** The clock a refresh's cost is measured with: the thread's CPU time for `auto` mode, none without it. */
  #cpuClock(): () => number {
    return this.#auto === undefined ? notMeasured : cpuNow;
  }

  async #full(reason: FullFetchReason, signal: AbortSignal): Promise<void> {
    const { transport, options, cache } = this.#context;
    const started = options.clock.now();
    // Any answer but 200 (a server warming up answers 403) passes the request to the next server.
    const exchange = await transport.send({ method: 'GET', path: '/apps', askNextOn: (status) => status !== 200, keepChunks: true }, signal);
    if (signal.aborted) throw abortReason(signal);
    if (exchange.error !== undefined) throw this.#failed(exchange.error, 'full', reason, exchange, started);
    // A large registry is parsed off the event loop and decoded, compacted and compared a slice at a time, each
    // slice its own task: requests served meanwhile wait for one slice at most (see SliceDecoder).
    const incoming = new Map<string, Map<string, RegistryInstance>>();
    const errors: string[] = [];
    let listed = 0;
    // The CPU time of what runs on the event loop between the waits for the worker (auto mode weighs it).
    const cpu = this.#cpuClock();
    let cpuMs = 0;
    // The view is still what the last full fetch made of its body (nothing applied since, nothing protected): the
    // same bytes again (a Eureka server answers from its cache while the registry does not change) change nothing.
    const last = this.#lastFull;
    const skipUnchanged = last !== undefined && last.version === cache.version && this.#viewMode === 'full' && !this.#guard.protecting;
    this.#lastFull = undefined;
    let unchanged = false;
    try {
      let mark = cpu();
      this.#heldAtFull = cache.records();
      const decoded = await this.#decoder.decode(exchange.chunks ?? [exchange.body], options.clock.now(), signal, this.#keepOrCompact, {
        encoding: exchange.encoding,
        maxBytes: options.maxResponseBytes,
        skipUnchanged,
      });
      cpuMs += cpu() - mark;
      if (decoded.unchanged === true && last !== undefined) {
        options.logger.debug('eureka full fetch: the very bytes of the last one, whose view is held: nothing to decode');
        unchanged = true;
        listed = last.listed;
        errors.push(...last.errors);
      }
      for await (const slice of decoded.slices) {
        mark = cpu();
        if (signal.aborted) throw abortReason(signal);
        for (const error of slice.errors) errors.push(error);
        listed += slice.decoded;
        file(incoming, slice.entries);
        cpuMs += cpu() - mark;
      }
    } catch (error) {
      this.#heldAtFull = NOTHING_HELD;
      if (signal.aborted) throw abortReason(signal);
      const failure = !isKaryonError(error)
        ? new KaryonError('ERR_EUREKA_PROTOCOL', `the full registry response did not decode: ${errorMessage(error)}`, { cause: error })
        : error.code === 'ERR_REGISTRY_UNAVAILABLE'
          ? // Over maxResponseBytes once decompressed: said as the transport says it of the other answers.
            new KaryonError('ERR_REGISTRY_UNAVAILABLE', `no Eureka server answered GET /apps: ${exchange.serviceUrl ?? ''}: ${error.message}`, {
              cause: error,
              ...(exchange.status === undefined ? {} : { status: exchange.status }),
            })
          : error;
      throw this.#failed(failure, 'full', reason, exchange, started);
    }
    this.#heldAtFull = NOTHING_HELD;
    this.#logSkipped(errors);
    const change = unchanged ? NO_CHANGE : await this.#replaceView(incoming, 'full');
    if (!this.#guard.protecting) this.#lastFull = { version: cache.version, listed, errors };
    this.#auto?.recordFull({ bytes: exchange.bytes, cpuMs, instances: listed });
    this.#report('full', reason, exchange, started, listed, errors.length, change, undefined, undefined);
  }

  /**
   * `vips` mode: fetches each VIP of `fetchVips` (`GET /vips/{vip}`, as the Java client's single-VIP refresh)
   * and makes the view exactly their instances, with the same change events as a full fetch. Then each VIP's
   * instances in the view must hash to the server's `apps__hashcode` for it; a mismatch is reported (the next
   * refresh fetches the VIP whole again).
   */
  async #vips(signal: AbortSignal): Promise<void> {
    const { transport, cache, pool, options } = this.#context;
    const started = options.clock.now();
    const incoming = new Map<string, Map<string, RegistryInstance>>();
    const remote: [vip: string, hash: string][] = [];
    const errors: string[] = [];
    let listed = 0;
    let bytes = 0;
    let exchange: EurekaExchange | undefined;
    const cpu = this.#cpuClock();
    let cpuMs = 0;
    for (const vip of options.fetchVips) {
      exchange = await transport.send({ method: 'GET', path: `/vips/${encodeURIComponent(vip)}`, askNextOn: (status) => status !== 200 }, signal);
      bytes += exchange.bytes;
      const mark = cpu();
      const decoded = this.#decode({ ...exchange, bytes }, 'vips', undefined, started, signal);
      cpuMs += cpu() - mark;
      remote.push([vip, decoded.appsHashcode]);
      for (const error of decoded.errors) errors.push(error);
      for (const entry of decoded.instances) {
        listed++;
        if (entry.actionType === 'DELETED') continue;
        const { app, instanceId } = entry.instance;
        let byId = incoming.get(app);
        if (byId === undefined) incoming.set(app, (byId = new Map<string, RegistryInstance>()));
        try {
          byId.set(instanceId, pool.compact(entry.instance));
        } catch (error) {
          errors.push(`${app}: ${errorMessage(error)}`);
        }
      }
    }
    this.#logSkipped(errors);
    const change = await this.#replaceView(incoming, 'vips');
    this.#auto?.recordVips({ bytes, cpuMs, instances: listed });
    this.#report('vips', undefined, { ...exchange!, bytes }, started, listed, errors.length, change, undefined, undefined);
    for (const [vip, hash] of remote) {
      const local = appsHashcode(cache.byVip(vip).map((instance) => instance.status));
      if (local === hash) continue;
      options.logger.info(`eureka VIP ${vip} left the view at ${JSON.stringify(local)}, the server has ${JSON.stringify(hash)}: fetching it again at the next refresh`);
      this.#context.onHashMismatch({ remote: hash, local, versionsDelta: '-1', vip });
    }
  }

  /** Makes the view exactly `incoming` (what a view protection keeps added), in slices; the change. */
  async #replaceView(incoming: Map<string, Map<string, RegistryInstance>>, mode: 'full' | 'vips'): Promise<RegistryChange> {
    const { cache, pool, options } = this.#context;
    // From the whole registry to the VIPs (auto mode): the other apps are left, not lost, so none is protected.
    const held = mode === 'vips' && this.#viewMode === 'full' ? recordsOfVips(cache.records(), options.fetchVips) : cache.records();
    this.#viewMode = mode;
    for (const record of this.#guard.keep(held, incoming, options.clock.now())) {
      let byId = incoming.get(record.app);
      if (byId === undefined) incoming.set(record.app, (byId = new Map<string, RegistryInstance>()));
      byId.set(record.instanceId, record);
    }
    const change = await cache.replaceInSlices(incoming, yieldToLoop, SLICE_BUDGET_MS);
    // Records made by this fetch are in the view now: the profiles only the old view used go.
    await pool.retainOnlyInSlices(cache.records(), yieldToLoop, SLICE_BUDGET_MS);
    this.#profilesAfterFull = pool.profiles;
    this.#hasFull = true;
    return change;
  }

  /** Applies a delta; returns why a full fetch must follow, or undefined when the view is in step. */
  async #delta(signal: AbortSignal): Promise<FullFetchReason | undefined> {
    const { transport, cache, pool, options } = this.#context;
    const started = options.clock.now();
    const exchange = await transport.send({ method: 'GET', path: '/apps/delta' }, signal);
    if (exchange.error === undefined && exchange.status !== 200) {
      options.logger.info(`eureka refused the delta (HTTP ${exchange.status}): fetching the full registry`);
      this.#report('delta', undefined, exchange, started, 0, 0, undefined, undefined, `HTTP ${exchange.status}: ${errorText(exchange.body)}`);
      return 'deltaRefused';
    }
    const cpu = this.#cpuClock();
    const mark = cpu();
    const decoded = this.#decode(exchange, 'delta', undefined, started, signal);
    this.#auto?.recordDelta({ bytes: exchange.bytes, cpuMs: cpu() - mark, instances: decoded.instances.length }, decoded.appsHashcode);
    const records = this.#compact(decoded);
    const change = cache.apply(records.upserts, records.removals);
    this.#report('delta', undefined, exchange, started, decoded.instances.length, records.skipped, change, undefined, undefined);
    const local = appsHashcodeOfCounts(cache.statusCounts());
    if (local !== decoded.appsHashcode) {
      options.logger.info(`eureka delta left the view at ${JSON.stringify(local)}, the server has ${JSON.stringify(decoded.appsHashcode)}: fetching the full registry`);
      this.#context.onHashMismatch({ remote: decoded.appsHashcode, local, versionsDelta: decoded.versionsDelta });
      // The full fetch that follows sweeps the pool.
      return 'hashMismatch';
    }
    // Profiles that only replaced records used pile up over many deltas (a fleet redeployed with new metadata):
    // once they are many, the unused ones are dropped, after the view is in step and a slice at a time, since
    // finding them walks every record held.
    if (pool.profiles > 2 * this.#profilesAfterFull + 64) {
      await pool.retainOnlyInSlices(cache.records(), yieldToLoop, SLICE_BUDGET_MS);
      this.#profilesAfterFull = pool.profiles;
    }
    return undefined;
  }

  /** Parses and decodes a 200 answer; reports and throws a KaryonError for anything else. */
  #decode(
    exchange: EurekaExchange,
    kind: FetchEvent['kind'],
    reason: FullFetchReason | undefined,
    started: number,
    signal: AbortSignal,
  ): DecodedApplications {
    if (signal.aborted) throw abortReason(signal);
    let failure: KaryonError;
    if (exchange.error !== undefined) {
      failure = exchange.error;
    } else {
      try {
        return decodeApplications(JSON.parse(exchange.body.toString('utf8')) as unknown, this.#context.options.clock.now());
      } catch (error) {
        failure = isKaryonError(error)
          ? error
          : new KaryonError('ERR_EUREKA_PROTOCOL', `the ${kind} registry response is not JSON: ${errorMessage(error)}`, { cause: error });
      }
    }
    throw this.#failed(failure, kind, reason, exchange, started);
  }

  /** Plans the retry of a failed fetch, logs and reports the failure; returns the error to throw. */
  #failed(failure: KaryonError, kind: FetchEvent['kind'], reason: FullFetchReason | undefined, exchange: EurekaExchange, started: number): KaryonError {
    const nextRetryMs = this.#planRetry();
    this.#context.options.logger.warn(`eureka ${kind} fetch failed (retry in ${nextRetryMs} ms): ${failure.message}`);
    this.#report(kind, reason, exchange, started, 0, 0, undefined, nextRetryMs, failure.message);
    return failure;
  }

  /**
   * Compact records for the upserts, keys for the deletions; the last entry of a record (app and id: two apps
   * may share an instance id) in the payload wins. A delta re-sends each change for about 3 minutes: an entry
   * equal to the record held is left out without making anything, and a changed one is made with the held
   * record's profile when it still fits (one comparison, no search).
   */
  #compact(decoded: DecodedApplications): { upserts: RegistryInstance[]; removals: InstanceKey[]; skipped: number } {
    const { pool, cache } = this.#context;
    const { instances } = decoded;
    const errors = [...decoded.errors];
    const held = cache.records();
    const last = lastEntries(instances);
    const upserts: RegistryInstance[] = [];
    const removals: InstanceKey[] = [];
    for (let i = 0; i < instances.length; i++) {
      const entry = instances[i]!;
      const { instance } = entry;
      if (last !== undefined && last.get(recordKey(instance)) !== i) continue;
      const record = held.get(instance.app)?.get(instance.instanceId);
      if (entry.actionType === 'DELETED') {
        if (record !== undefined) removals.push(instance);
      } else if (!(record instanceof EurekaInstance && record.matches(instance))) {
        try {
          upserts.push(pool.compact(instance, record));
        } catch (error) {
          errors.push(`${instance.app}: ${errorMessage(error)}`);
        }
      }
    }
    this.#logSkipped(errors);
    return { upserts, removals, skipped: errors.length };
  }

  /** Logs the instances of a fetch that did not decode (the first few by name). */
  #logSkipped(errors: readonly string[]): void {
    if (errors.length === 0) return;
    const shown = errors.slice(0, LOGGED_DECODE_ERRORS).join('; ');
    const more = errors.length > LOGGED_DECODE_ERRORS ? ` and ${errors.length - LOGGED_DECODE_ERRORS} more` : '';
    this.#context.options.logger.warn(`eureka: skipped ${errors.length} instance(s) that did not decode: ${shown}${more}`);
  }

  #report(
    kind: FetchEvent['kind'],
    reason: FullFetchReason | undefined,
    exchange: EurekaExchange,
    started: number,
    instances: number,
    skipped: number,
    change: RegistryChange | undefined,
    nextRetryMs: number | undefined,
    error: string | undefined,
  ): void {
    const { options, cache } = this.#context;
    const event: FetchEvent = {
      kind,
      reason,
      ok: error === undefined,
      statusCode: exchange.status,
      durationMs: options.clock.now() - started,
      instances,
      skipped,
      bytes: exchange.bytes,
      cached: cache.size,
      added: change?.added.length ?? 0,
      modified: change?.modified.length ?? 0,
      removed: change?.removed.length ?? 0,
      serviceUrl: exchange.serviceUrl,
      nextRetryMs,
      error,
    };
    if (event.ok) {
      options.logger.debug(`eureka ${kind} fetch: ${instances} instance(s), ${event.added} added, ${event.modified} changed, ${event.removed} removed`, {
        durationMs: event.durationMs,
        bytes: event.bytes,
      });
    }
    this.#context.onFetch(event);
  }
}

/**
 * Files the entries of a slice of a full listing by app, then id: the last entry of a record wins; a deletion
 * leaves it out. Apart from the async loop over the slices, which V8 then optimizes at less cost.
 */
function file(incoming: Map<string, Map<string, RegistryInstance>>, entries: readonly (RegistryInstance | Deletion)[]): void {
  for (const entry of entries) {
    const { app, instanceId } = entry;
    let byId = incoming.get(app);
    if (byId === undefined) incoming.set(app, (byId = new Map<string, RegistryInstance>()));
    if (entry instanceof Deletion) byId.delete(instanceId);
    else byId.set(instanceId, entry);
  }
}

/**
 * When some instance id is listed more than once (rare), the index of the last entry of each record (by app and
 * id); undefined when every entry names its own record, without making a key per entry.
 */
function lastEntries(instances: readonly DecodedInstance[]): Map<string, number> | undefined {
  const ids = new Set<string>();
  let repeated = false;
  for (const { instance } of instances) {
    if (ids.has(instance.instanceId)) {
      repeated = true;
      break;
    }
    ids.add(instance.instanceId);
  }
  if (!repeated) return undefined;
  const last = new Map<string, number>();
  instances.forEach(({ instance }, i) => last.set(recordKey(instance), i));
  return last;
}

/** One string naming a record: its app and id. */
function recordKey(instance: InstanceKey): string {
  return `${instance.app}\u0000${instance.instanceId}`;
}

/** The held records (by app, then id) of the apps that serve one of `vips` (lower case). */
function recordsOfVips(held: ReadonlyMap<string, ReadonlyMap<string, RegistryInstance>>, vips: readonly string[]): Map<string, ReadonlyMap<string, RegistryInstance>> {
  const wanted = new Set(vips);
  const kept = new Map<string, ReadonlyMap<string, RegistryInstance>>();
  for (const [app, records] of held) {
    for (const record of records.values()) {
      if (record.vipAddress.split(',').some((vip) => wanted.has(vip.trim().toLowerCase()))) {
        kept.set(app, records);
        break;
      }
    }
  }
  return kept;
}

function describeCost(cost: FetchCost | undefined): string {
  return cost === undefined ? 'not measured' : `${cost.bytes} bytes, ${cost.cpuMs.toFixed(1)} ms`;
}

/**
 * CPU time of the calling thread, in ms: what `auto` mode weighs. Unlike the wall clock, it counts neither the
 * time other processes held the CPU nor other threads' work (the compiler's, the GC's helpers'), so a busy
 * machine does not make one mode look dearer. Linux: `/proc/thread-self/schedstat`; elsewhere the wall clock.
 */
function cpuNow(): number {
  if (threadCpu) {
    try {
      return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ', 1)[0]) / 1e6;
    } catch {
      threadCpu = false;
    }
  }
  return performance.now();
}
let threadCpu = process.platform === 'linux';

/** The CPU clock when no `auto` mode weighs the cost: reads nothing. */
function notMeasured(): number {
  return 0;
}
