// Which origin the service client connects to, against real servers: HTTPS on the secure port when only that
// port is enabled, and the host name instead of the IP address with `address: 'hostname'`.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { RequestListener, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createServiceClient } from 'karyon-ts';
import type { FetchFunction, FetchInit, ServiceClientOptions } from 'karyon-ts';
import { InMemoryRegistry, testInstance } from 'karyon-ts/testing';
import type { TestInstanceOptions } from 'karyon-ts/testing';

const tls = {
  cert: readFileSync(new URL('../fixtures/tls/cert.pem', import.meta.url)),
  key: readFileSync(new URL('../fixtures/tls/key.pem', import.meta.url)),
};
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const answer: RequestListener = (req, res) => {
  req.resume();
  res.end(`${'encrypted' in req.socket ? 'https' : 'http'} ${req.url}`);
};

async function listening(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return (server.address() as AddressInfo).port;
}

async function clientOf(instance: TestInstanceOptions, options: ServiceClientOptions = {}) {
  const registry = new InMemoryRegistry();
  await registry.register(testInstance({ app: 'GREETER', ...instance }), 'UP');
  const client = createServiceClient({ registry, vip: 'greeter', retries: false, breaker: false, ...options });
  cleanups.push(() => client.close());
  return client;
}

/** undici's fetch through an agent that trusts the test certificate, as a client transport. */
function trustingFetch(): FetchFunction {
  const agent = new Agent({ connect: { ca: tls.cert } });
  cleanups.push(() => agent.close());
  return (url: string, init: FetchInit) => undiciFetch(url, { ...init, dispatcher: agent });
}

describe('service client origins', () => {
  it('calls https://host:securePort when only the secure port is enabled', async () => {
    const securePort = await listening(createHttpsServer(tls, answer));
    const plainPort = await listening(createHttpServer(answer));
    const client = await clientOf(
      { instanceId: 'secure-only', port: plainPort, portEnabled: false, securePort, securePortEnabled: true },
      { transport: trustingFetch() },
    );
    const response = await client.request({ path: '/hello' });
    expect(response.statusCode).toBe(200);
    expect(await response.body.text()).toBe('https /hello');
  });

  it('calls http://host:port when both ports are enabled', async () => {
    const securePort = await listening(createHttpsServer(tls, answer));
    const plainPort = await listening(createHttpServer(answer));
    const client = await clientOf({ instanceId: 'both', port: plainPort, portEnabled: true, securePort, securePortEnabled: true });
    const response = await client.request({ path: '/hello' });
    expect(await response.body.text()).toBe('http /hello');
  });

  it("connects to the host name with address: 'hostname', and to the IP address by default", async () => {
    const port = await listening(createHttpServer(answer));
    // Only the host name leads to the server: nothing listens on 127.0.0.2.
    const instance = { instanceId: 'named', port, hostName: '127.0.0.1', ipAddr: '127.0.0.2' };

    const byName = await clientOf(instance, { address: 'hostname' });
    expect(await (await byName.request({ path: '/by-name' })).body.text()).toBe('http /by-name');

    const byIp = await clientOf(instance);
    const error = (await byIp.request({ path: '/by-ip' }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(`${error.message} ${String((error.cause as Error | undefined)?.message)}`).toMatch(/127\.0\.0\.2|ECONNREFUSED/);
  });
});
