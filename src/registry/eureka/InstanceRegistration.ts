import { KaryonError } from '../../common/KaryonError.js';
import { abortReason, errorMessage, jitter } from '../../internal/async.js';
import { RepeatingTask } from '../../internal/RepeatingTask.js';
import type { InstanceDescriptor, InstanceStatus } from '../types.js';
import type { HeartbeatEvent, RegistrationEvent, RegistrationOperation } from './EurekaRegistryEvents.js';
import type { ResolvedEurekaRegistryOptions } from './EurekaRegistryOptions.js';
import type { EurekaExchange, EurekaTransport } from './EurekaTransport.js';
import { errorText } from './EurekaTransport.js';
import { retryDelayMs } from './retryDelay.js';
import { encodeInstance } from './wire.js';

// One registered instance, kept converging on what the lifecycle last asked for.
//
// The lifecycle states what it wants (a status, and whether an operator override is wanted); this class
// remembers what the server acknowledged and sends the writes that close the gap, one at a time, in the order
// the server's status rules need:
//   1. no record on the server: register (POST);
//   2. override wanted but not set: PUT .../status?value=OUT_OF_SERVICE;
//   3. override set but not wanted: DELETE .../status?value=<reported status>;
//   4. the server holds an older record (status changed since): re-register with a new lastDirtyTimestamp;
//   5. otherwise heartbeat when due.
// Setting the override before re-registering means an instance going from DOWN to OUT_OF_SERVICE never shows
// UP in between. STARTING and DOWN are re-registrations that win over an override (server rule 1), so the
// override is left in place while DOWN and takes effect again when the instance recovers.
// A registration body never carries OUT_OF_SERVICE, nor an overriddenStatus other than UNKNOWN: a server that
// lost the lease (restart, eviction, delete) and received OUT_OF_SERVICE in the body would store it with no
// override, and then keep it for good (LeaseExistsRule; removing an override that does not exist is a no-op).
// So when the lease is gone while the operator wants the instance out, it registers as STARTING (never UP in
// between), sets the override, then re-registers with its own status, which the override now covers.
// A failed write is retried with backoff until it succeeds, the instance is cancelled or the registry closes;
// the backoff stops growing at the heartbeat interval, so an instance is back about one interval after its
// registry returns from an outage, and retrying through the outage writes no more than heartbeating would.
// A heartbeat answered 404 means the server lost the lease: register again at once.

/** The status an instance reports in its record; OUT_OF_SERVICE is an override on top of UP. */
type ReportedStatus = 'STARTING' | 'UP' | 'DOWN';

/** What a registration needs from its registry. */
export interface RegistrationContext {
  readonly options: ResolvedEurekaRegistryOptions;
  readonly transport: EurekaTransport;
  readonly onRegistration: (event: RegistrationEvent) => void;
  readonly onHeartbeat: (event: HeartbeatEvent) => void;
  /** The lease was cancelled on the server: forget the registration. */
  readonly onCancelled: (registration: InstanceRegistration) => void;
}

interface Waiter {
  readonly settle: () => void;
}

type Operation = RegistrationOperation | 'heartbeat';

/** More writes than this in one run means the server keeps undoing them: back off instead of looping. */
const MAX_OPERATIONS_PER_RUN = 8;

/** The statuses `setStatus` accepts. */
const settableStatuses: readonly InstanceStatus[] = ['STARTING', 'UP', 'DOWN', 'OUT_OF_SERVICE'];

/** True for a status an instance can ask for: any but UNKNOWN (which Eureka answers with 404s). */
export function isSettableStatus(status: unknown): status is Exclude<InstanceStatus, 'UNKNOWN'> {
  return settableStatuses.includes(status as InstanceStatus);
}

/** The error for a status an instance cannot ask for. */
export function unsettableStatus(status: unknown, instanceId: string): KaryonError {
  return new KaryonError('ERR_INVALID_OPTION', `status must be one of ${settableStatuses.join(', ')} (got ${JSON.stringify(status)})`, {
    instanceId,
    status: String(status),
  });
}

/**
 * The desired and acknowledged registration state of one instance, and the task that converges the two.
 * Every public method returns once the next attempt (with the change) has finished, successful or not.
 */
export class InstanceRegistration {
  readonly #context: RegistrationContext;
  readonly #task: RepeatingTask;
  #descriptor: InstanceDescriptor;
  #body: InstanceDescriptor;
  // Desired.
  #reported: ReportedStatus = 'STARTING';
  #overrideWanted = false;
  #lastDirty = 0;
  #cancelWanted = false;
  // Acknowledged by the server.
  #serverDirty: number | undefined;
  /** The status the server's record was registered with (STARTING while an override is being restored). */
  #serverStatus: ReportedStatus | undefined;
  #overrideOnServer = false;
  #nextHeartbeatAt = 0;
  #failures = 0;
  #waiters: Waiter[] = [];
  #cancelled = false;

