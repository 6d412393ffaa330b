import type { ClientMetrics } from '../common/ServiceClientEvents.js';
import type { ShadowMetrics } from '../common/ShadowTrafficEvents.js';
import type { CounterHandle, GaugeHandle, Metrics, MetricType, TimerHandle } from './types.js';

// Declared beside the client's and the shadow traffic's events, which they record; re-exported with the other
// families.
export type { ClientMetrics, ShadowMetrics };
export { statusClass } from '../common/ServiceClientEvents.js';

/** One metric the library records by itself; `docs/metrics.md` lists the same, and a test keeps them in step. */
export interface BuiltinMetric {
  /** The statsd name (after the configured `prefix`). Prometheus: dots become `_`, see `docs/metrics.md`. */
  readonly name: string;
  /** The metric type. */
  readonly type: MetricType;
  /** What a value counts or measures. */
  readonly unit: string;
  /** The tags every record carries. */
  readonly tags: readonly string[];
  /** One sentence: what it tells an operator. Also the Prometheus `# HELP`. */
  readonly description: string;
}

function metric(name: string, type: MetricType, unit: string, tags: readonly string[], description: string): BuiltinMetric {
  return Object.freeze({ name, type, unit, tags: Object.freeze([...tags]), description });
}

/** Every built-in metric, by the key its factory uses. */
export const builtinMetrics = Object.freeze({
  /** The `karyon.lifecycle.state` gauge. */
  lifecycleState: metric('karyon.lifecycle.state', 'gauge', '1 for the current state, 0 for states left', ['state'], 'Lifecycle state of the service.'),
  /** The `karyon.lifecycle.transitions` counter. */
  lifecycleTransitions: metric('karyon.lifecycle.transitions', 'counter', 'transitions', ['from', 'to'], 'Lifecycle state transitions.'),
  /** The `karyon.lifecycle.initialize.duration` timer. */
  lifecycleInitializeDuration: metric('karyon.lifecycle.initialize.duration', 'timer', 'ms', [], 'Time from start() until every initialize hook finished.'),
  /** The `karyon.lifecycle.shutdown.duration` timer. */
  lifecycleShutdownDuration: metric('karyon.lifecycle.shutdown.duration', 'timer', 'ms', [], 'Time stop() took: deregistration, drain and shutdown hooks.'),
  /** The `karyon.health.check.duration` timer. */
  healthCheckDuration: metric('karyon.health.check.duration', 'timer', 'ms', ['check', 'result'], 'Duration of one health check run.'),
  /** The `karyon.health.check.results` counter. */
  healthCheckResults: metric('karyon.health.check.results', 'counter', 'runs', ['check', 'result'], 'Health check runs by result.'),
  /** The `karyon.registry.heartbeat.latency` timer. */
  registryHeartbeatLatency: metric('karyon.registry.heartbeat.latency', 'timer', 'ms', ['outcome'], 'Latency of lease renewals (heartbeats) to the registry.'),
  /** The `karyon.registry.heartbeat.failures` counter. */
  registryHeartbeatFailures: metric('karyon.registry.heartbeat.failures', 'counter', 'heartbeats', ['reason'], 'Failed heartbeats by reason.'),
  /** The `karyon.registry.fetch.latency` timer. */
  registryFetchLatency: metric('karyon.registry.fetch.latency', 'timer', 'ms', ['kind', 'outcome'], 'Latency of registry fetches, full or delta.'),
  /** The `karyon.registry.fetches` counter. */
  registryFetches: metric('karyon.registry.fetches', 'counter', 'fetches', ['kind', 'outcome'], 'Registry fetches, full or delta, by outcome.'),
  /** The `karyon.registry.instances` gauge. */
  registryInstances: metric('karyon.registry.instances', 'gauge', 'instances', ['status'], 'Instances in the local registry cache by status.'),
  /** The `karyon.registry.hash_mismatches` counter. */
  registryHashMismatches: metric('karyon.registry.hash_mismatches', 'counter', 'deltas', [], 'Delta fetches whose apps hashcode disagreed, forcing a full fetch.'),
  /** The `karyon.registry.protected_apps` gauge. */
  registryProtectedApps: metric('karyon.registry.protected_apps', 'gauge', 'apps', [], 'Applications whose last good view is kept because the registry lists too few of their instances.'),
  /** The `karyon.client.requests` counter. */
  clientRequests: metric('karyon.client.requests', 'counter', 'requests', ['target', 'outcome', 'status_class'], 'Client requests by target, outcome and status class.'),
  /** The `karyon.client.latency` timer. */
  clientLatency: metric('karyon.client.latency', 'timer', 'ms', ['target', 'outcome'], 'Client request latency, each attempt included.'),
  /** The `karyon.client.retries` counter. */
  clientRetries: metric('karyon.client.retries', 'counter', 'retries', ['target'], 'Client retries sent.'),
  /** The `karyon.client.retry_budget.exhausted` counter. */
  clientRetryBudgetExhausted: metric('karyon.client.retry_budget.exhausted', 'counter', 'retries', ['target'], 'Retries not sent because the retry budget was spent.'),
  /** The `karyon.client.hedges` counter. */
  clientHedges: metric('karyon.client.hedges', 'counter', 'requests', ['target'], 'Hedged requests sent.'),
  /** The `karyon.client.ejections` counter. */
  clientEjections: metric('karyon.client.ejections', 'counter', 'ejections', ['target'], 'Instances ejected from balancing as outliers.'),
  /** The `karyon.client.instance.share` gauge. */
  clientInstanceShare: metric('karyon.client.instance.share', 'gauge', 'fraction', ['target', 'instance'], "An instance's share of the client's tries over the last interval or two."),
  /** The `karyon.client.instance.error_rate` gauge. */
  clientInstanceErrorRate: metric('karyon.client.instance.error_rate', 'gauge', 'fraction', ['target', 'instance'], "Share of an instance's tries that failed over the last interval or two."),
  /** The `karyon.client.instance.cost` gauge. */
  clientInstanceCost: metric('karyon.client.instance.cost', 'gauge', 'rule cost (p2c-ewma: ms)', ['target', 'instance'], 'What the balancing rule thinks one more request to the instance costs.'),
  /** The `karyon.breaker.state` gauge. */
  breakerState: metric('karyon.breaker.state', 'gauge', '1 for the current state, 0 for states left', ['breaker', 'state'], 'Circuit breaker state.'),
  /** The `karyon.breaker.calls` counter. */
  breakerCalls: metric('karyon.breaker.calls', 'counter', 'calls', ['breaker', 'outcome'], 'Calls through a circuit breaker by outcome.'),
  /** The `karyon.config.reloads` counter. */
  configReloads: metric('karyon.config.reloads', 'counter', 'reloads', ['source'], 'Dynamic configuration reloads applied.'),
  /** The `karyon.config.rejections` counter. */
  configRejections: metric('karyon.config.rejections', 'counter', 'reloads', ['source'], 'Dynamic configuration reloads rejected by validation.'),
  /** The `karyon.admin.mutations` counter. */
  adminMutations: metric('karyon.admin.mutations', 'counter', 'requests', ['action', 'outcome', 'actor'], 'Admin mutation attempts by action, outcome (ok, denied, failed) and actor.'),
  /** The `karyon.shadow.copies` counter. */
  shadowCopies: metric('karyon.shadow.copies', 'counter', 'copies', ['target', 'outcome'], 'Shadow copies by target and outcome: sent, dropped, failed or aborted.'),
  /** The `karyon.shadow.skipped` counter. */
  shadowSkipped: metric('karyon.shadow.skipped', 'counter', 'requests', ['reason'], 'Sampled requests not copied to the shadow, by reason.'),
  /** The `karyon.shadow.comparisons` counter. */
  shadowComparisons: metric('karyon.shadow.comparisons', 'counter', 'comparisons', ['target', 'result'], 'Shadow answers compared with the primary answer, by result.'),
  /** The `karyon.shadow.latency` timer. */
  shadowLatency: metric('karyon.shadow.latency', 'timer', 'ms', ['target'], 'Time until a shadow copy got its response headers.'),
} satisfies Record<string, BuiltinMetric>);

