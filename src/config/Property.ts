import { KaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import { walk } from './values.js';

/** Called after a property's value changed, with the new and the previous value. */
export type PropertyListener<V> = (value: V, previous: V) => void;

/**
 * A live handle on one key of a {@link DynamicConfig}, as Archaius's properties: `get()` is a field read of the
 * value in force (no clone, no lookup), and `onChange` listeners run after a real change of that key only.
 */
export interface Property<V> {
  /** The dotted key. */
  readonly key: string;
  /**
   * The current value, frozen. Costs a field read.
   * @throws KaryonError ERR_INVALID_STATE before the configuration has started.
   */
  get(): V;
  /** Calls `listener` after each change of this key's value; returns a function that removes it. */
  onChange(listener: PropertyListener<V>): () => void;
}

const UNSET: unique symbol = Symbol('unset');

/**
 * The implementation behind {@link Property}. The owning configuration moves every handle to a new snapshot
 * in one synchronous pass and only then runs listeners, so no reader, listener or not, sees a mix.
 */
export class PropertyHandle<V> implements Property<V> {
  readonly key: string;
  readonly #segments: readonly string[];
  readonly #listeners = new Set<PropertyListener<V>>();
  readonly #logger: Logger;
  #value: V | typeof UNSET = UNSET;

  constructor(key: string, logger: Logger) {
    this.key = key;
    // Split once: get() never parses the key.
    this.#segments = key.split('.');
    this.#logger = logger;
  }

  get(): V {
    const value = this.#value;
    if (value === UNSET) throw new KaryonError('ERR_INVALID_STATE', `configuration property '${this.key}' read before the configuration started`);
    return value;
  }

  onChange(listener: PropertyListener<V>): () => void {
    if (typeof listener !== 'function') {
      throw new KaryonError('ERR_INVALID_OPTION', `onChange of '${this.key}' needs a function (got ${typeof listener})`);
    }
    // A wrapper makes each registration distinct, so adding the same function twice needs two disposals.
    const entry: PropertyListener<V> = (value, previous) => listener(value, previous);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /**
   * Points the handle at `snapshot`. Returns a function that runs the listeners when the value changed
   * (by identity: unchanged branches keep their identity across snapshots), or undefined.
   */
  moveTo(snapshot: unknown): (() => void) | undefined {
    const previous = this.#value;
    const value = walk(snapshot, this.#segments) as V;
    this.#value = value;
    if (previous === UNSET || Object.is(previous, value) || this.#listeners.size === 0) return undefined;
    return () => {
      for (const listener of [...this.#listeners]) {
        try {
          listener(value, previous);
        } catch (error) {
          this.#logger.error('configuration property listener threw', { key: this.key, error: (error as Error).message });
        }
      }
    };
  }
}
