// Over 500 lines because one request's path (balancer pick, retry budget, hedging, outlier ejection, the
// out-of-service skip and the transport) is one loop over shared per-client state; options, transports,
// the fetch adapter, the retry budget and the balancer live in their own files.
import type { Readable } from 'node:stream';
import { EventEmitter } from 'eventemitter3';
import { Balancer } from '../balancer/Balancer.js';
import type { BalancerScope } from '../balancer/Balancer.js';
import type { BalancerRule, BalancerRuleName } from '../balancer/BalancerRule.js';
import type { EjectionReason, InstanceState } from '../balancer/InstanceState.js';
import { InstanceMode } from '../balancer/InstanceState.js';
import { FailureKind } from '../balancer/OutlierDetector.js';
import type { Clock, ClockTimer } from '../common/Clock.js';
import { systemClock } from '../common/Clock.js';
import { KaryonError } from '../common/KaryonError.js';
import type { Logger } from '../common/Logger.js';
import { abortReason, errorMessage } from '../internal/async.js';
import type { CommandExecutor, RunOptions } from '../breaker/Command.js';
import type { CommandRegistry } from '../breaker/CommandRegistry.js';
import { statusClass } from '../common/ServiceClientEvents.js';
import type { ClientCallOutcome, ClientMetrics, ClientVipEvent, ServiceClientEvents } from '../common/ServiceClientEvents.js';
import { invalidOption } from '../internal/validate.js';
import type { InstanceStatus, RegistryInstance, ServiceRegistry } from '../registry/types.js';
import type { Endpoint } from './Endpoint.js';
import { endpointOf } from './Endpoint.js';
import { FetchTransport } from './FetchTransport.js';
import { OUT_OF_SERVICE_HEADER, RETRIES_ELSEWHERE_HEADER } from '../inbound/outOfServiceGuard.js';
import { RetryBudget, resolveRetryBudgetOptions } from './RetryBudget.js';
import type { RetryBudgetOptions } from './RetryBudget.js';
import { DeadlineQueue } from '../internal/DeadlineQueue.js';
import { TrySignal, follow } from './TrySignal.js';
import type { ParentSignal } from './TrySignal.js';
import type { ResolvedServiceClientOptions, ServiceClientOptions } from './ServiceClientOptions.js';
import type { ServiceRequest } from './ServiceRequest.js';
import type { ShadowTee } from './ShadowTee.js';
import { resolveServiceClientOptions } from './ServiceClientOptions.js';
import { toServiceRequest, toWebResponse } from './fetchAdapter.js';
import type { ServiceFetchInit } from './fetchAdapter.js';
import type { RequestBody, Transport, TransportResponse } from './Transport.js';
import { ServiceResponse, TryFailure, classifyError, nothingProcessed } from './TryOutcome.js';
import { UndiciTransport } from './UndiciTransport.js';

/** An HTTP method is a token (RFC 9110). */
const METHOD_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Methods that may be sent twice without harm (RFC 9110), so other failures than refused connections are retried. */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** Options of {@link createServiceClient}: where to find instances, plus the client's options. */
export interface CreateServiceClientOptions extends ServiceClientOptions {
  /** The registry whose view of the VIP the client balances over. */
  readonly registry: ServiceRegistry;
  /** The VIP address of the service to call. */
  readonly vip: string;
  /**
   * The caller's availability zone, preferred by zone affinity.
   * @default none: no zone affinity
   */
  readonly zone?: string;
  /**
   * Where the client reports its built-in metrics (calls by outcome and status class, latency, retries,
   * budget exhaustion, hedges, ejections, each instance's traffic).
   * @default none
   * @deprecated Bind the client's events instead: `bindClientMetrics(client, clientMetrics(metrics))`, from
   * `karyon-ts/extend` (`service.client()` does it for the clients it makes).
   */
  readonly metrics?: ClientMetrics;
  /**
   * Where the client's circuit breaker lives: every call runs through the command `client:<vip>` of this
   * registry (see `breaker`); `service.client()` passes the service's commands.
   * @default none: no breaker
   */
  readonly commands?: CommandRegistry;
}

/** A 5xx response counts as a failure for the client's breaker, and the caller still gets it. */
const ERROR_STATUS = { isFailure: (response: ServiceResponse): boolean => response.statusCode >= 500 } satisfies RunOptions<ServiceResponse>;

/** Calls `done` once a response body is closed (read, dumped or destroyed), or now for a body that is no stream. */
function whenBodyCloses(body: unknown, done: () => void): void {
  const stream = body as Partial<Pick<Readable, 'once'>>;
  if (typeof stream.once === 'function') stream.once('close', done);
  else done();
}

