/** Structured fields attached to a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * Where the library writes what it does. The library never prints on its own: pass a logger
 * (pino, winston and console all fit with a one-line adapter) to see its lines.
 */
export interface Logger {
  /** Detail useful when tracing a problem. */
  debug(message: string, fields?: LogFields): void;
  /** A normal event worth a line: a transition, a registration. */
  info(message: string, fields?: LogFields): void;
  /** Something went wrong and was handled (a retry, a fallback). */
  warn(message: string, fields?: LogFields): void;
  /** Something went wrong and was not handled. */
  error(message: string, fields?: LogFields): void;
}

const noop = (): void => undefined;

/** A logger that drops every line: the default. */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });
