// A service as its users see it: the public face of the lifecycle (Lifecycle.ts) and of the parts createService()
// wires around it (createService.ts). Every method delegates; the work is in those files.
import { EventEmitter } from 'eventemitter3';
import type { AdminServer } from '../admin/AdminServer.js';
import type { AdoptedBreaker, OpossumCircuitBreaker } from '../breaker/AdoptedBreaker.js';
import type { Command, CommandOptions } from '../breaker/Command.js';
import type { CommandRegistry } from '../breaker/CommandRegistry.js';
import { componentCommands, registerComponentCommands } from '../breaker/decorators.js';
import { KaryonError } from '../common/KaryonError.js';
import type { CheckChange, HealthMonitor } from '../health/HealthMonitor.js';
import type { HealthCheckFunction, HealthCheckOptions, HealthReport } from '../health/types.js';
import type { ServiceClient } from '../http/ServiceClient.js';
import type { ServiceClientOptions } from '../http/ServiceClientOptions.js';
import type { ShadowTraffic } from '../http/shadow/ShadowTraffic.js';
import type { Metrics } from '../metrics/types.js';
import type { InstanceDescriptor, ServiceRegistry } from '../registry/types.js';
import { componentMembers } from './decorators.js';
import type { HookOptions, LifecycleHook } from './decorators.js';
import type { Lifecycle } from './Lifecycle.js';
import type { LifecycleState } from './LifecycleState.js';
import type { ServiceClients } from './ServiceClients.js';
import type { ResolvedServiceOptions } from './ServiceOptions.js';
import type { StateChange } from './StateMachine.js';

export type { InstanceIdentityOptions, LeaseOptions, LifecycleOptions, ServiceOptions, ServiceShadowOptions } from './ServiceOptions.js';

/** The parts of a service that createService() wires, as `Service` exposes them. */
export interface ServiceParts {
  readonly options: ResolvedServiceOptions;
  readonly lifecycle: Lifecycle;
  readonly registry: ServiceRegistry;
  readonly metrics: Metrics;
  readonly health: HealthMonitor;
  readonly admin: AdminServer | undefined;
  readonly commands: CommandRegistry;
  readonly shadow: ShadowTraffic | undefined;
  readonly clients: ServiceClients;
}

/** The events a {@link Service} emits. */
export interface ServiceEvents {
  /** The lifecycle state changed. */
  stateChange: [change: StateChange];
  /** A health check's status changed. */
  healthChange: [change: CheckChange];
}

/**
 * A service's lifecycle: registration, initialize hooks, health, the operator's status, graceful shutdown
 * and the admin server. Made by {@link createService}.
 *
 * The state is one of {@link LifecycleState}; it changes only through the transition table, each change is
 * told to the registry and emitted as `stateChange`. While running, the state follows two inputs: the
 * readiness verdict of the health checks and the operator's OUT_OF_SERVICE. Readiness critical means DOWN
 * (as Eureka, DOWN wins over an override); otherwise the operator's OUT_OF_SERVICE; otherwise UP.
 */
export class Service extends EventEmitter<ServiceEvents> implements AsyncDisposable {
  readonly #p: ServiceParts;

  /**
   * Made by {@link createService}, which wires the parts.
   * @internal
   */
  constructor(parts: ServiceParts) {
    super();
    this.#p = parts;
  }

  /** The application name. */
  get name(): string {
    return this.#p.options.name;
  }

  /** The lifecycle state. */
  get status(): LifecycleState {
    return this.#p.lifecycle.state;
  }

  /** The recent transitions, oldest first. */
  get transitions(): readonly StateChange[] {
    return this.#p.lifecycle.history;
  }

  /** The registry this service registers in and discovers from. */
  get registry(): ServiceRegistry {
    return this.#p.registry;
  }

  /** What the service registered; undefined before `start()` has bound its port. */
  get instance(): InstanceDescriptor | undefined {
    return this.#p.lifecycle.descriptor;
  }

  /** The instance id; undefined before `start()` has bound its port (unless given as an option). */
  get instanceId(): string | undefined {
    return this.#p.lifecycle.instanceId;
  }

  /** The admin server's base URL, once it listens. */
  get adminUrl(): string | undefined {
    return this.#p.admin?.url;
  }

