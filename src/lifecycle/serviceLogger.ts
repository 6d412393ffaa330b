// Where a service writes what it does, filtered by a level its configuration's `log.level` changes live.
import { adaptLogger, silentLogger } from '../common/Logger.js';
import type { Logger } from '../common/Logger.js';
import { lineLogger } from '../common/lineLogger.js';
import { filterLogger } from '../config/filterLogger.js';
import type { LogLevel } from '../config/karyonConfigSchema.js';

/** A service's logger and its live level. */
export interface ServiceLogger {
  readonly logger: Logger;
  /** The level in force. */
  readonly level: () => LogLevel;
  setLevel(level: LogLevel): void;
}

/**
 * The logger of the `logger` option: a given logger gets everything ('debug'), the default one (concise lines on
 * stderr, warnings and errors marked) 'info', until a configuration's `log.level` says otherwise.
 */
export function serviceLogger(option: Logger | false | undefined): ServiceLogger {
  let level: LogLevel = option === undefined ? 'info' : 'debug';
  const base = option === undefined ? lineLogger({ stdout: process.stderr, stderr: process.stderr, verbose: true }) : option === false ? silentLogger : adaptLogger(option);
  return {
    logger: filterLogger(base, { get: () => level }),
    level: () => level,
    setLevel: (to) => (level = to),
  };
}