  constructor(context: RegistrationContext, descriptor: InstanceDescriptor) {
    this.#context = context;
    this.#descriptor = descriptor;
    this.#body = withZone(descriptor);
    this.#task = new RepeatingTask({
      clock: context.options.clock,
      initialDelayMs: context.options.heartbeatIntervalMs,
      run: (signal) => this.#run(signal),
    });
  }

  /** The instance id. */
  get instanceId(): string {
    return this.#descriptor.instanceId;
  }

  /** True once the lease was cancelled on the server (or the registration closed). */
  get finished(): boolean {
    return this.#cancelled || this.#task.closed;
  }

  /** Registers (again) with a new record and status; a pending cancel is dropped. */
  register(descriptor: InstanceDescriptor, status: InstanceStatus, signal?: AbortSignal): Promise<void> {
    this.#descriptor = descriptor;
    this.#body = withZone(descriptor);
    this.#cancelWanted = false;
    this.#want(status, true);
    return this.#wait(signal);
  }

  /** Changes the status: UP, DOWN and STARTING by re-registering, OUT_OF_SERVICE through the override. */
  setStatus(status: InstanceStatus, signal?: AbortSignal): Promise<void> {
    this.#want(status, false);
    return this.#wait(signal);
  }

  /** Renews the lease now. */
  heartbeat(signal?: AbortSignal): Promise<void> {
    this.#nextHeartbeatAt = this.#context.options.clock.now();
    return this.#wait(signal);
  }

  /** Cancels the lease (`DELETE /apps/{APP}/{ID}`), retried until it succeeds or the registry closes. */
  cancel(signal?: AbortSignal): Promise<void> {
    this.#cancelWanted = true;
    return this.#wait(signal);
  }

  /** Stops for good: no request after this resolves. */
  async close(): Promise<void> {
    await this.#task.close();
    this.#settle(this.#waiters.splice(0));
  }

  #want(status: InstanceStatus, newRecord: boolean): void {
    if (!isSettableStatus(status)) throw unsettableStatus(status, this.instanceId);
    const reported: ReportedStatus = status === 'OUT_OF_SERVICE' ? 'UP' : status;
    if (status === 'UP' || status === 'OUT_OF_SERVICE') this.#overrideWanted = status === 'OUT_OF_SERVICE';
    if (newRecord || reported !== this.#reported || this.#lastDirty === 0) {
      this.#reported = reported;
      // Strictly increasing: a server ignores a registration older than (or as old as) the record it holds.
      this.#lastDirty = Math.max(this.#context.options.clock.now(), this.#lastDirty + 1);
    }
  }

  #wait(signal: AbortSignal | undefined): Promise<void> {
    if (this.#task.closed) return Promise.resolve();
    if (signal?.aborted === true) {
      // The change is recorded all the same: only the wait is given up.
      this.#task.trigger();
      return Promise.reject(abortReason(signal));
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters = this.#waiters.filter((waiter) => waiter !== entry);
        reject(abortReason(signal));
      };
      const entry: Waiter = {
        settle: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(entry);
      this.#task.trigger();
    });
  }

  #settle(waiters: readonly Waiter[]): void {
    for (const waiter of waiters) waiter.settle();
  }

  async #run(signal: AbortSignal): Promise<number> {
    // Those waiting now are answered by this run: it starts after their change was recorded.
    const waiters = this.#waiters.splice(0);
    try {
      return await this.#converge(signal);
    } catch (error) {
      // Not expected (every request outcome is handled); keep the task alive and say why.
      this.#context.options.logger.error(`eureka registration of ${this.instanceId} failed unexpectedly: ${errorMessage(error)}`);
      return this.#failed();
    } finally {
      // Answer once the task has recorded that this run is over (its bookkeeping follows this promise), so a
      // caller that reacts with another change triggers a new run at once instead of queueing behind this one.
      setImmediate(() => {
        this.#settle(waiters);
        // Changes asked for during the run that it went on to apply need no second run to be answered.
        if (this.#cancelled || this.#nextOperation() === undefined) this.#settle(this.#waiters.splice(0));
      });
    }
  }

  async #converge(signal: AbortSignal): Promise<number> {
    const { clock } = this.#context.options;
    for (let performed = 0; !signal.aborted && !this.#cancelled; performed++) {
      const operation = this.#nextOperation();
      if (operation === undefined) return Math.max(0, this.#nextHeartbeatAt - clock.now());
      if (performed === MAX_OPERATIONS_PER_RUN) {
        this.#context.options.logger.warn(`eureka keeps undoing the registration of ${this.instanceId}; backing off`);
        return this.#failed();
      }
      const delay = operation === 'heartbeat' ? await this.#heartbeat(signal) : await this.#write(operation, signal);
      if (delay !== undefined) return delay;
    }
    return 0;
  }

  #nextOperation(): Operation | undefined {
    if (this.#cancelWanted) return 'cancel';
    if (this.#serverDirty === undefined) return 'register';
    if (this.#overrideWanted && !this.#overrideOnServer) return 'statusOverride';
    if (!this.#overrideWanted && this.#overrideOnServer) return 'removeOverride';
    if (this.#serverDirty !== this.#lastDirty || this.#serverStatus !== this.#reported) return 'register';
    if (this.#context.options.clock.now() >= this.#nextHeartbeatAt) return 'heartbeat';
    return undefined;
  }

  /**
   * The status a registration sends: the instance's own, except STARTING while the operator's override is
   * wanted and not on the server (see the top of this file). Never OUT_OF_SERVICE.
   */
  #registrationStatus(): ReportedStatus {
    return this.#overrideWanted && !this.#overrideOnServer && this.#reported === 'UP' ? 'STARTING' : this.#reported;
  }

  /** Performs one write; returns the delay before the next run when it failed, undefined to go on. */
  async #write(operation: RegistrationOperation, signal: AbortSignal): Promise<number | undefined> {
    const { transport } = this.#context;
    const app = encodeURIComponent(this.#descriptor.app.toUpperCase());
    const id = encodePathSegment(this.instanceId);
    let lastDirty = this.#lastDirty;
    let exchange: EurekaExchange;
    let status: InstanceStatus;
    switch (operation) {
      case 'register': {
        status = this.#registrationStatus();
        // A record the server already holds with this timestamp would be kept over this one: send a newer one.
        if (this.#serverDirty === lastDirty) lastDirty = this.#lastDirty = Math.max(this.#context.options.clock.now(), lastDirty + 1);
        const instance = { ...encodeInstance(this.#body, status, lastDirty), overriddenstatus: 'UNKNOWN' };
        exchange = await transport.send({ method: 'POST', path: `/apps/${app}`, json: { instance } }, signal);
        break;
      }
      case 'statusOverride':
        status = 'OUT_OF_SERVICE';
        exchange = await transport.send(
          { method: 'PUT', path: `/apps/${app}/${id}/status?value=OUT_OF_SERVICE&lastDirtyTimestamp=${lastDirty}` },
          signal,
        );
        break;
      case 'removeOverride':
        status = this.#reported;
        exchange = await transport.send(
          { method: 'DELETE', path: `/apps/${app}/${id}/status?value=${status}&lastDirtyTimestamp=${lastDirty}` },
          signal,
        );
        break;
      case 'cancel':
        status = 'DOWN';
        exchange = await transport.send({ method: 'DELETE', path: `/apps/${app}/${id}` }, signal);
        break;
    }
    if (signal.aborted) return 0;
    const code = exchange.status;
    let ok = exchange.error === undefined && code !== undefined && code >= 200 && code < 300;
    if (ok) {
      this.#failures = 0;
      if (operation === 'register') this.#serverStatus = status as ReportedStatus;
      this.#acknowledge(operation, lastDirty);
    } else if (exchange.error === undefined && code === 404 && operation !== 'register') {
      // The server has no such instance: a cancel is done; anything else registers again first.
      ok = true;
      this.#failures = 0;
      if (operation === 'cancel') this.#acknowledge('cancel', lastDirty);
      else this.#lost();
    }
    const nextRetryMs = ok ? undefined : this.#failed();
    const error = ok ? undefined : (exchange.error?.message ?? `HTTP ${code}: ${errorText(exchange.body)}`);
    this.#report(operation, status, exchange, ok, nextRetryMs, error);
    return nextRetryMs;
  }

  #acknowledge(operation: RegistrationOperation, lastDirty: number): void {
    const { clock, heartbeatIntervalMs, jitterRatio } = this.#context.options;
    switch (operation) {
      case 'register':
        this.#serverDirty = lastDirty;
        // A registration renews the lease.
        this.#nextHeartbeatAt = clock.now() + jitter(heartbeatIntervalMs, jitterRatio);
        break;
      case 'statusOverride':
        this.#overrideOnServer = true;
        break;
      case 'removeOverride':
        this.#overrideOnServer = false;
        break;
      case 'cancel':
        this.#cancelled = true;
        this.#serverDirty = undefined;
        this.#serverStatus = undefined;
        this.#overrideOnServer = false;
        this.#context.onCancelled(this);
        // Stop the task; not awaited, as this runs inside it.
        void this.#task.close();
        break;
    }
  }

  /** The server does not know the instance (lease expired, evicted, or a new server): start over. */
  #lost(): void {
    this.#serverDirty = undefined;
    this.#serverStatus = undefined;
    // Eureka drops an override with the lease; the next registration sets it again if it is still wanted.
    this.#overrideOnServer = false;
  }

  async #heartbeat(signal: AbortSignal): Promise<number | undefined> {
    const { transport, options } = this.#context;
    const app = encodeURIComponent(this.#descriptor.app.toUpperCase());
    const id = encodePathSegment(this.instanceId);
    const exchange = await transport.send(
      { method: 'PUT', path: `/apps/${app}/${id}?status=${this.#serverStatus ?? this.#reported}&lastDirtyTimestamp=${this.#serverDirty ?? this.#lastDirty}` },
      signal,
    );
    if (signal.aborted) return 0;
    const base = {
      app: this.#descriptor.app.toUpperCase(),
      instanceId: this.instanceId,
      statusCode: exchange.status,
      durationMs: exchange.durationMs,
      serviceUrl: exchange.serviceUrl,
    };
    if (exchange.error === undefined && exchange.status === 200) {
      this.#failures = 0;
      this.#nextHeartbeatAt = options.clock.now() + jitter(options.heartbeatIntervalMs, options.jitterRatio);
      options.logger.debug(`eureka heartbeat of ${this.instanceId} renewed`, { instanceId: this.instanceId, durationMs: exchange.durationMs });
      this.#context.onHeartbeat({ ...base, ok: true, reregister: false, nextRetryMs: undefined, error: undefined });
      return undefined;
    }
    if (exchange.error === undefined && exchange.status === 404) {
      options.logger.warn(`eureka does not know ${this.instanceId} any more (heartbeat 404): registering again`, { instanceId: this.instanceId });
      this.#lost();
      this.#context.onHeartbeat({ ...base, ok: false, reregister: true, nextRetryMs: undefined, error: 'HTTP 404: lease not found' });
      return undefined;
    }
    const nextRetryMs = this.#failed();
    this.#nextHeartbeatAt = options.clock.now() + nextRetryMs;
    const error = exchange.error?.message ?? `HTTP ${exchange.status}: ${errorText(exchange.body)}`;
    options.logger.warn(`eureka heartbeat of ${this.instanceId} failed (retry in ${nextRetryMs} ms): ${error}`, { instanceId: this.instanceId });
    this.#context.onHeartbeat({ ...base, ok: false, reregister: false, nextRetryMs, error });
    return nextRetryMs;
  }

  /** Counts a failure; returns the delay before the next try, never longer than about a heartbeat interval. */
  #failed(): number {
    this.#failures++;
    return retryDelayMs(this.#failures, this.#context.options, this.#context.options.heartbeatIntervalMs);
  }

  #report(
    operation: RegistrationOperation,
    status: InstanceStatus,
    exchange: EurekaExchange,
    ok: boolean,
    nextRetryMs: number | undefined,
    error: string | undefined,
  ): void {
    const { logger } = this.#context.options;
    const fields = { instanceId: this.instanceId, operation, status, statusCode: exchange.status, serviceUrl: exchange.serviceUrl };
    if (ok) {
      logger.info(`eureka ${describe(operation, status)} ${this.instanceId}: done`, fields);
    } else {
      const rejected = exchange.status !== undefined && exchange.status >= 400 && exchange.status < 500;
      const line = `eureka ${describe(operation, status)} ${this.instanceId} failed (retry in ${nextRetryMs} ms): ${error}`;
      if (rejected) logger.error(line, fields);
      else logger.warn(line, fields);
    }
    this.#context.onRegistration({
      operation,
      app: this.#descriptor.app.toUpperCase(),
      instanceId: this.instanceId,
      status,
      ok,
      statusCode: exchange.status,
      durationMs: exchange.durationMs,
      serviceUrl: exchange.serviceUrl,
      failures: this.#failures,
      nextRetryMs,
      error,
    });
  }
}

function describe(operation: RegistrationOperation, status: InstanceStatus): string {
  switch (operation) {
    case 'register':
      return `register as ${status} of`;
    case 'statusOverride':
      return 'OUT_OF_SERVICE override of';
    case 'removeOverride':
      return `override removal (to ${status}) of`;
    case 'cancel':
      return 'cancel of';
  }
}

/** The record sent to Eureka: the descriptor with its zone in the metadata, where Eureka clients look for it. */
function withZone(descriptor: InstanceDescriptor): InstanceDescriptor {
  if (descriptor.metadata.zone === descriptor.zone) return descriptor;
  return { ...descriptor, metadata: { ...descriptor.metadata, zone: descriptor.zone } };
}

/** A path segment: escaped, but with the `:` of `host:app:port` ids left readable (it is legal in a path). */
export function encodePathSegment(value: string): string {
  return encodeURIComponent(value).replace(/%3A/gi, ':');
}
