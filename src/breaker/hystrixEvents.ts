import type { LatencyPercentiles } from './CommandMetrics.js';
import type { CommandSnapshot } from './CommandSnapshot.js';

/**
 * One `HystrixCommand` object of `hystrix.stream`, with every field Hystrix Dashboard and Turbine read.
 * Numbers are integers and nothing is null: the dashboard's JavaScript breaks on either.
 */
export interface HystrixCommandEvent {
  /** Always `'HystrixCommand'`. */
  readonly type: 'HystrixCommand';
  /** The command key. */
  readonly name: string;
  /** The group key. */
  readonly group: string;
  /** When the snapshot was taken (epoch ms). */
  readonly currentTime: number;
  /** True when calls are short-circuited (open, half-open or forced open). */
  readonly isCircuitBreakerOpen: boolean;
  /** Error percentage over the rolling window (integer). */
  readonly errorPercentage: number;
  /** Errors over the rolling window. */
  readonly errorCount: number;
  /** Requests over the rolling window. */
  readonly requestCount: number;
  /** Bad requests in the window. */
  readonly rollingCountBadRequests: number;
  /** Always 0: no request collapsing. */
  readonly rollingCountCollapsedRequests: number;
  /** Always 0: commands emit one value, and Hystrix counts emits only for observable commands. */
  readonly rollingCountEmit: number;
  /** Failed calls that ended in an error thrown to the caller. */
  readonly rollingCountExceptionsThrown: number;
  /** Executions that threw. */
  readonly rollingCountFailure: number;
  /** Always 0 (see `rollingCountEmit`). */
  readonly rollingCountFallbackEmit: number;
  /** Fallbacks that threw. */
  readonly rollingCountFallbackFailure: number;
  /** Failed calls without a fallback. */
  readonly rollingCountFallbackMissing: number;
  /** Fallbacks refused by the fallback semaphore. */
  readonly rollingCountFallbackRejection: number;
  /** Fallbacks that returned. */
  readonly rollingCountFallbackSuccess: number;
  /** Always 0: no request cache. */
  readonly rollingCountResponsesFromCache: number;
  /** Calls turned away by the bulkhead (the semaphore). */
  readonly rollingCountSemaphoreRejected: number;
  /** Calls refused by the open circuit. */
  readonly rollingCountShortCircuited: number;
  /** Executions that returned. */
  readonly rollingCountSuccess: number;
  /** Always 0: isolation is by semaphore, never by thread pool. */
  readonly rollingCountThreadPoolRejected: number;
  /** Executions that ran out of time. */
  readonly rollingCountTimeout: number;
  /** Executions running now. */
  readonly currentConcurrentExecutionCount: number;
  /** Most executions running at once in the window. */
  readonly rollingMaxConcurrentExecutionCount: number;
  /** Mean execution latency, ms. */
  readonly latencyExecute_mean: number;
  /** Execution latency percentiles, ms. */
  readonly latencyExecute: LatencyPercentiles;
  /** Mean call latency (fallback included), ms. */
  readonly latencyTotal_mean: number;
  /** Call latency percentiles, ms. */
  readonly latencyTotal: LatencyPercentiles;
  /** `circuitBreaker.requestVolumeThreshold`. */
  readonly propertyValue_circuitBreakerRequestVolumeThreshold: number;
  /** `circuitBreaker.sleepWindowInMilliseconds`. */
  readonly propertyValue_circuitBreakerSleepWindowInMilliseconds: number;
  /** `circuitBreaker.errorThresholdPercentage`. */
  readonly propertyValue_circuitBreakerErrorThresholdPercentage: number;
  /** `circuitBreaker.forceOpen`. */
  readonly propertyValue_circuitBreakerForceOpen: boolean;
  /** `circuitBreaker.forceClosed`. */
  readonly propertyValue_circuitBreakerForceClosed: boolean;
  /** `circuitBreaker.enabled`. */
  readonly propertyValue_circuitBreakerEnabled: boolean;
  /** Always `'SEMAPHORE'`: Node has no threads to isolate with. */
  readonly propertyValue_executionIsolationStrategy: 'SEMAPHORE';
  /** The timeout, ms (Hystrix's older name for it). */
  readonly propertyValue_executionIsolationThreadTimeoutInMilliseconds: number;
  /** The timeout, ms. */
  readonly propertyValue_executionTimeoutInMilliseconds: number;
  /** Whether a timeout aborts the work. */
  readonly propertyValue_executionIsolationThreadInterruptOnTimeout: boolean;
  /** The bulkhead's size. */
  readonly propertyValue_executionIsolationSemaphoreMaxConcurrentRequests: number;
  /** The fallback semaphore's size. */
  readonly propertyValue_fallbackIsolationSemaphoreMaxConcurrentRequests: number;
  /** The rolling window, ms. */
  readonly propertyValue_metricsRollingStatisticalWindowInMilliseconds: number;
  /** Always false: no request cache. */
  readonly propertyValue_requestCacheEnabled: boolean;
  /** Always false: no request log. */
  readonly propertyValue_requestLogEnabled: boolean;
  /** Always 1: this stream speaks for one process (Turbine adds hosts up). */
  readonly reportingHosts: number;
  /** The thread-pool key: the command's bulkhead, named after the command. */
  readonly threadPool: string;
}

