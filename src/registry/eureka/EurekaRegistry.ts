import { EventEmitter } from 'eventemitter3';
import type { Clock } from '../../common/Clock.js';
import { KaryonError } from '../../common/KaryonError.js';
import { errorMessage } from '../../internal/async.js';
import { invalidOption } from '../../internal/validate.js';
import { InstanceCache } from '../InstanceCache.js';
import type { Metrics } from '../../metrics/types.js';
import type {
  InstanceDescriptor, InstanceStatus, ProtectedApp, RegistryChange, RegistryFetchWatch, RegistryInstance, RegistryServiceExtras, ServiceRegistry,
} from '../types.js';
import { InstancePool, eurekaInstanceEquals } from './EurekaInstance.js';
import type { EurekaRegistryEvents } from './EurekaRegistryEvents.js';
import { resolveEurekaRegistryOptions } from './EurekaRegistryOptions.js';
import type { EurekaRegistryOptions, ResolvedEurekaRegistryOptions } from './EurekaRegistryOptions.js';
import { EurekaTransport } from './EurekaTransport.js';
import { InstanceRegistration, isSettableStatus, unsettableStatus } from './InstanceRegistration.js';
import { RegistryFetcher } from './RegistryFetcher.js';
import { eurekaServiceExtras } from './serviceExtras.js';
import type { AutoFetchState } from './AutoFetchMode.js';
import { watchFetches } from './watchFetches.js';

/**
 * A {@link ServiceRegistry} that speaks the Eureka REST protocol (JSON) to Netflix or Spring Cloud Eureka
 * servers, on undici.
 *
 * Registration follows the lifecycle: `register(instance, 'STARTING')` posts the record; `setStatus()` moves
 * it (UP, DOWN and STARTING by re-registering with a new `lastDirtyTimestamp`, OUT_OF_SERVICE through the
 * override endpoint, back to UP by removing the override); `deregister()` cancels the lease. Each registered
 * instance heartbeats every `heartbeatIntervalMs`. Writes that fail are retried with exponential backoff,
 * rotating across the service URLs, until they succeed: the promises settle after the first attempt, so a
 * Eureka that is down never holds up `start()`. A heartbeat answered 404 registers again at once.
 *
 * Discovery keeps every instance of every status, from a full fetch and then deltas checked against the
 * server's hash. Reads are synchronous, from the cache; `upInstancesByVip()` returns the same frozen array
 * until the view changes. The view survives a Eureka outage unchanged.
 *
 * Timers are unref'd: the registry never keeps a process alive. `close()` stops everything.
 *
 * @example
 * ```ts
 * const registry = new EurekaRegistry({ serviceUrls: ['http://eureka:8761/eureka'] });
 * registry.on('heartbeat', (event) => metrics.timing('eureka.heartbeat', event.durationMs));
 * const service = createService({ name: 'greeter', registry, port: 8080 });
 * await service.start();
 * ```
 */
export class EurekaRegistry extends EventEmitter<EurekaRegistryEvents> implements ServiceRegistry, AsyncDisposable {
  #options: ResolvedEurekaRegistryOptions;
  readonly #transport: EurekaTransport;
  readonly #cache: InstanceCache;
  readonly #pool = new InstancePool();
  readonly #registrations = new Map<string, InstanceRegistration>();
  readonly #fetcher: RegistryFetcher | undefined;
  #closing: Promise<void> | undefined;

