import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { CommandRegistry } from 'karyon-ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.allSettled(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A real dependency on port 0: `/slow` never answers, `/status/{code}` answers that code, and it counts. */
async function dependency() {
  const seen = { requests: 0, aborted: 0 };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.requests++;
    if (req.url === '/slow') {
      res.on('close', () => {
        if (!res.writableEnded) seen.aborted++;
      });
      return;
    }
    const code = Number(/^\/status\/(\d{3})$/.exec(req.url ?? '')?.[1] ?? 404);
    res.writeHead(code, { 'content-type': 'text/plain' }).end(`status ${code}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { base, seen };
}

class HttpStatusError extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`HTTP ${status}`);
    this.status = status;
  }
}

describe('commands against a real HTTP dependency', () => {
  it('a timeout aborts the request on the wire: the server sees the connection go', async () => {
    const { base, seen } = await dependency();
    const registry = new CommandRegistry();
    cleanups.push(() => registry.close());
    const get = registry.abortableCommand(
      'dep.get',
      async (signal: AbortSignal, path: string) => {
        const res = await request(`${base}${path}`, { signal });
        return res.body.text();
      },
      { timeoutMs: 150 },
    );
    await expect(get('/slow')).rejects.toMatchObject({ code: 'ERR_COMMAND_TIMEOUT', command: 'dep.get' });
    await until(() => seen.aborted === 1, 'the server to see the request aborted');
    await expect(get('/status/200')).resolves.toBe('status 200');
    expect(get.snapshot().rolling).toMatchObject({ timeout: 1, success: 1 });
  });

  it('opens on 5xx, stops sending while open, and closes after a successful trial', async () => {
    const { base, seen } = await dependency();
    const registry = new CommandRegistry({ defaults: { requestVolumeThreshold: 5, sleepWindowMs: 300 } });
    cleanups.push(() => registry.close());
    let path = '/status/503';
    const client = registry.executor('client:dep');
    const call = () =>
      client.execute(async (signal) => {
        const res = await request(`${base}${path}`, { signal });
        await res.body.text();
        if (res.statusCode >= 500) throw new HttpStatusError(res.statusCode);
        return res.statusCode;
      });
    for (let i = 0; i < 5; i++) await expect(call()).rejects.toThrow('HTTP 503');
    expect(client.state).toBe('OPEN');
    const sent = seen.requests;
    for (let i = 0; i < 10; i++) await expect(call()).rejects.toMatchObject({ code: 'ERR_BREAKER_OPEN' });
    expect(seen.requests).toBe(sent);
    path = '/status/200';
    let result: unknown;
    await until(() => {
      void call().then(
        (status) => (result = status),
        () => undefined,
      );
      return result === 200;
    }, 'a trial call to get through after the sleep window');
    await until(() => client.state === 'CLOSED', 'the circuit to close');
    expect(seen.requests).toBeGreaterThan(sent);
  });

  it('4xx answers marked as bad requests never open the circuit', async () => {
    const { base } = await dependency();
    const registry = new CommandRegistry({ defaults: { requestVolumeThreshold: 5 } });
    cleanups.push(() => registry.close());
    const lookup = registry.abortableCommand(
      'dep.lookup',
      async (signal: AbortSignal) => {
        const res = await request(`${base}/status/404`, { signal });
        await res.body.text();
        if (res.statusCode >= 400) throw new HttpStatusError(res.statusCode);
        return res.statusCode;
      },
      { isBadRequest: (error) => error instanceof HttpStatusError && error.status < 500 },
    );
    for (let i = 0; i < 10; i++) await expect(lookup()).rejects.toThrow('HTTP 404');
    expect(lookup.state).toBe('CLOSED');
    expect(lookup.snapshot().rolling).toMatchObject({ badRequest: 10, failure: 0 });
  });
});