/**
 * Errors that say nothing of the dependency's health, so its breaker does not count them: the caller's own
 * mistakes and cancellations, and no instance to call (opening the circuit would protect nothing, and would
 * keep refusing calls after instances appear).
 */
function isNotTheDependency(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as Partial<KaryonError>).code;
  return code === 'ERR_INVALID_OPTION' || code === 'ERR_INVALID_STATE' || code === 'ERR_NO_INSTANCES' || cancelledByCaller.has(error);
}

/**
 * The errors calls ended with because the caller's signal aborted: the caller's own reason, whatever it is
 * (an AbortError, a TimeoutError of `AbortSignal.timeout()`, an error of its own), so none counts against the
 * dependency.
 */
const cancelledByCaller = new WeakSet<object>();

function callerCancelled(signal: ParentSignal | undefined): Error {
  const error = abortReason(signal);
  cancelledByCaller.add(error);
  return error;
}

/**
 * True for undici's refusal of a request it cannot send (a bad path, method or header; an `expect` header it
 * does not support), made before anything is sent.
 */
function refusedBeforeSending(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED';
}

/** One instance in {@link ServiceClientStats}. */
export interface InstanceStats {
  /** The instance id. */
  readonly instanceId: string;
  /** Host name as registered. */
  readonly hostName: string;
  /** Address connected to. */
  readonly origin: string;
  /** The zone. */
  readonly zone: string;
  /** Status in the registry. */
  readonly status: InstanceStatus;
  /** Where the instance stands with the balancer; `not-up` for instances the registry does not list as UP. */
  readonly state: InstanceMode | 'not-up';
  /** Whether picks may choose it now. */
  readonly candidate: boolean;
  /** Peak-EWMA latency estimate now, in ms. */
  readonly ewmaMs: number | null;
  /** Decaying average latency, in ms. */
  readonly averageMs: number | null;
  /** 95th percentile latency over the recent window, in ms, when there are samples. */
  readonly p95Ms: number | null;
  /** Requests in flight. */
  readonly pending: number;
  /** Until when the instance is ejected or left alone (epoch ms), or null. */
  readonly ejectedUntil: number | null;
  /** How many times it was ejected. */
  readonly timesEjected: number;
  /** Failures since the last success. */
  readonly consecutiveFailures: number;
  /** Tries sent. */
  readonly requests: number;
  /** Tries that succeeded. */
  readonly successes: number;
  /** Tries that failed. */
  readonly failures: number;
  /**
   * Its share of the client's tries over the last complete success-rate interval and the current one
   * (0 to 1): with `errorRate`, `cost` and `state`, why an instance gets little traffic.
   */
  readonly share: number;
  /** Share of its tries that failed over the same time (0 to 1). */
  readonly errorRate: number;
  /** What the rule thinks one more request costs there now (p2c-ewma: ms), or null for rules without a cost. */
  readonly cost: number | null;
  /** Why outlier detection last ejected it, or null if never. */
  readonly ejectionReason: EjectionReason | null;
}

/** What `stats()` reports, and the admin API's `GET /instances` shows for each client. */
export interface ServiceClientStats {
  /** The VIP address. */
  readonly vip: string;
  /** The caller's zone, if any. */
  readonly zone: string | undefined;
  /** The rule in use. */
  readonly rule: string;
  /** How the candidates are chosen now. */
  readonly scope: BalancerScope;
  /** Calls made. */
  readonly requests: number;
  /** Retries sent. */
  readonly retries: number;
  /** Hedges sent. */
  readonly hedges: number;
  /** Calls that ended with an error. */
  readonly errors: number;
  /** Retries refused by the budget. */
  readonly budgetExhausted: number;
  /** Retries the budget allows now, or null without a budget. */
  readonly retryBudget: number | null;
  /** Every instance of the VIP known to the registry or the balancer. */
  readonly instances: readonly InstanceStats[];
}

/** Sub-millisecond time for latency, on the same scale as `Date.now()`. */
function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

const noop = (): void => undefined;

/** How each failure reads in an error message, before "instance 'x' of 'vip'". */
const failureWords: Readonly<Record<TryFailure['reason'], string>> = {
  connect: 'could not connect to',
  reset: 'connection closed before the response by',
  timeout: 'no response from',
  status: 'error status from',
  'out-of-service': 'out of service:',
  unavailable: 'connection pool closed (the instance left the registry) for',
  aborted: 'aborted request to',
  other: 'request failed on',
};

function plural(tries: number): string {
  return tries === 1 ? '1 try' : `${tries} tries`;
}

