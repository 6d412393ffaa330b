/** What {@link installSignalHandlers} needs of a service. */
export interface Stoppable {
  /** Stops gracefully. */
  stop(): Promise<void>;
}

/** Options of {@link installSignalHandlers}. */
export interface SignalHandlerOptions {
  /**
   * The signals that stop the service.
   * @default ['SIGTERM', 'SIGINT']
   */
  readonly signals?: readonly NodeJS.Signals[];
  /** Called when `stop()` rejects (e.g. a shutdown hook failed); `process.exitCode` is set to 1 either way. */
  readonly onError?: (error: unknown) => void;
}

/**
 * Opt-in: makes SIGTERM and SIGINT run `service.stop()` once (later signals while stopping are ignored, so an
 * impatient Ctrl-C does not cut the drain). Does not call `process.exit()`: the process ends when the
 * service has released everything. Returns a function that removes the handlers.
 *
 * Install them before `await service.start()`: a signal while the initialize hooks run then stops the service
 * gracefully too (its STARTING record leaves the registry), and `start()` rejects with `ERR_START_ABORTED`
 * only once that stop has finished. Installed after, a signal during start kills the process at once (Node's
 * default) and leaves the record in the registry until its lease expires.
 *
 * @example
 * ```ts
 * const dispose = installSignalHandlers(service);  // first
 * await service.start();
 * ```
 */
export function installSignalHandlers(service: Stoppable, options: SignalHandlerOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  let stopping = false;
  const handler = (): void => {
    if (stopping) return;
    stopping = true;
    service.stop().then(
      () => dispose(),
      (error: unknown) => {
        process.exitCode = 1;
        options.onError?.(error);
        dispose();
      },
    );
  };
  for (const signal of signals) process.on(signal, handler);
  const dispose = (): void => {
    for (const signal of signals) process.off(signal, handler);
  };
  return dispose;
}
