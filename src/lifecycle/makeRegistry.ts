// The registry and the metrics of a service: given ones are used as they are (their owner closes them); those the
// service makes from options register their close, or flush, where they are made.
import type { Clock } from '../common/Clock.js';
import type { Logger } from '../common/Logger.js';
import { createMetrics } from '../metrics/createMetrics.js';
import type { MetricsOptions } from '../metrics/MetricsOptions.js';
import { noopMetrics } from '../metrics/noopMetrics.js';
import type { Metrics } from '../metrics/types.js';
import { EurekaRegistry } from '../registry/eureka/EurekaRegistry.js';
import { InMemoryRegistry } from '../registry/InMemoryRegistry.js';
import type { ServiceRegistry } from '../registry/types.js';
import { eurekaServerChoice, metricTags } from './instanceDescriptor.js';
import type { ResolvedServiceOptions, ServiceOptions } from './ServiceOptions.js';
import type { ShutdownStack } from './ShutdownStack.js';

/** The registry the options name; one the service makes registers its close. */
export function makeRegistry(given: ServiceOptions['registry'], o: ResolvedServiceOptions, clock: Clock, logger: Logger, shutdown: ShutdownStack): ServiceRegistry {
  if (given !== undefined && !('eureka' in given)) return given;
  const made = given === undefined ? new InMemoryRegistry({ clock }) : new EurekaRegistry({ clock, logger, ...eurekaServerChoice(o), ...given.eureka });
  shutdown.add('owned', 'closing the registry', () => made.close());
  return made;
}

/** A service's metrics, and what the end of stop() does with them. */
export interface ServiceMetrics {
  /** The metrics, tagged with the service's identity. */
  readonly metrics: Metrics;
  /** Closes the metrics when the service made them, flushes them otherwise. */
  readonly flush: () => Promise<void>;
  /** True when the service has no metrics (nothing to report to). */
  readonly none: boolean;
}

/** The service's metrics, tagged with its identity. */
export function makeMetrics(option: Metrics | MetricsOptions | undefined, o: ResolvedServiceOptions, clock: Clock, logger: Logger): ServiceMetrics {
  const owned = option === undefined || isMetrics(option) ? undefined : createMetrics({ clock, logger, ...option });
  const root = owned ?? (option as Metrics | undefined) ?? noopMetrics;
  const metrics = root.scope('', metricTags(o));
  return { metrics, flush: () => owned?.close() ?? metrics.flush(), none: root === noopMetrics };
}

function isMetrics(value: Metrics | MetricsOptions): value is Metrics {
  return typeof (value as Metrics).counter === 'function';
}