/** Keys of {@link builtinMetrics}. */
export type BuiltinMetricKey = keyof typeof builtinMetrics;

/** Handles per tag value are kept up to this many; past it they are built per call (tags out of control). */
const maxKeys = 1024;

function memo<H>(make: (key: string) => H): (key: string) => H {
  const cache = new Map<string, H>();
  return (key) => {
    let handle = cache.get(key);
    if (handle === undefined) {
      handle = make(key);
      if (cache.size < maxKeys) cache.set(key, handle);
    }
    return handle;
  };
}

function memo2<H>(make: (a: string, b: string) => H): (a: string, b: string) => H {
  const outer = memo((a) => memo((b) => make(a, b)));
  return (a, b) => outer(a)(b);
}

function memo3<H>(make: (a: string, b: string, c: string) => H): (a: string, b: string, c: string) => H {
  const outer = memo((a) => memo2((b, c) => make(a, b, c)));
  return (a, b, c) => outer(a)(b, c);
}

type Key = BuiltinMetricKey;

function counter(metrics: Metrics, key: Key, tags?: Readonly<Record<string, string>>): CounterHandle {
  const def = builtinMetrics[key];
  return metrics.counter(def.name, tags, { help: def.description });
}

function timer(metrics: Metrics, key: Key, tags?: Readonly<Record<string, string>>): TimerHandle {
  const def = builtinMetrics[key];
  return metrics.timer(def.name, tags, { help: def.description });
}