  /**
   * The service's metrics, tagged with `app`, `instance`, `zone` and `version`; a no-op sink when none were
   * configured. Use it for the application's own metrics.
   */
  get metrics(): Metrics {
    return this.#p.metrics;
  }

  /** The service's commands (Hystrix-like breakers, bulkheads, fallbacks), by name. */
  get commands(): CommandRegistry {
    return this.#p.commands;
  }

  /** The service's shadow traffic (the `shadow` option); give it to clients as `{ shadow: service.shadow }`. */
  get shadow(): ShadowTraffic | undefined {
    return this.#p.shadow;
  }

  /** The admin server, to add routes; undefined when disabled. */
  get admin(): AdminServer | undefined {
    return this.#p.admin;
  }

  /** The state of every health check, without running any. */
  healthReport(): HealthReport {
    return this.#p.health.report();
  }

  /**
   * Adds an initialize hook. Hooks run in order during `start()`, each with a timeout and a signal; the
   * instance is registered as STARTING before they run and becomes UP only when all have succeeded.
   * @throws KaryonError ERR_INVALID_STATE once `start()` has been called.
   */
  onInitialize(fn: LifecycleHook, options: HookOptions = {}): this {
    this.#p.lifecycle.onInitialize(fn, options);
    return this;
  }

  /**
   * Adds a shutdown hook. Shutdown hooks run in reverse order during `stop()`, after the registry was left
   * and requests were drained, each with a timeout; their errors are collected, not fatal. When `start()`
   * fails, the shutdown hooks added after an initialize hook that never finished are skipped: add each
   * shutdown hook right after the initialize hook it undoes.
   * @throws KaryonError ERR_INVALID_STATE once `stop()` has been called.
   */
  onShutdown(fn: LifecycleHook, options: HookOptions = {}): this {
    this.#p.lifecycle.onShutdown(fn, options);
    return this;
  }

  /** Adds a health check; see {@link HealthCheckOptions} for its kind, timeout, caching and hysteresis. */
  addHealthCheck(name: string, fn: HealthCheckFunction, options?: HealthCheckOptions): this {
    this.#p.health.add(name, fn, options);
    return this;
  }

  /**
   * Protects a function as a Hystrix-like command of this service: circuit breaker, semaphore bulkhead,
   * timeout and fallback, with Hystrix's defaults; shown by `GET /breakers` and `GET /hystrix.stream`.
   * Commands of the same name share one breaker.
   * @throws KaryonError ERR_INVALID_OPTION naming a wrong option.
   *
   * @example
   * ```ts
   * const getUser = service.command('getUser', (id: string) => users.get(id), { timeoutMs: 300, fallback: () => guest });
   * const user = await getUser('42');
   * ```
   */
  command<A extends unknown[], R>(name: string, fn: (...args: A) => R, options?: CommandOptions<A, Awaited<R>>): Command<A, Awaited<R>> {
    return this.#p.commands.command(name, fn, options);
  }

  /**
   * Adopts an opossum 9 `CircuitBreaker` the service already has: it shows in `GET /breakers`,
   * `GET /hystrix.stream`, the admin UI and the breaker metrics, and the admin API forces it open or closed,
   * or resets it, through opossum's own `open()` and `close()`. Calls keep going through `breaker.fire()`.
   * @throws KaryonError ERR_INVALID_OPTION when it is not an opossum breaker or its name is taken.
   *
   * @example
   * ```ts
   * const pricing = new CircuitBreaker(callPricing, { name: 'pricing', timeout: 300 });
   * service.adoptBreaker(pricing);
   * ```
   */
  adoptBreaker(breaker: OpossumCircuitBreaker): AdoptedBreaker {
    return this.#p.commands.adopt(breaker);
  }

