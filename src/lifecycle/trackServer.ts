// The application's server as the lifecycle sees it: its requests tracked so stop() drains them, and the
// out-of-service guard in front of its request listeners.
import type { Clock } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import { guardServer } from '../inbound/outOfServiceGuard.js';
import type { ServiceGuardOptions } from '../inbound/outOfServiceGuard.js';
import { ServerTracker } from '../inbound/ServerTracker.js';
import type { NodeHttpServer } from '../inbound/ServerTracker.js';
import { invalidOption } from '../internal/validate.js';
import type { LifecycleState } from './LifecycleState.js';
import type { ShutdownStack } from './ShutdownStack.js';

/** What tracking the application's server needs of the service. */
export interface TrackServerDeps {
  readonly name: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly drainTimeoutMs: number;
  /** The lifecycle state, which the guard answers by. */
  readonly state: () => LifecycleState;
}

/**
 * Tracks the requests of `server` (the drain phase waits for them) and installs the out-of-service guard unless
 * `guard` is false; each registers its undoing on the shutdown stack. Undefined without a server.
 * @throws KaryonError ERR_INVALID_OPTION when `guard` is neither a boolean nor guard options.
 */
export function trackServer(
  server: NodeHttpServer | undefined,
  guard: boolean | ServiceGuardOptions | undefined,
  deps: TrackServerDeps,
  shutdown: ShutdownStack,
): ServerTracker | undefined {
  const tracker = server === undefined ? undefined : new ServerTracker(server, deps.clock);
  if (tracker !== undefined) shutdown.add('drain', 'draining requests', () => drain(tracker, deps));
  const guarding = guard ?? true;
  if (typeof guarding !== 'boolean' && (typeof guarding !== 'object' || guarding === null)) invalidOption('outOfServiceGuard', 'a boolean or guard options', guarding);
  if (server !== undefined && guarding !== false) {
    const unguard = guardServer(server, deps.state, guarding === true ? {} : guarding);
    shutdown.add('owned', 'removing the out-of-service guard', unguard);
  }
  return tracker;
}

/** Waits for the requests in flight, up to `drainTimeoutMs`, then cuts them. */
async function drain(requests: ServerTracker, deps: TrackServerDeps): Promise<void> {
  const result = await requests.drain(deps.drainTimeoutMs);
  deps.logger.info(`drained: ${result.completed} request(s) finished, ${result.forced} cut`, { ...result });
  if (result.forced > 0) {
    throw new KaryonError('ERR_SHUTDOWN', `${result.forced} request(s) still in flight after ${deps.drainTimeoutMs} ms were cut`, { service: deps.name });
  }
}
