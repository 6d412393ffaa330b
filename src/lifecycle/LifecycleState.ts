import type { InstanceStatus } from '../registry/types.js';

/** The states of a service's lifecycle. */
export const LifecycleState = {
  /** Created or starting: initialize hooks have not all finished. Registered as STARTING. */
  STARTING: 'STARTING',
  /** Serving: hooks done, readiness passing, no operator override. */
  UP: 'UP',
  /** Taken out of traffic by an operator; only `markUp()` brings it back. */
  OUT_OF_SERVICE: 'OUT_OF_SERVICE',
  /** Running but a readiness check is critical; back to UP when it recovers. */
  DOWN: 'DOWN',
  /** `stop()` is leaving the registry, draining and running shutdown hooks. */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** Stopped: everything released. Final. */
  STOPPED: 'STOPPED',
  /** `start()` failed and what started was unwound. Final. */
  FAILED: 'FAILED',
} as const;

/** A lifecycle state. */
export type LifecycleState = (typeof LifecycleState)[keyof typeof LifecycleState];

/** The one table of allowed transitions: every change of state is checked against it. */
export const allowedTransitions: Readonly<Record<LifecycleState, readonly LifecycleState[]>> = Object.freeze({
  STARTING: ['UP', 'DOWN', 'OUT_OF_SERVICE', 'SHUTTING_DOWN', 'FAILED'],
  UP: ['DOWN', 'OUT_OF_SERVICE', 'SHUTTING_DOWN'],
  DOWN: ['UP', 'OUT_OF_SERVICE', 'SHUTTING_DOWN'],
  OUT_OF_SERVICE: ['UP', 'DOWN', 'SHUTTING_DOWN'],
  SHUTTING_DOWN: ['STOPPED'],
  STOPPED: [],
  FAILED: [],
});

/** True when the table allows going from `from` to `to`. */
export function canTransition(from: LifecycleState, to: LifecycleState): boolean {
  return allowedTransitions[from].includes(to);
}

/**
 * The status a registry is told for a lifecycle state, or undefined for states in which the instance is
 * not registered at all.
 */
export function registryStatusOf(state: LifecycleState): InstanceStatus | undefined {
  switch (state) {
    case 'STARTING':
      return 'STARTING';
    case 'UP':
      return 'UP';
    case 'OUT_OF_SERVICE':
      return 'OUT_OF_SERVICE';
    case 'DOWN':
    case 'SHUTTING_DOWN':
      return 'DOWN';
    case 'STOPPED':
    case 'FAILED':
      return undefined;
  }
}
