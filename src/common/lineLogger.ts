import type { Logger } from './Logger.js';

/** Options of {@link lineLogger}. */
export interface LineLoggerOptions {
  /** Receives info (and, when verbose, debug) lines. */
  readonly stdout: NodeJS.WritableStream;
  /** Receives warnings and errors. */
  readonly stderr: NodeJS.WritableStream;
  /** Also write debug lines (every heartbeat). */
  readonly verbose: boolean;
  /** The time to stamp lines with. */
  readonly now?: () => Date;
}

/**
 * A {@link Logger} for people at a terminal: one line per event, `HH:MM:SS.mmm message`. The library's
 * messages are complete sentences, so the structured fields are left out here.
 */
export function lineLogger(options: LineLoggerOptions): Logger {
  const now = options.now ?? (() => new Date());
  const write = (stream: NodeJS.WritableStream, prefix: string, message: string): void => {
    stream.write(`${timeOfDay(now())} ${prefix}${message}\n`);
  };
  return {
    debug: (message) => {
      if (options.verbose) write(options.stdout, '', message);
    },
    info: (message) => write(options.stdout, '', message),
    warn: (message) => write(options.stderr, 'warning: ', message),
    error: (message) => write(options.stderr, 'error: ', message),
  };
}

function timeOfDay(date: Date): string {
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}