/** One `HystrixThreadPool` object of `hystrix.stream`: a command's bulkhead, in thread-pool terms. */
export interface HystrixThreadPoolEvent {
  /** Always `'HystrixThreadPool'`. */
  readonly type: 'HystrixThreadPool';
  /** The pool key (the command's name). */
  readonly name: string;
  /** When the snapshot was taken (epoch ms). */
  readonly currentTime: number;
  /** Executions running now. */
  readonly currentActiveCount: number;
  /** Executions finished since the command was made. */
  readonly currentCompletedTaskCount: number;
  /** The bulkhead's size. */
  readonly currentCorePoolSize: number;
  /** The most executions that ever ran at once. */
  readonly currentLargestPoolSize: number;
  /** The bulkhead's size. */
  readonly currentMaximumPoolSize: number;
  /** The bulkhead's size (permits exist whether used or not). */
  readonly currentPoolSize: number;
  /** Calls waiting for a permit now. */
  readonly currentQueueSize: number;
  /** Executions ever admitted: finished, running and waiting. */
  readonly currentTaskCount: number;
  /** Executions started in the window. */
  readonly rollingCountThreadsExecuted: number;
  /** Most executions running at once in the window. */
  readonly rollingMaxActiveThreads: number;
  /** Calls turned away in the window. */
  readonly rollingCountCommandRejections: number;
  /** The bulkhead queue's size. */
  readonly propertyValue_queueSizeRejectionThreshold: number;
  /** The rolling window, ms. */
  readonly propertyValue_metricsRollingStatisticalWindowInMilliseconds: number;
  /** Always 1. */
  readonly reportingHosts: number;
}

/** Converts a snapshot to a `HystrixCommand` stream object. */
export function toHystrixCommand(s: CommandSnapshot): HystrixCommandEvent {
  const r = s.rolling;
  const t = s.settings;
  return {
    type: 'HystrixCommand',
    name: s.name,
    group: s.group,
    currentTime: Math.trunc(s.at),
    isCircuitBreakerOpen: s.circuitOpen,
    errorPercentage: s.health.errorPercentage,
    errorCount: s.health.errorCount,
    requestCount: s.health.requestCount,
    rollingCountBadRequests: r.badRequest,
    rollingCountCollapsedRequests: 0,
    rollingCountEmit: 0,
    rollingCountExceptionsThrown: r.exceptionsThrown,
    rollingCountFailure: r.failure,
    rollingCountFallbackEmit: 0,
    rollingCountFallbackFailure: r.fallbackFailure,
    rollingCountFallbackMissing: r.fallbackMissing,
    rollingCountFallbackRejection: r.fallbackRejection,
    rollingCountFallbackSuccess: r.fallbackSuccess,
    rollingCountResponsesFromCache: 0,
    rollingCountSemaphoreRejected: r.semaphoreRejected,
    rollingCountShortCircuited: r.shortCircuited,
    rollingCountSuccess: r.success,
    rollingCountThreadPoolRejected: 0,
    rollingCountTimeout: r.timeout,
    currentConcurrentExecutionCount: s.bulkhead.running,
    rollingMaxConcurrentExecutionCount: s.bulkhead.rollingMaxRunning,
    latencyExecute_mean: s.latency.execute.mean,
    latencyExecute: s.latency.execute.percentiles,
    latencyTotal_mean: s.latency.total.mean,
    latencyTotal: s.latency.total.percentiles,
    propertyValue_circuitBreakerRequestVolumeThreshold: t.requestVolumeThreshold,
    propertyValue_circuitBreakerSleepWindowInMilliseconds: t.sleepWindowMs,
    propertyValue_circuitBreakerErrorThresholdPercentage: t.errorThresholdPercentage,
    propertyValue_circuitBreakerForceOpen: t.forceOpen,
    propertyValue_circuitBreakerForceClosed: t.forceClosed,
    propertyValue_circuitBreakerEnabled: t.breakerEnabled,
    propertyValue_executionIsolationStrategy: 'SEMAPHORE',
    propertyValue_executionIsolationThreadTimeoutInMilliseconds: t.timeoutMs,
    propertyValue_executionTimeoutInMilliseconds: t.timeoutMs,
    propertyValue_executionIsolationThreadInterruptOnTimeout: t.interruptOnTimeout,
    propertyValue_executionIsolationSemaphoreMaxConcurrentRequests: t.maxConcurrent,
    propertyValue_fallbackIsolationSemaphoreMaxConcurrentRequests: t.fallbackMaxConcurrent,
    propertyValue_metricsRollingStatisticalWindowInMilliseconds: t.rollingWindowMs,
    propertyValue_requestCacheEnabled: false,
    propertyValue_requestLogEnabled: false,
    reportingHosts: 1,
    threadPool: s.name,
  };
}

/** Converts a snapshot's bulkhead to a `HystrixThreadPool` stream object. */
export function toHystrixThreadPool(s: CommandSnapshot): HystrixThreadPoolEvent {
  const b = s.bulkhead;
  const size = s.settings.maxConcurrent;
  return {
    type: 'HystrixThreadPool',
    name: s.name,
    currentTime: Math.trunc(s.at),
    currentActiveCount: b.running,
    currentCompletedTaskCount: b.completed,
    currentCorePoolSize: size,
    currentLargestPoolSize: b.largestRunning,
    currentMaximumPoolSize: size,
    currentPoolSize: size,
    currentQueueSize: b.queued,
    currentTaskCount: b.completed + b.running + b.queued,
    rollingCountThreadsExecuted: b.rollingExecuted,
    rollingMaxActiveThreads: b.rollingMaxRunning,
    rollingCountCommandRejections: b.rollingRejected,
    propertyValue_queueSizeRejectionThreshold: s.settings.maxQueued,
    propertyValue_metricsRollingStatisticalWindowInMilliseconds: s.settings.rollingWindowMs,
    reportingHosts: 1,
  };
}
