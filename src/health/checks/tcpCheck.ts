import { connect } from 'node:net';
import { abortReason } from '../../internal/async.js';
import { invalidOption, nonEmptyString } from '../../internal/validate.js';
import type { HealthCheckFunction, HealthResult } from '../types.js';

/** Options of {@link tcpCheck}. */
export interface TcpCheckOptions {
  /** Host name or IP address. */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
}

/**
 * Parses Consul's `host:port` notation (`127.0.0.1:5432`, `[::1]:5432`, `db:5432`).
 * @throws KaryonError ERR_INVALID_OPTION naming what is wrong.
 */
export function parseHostPort(text: string): TcpCheckOptions {
  const match = typeof text === 'string' ? /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim()) : null;
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || !(port >= 1 && port <= 65535)) return invalidOption('tcp', "'host:port' with a port from 1 to 65535", text);
  return { host: (match[1] ?? match[2]) as string, port };
}

/**
 * A Consul-style TCP check: UP (passing) when a connection to `host:port` opens, DOWN (critical) otherwise.
 * The connection is closed at once; nothing is sent.
 * @throws KaryonError ERR_INVALID_OPTION for a bad host or port.
 *
 * @example
 * ```ts
 * service.addHealthCheck('db', tcpCheck({ host: 'db.internal', port: 5432 }), { kind: 'readiness' });
 * ```
 */
export function tcpCheck(options: TcpCheckOptions): HealthCheckFunction {
  if (typeof options !== 'object' || options === null) invalidOption('tcpCheck', 'an options object', options);
  const host = nonEmptyString('host', options.host);
  const port = options.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) invalidOption('port', 'an integer from 1 to 65535', port);
  return (signal) =>
    new Promise<HealthResult>((resolve, reject) => {
      if (signal.aborted) {
        reject(abortReason(signal));
        return;
      }
      const socket = connect({ host, port });
      const onAbort = (): void => {
        socket.destroy();
        reject(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve({ status: 'UP', details: { output: `TCP connect ${host}:${port}: success` } });
      });
      socket.once('error', (error) => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve({ status: 'DOWN', details: { output: `TCP connect ${host}:${port}: ${error.message}` } });
      });
    });
}