function gauge(metrics: Metrics, key: Key, tags?: Readonly<Record<string, string>>): GaugeHandle {
  const def = builtinMetrics[key];
  return metrics.gauge(def.name, tags, { help: def.description });
}

/** Sets one series of a per-state gauge to 1 and the previous one to 0. */
function stateFlag(handleOf: (state: string) => GaugeHandle): (state: string) => void {
  let current: string | undefined;
  return (state) => {
    if (current === state) return;
    if (current !== undefined) handleOf(current).set(0);
    handleOf(state).set(1);
    current = state;
  };
}

/** What the lifecycle records. */
export interface LifecycleMetrics {
  /** Sets the state gauge: 1 for `state`, 0 for the state before. */
  state(state: string): void;
  /** Counts a transition and moves the state gauge to `to`. */
  transition(from: string, to: string): void;
  /** Records how long initialization took, in ms. */
  initializeDuration(ms: number): void;
  /** Records how long `stop()` took, in ms. */
  shutdownDuration(ms: number): void;
}

/** Pre-bound handles for the lifecycle's metrics. */
export function lifecycleMetrics(metrics: Metrics): LifecycleMetrics {
  const state = stateFlag(memo((s) => gauge(metrics, 'lifecycleState', { state: s })));
  const transitions = memo2((from, to) => counter(metrics, 'lifecycleTransitions', { from, to }));
  const initialize = timer(metrics, 'lifecycleInitializeDuration');
  const shutdown = timer(metrics, 'lifecycleShutdownDuration');
  return {
    state,
    transition(from, to) {
      transitions(from, to).increment();
      state(to);
    },
    initializeDuration: (ms) => initialize.record(ms),
    shutdownDuration: (ms) => shutdown.record(ms),
  };
}

/** What health checks record. */
export interface HealthMetrics {
  /** Records one check run: its result (`UP`, `WARN`, `DOWN`) and duration in ms. */
  check(check: string, result: string, durationMs: number): void;
}

