// The client factory of a service: clients of other services that share its registry, zone, commands and client
// metrics, and follow the live balancer rule and retry budget of its configuration unless given their own.
import type { BalancerRuleName } from '../balancer/BalancerRule.js';
import type { CommandRegistry } from '../breaker/CommandRegistry.js';
import type { Clock } from '../common/Clock.js';
import type { Logger } from '../common/Logger.js';
import { createServiceClient } from '../http/ServiceClient.js';
import type { ServiceClient } from '../http/ServiceClient.js';
import type { ServiceClientOptions } from '../http/ServiceClientOptions.js';
import { bindClientMetrics } from '../metrics/bindClientMetrics.js';
import { clientMetrics } from '../metrics/builtin.js';
import type { ClientMetrics } from '../metrics/builtin.js';
import type { Metrics } from '../metrics/types.js';
import type { ServiceRegistry } from '../registry/types.js';

/** A retry budget as clients take it (`ServiceClient.setRetryBudget`). */
export interface RetryBudget {
  readonly ratio: number;
  readonly minRetriesPerSecond: number;
  readonly ttlMs: number;
}

/** What the clients of a service share. */
export interface ServiceClientsOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly registry: ServiceRegistry;
  readonly zone: string;
  readonly metrics: Metrics;
  readonly commands: CommandRegistry;
}

/** The clients a service made, and how to make more. */
export class ServiceClients {
  readonly #options: ServiceClientsOptions;
  readonly #clients: ServiceClient[] = [];
  /** Clients whose balancer rule follows `balancer.rule` (those made without their own). */
  readonly #ruleFollowers = new WeakSet<ServiceClient>();
  #clientMetrics: ClientMetrics | undefined;
  #defaultRule: string | undefined;
  #retryBudget: RetryBudget | undefined;
  #closed = false;

  constructor(options: ServiceClientsOptions) {
    this.#options = options;
  }

  /** Every client made, oldest first. */
  get all(): readonly ServiceClient[] {
    return this.#clients;
  }

  /** True once `close()` ran: no more clients are made. */
  get closed(): boolean {
    return this.#closed;
  }

  /** A client of `vip`; see `Service.client`. */
  make(vip: string, options: ServiceClientOptions): ServiceClient {
    const o = this.#options;
    this.#clientMetrics ??= clientMetrics(o.metrics);
    const ownRule = options.rule ?? options.balancer;
    const followsRule = ownRule === undefined && this.#defaultRule !== undefined;
    const budget = this.#retryBudget;
    const client = createServiceClient({
      clock: o.clock,
      logger: o.logger,
      ...options,
      ...(followsRule ? { rule: this.#defaultRule as BalancerRuleName } : {}),
      registry: o.registry,
      vip,
      zone: o.zone,
      commands: o.commands,
    });
    bindClientMetrics(client, this.#clientMetrics);
    if (ownRule === undefined) this.#ruleFollowers.add(client);
    if (budget !== undefined && (typeof options.retries !== 'object' || options.retries.budget === undefined)) client.setRetryBudget(budget);
    this.#clients.push(client);
    return client;
  }

  /** The live `balancer.rule`: clients made without their own rule take it, now and when made. */
  setDefaultRule(rule: string): void {
    this.#defaultRule = rule;
    for (const client of this.#clients) if (this.#ruleFollowers.has(client)) client.setRule(rule as BalancerRuleName);
  }

  /** The live retry budget: every client takes it, now and when made. */
  setRetryBudget(budget: RetryBudget): void {
    this.#retryBudget = budget;
    for (const client of this.#clients) client.setRetryBudget(budget);
  }

  /** Closes every client; each failure goes to `fail`. */
  async close(fail: (what: string, error: unknown) => void): Promise<void> {
    this.#closed = true;
    for (const client of this.#clients) {
      try {
        await client.close();
      } catch (error) {
        fail(`closing the client of '${client.vip}'`, error);
      }
    }
  }
}
