import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';

/** What a test file cleans up after each test. */
export interface Cleanups {
  /** Adds a cleanup; after each test they run last added first. */
  readonly push: (cleanup: () => Promise<unknown> | void) => void;
  /** Makes `server` listen on a free loopback port and closes it (and its connections) after the test. */
  readonly listen: (server: Server) => Promise<number>;
}

/** Registers, for the calling test file, cleanups run after each test. */
export function cleanupAfterEach(): Cleanups {
  const pending: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of pending.splice(0).reverse()) await cleanup();
  });
  return {
    push: (cleanup) => void pending.push(cleanup),
    listen: async (server) => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      pending.push(
        () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      );
      return (server.address() as AddressInfo).port;
    },
  };
}