  /**
   * Starts fetching the registry at once (unless `fetchRegistry` is false); registers nothing until asked.
   * @param options - the service URLs and timings
   * @throws KaryonError ERR_INVALID_OPTION naming the option that is wrong.
   */
  constructor(options: EurekaRegistryOptions) {
    super();
    this.#options = resolveEurekaRegistryOptions(options);
    this.#transport = new EurekaTransport(this.#options);
    this.#cache = new InstanceCache({
      equals: eurekaInstanceEquals,
      onListenerError: (error) => this.#listenerFailed('change', error),
    });
    // Registrations and the fetcher read the options through this, so setIntervals() reaches them.
    const current = (): ResolvedEurekaRegistryOptions => this.#options;
    this.#fetcher = this.#options.fetchRegistry
      ? new RegistryFetcher({
          get options() {
            return current();
          },
          transport: this.#transport,
          cache: this.#cache,
          pool: this.#pool,
          onFetch: (event) => this.#tell('fetch', event),
          onHashMismatch: (event) => this.#tell('hashMismatch', event),
          onViewProtection: (event) => this.#tell('viewProtection', event),
        })
      : undefined;
  }

  /**
   * The applications whose last good view is kept because the registry listed too few of their instances (see
   * `viewProtectionRatio`); empty while the view follows the registry.
   */
  get protectedApps(): readonly ProtectedApp[] {
    return this.#fetcher?.protectedApps ?? [];
  }

  /**
   * What refreshes fetch: `full` (the whole registry, then deltas) or `vips` (only `fetchVips`, each by
   * `GET /vips/{vip}`), the `fetchMode` option with `auto` decided; with the VIPs fetched in `vips` mode, and with
   * `auto` why that mode is in force and the costs it was chosen by.
   */
  get fetchMode(): {
    /** `full` or `vips`. */
    readonly mode: 'full' | 'vips';
    /** The VIPs fetched in `vips` mode (lower case); empty in `full` mode. */
    readonly vips: readonly string[];
    /** With `fetchMode: 'auto'` (and VIPs named): why the mode is in force, and what each mode cost when last measured. */
    readonly auto?: AutoFetchState;
  } {
    const mode = this.#fetcher?.mode ?? this.#options.fetchMode;
    const vips = mode === 'vips' ? this.#options.fetchVips : [];
    const auto = this.#fetcher?.autoState;
    return auto === undefined ? { mode, vips } : { mode, vips, auto };
  }

  /** How long other clients take to see a change made here, at most: one registry fetch interval, in ms. */
  get propagationDelayMs(): number {
    return this.#options.registryFetchIntervalMs;
  }

  /**
   * Changes the heartbeat and fetch intervals live (a dynamic configuration binds them here); each takes
   * effect from the next beat or fetch.
   * @throws KaryonError ERR_INVALID_OPTION for a value that is not a positive number of ms.
   */
  setIntervals(intervals: { readonly heartbeatIntervalMs?: number; readonly registryFetchIntervalMs?: number }): void {
    const interval = (name: string, value: number | undefined, current: number): number => {
      if (value === undefined) return current;
      if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) invalidOption(name, 'a positive number of milliseconds', value);
      return value;
    };
    this.#options = Object.freeze({
      ...this.#options,
      heartbeatIntervalMs: interval('heartbeatIntervalMs', intervals.heartbeatIntervalMs, this.#options.heartbeatIntervalMs),
      registryFetchIntervalMs: interval('registryFetchIntervalMs', intervals.registryFetchIntervalMs, this.#options.registryFetchIntervalMs),
    });
  }

  /** The service URLs requests go to, normalized (without credentials). */
  get serviceUrls(): readonly string[] {
    return this.#transport.serviceUrls;
  }

  /** The ids of the instances this registry keeps registered. */
  get registeredInstanceIds(): readonly string[] {
    return [...this.#registrations.keys()];
  }

  /**
   * Registers the instance with `status` (`STARTING` for a lifecycle), or re-registers it with a new record.
   * Resolves once the first attempt is done, even when it failed (it is then retried in the background).
   * @throws KaryonError ERR_INVALID_OPTION when the descriptor lacks a field Eureka requires or the status is
   * UNKNOWN; ERR_INVALID_STATE once the registry is closed.
   */
  async register(instance: InstanceDescriptor, status: InstanceStatus, signal?: AbortSignal): Promise<void> {
    this.#requireOpen();
    validateDescriptor(instance);
    if (!isSettableStatus(status)) throw unsettableStatus(status, instance.instanceId);
    let registration = this.#registrations.get(instance.instanceId);
    if (registration === undefined || registration.finished) {
      const current = (): ResolvedEurekaRegistryOptions => this.#options;
      registration = new InstanceRegistration(
        {
          get options() {
            return current();
          },
          transport: this.#transport,
          onRegistration: (event) => this.emit('registration', event),
          onHeartbeat: (event) => this.emit('heartbeat', event),
          onCancelled: (cancelled) => {
            if (this.#registrations.get(cancelled.instanceId) === cancelled) this.#registrations.delete(cancelled.instanceId);
          },
        },
        instance,
      );
      this.#registrations.set(instance.instanceId, registration);
    }
    await registration.register(instance, status, signal);
  }

  /**
   * Changes the status of a registered instance. Resolves once the first attempt is done.
   * @throws KaryonError ERR_NOT_REGISTERED for an instance not registered here; ERR_INVALID_OPTION for UNKNOWN.
   */
  async setStatus(instanceId: string, status: InstanceStatus, signal?: AbortSignal): Promise<void> {
    await this.#registration(instanceId).setStatus(status, signal);
  }

  /**
   * Renews the instance's lease now (heartbeats also run on their own timer).
   * @throws KaryonError ERR_NOT_REGISTERED for an instance not registered here.
   */
  async heartbeat(instanceId: string, signal?: AbortSignal): Promise<void> {
    await this.#registration(instanceId).heartbeat(signal);
  }

  /**
   * Cancels the instance's lease and stops its heartbeats. Resolves once the first attempt is done; a failed
   * cancel is retried until it succeeds or the registry closes. Unknown instances resolve at once.
   */
  deregister(instanceId: string, signal?: AbortSignal): Promise<void> {
    const registration = this.#registrations.get(instanceId);
    if (registration === undefined || this.#closing !== undefined) return Promise.resolve();
    return registration.cancel(signal);
  }

  /**
   * One cached instance by id, in `app` when given (two apps may carry the same id; without `app`, the first
   * app's record is returned).
   */
  instance(instanceId: string, app?: string): RegistryInstance | undefined {
    return this.#cache.get(instanceId, app);
  }

  /**
   * What the client adds to a service that uses it: the built-in registry metrics (heartbeats, fetches, the
   * instances by status), the live `eureka.heartbeatIntervalMs` and `eureka.registryFetchIntervalMs`, and
   * whether the cancel of a deregistration reached a server.
   * @param metrics - the service's metrics
   */
  serviceExtras(metrics: Metrics): RegistryServiceExtras {
    return eurekaServiceExtras(this, metrics);
  }

  /**
   * Follows this client's fetches from now on: the last one, the last success, the last hash mismatch (the
   * admin API's `GET /registry` shows them).
   * @param clock - stamps the fetches seen
   */
  watchFetches(clock: Clock): RegistryFetchWatch {
    return watchFetches(this, clock);
  }

  /** How many cached instances have each status. */
  statusCounts(): ReadonlyMap<InstanceStatus, number> {
    return this.#cache.statusCounts();
  }

  /** Every cached instance, of every status. */
  instances(): RegistryInstance[] {
    // Loops, not a spread of the generator: a copy of 100,000 records in a few ms.
    const list: RegistryInstance[] = [];
    for (const records of this.#cache.records().values()) for (const record of records.values()) list.push(record);
    return list;
  }

  /** Every cached instance of an application (any status), by name, case-insensitively. */
  instancesByApp(app: string): readonly RegistryInstance[] {
    return this.#cache.byApp(app);
  }

  /** Every cached instance serving a VIP, or any VIP of a comma list (any status), case-insensitively. */
  instancesByVip(vip: string): readonly RegistryInstance[] {
    return this.#cache.byVip(vip);
  }

  /** The cached UP instances serving a VIP (or any VIP of a comma list): the same frozen array until the view changes. */
  upInstancesByVip(vip: string): readonly RegistryInstance[] {
    return this.#cache.upByVip(vip);
  }

  /** Calls `listener` after each change of the cached view; returns a function that unsubscribes. */
  onChange(listener: (change: RegistryChange) => void): () => void {
    return this.#cache.onChange(listener);
  }

  /**
   * Fetches the registry now and resolves once the view is up to date (useful before the first call).
   * @throws KaryonError ERR_REGISTRY_UNAVAILABLE when no server answered, ERR_EUREKA_PROTOCOL for a response
   * that is not a registry; the view is kept. ERR_INVALID_STATE when `fetchRegistry` is false or the registry
   * is closed.
   */
  refresh(signal?: AbortSignal): Promise<void> {
    if (this.#fetcher === undefined) {
      return Promise.reject(new KaryonError('ERR_INVALID_STATE', 'this Eureka registry does not fetch the registry (fetchRegistry: false)'));
    }
    if (this.#closing !== undefined) return Promise.reject(new KaryonError('ERR_INVALID_STATE', 'the Eureka registry is closed'));
    return this.#fetcher.refresh(signal);
  }

  /**
   * Stops heartbeats, retries and fetches, aborts requests in flight and closes connections. Sends nothing:
   * call `deregister()` first to leave the registry. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    // Abort first, so tasks waiting on a request end at once instead of at its timeout.
    const transport = this.#transport.close();
    await Promise.all([...this.#registrations.values()].map((registration) => registration.close()));
    await this.#fetcher?.close();
    await transport;
  }

  /**
   * Emits an event; a listener that throws is logged (the listeners after it miss this event, as with any
   * emitter) and registration and discovery go on.
   */
  #tell<E extends keyof EurekaRegistryEvents>(event: E, ...payload: EurekaRegistryEvents[E]): void {
    try {
      (this.emit as (event: E, ...args: EurekaRegistryEvents[E]) => boolean)(event, ...payload);
    } catch (error) {
      this.#listenerFailed(event, error);
    }
  }

  #listenerFailed(event: string, error: unknown): void {
    this.#options.logger.error(`a '${event}' listener of the Eureka registry threw: ${errorMessage(error)}`);
  }

  #requireOpen(): void {
    if (this.#closing !== undefined) throw new KaryonError('ERR_INVALID_STATE', 'the Eureka registry is closed');
  }

  #registration(instanceId: string): InstanceRegistration {
    this.#requireOpen();
    const registration = this.#registrations.get(instanceId);
    if (registration === undefined || registration.finished) {
      throw new KaryonError('ERR_NOT_REGISTERED', `instance '${instanceId}' is not registered with this Eureka registry`, { instanceId });
    }
    return registration;
  }
}

/** The fields a Eureka server rejects a registration without, checked before anything is sent. */
function validateDescriptor(instance: InstanceDescriptor): void {
  if (typeof instance !== 'object' || instance === null) invalidOption('instance', 'an instance descriptor', instance);
  for (const field of ['instanceId', 'app', 'hostName', 'ipAddr'] as const) {
    const value: unknown = instance[field];
    if (typeof value !== 'string' || value.trim() === '') invalidOption(`instance.${field}`, 'a non-empty string', value);
  }
  // A registration's overriddenStatus is always UNKNOWN: anything else would be adopted by the server as a
  // sticky operator override. A record passed back as a descriptor (it carries one) is refused, not edited.
  for (const field of ['overriddenStatus', 'overriddenstatus'] as const) {
    const value: unknown = (instance as unknown as Record<string, unknown>)[field];
    if (value !== undefined && value !== 'UNKNOWN') {
      invalidOption(`instance.${field}`, 'absent: overrides are set with setStatus(id, OUT_OF_SERVICE), never in a registration', value);
    }
    if (Object.hasOwn(instance.metadata ?? {}, field)) {
      invalidOption(`instance.metadata.${field}`, 'absent: the name is reserved for the Eureka record', instance.metadata[field]);
    }
  }
  for (const field of ['port', 'securePort'] as const) {
    const value: unknown = instance[field];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
      invalidOption(`instance.${field}`, 'an integer port between 0 and 65535', value);
    }
  }
}