/** Pre-bound handles for health check metrics. */
export function healthMetrics(metrics: Metrics): HealthMetrics {
  const durations = memo2((check, result) => timer(metrics, 'healthCheckDuration', { check, result }));
  const results = memo2((check, result) => counter(metrics, 'healthCheckResults', { check, result }));
  return {
    check(check, result, durationMs) {
      durations(check, result).record(durationMs);
      results(check, result).increment();
    },
  };
}

/** What the registry client records. */
export interface RegistryMetrics {
  /** Records a successful heartbeat and its latency in ms. */
  heartbeat(durationMs: number): void;
  /** Records a failed heartbeat, its latency in ms and why (`network`, `not_found`, `http_4xx`, `http_5xx`). */
  heartbeatFailure(durationMs: number, reason: string): void;
  /** Records a registry fetch: `full` or `delta`, `success` or `failure`, and its latency in ms. */
  fetch(kind: string, outcome: string, durationMs: number): void;
  /** Sets the instance counts by status; statuses counted before and absent now are set to 0. */
  instances(countsByStatus: Readonly<Record<string, number>>): void;
  /** Counts a delta whose apps hashcode disagreed with the local cache. */
  hashMismatch(): void;
  /** Sets how many applications keep their last good view against a registry listing too few of them. */
  protectedApps(count: number): void;
}

/** Pre-bound handles for registry metrics. */
export function registryMetrics(metrics: Metrics): RegistryMetrics {
  const heartbeatLatency = memo((outcome) => timer(metrics, 'registryHeartbeatLatency', { outcome }));
  const heartbeatFailures = memo((reason) => counter(metrics, 'registryHeartbeatFailures', { reason }));
  const fetchLatency = memo2((kind, outcome) => timer(metrics, 'registryFetchLatency', { kind, outcome }));
  const fetches = memo2((kind, outcome) => counter(metrics, 'registryFetches', { kind, outcome }));
  const instances = memo((status) => gauge(metrics, 'registryInstances', { status }));
  const hashMismatches = counter(metrics, 'registryHashMismatches');
  const protectedApps = gauge(metrics, 'registryProtectedApps');
  const seen = new Set<string>();
  return {
    heartbeat: (durationMs) => heartbeatLatency('success').record(durationMs),
    heartbeatFailure(durationMs, reason) {
      heartbeatLatency('failure').record(durationMs);
      heartbeatFailures(reason).increment();
    },
    fetch(kind, outcome, durationMs) {
      fetchLatency(kind, outcome).record(durationMs);
      fetches(kind, outcome).increment();
    },
    instances(countsByStatus) {
      for (const status of seen) if (!(status in countsByStatus)) instances(status).set(0);
      for (const [status, count] of Object.entries(countsByStatus)) {
        seen.add(status);
        instances(status).set(count);
      }
    },
    hashMismatch: () => hashMismatches.increment(),
    protectedApps: (count) => protectedApps.set(count),
  };
}

/** Pre-bound handles for service client metrics. */
export function clientMetrics(metrics: Metrics): ClientMetrics {
  const requests = memo3((target, outcome, cls) => counter(metrics, 'clientRequests', { target, outcome, status_class: cls }));
  const latency = memo2((target, outcome) => timer(metrics, 'clientLatency', { target, outcome }));
  const retries = memo((target) => counter(metrics, 'clientRetries', { target }));
  const exhausted = memo((target) => counter(metrics, 'clientRetryBudgetExhausted', { target }));
  const hedges = memo((target) => counter(metrics, 'clientHedges', { target }));
  const ejections = memo((target) => counter(metrics, 'clientEjections', { target }));
  const shares = memo2((target, instance) => gauge(metrics, 'clientInstanceShare', { target, instance }));
  const errorRates = memo2((target, instance) => gauge(metrics, 'clientInstanceErrorRate', { target, instance }));
  const costs = memo2((target, instance) => gauge(metrics, 'clientInstanceCost', { target, instance }));
  return {
    instance(target, instance, share, errorRate, cost) {
      shares(target, instance).set(share);
      errorRates(target, instance).set(errorRate);
      if (Number.isFinite(cost)) costs(target, instance).set(cost);
    },
    request(target, outcome, cls, durationMs) {
      requests(target, outcome, cls).increment();
      latency(target, outcome).record(durationMs);
    },
    retry: (target) => retries(target).increment(),
    retryBudgetExhausted: (target) => exhausted(target).increment(),
    hedge: (target) => hedges(target).increment(),
    ejection: (target) => ejections(target).increment(),
  };
}

