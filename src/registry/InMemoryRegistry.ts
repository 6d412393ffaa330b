import type { Clock } from '../common/Clock.js';
import { systemClock } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';
import { InstanceCache } from './InstanceCache.js';
import type {
  InstanceDescriptor,
  InstanceStatus,
  RegistryChange,
  RegistryInstance,
  ServiceRegistry,
} from './types.js';

/** Options of {@link InMemoryRegistry}. */
export interface InMemoryRegistryOptions {
  /**
   * Time source for timestamps.
   * @default systemClock
   */
  readonly clock?: Clock;
}

/**
 * A registry held in memory: every service given the same instance sees the others at once.
 * Used when no Eureka service URL is configured, and by tests and the quickstart.
 *
 * @example
 * ```ts
 * const registry = new InMemoryRegistry();
 * const a = createService({ name: 'greeter', registry, ... });
 * const b = createService({ name: 'caller', registry, ... });
 * ```
 */
export class InMemoryRegistry implements ServiceRegistry {
  readonly #clock: Clock;
  readonly #cache = new InstanceCache();
  readonly #lastRenewal = new Map<string, number>();
  /** Other services sharing this registry see a change at once. */
  readonly propagationDelayMs = 0;

  /** @param options - the clock */
  constructor(options: InMemoryRegistryOptions = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  /** Registers or re-registers an instance with `status`. */
  register(instance: InstanceDescriptor, status: InstanceStatus): Promise<void> {
    const now = this.#clock.now();
    const previous = this.#cache.get(instance.instanceId, instance.app);
    const override = previous?.overriddenStatus ?? 'UNKNOWN';
    this.#cache.apply([
      Object.freeze({
        ...instance,
        metadata: Object.freeze({ ...instance.metadata }),
        status,
        overriddenStatus: override,
        lastUpdatedTimestamp: now,
        lastDirtyTimestamp: now,
      }),
    ]);
    this.#lastRenewal.set(instance.instanceId, now);
    return Promise.resolve();
  }

  /** Sets the instance's status; OUT_OF_SERVICE is kept as the override, as Eureka does. */
  setStatus(instanceId: string, status: InstanceStatus): Promise<void> {
    const previous = this.#cache.get(instanceId);
    if (previous === undefined) return Promise.reject(notRegistered(instanceId));
    const now = this.#clock.now();
    this.#cache.apply([
      Object.freeze({
        ...previous,
        status,
        overriddenStatus: status === 'OUT_OF_SERVICE' ? status : 'UNKNOWN',
        lastUpdatedTimestamp: now,
        lastDirtyTimestamp: now,
      }),
    ]);
    return Promise.resolve();
  }

  /** Records a renewal. */
  heartbeat(instanceId: string): Promise<void> {
    if (this.#cache.get(instanceId) === undefined) return Promise.reject(notRegistered(instanceId));
    this.#lastRenewal.set(instanceId, this.#clock.now());
    return Promise.resolve();
  }

  /** Removes the instance. Removing an unknown instance does nothing. */
  deregister(instanceId: string): Promise<void> {
    const held = this.#cache.get(instanceId);
    if (held !== undefined) this.#cache.apply([], [held]);
    this.#lastRenewal.delete(instanceId);
    return Promise.resolve();
  }

  /** When the instance last registered or renewed (epoch ms), or undefined when unknown. */
  lastRenewal(instanceId: string): number | undefined {
    return this.#lastRenewal.get(instanceId);
  }

  /** One instance by id. */
  instance(instanceId: string): RegistryInstance | undefined {
    return this.#cache.get(instanceId);
  }

  /** Every instance of every application. */
  instances(): RegistryInstance[] {
    return [...this.#cache.all()];
  }

  instancesByApp(app: string): readonly RegistryInstance[] {
    return this.#cache.byApp(app);
  }

  instancesByVip(vip: string): readonly RegistryInstance[] {
    return this.#cache.byVip(vip);
  }

  upInstancesByVip(vip: string): readonly RegistryInstance[] {
    return this.#cache.upByVip(vip);
  }

  onChange(listener: (change: RegistryChange) => void): () => void {
    return this.#cache.onChange(listener);
  }

  /** Nothing to release; present for the interface. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function notRegistered(instanceId: string): KaryonError {
  return new KaryonError('ERR_NOT_REGISTERED', `instance '${instanceId}' is not registered`, { instanceId });
}
