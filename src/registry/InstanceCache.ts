import { EventEmitter } from 'eventemitter3';
import type { RegistryChange, RegistryInstance } from './types.js';

const EMPTY: readonly RegistryInstance[] = Object.freeze([]);

interface Indexes {
  readonly byApp: Map<string, readonly RegistryInstance[]>;
  readonly byVip: Map<string, readonly RegistryInstance[]>;
  readonly upByVip: Map<string, readonly RegistryInstance[]>;
}

interface CacheEvents {
  change: [change: RegistryChange];
}

/**
 * A registry's view of every instance: indexed by id, app and VIP, with the UP instances of each VIP kept as
 * one frozen array until the view changes, so a balancer reads its candidates without allocating.
 * Batches are applied whole and reported as one change; applying the same batch twice reports nothing.
 */
export class InstanceCache {
  readonly #instances = new Map<string, RegistryInstance>();
  readonly #events = new EventEmitter<CacheEvents>();
  #indexes: Indexes | undefined;

  /** Number of instances of every status. */
  get size(): number {
    return this.#instances.size;
  }

  /** Every instance, in insertion order. */
  all(): IterableIterator<RegistryInstance> {
    return this.#instances.values();
  }

  get(instanceId: string): RegistryInstance | undefined {
    return this.#instances.get(instanceId);
  }

  byApp(app: string): readonly RegistryInstance[] {
    return this.#index().byApp.get(app.toUpperCase()) ?? EMPTY;
  }

  byVip(vip: string): readonly RegistryInstance[] {
    return this.#index().byVip.get(vip.toLowerCase()) ?? EMPTY;
  }

  upByVip(vip: string): readonly RegistryInstance[] {
    return this.#index().upByVip.get(vip.toLowerCase()) ?? EMPTY;
  }

  onChange(listener: (change: RegistryChange) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  /** Upserts and removes in one batch; emits one change if anything differs. */
  apply(upserts: Iterable<RegistryInstance>, removals: Iterable<string> = []): RegistryChange {
    const added: RegistryInstance[] = [];
    const removed: RegistryInstance[] = [];
    const modified: { previous: RegistryInstance; current: RegistryInstance }[] = [];
    for (const instance of upserts) {
      const previous = this.#instances.get(instance.instanceId);
      if (previous === undefined) added.push(instance);
      else if (!sameInstance(previous, instance)) modified.push({ previous, current: instance });
      else continue;
      this.#instances.set(instance.instanceId, instance);
    }
    for (const instanceId of removals) {
      const previous = this.#instances.get(instanceId);
      if (previous === undefined) continue;
      this.#instances.delete(instanceId);
      removed.push(previous);
    }
    return this.#emit({ added, removed, modified });
  }

  /** Makes the view exactly `instances` (a full fetch); emits the difference. */
  replaceAll(instances: Iterable<RegistryInstance>): RegistryChange {
    const incoming = new Map<string, RegistryInstance>();
    for (const instance of instances) incoming.set(instance.instanceId, instance);
    const removals: string[] = [];
    for (const instanceId of this.#instances.keys()) if (!incoming.has(instanceId)) removals.push(instanceId);
    return this.apply(incoming.values(), removals);
  }

  #emit(change: RegistryChange): RegistryChange {
    if (change.added.length + change.removed.length + change.modified.length === 0) return change;
    this.#indexes = undefined;
    this.#events.emit('change', change);
    return change;
  }

  #index(): Indexes {
    if (this.#indexes !== undefined) return this.#indexes;
    const byApp = new Map<string, RegistryInstance[]>();
    const byVip = new Map<string, RegistryInstance[]>();
    const upByVip = new Map<string, RegistryInstance[]>();
    for (const instance of this.#instances.values()) {
      push(byApp, instance.app.toUpperCase(), instance);
      for (const vip of vipsOf(instance)) {
        push(byVip, vip, instance);
        if (instance.status === 'UP') push(upByVip, vip, instance);
      }
    }
    const freeze = (map: Map<string, RegistryInstance[]>): Map<string, readonly RegistryInstance[]> => {
      for (const list of map.values()) Object.freeze(list);
      return map;
    };
    this.#indexes = { byApp: freeze(byApp), byVip: freeze(byVip), upByVip: freeze(upByVip) };
    return this.#indexes;
  }
}

/** The VIP addresses an instance serves: its comma-separated list, lower-cased. */
export function vipsOf(instance: Pick<RegistryInstance, 'vipAddress'>): string[] {
  const vips: string[] = [];
  for (const part of instance.vipAddress.split(',')) {
    const vip = part.trim().toLowerCase();
    if (vip !== '' && !vips.includes(vip)) vips.push(vip);
  }
  return vips;
}

function push(map: Map<string, RegistryInstance[]>, key: string, instance: RegistryInstance): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [instance]);
  else list.push(instance);
}

/** Field-by-field equality: a re-applied delta is not a change. */
export function sameInstance(a: RegistryInstance, b: RegistryInstance): boolean {
  if (a === b) return true;
  for (const key of Object.keys(a) as (keyof RegistryInstance)[]) {
    if (key === 'metadata') continue;
    if (a[key] !== b[key]) return false;
  }
  if (Object.keys(b).length !== Object.keys(a).length) return false;
  const ma = Object.keys(a.metadata);
  if (ma.length !== Object.keys(b.metadata).length) return false;
  return ma.every((key) => a.metadata[key] === b.metadata[key]);
}