/** What circuit breakers record. */
export interface BreakerMetrics {
  /** Sets a breaker's state gauge (`closed`, `open`, `half_open`, `forced_open`, `forced_closed`, `disabled`): 1 for the state, 0 for the one before. */
  state(breaker: string, state: string): void;
  /** Counts a call by outcome (`success`, `failure`, `timeout`, `short_circuited`, `rejected`...). */
  call(breaker: string, outcome: string): void;
}

/** Pre-bound handles for breaker metrics. */
export function breakerMetrics(metrics: Metrics): BreakerMetrics {
  const flags = memo((breaker) => stateFlag(memo((state) => gauge(metrics, 'breakerState', { breaker, state }))));
  const calls = memo2((breaker, outcome) => counter(metrics, 'breakerCalls', { breaker, outcome }));
  return {
    state: (breaker, state) => flags(breaker)(state),
    call: (breaker, outcome) => calls(breaker, outcome).increment(),
  };
}

/** What dynamic configuration records. */
export interface ConfigMetrics {
  /** Counts a reload applied from `source` (`file`, `remote`, `override`...). */
  reload(source: string): void;
  /** Counts a reload from `source` rejected by validation. */
  rejection(source: string): void;
}

/** Pre-bound handles for configuration metrics. */
export function configMetrics(metrics: Metrics): ConfigMetrics {
  const reloads = memo((source) => counter(metrics, 'configReloads', { source }));
  const rejections = memo((source) => counter(metrics, 'configRejections', { source }));
  return {
    reload: (source) => reloads(source).increment(),
    rejection: (source) => rejections(source).increment(),
  };
}

/** What the admin server's audit log records (it fits the admin server's `AuditMetrics` seam). */
export interface AdminMetrics {
  /**
   * Counts one mutation attempt on the admin port: its action (`status.set`, `config.set`...), outcome (`ok`,
   * `denied`, `failed`) and actor (a token's name, `loopback` or `anonymous`).
   */
  mutation(action: string, outcome: string, actor: string): void;
}

/** Pre-bound handles for admin metrics. */
export function adminMetrics(metrics: Metrics): AdminMetrics {
  const mutations = memo3((action, outcome, actor) => counter(metrics, 'adminMutations', { action, outcome, actor }));
  return {
    mutation: (action, outcome, actor) => mutations(action, outcome, actor).increment(),
  };
}

/** Pre-bound handles for shadow traffic metrics. */
export function shadowMetrics(metrics: Metrics): ShadowMetrics {
  const copies = memo2((target, outcome) => counter(metrics, 'shadowCopies', { target, outcome }));
  const skipped = memo((reason) => counter(metrics, 'shadowSkipped', { reason }));
  const comparisons = memo2((target, result) => counter(metrics, 'shadowComparisons', { target, result }));
  const latency = memo((target) => timer(metrics, 'shadowLatency', { target }));
  return {
    copy: (target, outcome) => copies(target, outcome).increment(),
    skipped: (reason) => skipped(reason).increment(),
    comparison: (target, result) => comparisons(target, result).increment(),
    latency: (target, durationMs) => latency(target).record(durationMs),
  };
}
