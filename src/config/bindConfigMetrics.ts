import type { AnyDynamicConfig } from './DynamicConfig.js';

/**
 * Where configuration outcomes are counted, by the layer they came from (`file`, `remote`, `override`,
 * `rollback`). The metrics subsystem's `configMetrics(metrics)` fits it as it is.
 */
export interface ConfigMetricsSink {
  /** Counts an applied change (a rollback included). */
  reload(source: string): void;
  /** Counts a rejected update. */
  rejection(source: string): void;
}

/**
 * Counts every applied change and every rejection of `config` in `sink`, so a dashboard shows reloads and
 * rejections by layer. Returns a function that stops counting.
 *
 * @example
 * ```ts
 * const stop = bindConfigMetrics(config, configMetrics(metrics));
 * ```
 */
export function bindConfigMetrics(config: AnyDynamicConfig, sink: ConfigMetricsSink): () => void {
  const stopChanges = config.onChange((event) => sink.reload(event.trigger));
  const onRejected = (event: { readonly trigger: string }): void => sink.rejection(event.trigger);
  config.on('configRejected', onRejected);
  return () => {
    stopChanges();
    config.off('configRejected', onRejected);
  };
}