function hedgeLost(): KaryonError {
  return new KaryonError('ERR_UPSTREAM', 'another copy of this hedged request answered first', { retryable: false });
}

/**
 * A client of one service, balanced over the UP instances of its VIP: a fast `request()` on undici pools
 * (one per instance, keep-alive) and a WHATWG-shaped `fetch()`. Tries are balanced by the rule, outliers are
 * ejected, failures retried elsewhere within the retry budget, slow idempotent tries optionally hedged, and
 * instances answering "out of service" skipped at once. The instance list follows the registry's change
 * events; when the registry is unreachable, the client keeps the last list it saw.
 *
 * Create with {@link createServiceClient} (or `service.client(vip, options)`).
 */
export class ServiceClient extends EventEmitter<ServiceClientEvents> implements AsyncDisposable {
  /** The VIP address called. */
  readonly vip: string;
  /** The caller's zone, if any. */
  readonly zone: string | undefined;
  readonly #registry: ServiceRegistry;
  readonly #options: ResolvedServiceClientOptions;
  readonly #balancer: Balancer<Endpoint>;
  readonly #transport: Transport;
  #budget: RetryBudget | undefined;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #now: () => number;
  /** The deadlines of the tries in flight, on one timer. */
  readonly #tryDeadlines: DeadlineQueue;
  readonly #unsubscribe: () => void;
  /** The payload of `retry`, `hedge` and `retryBudgetExhausted`, made once. */
  readonly #vipEvent: ClientVipEvent;
  readonly #command: CommandExecutor | undefined;
  readonly #shadow: ShadowTee | undefined;
  /** The untee'd call, bound once, for the shadow to make. */
  readonly #send: (request: ServiceRequest) => Promise<ServiceResponse>;
  #list: readonly RegistryInstance[] | undefined;
  #endpoints = new Map<string, Endpoint>();
  #origins = new Set<string>();
  #closing: Promise<void> | undefined;
  #requests = 0;
  #retries = 0;
  #hedges = 0;
  #errors = 0;
  #budgetExhausted = 0;

