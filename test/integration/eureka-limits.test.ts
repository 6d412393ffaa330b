// maxResponseBytes against a real HTTP server: the limit applies to the body once decompressed, so a small
// gzipped answer that inflates past it fails the fetch (no server answered, the reason naming the limit), and
// the view keeps what it had.
import { afterEach, describe, expect, it } from 'vitest';
import { KaryonError, EurekaRegistry } from 'karyon-ts';
import { FakeEureka, applicationsDocument, wireInstance } from '../fixtures/eureka/fakeEureka.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** A registry document of `count` instances of GREETER, with its size in bytes as JSON. */
function document(count: number): { body: unknown; bytes: number } {
  const instances = Array.from({ length: count }, (_, i) => wireInstance({ instanceId: `h${i}:greeter:8080`, ipAddr: `10.0.${i >> 8}.${i & 255}` }));
  const body = applicationsDocument(instances, `UP_${count}_`);
  return { body, bytes: Buffer.byteLength(JSON.stringify(body)) };
}

async function serving(body: () => unknown, gzip: boolean): Promise<FakeEureka> {
  const server = await FakeEureka.start('/eureka');
  cleanups.push(() => server.close());
  server.on((r) => (r.path === '/apps' ? { status: 200, body: body(), gzip } : undefined));
  return server;
}

function registry(url: string, maxResponseBytes: number): EurekaRegistry {
  const client = new EurekaRegistry({ serviceUrls: [url], fetchRegistry: true, registryFetchIntervalMs: 60_000, jitterRatio: 0, maxResponseBytes });
  cleanups.push(() => client.close());
  return client;
}

describe('EurekaRegistry maxResponseBytes', () => {
  for (const gzip of [false, true]) {
    it(`accepts a registry of exactly the limit and refuses one byte less${gzip ? ', counted after gunzip' : ''}`, async () => {
      const { body, bytes } = document(200);
      const server = await serving(() => body, gzip);

      const atLimit = registry(server.url, bytes);
      await atLimit.refresh();
      expect(atLimit.upInstancesByVip('greeter')).toHaveLength(200);

      const under = registry(server.url, bytes - 1);
      const error = (await under.refresh().catch((e: unknown) => e)) as KaryonError;
      expect(error).toBeInstanceOf(KaryonError);
      expect(error.code).toBe('ERR_REGISTRY_UNAVAILABLE');
      expect(error.message).toContain(`larger than maxResponseBytes (${bytes - 1})`);
      expect(under.upInstancesByVip('greeter')).toEqual([]);
    });
  }

  it('keeps the last good view when a later answer is over the limit', async () => {
    const small = document(3);
    const large = document(400);
    let body = small.body;
    const server = await serving(() => body, true);
    const client = registry(server.url, small.bytes * 10);
    await client.refresh();
    expect(client.upInstancesByVip('greeter')).toHaveLength(3);
    expect(large.bytes).toBeGreaterThan(small.bytes * 10);

    body = large.body;
    const error = (await client.refresh().catch((e: unknown) => e)) as KaryonError;
    expect(error).toBeInstanceOf(KaryonError);
    expect(error.code).toBe('ERR_REGISTRY_UNAVAILABLE');
    expect(client.upInstancesByVip('greeter')).toHaveLength(3);
  });
});
