import type { LogFields, Logger } from '../common/Logger.js';
import type { LogLevel } from './karyonConfigSchema.js';

const rank: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/**
 * A logger that writes to `logger` only the lines at or above the level `level.get()` returns at the time of
 * each line, so a live `log.level` property (`config.property('log.level')`) takes effect at once.
 *
 * @example
 * ```ts
 * const logger = filterLogger(pinoAdapter, config.property('log.level'));
 * ```
 */
export function filterLogger(logger: Logger, level: { get(): LogLevel }): Logger {
  const enabled = (at: LogLevel): boolean => rank[at] >= (rank[level.get()] ?? rank.info);
  return {
    debug: (message: string, fields?: LogFields) => {
      if (enabled('debug')) logger.debug(message, fields);
    },
    info: (message: string, fields?: LogFields) => {
      if (enabled('info')) logger.info(message, fields);
    },
    warn: (message: string, fields?: LogFields) => {
      if (enabled('warn')) logger.warn(message, fields);
    },
    error: (message: string, fields?: LogFields) => {
      if (enabled('error')) logger.error(message, fields);
    },
  };
}