  /**
   * Adds the hooks, health checks and commands of a component whose methods carry `@initialize()`,
   * `@onShutdown()`, `@healthCheck()` or `@command()`.
   * @throws KaryonError ERR_INVALID_COMPONENT when the object has no decorated method.
   */
  register(component: object): this {
    const members = typeof component === 'object' && component !== null ? componentMembers(component) : [];
    const commands = typeof component === 'object' && component !== null ? componentCommands(component) : [];
    if (members.length === 0 && commands.length === 0) {
      const what = typeof component === 'object' && component !== null ? component.constructor.name : String(component);
      throw new KaryonError('ERR_INVALID_COMPONENT', `${what} has no @initialize(), @onShutdown(), @healthCheck() or @command() method`, {
        service: this.name,
      });
    }
    if (commands.length > 0) registerComponentCommands(this.#p.commands, component);
    for (const member of members) {
      switch (member.kind) {
        case 'initialize':
          this.onInitialize(member.fn, member.options);
          break;
        case 'shutdown':
          this.onShutdown(member.fn, member.options);
          break;
        case 'healthCheck':
          this.addHealthCheck(member.name, member.fn, member.options);
          break;
      }
    }
    return this;
  }

  /**
   * A client of another service, balanced over the UP instances of `vip` as this service's registry sees
   * them, in this service's zone; it reports the built-in client metrics, shows in the admin `GET /instances`,
   * and is closed by `stop()` after the shutdown hooks (which may still use it). Make one per target and keep it.
   * @throws KaryonError ERR_INVALID_OPTION naming a wrong option; ERR_INVALID_STATE once stop() or a failed start has closed the clients (a stopping service makes clients until then).
   *
   * @example
   * ```ts
   * const greeter = service.client('greeter', { rule: 'p2c-ewma' });
   * const res = await greeter.request({ path: '/hello' });
   * ```
   */
  client(vip: string, options: ServiceClientOptions = {}): ServiceClient {
    // Until stop() (or a failed start) closes the clients, a stopping service still calls out: its requests in
    // flight and its shutdown hooks may need a client it has not made yet (the sidecar's proxy does).
    if (this.#p.clients.closed) {
      throw new KaryonError('ERR_INVALID_STATE', `clients cannot be made once the service has closed its clients (${this.status})`, { service: this.name });
    }
    return this.#p.clients.make(vip, options);
  }

  /**
   * Starts the service: admin server and app server listen, the instance registers as STARTING, the
   * initialize hooks run in order, health checks run once, and the instance becomes UP (or DOWN when a
   * readiness check fails, or OUT_OF_SERVICE when an operator said so meanwhile). Calling it again
   * returns the same promise. A service runs once: once `stop()` has been called, `start()` rejects with
   * ERR_INVALID_STATE; make a new service with {@link createService} to run again.
   * @throws KaryonError ERR_HOOK_FAILED or ERR_HOOK_TIMEOUT when a hook fails (the state is then FAILED and
   * what started was unwound); ERR_LISTEN when a port cannot be bound; ERR_START_ABORTED when `stop()` or
   * the signal interrupted it (after `stop()` has finished, so it has deregistered by then); ERR_INVALID_STATE
   * when called after `stop()`.
   */
  start(signal?: AbortSignal): Promise<void> {
    return this.#p.lifecycle.start(signal);
  }

  /**
   * Takes the instance out of traffic: OUT_OF_SERVICE in the registry until `markUp()`, whatever health says.
   * Resolves once the registry has been told (or the attempt failed and is being retried).
   * @throws KaryonError ERR_INVALID_STATE when the service is stopping, stopped or failed.
   */
  async markOutOfService(): Promise<void> {
    await this.#p.lifecycle.setOperatorOutOfService(true);
  }

  /**
   * Clears the operator's OUT_OF_SERVICE: the instance goes UP, or DOWN if a readiness check is critical.
   * @throws KaryonError ERR_INVALID_STATE when the service is stopping, stopped or failed.
   */
  async markUp(): Promise<void> {
    await this.#p.lifecycle.setOperatorOutOfService(false);
  }

  /**
   * Stops gracefully: SHUTTING_DOWN, tell the registry DOWN, wait `deregistrationDelayMs` for clients to
   * notice, drain requests in flight, run shutdown hooks in reverse order, deregister, close, STOPPED.
   * Idempotent; safe during `start()`, which it interrupts.
   * @throws KaryonError ERR_SHUTDOWN (state still STOPPED) when shutdown hooks or the drain failed; its
   * `errors` lists each failure.
   */
  stop(): Promise<void> {
    return this.#p.lifecycle.stop();
  }

  /** Same as `stop()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
