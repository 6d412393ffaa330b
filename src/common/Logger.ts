/** Structured fields attached to a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * Where the library writes what it does: message first, then structured fields. A service writes concise
 * lines at `info` to stderr unless given another logger (or `false`). A pino or bunyan logger (fields first)
 * is accepted as it is: see {@link adaptLogger}.
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

/**
 * True for a logger that takes its fields first, `info(fields, message)`: pino (it has `bindings()`) and
 * bunyan (it has `fields` and `streams`).
 */
function takesFieldsFirst(logger: object): boolean {
  const candidate = logger as { child?: unknown; bindings?: unknown; fields?: unknown; streams?: unknown };
  if (typeof candidate.child !== 'function') return false;
  return typeof candidate.bindings === 'function' || (typeof candidate.fields === 'object' && Array.isArray(candidate.streams));
}

/**
 * The logger to write to: a {@link Logger} as it is; a pino or bunyan logger, whose methods take the fields
 * first (`info(fields, message)`), wrapped so each line keeps its message and its fields.
 *
 * @example
 * ```ts
 * const logger = adaptLogger(pino());  // logger.info('registered', { instanceId }) -> pino's info({ instanceId }, 'registered')
 * ```
 */
export function adaptLogger(logger: Logger): Logger {
  if (!takesFieldsFirst(logger)) return logger;
  const fieldsFirst = logger as unknown as Record<keyof Logger, (fields: LogFields, message: string) => void>;
  const write =
    (level: keyof Logger) =>
    (message: string, fields?: LogFields): void => {
      if (fields === undefined) fieldsFirst[level].call(logger, {}, message);
      else fieldsFirst[level].call(logger, fields, message);
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}