  /** Use {@link createServiceClient}. */
  constructor(options: CreateServiceClientOptions) {
    super();
    if (typeof options !== 'object' || options === null) invalidOption('options', 'an object', options);
    const { registry, vip, zone } = options;
    if (typeof registry !== 'object' || registry === null || typeof registry.upInstancesByVip !== 'function' || typeof registry.onChange !== 'function') {
      invalidOption('registry', 'a ServiceRegistry', registry);
    }
    if (typeof vip !== 'string' || vip.trim() === '') invalidOption('vip', 'a non-empty string', vip);
    this.#options = resolveServiceClientOptions(options, zone);
    this.vip = vip;
    this.zone = this.#options.balancer.zoneAffinity.zone ?? zone;
    this.#registry = registry;
    this.#vipEvent = Object.freeze({ vip });
    if (options.metrics !== undefined) reportTo(this, options.metrics);
    this.#command =
      options.commands === undefined || options.breaker === false
        ? undefined
        : options.commands.executor(`client:${vip}`, { timeoutMs: 0, maxConcurrent: 1000, isBadRequest: isNotTheDependency, ...options.breaker });
    this.#clock = this.#options.clock;
    this.#tryDeadlines = new DeadlineQueue(this.#clock);
    this.#logger = this.#options.logger;
    this.#shadow = this.#options.shadow;
    this.#send = (request) => this.#measured(request);
    const clock = this.#clock;
    this.#now = clock === systemClock ? preciseNow : () => clock.now();
    this.#balancer = new Balancer<Endpoint>(this.#options.balancer);
    this.#balancer.onEject = (state) => this.#ejected(state);
    this.#balancer.onInterval = () => this.#reportInstances();
    const budget = this.#options.retries?.budget;
    this.#budget = budget === undefined ? undefined : new RetryBudget(budget, this.#now());
    this.#transport =
      this.#options.transport === undefined
        ? new UndiciTransport({
            connectTimeoutMs: this.#options.connectTimeoutMs,
            bodyTimeoutMs: this.#options.timeoutMs,
            connections: this.#options.connections,
            keepAliveTimeoutMs: this.#options.keepAliveTimeoutMs,
            clock,
            now: this.#now,
          })
        : new FetchTransport(this.#options.transport);
    this.#sync();
    this.#unsubscribe = registry.onChange(() => this.#sync());
  }

  /** The client's command (`client:<vip>`), or undefined without a breaker. */
  get command(): CommandExecutor | undefined {
    return this.#command;
  }

  /** The rule in use. */
  get rule(): BalancerRule {
    return this.#balancer.rule;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Switches the balancing rule, live; latency, load and ejection state are kept.
   * @throws KaryonError `ERR_INVALID_OPTION` for an unknown rule name
   */
  setRule(rule: BalancerRuleName | BalancerRule): void {
    this.#balancer.setRule(rule);
    this.#logger.info('balancer rule changed', { vip: this.vip, rule: this.#balancer.rule.name });
  }

  /**
   * Replaces the retry budget, live (a dynamic configuration binds `retry.*` here); the new budget starts from
   * its reserve. Ignored by a client made with `retries: false`.
   * @throws KaryonError `ERR_INVALID_OPTION` for a bad option
   */
  setRetryBudget(options: RetryBudgetOptions): void {
    const resolved = resolveRetryBudgetOptions(options);
    if (this.#options.retries === undefined) return;
    this.#budget = new RetryBudget(resolved, this.#now());
  }

  /**
   * Sends a request to one instance of the VIP, retrying and hedging as configured, and resolves with the
   * first acceptable response (read or dump its body). A 5xx that cannot be retried any more is resolved,
   * not thrown, as HTTP clients do.
   *
   * @throws KaryonError `ERR_NO_INSTANCES` when the VIP has no instance to call, `ERR_UPSTREAM` when no
   * instance answered, `ERR_REQUEST_TIMEOUT` / `ERR_DEADLINE_EXCEEDED` when answers came too late,
   * `ERR_RETRY_BUDGET_EXHAUSTED` when a retry was needed but the budget was spent; the signal's reason when
   * aborted.
   *
   * @example
   * ```ts
   * const res = await greeter.request({ path: '/hello' });
   * const body = await res.body.json();
   * ```
   */
  request(request: ServiceRequest): Promise<ServiceResponse> {
    const shadow = this.#shadow;
    return shadow === undefined ? this.#measured(request) : shadow.teeCall(request, this.#send);
  }

  /** The call, emitted as a `call` event when someone listens (the client metrics do). */
  #measured(request: ServiceRequest): Promise<ServiceResponse> {
    if (this.listenerCount('call') === 0) return this.#guarded(request);
    const start = this.#now();
    return this.#guarded(request).then(
      (response) => {
        const statusCode = response.statusCode;
        this.emit('call', { vip: this.vip, outcome: statusCode >= 500 ? 'error_status' : 'success', statusCode, durationMs: this.#now() - start });
        return response;
      },
      (error: unknown) => {
        const code = (error as Partial<KaryonError>).code;
        const outcome: ClientCallOutcome =
          code === undefined ? 'aborted' : code === 'ERR_REQUEST_TIMEOUT' || code === 'ERR_DEADLINE_EXCEEDED' ? 'timeout' : 'failure';
        this.emit('call', { vip: this.vip, outcome, statusCode: undefined, durationMs: this.#now() - start });
        throw error;
      },
    );
  }

  /** The call through the client's command, when it has one. */
  #guarded(request: ServiceRequest): Promise<ServiceResponse> {
    const command = this.#command;
    if (command === undefined) return this.#call(request, request.signal);
    // Without a command timeout (the default) the command never gives up on a call before it ends.
    if (command.settings.timeoutMs === 0) return command.run(() => this.#call(request, request.signal), ERROR_STATUS);
    // With one, a call it gives up on (timeout, registry closed) is aborted rather than left running: the call
    // gets a signal of its own, following the caller's until the response body is read.
    const callSignal = new TrySignal();
    const unfollow = request.signal === undefined ? undefined : follow(request.signal, callSignal);
    const call = command.run(() => this.#call(request, callSignal), {
      isFailure: ERROR_STATUS.isFailure,
      onAbandon: (reason) => callSignal.abort(reason),
    });
    return unfollow === undefined
      ? call
      : call.then(
          (response) => {
            whenBodyCloses(response.body, unfollow);
            return response;
          },
          (error: unknown) => {
            unfollow();
            throw error;
          },
        );
  }

  async #call(request: ServiceRequest, signal: ParentSignal | undefined): Promise<ServiceResponse> {
    if (this.#closing !== undefined) throw new KaryonError('ERR_INVALID_STATE', `the client of '${this.vip}' is closed`, { service: this.vip });
    const path = request.path;
    if (typeof path !== 'string' || path.charCodeAt(0) !== 47 /* '/' */) invalidOption('path', "a string starting with '/'", path);
    const method = request.method ?? 'GET';
    if (method !== 'GET' && (typeof method !== 'string' || !METHOD_TOKEN.test(method))) invalidOption('method', 'an HTTP method token', method);
    if (signal?.aborted === true) throw callerCancelled(signal);
    const start = this.#now();
    this.#requests++;
    this.#budget?.deposit(start);
    const perTryMs = request.timeoutMs ?? this.#options.timeoutMs;
    const deadlineAt = start + (request.deadlineMs ?? this.#options.deadlineMs);
    const idempotent = request.idempotent ?? IDEMPOTENT_METHODS.has(method);
    const body = request.body;
    const replayable = body === undefined || typeof body === 'string' || body instanceof Uint8Array;
    const hedging = idempotent && replayable && request.hedge !== false ? this.#options.hedging : undefined;
    const retries = replayable ? this.#options.retries : undefined;
    // Only a client that will take a refused request elsewhere asks the out-of-service guard to refuse it.
    const headers = retries !== undefined && retries.maxRetries > 0 ? { ...request.headers, [RETRIES_ELSEWHERE_HEADER]: '1' } : request.headers;

    let now = start;
    let state = this.#balancer.pick(now);
    if (state === undefined) {
      this.#errors++;
      throw new KaryonError('ERR_NO_INSTANCES', `no instance of '${this.vip}' is available`, { service: this.vip });
    }
    let tries = 0;
    let retried = 0;
    for (;;) {
      const remaining = deadlineAt - now;
      const timeoutMs = remaining < perTryMs ? Math.max(1, remaining) : perTryMs;
      const result =
        hedging === undefined
          ? await this.#try(state, method, path, headers, body, signal, timeoutMs, now)
          : await this.#hedged(state, method, path, headers, body, signal, timeoutMs, now, hedging);
      tries += result.tries;
      if (result instanceof ServiceResponse) {
        result.tries = tries;
        return result;
      }
      if (result.reason === 'aborted') {
        this.#errors++;
        throw callerCancelled(signal);
      }
      now = this.#now();
      if (now >= deadlineAt || (result.reason === 'timeout' && remaining <= perTryMs)) return this.#give(result, tries, 'ERR_DEADLINE_EXCEEDED');
      if (retries === undefined || retried >= retries.maxRetries || result.reason === 'other' || !(idempotent || nothingProcessed(result.reason, result.sent))) {
        return this.#give(result, tries, undefined);
      }
      // Never the same instance twice in a row: with no other instance, the last answer stands.
      const next = this.#balancer.pick(now, result.state);
      if (next === undefined) return this.#give(result, tries, undefined);
      if (this.#budget !== undefined && !this.#budget.tryWithdraw(now)) {
        this.#budgetExhausted++;
        this.emit('retryBudgetExhausted', this.#vipEvent);
        return this.#give(result, tries, 'ERR_RETRY_BUDGET_EXHAUSTED');
      }
      if (result.response !== undefined) result.response.body.dump().catch(noop);
      retried++;
      this.#retries++;
      this.emit('retry', this.#vipEvent);
      state = next;
    }
  }

  /**
   * The same call as {@link ServiceClient.request}, shaped as WHATWG `fetch`: `init` as `RequestInit` (plus
   * `idempotent`), resolving with a `Response`.
   *
   * @throws KaryonError as {@link ServiceClient.request} does
   * @example
   * ```ts
   * const res = await greeter.fetch('/hello', { headers: { accept: 'application/json' } });
   * if (res.ok) console.log(await res.json());
   * ```
   */
  async fetch(path: string, init: ServiceFetchInit = {}): Promise<Response> {
    const request = await toServiceRequest(path, init);
    const response = await this.request(request);
    return toWebResponse(response, request.method);
  }

  /** Balancer and instance statistics, as the admin API shows them. */
  stats(): ServiceClientStats {
    const now = this.#now();
    const scope = this.#balancer.scope(now);
    const instances: InstanceStats[] = [];
    const seen = new Set<string>();
    const balancer = this.#balancer;
    for (const state of balancer.states) {
      seen.add(state.id);
      instances.push(instanceStats(state, now, balancer.traffic(state), balancer.rule.cost?.(state, now)));
    }
    for (const instance of this.#registry.instancesByVip(this.vip)) {
      if (seen.has(instance.instanceId)) continue;
      instances.push(outsideStats(instance, this.#options.address));
    }
    return {
      vip: this.vip,
      zone: this.zone,
      rule: this.#balancer.rule.name,
      scope,
      requests: this.#requests,
      retries: this.#retries,
      hedges: this.#hedges,
      errors: this.#errors,
      budgetExhausted: this.#budgetExhausted,
      retryBudget: this.#budget === undefined ? null : this.#budget.available(now),
      instances,
    };
  }

  /**
   * Stops following the registry and closes every connection pool; requests in flight get `closeTimeoutMs`
   * to finish. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#unsubscribe();
      this.#closing = this.#transport.close(this.#options.closeTimeoutMs).finally(() => this.#tryDeadlines.drain());
    }
    return this.#closing;
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Follows the registry: keeps states of instances that stay, releases pools of those that left. */
  #sync(): void {
    const list = this.#registry.upInstancesByVip(this.vip);
    if (list === this.#list) return;
    this.#list = list;
    const endpoints = new Map<string, Endpoint>();
    const targets: Endpoint[] = [];
    for (const instance of list) {
      const previous = this.#endpoints.get(instance.instanceId);
      const endpoint = previous?.instance === instance ? previous : endpointOf(instance, this.#options.address);
      endpoints.set(instance.instanceId, endpoint);
      targets.push(endpoint);
    }
    this.#endpoints = endpoints;
    this.#balancer.update(targets, this.#now());
    const origins = new Set<string>();
    for (const endpoint of targets) origins.add(endpoint.origin);
    for (const origin of this.#origins) if (!origins.has(origin)) this.#transport.release(origin);
    this.#origins = origins;
  }

  /**
   * One try on one instance; never throws. The try has its own signal: aborted by its timeout (on the
   * client's clock, so timeouts are exact and testable) or by the parent (the caller's signal, or a hedge's).
   */
  async #try(
    state: InstanceState<Endpoint>,
    method: string,
    path: string,
    headers: ServiceRequest['headers'],
    body: RequestBody | undefined,
    parent: ParentSignal | undefined,
    timeoutMs: number,
    start: number,
    signal: TrySignal = new TrySignal(),
  ): Promise<ServiceResponse | TryFailure> {
    const deadlines = this.#tryDeadlines;
    signal.timeoutMs = timeoutMs;
    signal.deadline = this.#clock.now() + timeoutMs;
    deadlines.add(signal);
    const unfollow = parent === undefined ? undefined : follow(parent, signal);
    this.#balancer.begin(state);
    let response: TransportResponse;
    try {
      response = await this.#transport.send({ origin: state.target.origin, method, path, headers, body, signal, timeoutMs });
    } catch (error) {
      deadlines.remove(signal);
      unfollow?.();
      return this.#failed(state, error, signal, signal.timedOut, start);
    }
    deadlines.remove(signal);
    // The caller's signal keeps cancelling while the body is read (undici destroys the body on abort).
    if (unfollow !== undefined) whenBodyCloses(response.body, unfollow);
    const now = this.#now();
    const status = response.statusCode;
    if (status < 500) {
      // From when the request left: connection set-up is not the instance's latency.
      this.#balancer.succeed(state, now - (signal.sentAt > 0 ? signal.sentAt : start), now);
      return new ServiceResponse(response, state.id);
    }
    if (status === 503 && response.headers[OUT_OF_SERVICE_HEADER] !== undefined) {
      // The instance is leaving and did not process the request: skip it now, before the registry says so.
      this.#balancer.drain(state, now);
      this.#logger.info('instance answered out of service; not sending there', {
        vip: this.vip,
        instanceId: state.id,
        status: response.headers[OUT_OF_SERVICE_HEADER],
      });
      return new TryFailure(state, 'out-of-service', undefined, true, response);
    }
    this.#recordFailure(state, FailureKind.RESPONSE, now - start, now);
    if (this.#options.retries?.retryOnStatus.has(status) === true) return new TryFailure(state, 'status', undefined, true, response);
    return new ServiceResponse(response, state.id);
  }

  #failed(state: InstanceState<Endpoint>, error: unknown, signal: TrySignal, timedOut: boolean, start: number): TryFailure {
    const now = this.#now();
    const sent = this.#transport.tracksSending === true ? signal.sent : undefined;
    if (signal.aborted && !timedOut) {
      this.#balancer.abandon(state, now - start, now);
      return new TryFailure(state, 'aborted', error, sent);
    }
    const reason = timedOut ? 'timeout' : classifyError(error);
    switch (reason) {
      case 'connect':
        this.#recordFailure(state, FailureKind.CONNECT, now - start, now);
        break;
      case 'reset':
      case 'timeout':
        this.#recordFailure(state, FailureKind.RESPONSE, now - start, now);
        break;
      default:
        // Not the instance's fault (its pool closed as it left, or the request itself was bad).
        this.#balancer.abandon(state, 0, now);
    }
    return new TryFailure(state, reason, error, sent);
  }

  #recordFailure(state: InstanceState<Endpoint>, kind: FailureKind, elapsedMs: number, now: number): void {
    const before = state.mode;
    this.#balancer.fail(state, kind, elapsedMs, now);
    if (state.mode === InstanceMode.EJECTED && before !== InstanceMode.EJECTED) this.#ejected(state);
  }

  #ejected(state: InstanceState<Endpoint>): void {
    this.emit('ejection', { vip: this.vip, instanceId: state.id });
    this.#logger.warn('instance ejected', {
      vip: this.vip,
      instanceId: state.id,
      reason: state.ejectionReason,
      until: new Date(state.excludedUntil).toISOString(),
      timesEjected: state.timesEjected,
    });
  }

  /** Each success-rate interval: every instance's share, error rate and cost, as `instanceTraffic` events. */
  #reportInstances(): void {
    if (this.listenerCount('instanceTraffic') === 0) return;
    const now = this.#now();
    const balancer = this.#balancer;
    for (const state of balancer.states) {
      const { share, errorRate } = balancer.traffic(state);
      this.emit('instanceTraffic', { vip: this.vip, instanceId: state.id, share, errorRate, cost: balancer.rule.cost?.(state, now) ?? Number.NaN });
    }
  }

  /**
   * A try with a hedge: when the first instance has not answered after its latency quantile, a second copy
   * goes to another instance (if the budget allows); the first acceptable answer wins and the other try is
   * aborted. Resolves with a failure only when every try failed.
   */
  #hedged(
    first: InstanceState<Endpoint>,
    method: string,
    path: string,
    headers: ServiceRequest['headers'],
    body: RequestBody | undefined,
    signal: ParentSignal | undefined,
    timeoutMs: number,
    start: number,
    hedging: NonNullable<ResolvedServiceClientOptions['hedging']>,
  ): Promise<ServiceResponse | TryFailure> {
    const quantile = first.histogram.quantile(hedging.quantile, start, hedging.minSamples);
    const delayMs = quantile === undefined ? undefined : Math.max(quantile, hedging.minDelayMs);
    if (delayMs === undefined || delayMs >= timeoutMs) return this.#try(first, method, path, headers, body, signal, timeoutMs, start);

    return new Promise((resolve) => {
      // One signal per copy, to abort the loser; each copy follows the caller's signal by itself.
      const copies: TrySignal[] = [];
      let settled = 0;
      let done = false;
      let failure: TryFailure | undefined;
      let timer: ClockTimer | undefined = undefined;
      const finish = (result: ServiceResponse | TryFailure): void => {
        done = true;
        timer?.clear();
        result.tries = copies.length;
        resolve(result);
      };
      const settle = (copy: TrySignal, result: ServiceResponse | TryFailure): void => {
        settled++;
        if (done) {
          // The loser of a race that finished anyway: free its connection.
          if (result instanceof ServiceResponse) result.body.dump().catch(noop);
          else if (result.response !== undefined) result.response.body.dump().catch(noop);
          return;
        }
        if (result instanceof ServiceResponse) {
          for (const other of copies) if (other !== copy) other.abort(hedgeLost());
          finish(result);
          return;
        }
        if (failure?.response !== undefined) failure.response.body.dump().catch(noop);
        failure = result;
        // Every copy sent so far failed: back to the retry loop (a hedge not yet due is not sent).
        if (settled === copies.length) finish(failure);
      };
      const launch = (state: InstanceState<Endpoint>, at: number): void => {
        const copy = new TrySignal();
        copies.push(copy);
        const remaining = Math.max(1, timeoutMs - (at - start));
        void this.#try(state, method, path, headers, body, signal, remaining, at, copy).then((result) => settle(copy, result));
      };
      launch(first, start);
      timer = this.#clock.setTimeout(() => {
        if (done) return;
        const now = this.#now();
        const second = this.#balancer.pick(now, first);
        if (second === undefined) return;
        if (this.#budget !== undefined && !this.#budget.tryWithdraw(now)) {
          this.#budgetExhausted++;
          this.emit('retryBudgetExhausted', this.#vipEvent);
          return;
        }
        this.#hedges++;
        this.emit('hedge', this.#vipEvent);
        launch(second, now);
      }, delayMs);
    });
  }

  /**
   * Ends a call on a failed try: a response is handed over as it is; otherwise the error says why no answer
   * came, and why there was no further retry when `override` says so.
   */
  #give(failure: TryFailure, tries: number, override: 'ERR_DEADLINE_EXCEEDED' | 'ERR_RETRY_BUDGET_EXHAUSTED' | undefined): ServiceResponse {
    if (failure.response !== undefined) {
      const response = new ServiceResponse(failure.response, failure.state.id);
      response.tries = tries;
      return response;
    }
    this.#errors++;
    const instanceId = failure.state.id;
    const what = `${failureWords[failure.reason]} instance '${instanceId}' of '${this.vip}'`;
    const detail = failure.error === undefined ? '' : `: ${errorMessage(failure.error)}`;
    const fields = { service: this.vip, instanceId, cause: failure.error };
    if (override === 'ERR_DEADLINE_EXCEEDED') {
      throw new KaryonError('ERR_DEADLINE_EXCEEDED', `deadline exceeded after ${plural(tries)}; last: ${what}${detail}`, fields);
    }
    if (override === 'ERR_RETRY_BUDGET_EXHAUSTED') {
      throw new KaryonError('ERR_RETRY_BUDGET_EXHAUSTED', `retry budget of the client of '${this.vip}' is spent; last: ${what}${detail}`, fields);
    }
    if (failure.reason === 'timeout') throw new KaryonError('ERR_REQUEST_TIMEOUT', `${what} after ${plural(tries)}${detail}`, fields);
    if (failure.reason === 'other' && refusedBeforeSending(failure.error)) {
      // The request itself was malformed (a path with spaces, an `expect` header): the caller's mistake, which
      // the breaker does not count against the dependency.
      throw new KaryonError('ERR_INVALID_OPTION', `request to '${this.vip}' refused before it was sent${detail}`, { ...fields, retryable: false });
    }
    throw new KaryonError('ERR_UPSTREAM', `${what} after ${plural(tries)}${detail}`, {
      ...fields,
      ...(failure.reason === 'other' && { retryable: false }),
    });
  }
}

function instanceStats(state: InstanceState<Endpoint>, now: number, traffic: { share: number; errorRate: number }, cost: number | undefined): InstanceStats {
  const instance = state.target.instance;
  const excluded = state.mode === InstanceMode.EJECTED || state.mode === InstanceMode.DRAINING;
  return {
    instanceId: state.id,
    hostName: instance.hostName,
    origin: state.target.origin,
    zone: state.zone,
    status: instance.status,
    state: state.mode,
    candidate: state.slot >= 0,
    ewmaMs: round(state.latencyMs(now)),
    averageMs: round(state.averageLatencyMs),
    p95Ms: roundOrNull(state.histogram.quantile(0.95, now)),
    pending: state.pending,
    ejectedUntil: excluded ? state.excludedUntil : null,
    timesEjected: state.timesEjected,
    consecutiveFailures: state.consecutiveFailures,
    requests: state.requests,
    successes: state.successes,
    failures: state.failures,
    share: round(traffic.share),
    errorRate: round(traffic.errorRate),
    cost: roundOrNull(cost),
    ejectionReason: state.ejectionReason ?? null,
  };
}

function outsideStats(instance: RegistryInstance, address: 'ip' | 'hostname'): InstanceStats {
  return {
    instanceId: instance.instanceId,
    hostName: instance.hostName,
    origin: endpointOf(instance, address).origin,
    zone: instance.zone,
    status: instance.status,
    state: 'not-up',
    candidate: false,
    ewmaMs: null,
    averageMs: null,
    p95Ms: null,
    pending: 0,
    ejectedUntil: null,
    timesEjected: 0,
    consecutiveFailures: 0,
    requests: 0,
    successes: 0,
    failures: 0,
    share: 0,
    errorRate: 0,
    cost: null,
    ejectionReason: null,
  };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function roundOrNull(ms: number | undefined): number | null {
  return ms === undefined ? null : round(ms);
}

/**
 * Creates a client of one service, balanced over the UP instances of `vip` in `registry`.
 *
 * @throws KaryonError `ERR_INVALID_OPTION` naming a wrong option
 * @example
 * ```ts
 * const greeter = createServiceClient({ registry, vip: 'greeter', zone: 'us-east-1a', rule: 'p2c-ewma' });
 * const res = await greeter.request({ path: '/hello' });
 * console.log(res.statusCode, await res.body.text());
 * await greeter.close();
 * ```
 */
export function createServiceClient(options: CreateServiceClientOptions): ServiceClient {
  return new ServiceClient(options);
}

/** The deprecated `metrics` option: the client's own events, reported to the sink given. */
function reportTo(client: ServiceClient, metrics: ClientMetrics): void {
  client.on('call', (e) => metrics.request(e.vip, e.outcome, statusClass(e.statusCode), e.durationMs));
  client.on('retry', (e) => metrics.retry(e.vip));
  client.on('retryBudgetExhausted', (e) => metrics.retryBudgetExhausted(e.vip));
  client.on('hedge', (e) => metrics.hedge(e.vip));
  client.on('ejection', (e) => metrics.ejection(e.vip));
  client.on('instanceTraffic', (e) => metrics.instance?.(e.vip, e.instanceId, e.share, e.errorRate, e.cost));
}
