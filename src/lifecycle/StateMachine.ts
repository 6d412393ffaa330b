import type { Clock } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';
import { canTransition } from './LifecycleState.js';
import type { LifecycleState } from './LifecycleState.js';

/** The payload of a `stateChange` event. */
export interface StateChange {
  /** The state before. */
  readonly from: LifecycleState;
  /** The state after. */
  readonly to: LifecycleState;
  /** Why it changed, readable. */
  readonly reason: string;
  /** When (epoch ms). */
  readonly at: number;
}

const HISTORY = 50;

/** The lifecycle's state: changed only through `transition()`, which checks the table and reports the change. */
export class StateMachine {
  readonly #clock: Clock;
  readonly #onChange: (change: StateChange) => void;
  readonly #history: StateChange[] = [];
  #state: LifecycleState = 'STARTING';
  #since: number;

  constructor(clock: Clock, onChange: (change: StateChange) => void) {
    this.#clock = clock;
    this.#onChange = onChange;
    this.#since = clock.now();
  }

  get state(): LifecycleState {
    return this.#state;
  }

  /** When the current state began. */
  get since(): number {
    return this.#since;
  }

  /** The recent transitions, oldest first. */
  get history(): readonly StateChange[] {
    return this.#history;
  }

  /**
   * Moves to `to`. Returns false when already there.
   * @throws KaryonError ERR_INVALID_STATE when the table does not allow it.
   */
  transition(to: LifecycleState, reason: string): boolean {
    const from = this.#state;
    if (from === to) return false;
    if (!canTransition(from, to)) {
      throw new KaryonError('ERR_INVALID_STATE', `cannot go from ${from} to ${to} (${reason})`, { status: from });
    }
    const at = this.#clock.now();
    this.#state = to;
    this.#since = at;
    const change: StateChange = { from, to, reason, at };
    this.#history.push(change);
    if (this.#history.length > HISTORY) this.#history.shift();
    this.#onChange(change);
    return true;
  }
}
