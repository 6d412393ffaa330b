// The service client's timeoutMs is also the longest pause between two chunks of a response body: a slow but
// steady body arrives whole however long it takes, and a body that stalls longer than timeoutMs fails and its
// connection is closed.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createServiceClient } from 'karyon-ts';
import { InMemoryRegistry, testInstance } from 'karyon-ts/testing';

const TIMEOUT_MS = 800;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A client of one real server whose handler writes the body as `answer` says. */
async function clientOf(answer: (res: ServerResponse) => void) {
  const responses: ServerResponse[] = [];
  const server = createServer((req, res) => {
    req.resume();
    responses.push(res);
    res.writeHead(200, { 'content-type': 'text/plain' });
    answer(res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const registry = new InMemoryRegistry();
  await registry.register(testInstance({ instanceId: 'slow', app: 'GREETER', port: (server.address() as AddressInfo).port }), 'UP');
  const client = createServiceClient({ registry, vip: 'greeter', timeoutMs: TIMEOUT_MS, retries: false, breaker: false });
  cleanups.push(() => client.close());
  return { client, responses };
}

describe('service client timeoutMs between body chunks', () => {
  it('reads a body whose chunks each come within timeoutMs, although the whole body takes longer', async () => {
    const chunks = ['one,', 'two,', 'three,', 'four,', 'five,', 'six'];
    const { client } = await clientOf((res) => {
      const next = (i: number): void => {
        if (i === chunks.length - 1) res.end(chunks[i]);
        else {
          res.write(chunks[i]);
          setTimeout(() => next(i + 1), TIMEOUT_MS / 4).unref();
        }
      };
      next(0);
    });
    const started = performance.now();
    const response = await client.request({ path: '/' });
    expect(await response.body.text()).toBe('one,two,three,four,five,six');
    // Five pauses of a quarter of the timeout each: longer in all than one timeout, and still not cut.
    expect(performance.now() - started).toBeGreaterThan(TIMEOUT_MS);
  });

  it('fails reading a body that pauses longer than timeoutMs, and closes the connection', async () => {
    const { client, responses } = await clientOf((res) => res.write('first chunk,')); // then nothing more
    const started = performance.now();
    const response = await client.request({ path: '/' });
    const serverSawClose = once(responses[0]!, 'close');
    const error = (await response.body.text().catch((e: unknown) => e)) as Error & { code?: string };
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('UND_ERR_BODY_TIMEOUT');
    expect(performance.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    await serverSawClose;
    expect(responses[0]!.writableEnded).toBe(false);
  });
});
