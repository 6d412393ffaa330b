import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { EurekaInstance } from '../../src/registry/eureka/EurekaInstance.js';
import { EurekaRegistry } from 'karyon-ts';
import type { RegistryChange, EurekaRegistryOptions, FetchEvent, HashMismatchEvent } from 'karyon-ts';
import { ManualClock } from 'karyon-ts/testing';
import { FakeEureka, applicationsDocument, refusedUrl, until, wireInstance } from '../fixtures/eureka/fakeEureka.js';
import type { FakeResponse, Json } from '../fixtures/eureka/fakeEureka.js';
import { memoryLogger } from '../support/logger.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const resource of open.splice(0).reverse()) await resource.close();
});

async function fake(): Promise<FakeEureka> {
  const server = await FakeEureka.start();
  open.push(server);
  return server;
}

interface Recorder {
  fetches: FetchEvent[];
  mismatches: HashMismatchEvent[];
  changes: RegistryChange[];
}

function start(urls: string[], clock: ManualClock, options: Partial<EurekaRegistryOptions> = {}): { registry: EurekaRegistry } & Recorder {
  const registry = new EurekaRegistry({ serviceUrls: urls, clock, jitterRatio: 0, registryFetchIntervalMs: 30_000, ...options });
  open.push(registry);
  const recorder: Recorder = { fetches: [], mismatches: [], changes: [] };
  registry.on('fetch', (event) => recorder.fetches.push(event));
  registry.on('hashMismatch', (event) => recorder.mismatches.push(event));
  registry.onChange((change) => recorder.changes.push(change));
  return { registry, ...recorder };
}

/** Serves `full` on GET /apps and `delta` on GET /apps/delta (by default: no change). */
function serve(
  server: FakeEureka,
  state: { full: Json; delta?: Json; fullAnswer?: FakeResponse | undefined; deltaAnswer?: FakeResponse | undefined },
): void {
  server.on((request) => {
    if (request.method !== 'GET') return undefined;
    if (request.path === '/apps') return state.fullAnswer ?? { status: 200, body: state.full };
    // By default an empty delta carrying the hash of the full registry: nothing changed.
    const unchanged = applicationsDocument([], state.full?.applications?.apps__hashcode ?? '');
    if (request.path === '/apps/delta') return state.deltaAnswer ?? { status: 200, body: state.delta ?? unchanged };
    return undefined;
  });
}

const A = wireInstance({ instanceId: 'a:greeter:8080', ipAddr: '10.0.0.1' });
const B = wireInstance({ instanceId: 'b:greeter:8080', ipAddr: '10.0.0.2', status: 'DOWN' });
const C = wireInstance({ instanceId: 'c:greeter:8080', ipAddr: '10.0.0.3' });
const ids = (list: readonly { instanceId: string }[]): string[] => list.map((instance) => instance.instanceId);

describe('EurekaRegistry discovery: full fetch, then deltas', () => {
  it('fetches the full registry first, keeps every status, and applies deltas idempotently', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const state = { full: applicationsDocument([A, B], 'DOWN_1_UP_1_'), delta: undefined as Json };
    serve(server, state);
    const { registry, fetches, changes } = start([server.url], clock);
    await until(clock, () => fetches.length === 1, 'the first fetch');
    expect(fetches[0]).toMatchObject({ kind: 'full', reason: 'initial', ok: true, statusCode: 200, instances: 2, cached: 2, added: 2 });
    expect(ids(registry.instancesByApp('greeter'))).toEqual(['a:greeter:8080', 'b:greeter:8080']);
    expect(ids(registry.upInstancesByVip('GREETER'))).toEqual(['a:greeter:8080']);
    expect(registry.instance('b:greeter:8080')?.status).toBe('DOWN');

    state.delta = applicationsDocument(
      [
        { ...C, actionType: 'ADDED' },
        { ...B, status: 'UP', lastDirtyTimestamp: '1700000005000', actionType: 'MODIFIED' },
      ],
      'UP_3_',
      '2',
    );
    await clock.advanceAsync(30_000);
    await until(clock, () => fetches.length === 2, 'the first delta');
    expect(fetches[1]).toMatchObject({ kind: 'delta', ok: true, instances: 2, added: 1, modified: 1, removed: 0, cached: 3 });
    expect(changes).toHaveLength(2);
    expect(ids(changes[1]!.added)).toEqual(['c:greeter:8080']);
    expect(changes[1]!.modified.map((m) => [m.previous.status, m.current.status])).toEqual([['DOWN', 'UP']]);
    const up = registry.upInstancesByVip('greeter');
    expect(ids(up)).toEqual(['a:greeter:8080', 'b:greeter:8080', 'c:greeter:8080']);

    // The same delta again (a delta holds the last minutes of changes): nothing changes, nothing is emitted.
    await clock.advanceAsync(30_000);
    await until(clock, () => fetches.length === 3, 'the repeated delta');
    expect(fetches[2]).toMatchObject({ kind: 'delta', ok: true, added: 0, modified: 0, removed: 0 });
    expect(changes).toHaveLength(2);
    expect(registry.upInstancesByVip('greeter')).toBe(up);

    state.delta = applicationsDocument([{ ...A, actionType: 'DELETED' }], 'UP_2_', '3');
    await clock.advanceAsync(30_000);
    await until(clock, () => fetches.length === 4, 'the deleting delta');
    expect(ids(changes[2]!.removed)).toEqual(['a:greeter:8080']);
    expect(ids(registry.upInstancesByVip('greeter'))).toEqual(['b:greeter:8080', 'c:greeter:8080']);
    expect(server.lines).toEqual(['GET /apps', 'GET /apps/delta', 'GET /apps/delta', 'GET /apps/delta']);
  });

  it('fetches the full registry when the delta leaves a hash other than the server’s', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const state = { full: applicationsDocument([A], 'UP_1_'), delta: applicationsDocument([{ ...C, actionType: 'ADDED' }], 'UP_3_') };
    serve(server, state);
    const { registry, fetches, mismatches } = start([server.url], clock);
    await until(clock, () => fetches.length === 1, 'the first fetch');
    state.full = applicationsDocument([A, B, C], 'DOWN_1_UP_2_');
    await clock.advanceAsync(30_000);
    await until(clock, () => fetches.length === 3, 'the delta and the full fetch after it');
    expect(mismatches).toEqual([{ remote: 'UP_3_', local: 'UP_2_', versionsDelta: '1' }]);
    expect(fetches.map((f) => [f.kind, f.reason])).toEqual([
      ['full', 'initial'],
      ['delta', undefined],
      ['full', 'hashMismatch'],
    ]);
    // A full fetch replaces the view with the server's listing, in its order (as the Java client's does).
    expect(ids(registry.instancesByApp('GREETER'))).toEqual(['a:greeter:8080', 'b:greeter:8080', 'c:greeter:8080']);
    expect(server.lines).toEqual(['GET /apps', 'GET /apps/delta', 'GET /apps']);
  });

  it('fetches the full registry when the delta is refused (non-200)', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const state = { full: applicationsDocument([A], 'UP_1_'), deltaAnswer: { status: 403, body: 'delta disabled' } as FakeResponse };
    serve(server, state);
    const { fetches } = start([server.url], clock);
    await until(clock, () => fetches.length === 1, 'the first fetch');
    await clock.advanceAsync(30_000);
    await until(clock, () => fetches.length === 3, 'the refused delta and the full fetch');
    expect(fetches.map((f) => [f.kind, f.ok, f.statusCode, f.reason])).toEqual([
      ['full', true, 200, 'initial'],
      ['delta', false, 403, undefined],
      ['full', true, 200, 'deltaRefused'],
    ]);
    expect(server.lines).toEqual(['GET /apps', 'GET /apps/delta', 'GET /apps']);
  });

  it('always fetches the full registry with fetchDeltas: false, and when the view is empty', async () => {
    const clock = new ManualClock();
    const server = await fake();
    serve(server, { full: applicationsDocument([A], 'UP_1_') });
    const { fetches } = start([server.url], clock, { fetchDeltas: false });
    await until(clock, () => fetches.length === 1, 'the first fetch');
    await clock.advanceAsync(30_000);
    await until(clock, () => fetches.length === 2, 'the second fetch');
    expect(fetches[1]).toMatchObject({ kind: 'full', reason: 'deltasDisabled' });

    const empty = await fake();
    const second = start([empty.url], clock);
    await until(clock, () => second.fetches.length === 1, 'the first fetch of an empty registry');
    await clock.advanceAsync(30_000);
    await until(clock, () => second.fetches.length === 2, 'the second fetch of an empty registry');
    expect(second.fetches[1]).toMatchObject({ kind: 'full', reason: 'empty' });
  });

  it('applies the last entry of an instance that comes twice in one delta', async () => {
    const clock = new ManualClock();
    const server = await fake();
    serve(server, {
      full: applicationsDocument([A], 'UP_1_'),
      delta: applicationsDocument(
        [
          { ...C, actionType: 'ADDED' },
          { ...C, actionType: 'DELETED' },
          { ...B, actionType: 'DELETED' },
          { ...B, status: 'STARTING', actionType: 'ADDED' },
        ],
        'STARTING_1_UP_1_',
      ),
    });
    const { registry, fetches } = start([server.url], clock);
    await until(clock, () => fetches.length === 1, 'the first fetch');
    await clock.advanceAsync(30_000);
    await until(clock, () => fetches.length === 2, 'the delta');
    expect(ids(registry.instancesByApp('GREETER'))).toEqual(['a:greeter:8080', 'b:greeter:8080']);
    expect(fetches[1]).toMatchObject({ added: 1, removed: 0 });
  });

  it('keeps two apps that share an instance id apart, as Eureka does, with no hash mismatch over deltas', async () => {
    // BETA registers under ALPHA's id: the server holds both (its registry is keyed by app, then id).
    const alpha = wireInstance({ instanceId: 'shared-id', app: 'ALPHA', vipAddress: 'alpha', ipAddr: '10.0.0.1' });
    const beta = wireInstance({ instanceId: 'shared-id', app: 'BETA', vipAddress: 'beta', ipAddr: '10.0.0.9' });
    const clock = new ManualClock();
    const server = await fake();
    const state = { full: applicationsDocument([alpha, beta], 'UP_2_'), delta: undefined as Json };
    serve(server, state);
    const { registry, fetches, mismatches } = start([server.url], clock);
    await until(clock, () => fetches.length === 1, 'the first fetch');
    expect(fetches[0]).toMatchObject({ instances: 2, skipped: 0, cached: 2 });
    expect(registry.instancesByApp('ALPHA').map((instance) => instance.ipAddr)).toEqual(['10.0.0.1']);
    expect(registry.upInstancesByVip('alpha').map((instance) => instance.ipAddr)).toEqual(['10.0.0.1']);
    expect(registry.instance('shared-id', 'BETA')?.ipAddr).toBe('10.0.0.9');

    // BETA's record changes and comes back in several deltas: ALPHA is untouched, the hashes agree.
    state.delta = applicationsDocument([{ ...beta, status: 'DOWN', lastDirtyTimestamp: '1700000005000', actionType: 'MODIFIED' }], 'DOWN_1_UP_1_', '2');
    for (let cycle = 0; cycle < 3; cycle++) {
      await clock.advanceAsync(30_000);
      await until(clock, () => fetches.length === 2 + cycle, 'a delta');
    }
    expect(registry.instance('shared-id', 'ALPHA')?.status).toBe('UP');
    expect(registry.instance('shared-id', 'BETA')?.status).toBe('DOWN');

    // BETA leaves: ALPHA's instance of the same id stays.
    state.delta = applicationsDocument([{ ...beta, actionType: 'DELETED' }], 'UP_1_', '3');
    await clock.advanceAsync(30_000);
    await until(clock, () => fetches.length === 5, 'the delta that deletes BETA');
    expect(registry.upInstancesByVip('alpha').map((instance) => instance.ipAddr)).toEqual(['10.0.0.1']);
    expect(registry.instancesByApp('BETA')).toEqual([]);
    expect(mismatches).toEqual([]);
    expect(fetches.map((fetch) => [fetch.kind, fetch.skipped])).toEqual([
      ['full', 0],
      ['delta', 0],
      ['delta', 0],
      ['delta', 0],
      ['delta', 0],
    ]);
  });
});

describe('EurekaRegistry discovery: the wire', () => {
  it('asks for JSON and gzip, and decompresses a gzipped registry', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const many = Array.from({ length: 200 }, (_, i) => wireInstance({ instanceId: `h${i}:greeter:8080`, ipAddr: `10.0.1.${i}` }));
    const document = applicationsDocument(many, 'UP_200_');
    serve(server, { full: document, fullAnswer: { status: 200, body: document, gzip: true } });
    const { registry, fetches } = start([server.url], clock);
    await until(clock, () => fetches.length === 1, 'the gzipped fetch');
    expect(server.requests[0]!.headers.accept).toBe('application/json');
    expect(server.requests[0]!.headers['accept-encoding']).toContain('gzip');
    expect(fetches[0]).toMatchObject({ ok: true, instances: 200 });
    expect(fetches[0]!.bytes).toBeLessThan(JSON.stringify(document).length / 4);
    expect(registry.instancesByVip('greeter')).toHaveLength(200);
  });

  it('reads the fixtures of real servers through the client', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const fargo = JSON.parse(readFileSync(new URL('../fixtures/eureka/fargo__apps-sample-1-2.json', import.meta.url), 'utf8'));
    serve(server, { full: fargo });
    const { registry, fetches } = start([server.url], clock);
    await until(clock, () => fetches.length === 1, 'the fetch');
    const instances = registry.instancesByApp('testeng.lsm');
    expect(instances.every((i) => i instanceof EurekaInstance)).toBe(true);
    expect(instances.map((i) => (i as EurekaInstance).toJSON())).toEqual([
      expect.objectContaining({ instanceId: 'qa16gs.qa.somecompany.com:7100', port: 7100, ipAddr: '192.168.191.150', status: 'UP' }),
      expect.objectContaining({ instanceId: 'qa22gs:7100', port: 7100, ipAddr: '192.168.191.235', vipAddress: '[test.lax1.qa22]' }),
    ]);
    expect(registry.upInstancesByVip('[test.lax1.qa16]')).toHaveLength(1);
  });

  it('accepts every quirk: single objects, string $, both override spellings, @class in metadata, strings for numbers', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const quirky = {
      applications: {
        versions__delta: 5,
        apps__hashcode: 'OUT_OF_SERVICE_1_UNKNOWN_1_',
        application: {
          name: 'GREETER',
          instance: {
            ...wireInstance({ instanceId: 'q1:greeter:8080' }),
            port: { $: '8080', '@enabled': true },
            status: 'OUT_OF_SERVICE',
            overriddenStatus: undefined,
            overriddenstatus: 'OUT_OF_SERVICE',
            metadata: { '@class': 'java.util.Collections$EmptyMap' },
            leaseInfo: { renewalIntervalInSecs: '30', durationInSecs: '90' },
            lastDirtyTimestamp: 1700000000000,
          },
        },
      },
    };
    const second = { name: 'OTHER', instance: { ...wireInstance({ instanceId: 'q2:other:1', app: 'OTHER', vipAddress: 'other' }), status: 'HIBERNATING' } };
    quirky.applications.application = [quirky.applications.application, second] as never;
    serve(server, { full: quirky });
    const { registry, fetches } = start([server.url], clock);
    await until(clock, () => fetches.length === 1, 'the fetch');
    expect((registry.instance('q1:greeter:8080') as EurekaInstance).toJSON()).toMatchObject({
      port: 8080,
      portEnabled: true,
      status: 'OUT_OF_SERVICE',
      overriddenStatus: 'OUT_OF_SERVICE',
      metadata: {},
      leaseDurationMs: 90_000,
      lastDirtyTimestamp: 1700000000000,
    });
    expect(registry.instance('q2:other:1')?.status).toBe('UNKNOWN');
  });

  it('skips an instance that does not decode, logs why, and applies the rest', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const logger = memoryLogger();
    serve(server, { full: applicationsDocument([A, { ...C, ipAddr: '' }, wireInstance({ instanceId: 'p:greeter:1', port: { $: 99999 } })], 'UP_3_') });
    const { registry, fetches } = start([server.url], clock, { logger });
    await until(clock, () => fetches.length === 1, 'the fetch');
    expect(fetches[0]).toMatchObject({ ok: true, instances: 2, skipped: 2, cached: 1 });
    expect(ids(registry.instancesByApp('GREETER'))).toEqual(['a:greeter:8080']);
    expect(logger.lines.find((line) => line.includes('skipped 2 instance(s)'))).toMatch(/Missing ip address.*not a TCP port/);
  });
});

describe('EurekaRegistry discovery: failures', () => {
  it('keeps the last view while the registry is down, backing off, and catches up when it is back', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const state = { full: applicationsDocument([A], 'UP_1_'), fullAnswer: undefined as FakeResponse | undefined };
    serve(server, state);
    let down = false;
    server.on(() => (down ? 'reset' : undefined));
    const { registry, fetches } = start([server.url], clock);
    await until(clock, () => fetches.length === 1, 'the first fetch');
    const view = registry.upInstancesByVip('greeter');
    down = true;
    await clock.advanceAsync(30_000);
    await until(clock, () => fetches.length === 2, 'the failing delta');
    expect(fetches[1]).toMatchObject({ kind: 'delta', ok: false, statusCode: undefined, nextRetryMs: 1000 });
    await clock.advanceAsync(1000);
    await until(clock, () => fetches.length === 3, 'the first retry');
    expect(fetches[2]).toMatchObject({ ok: false, nextRetryMs: 2000 });
    expect(registry.upInstancesByVip('greeter')).toBe(view);
    down = false;
    state.full = applicationsDocument([A, C], 'UP_2_');
    await clock.advanceAsync(2000);
    await until(clock, () => fetches.length === 5, 'the delta and full fetch after recovery');
    expect(ids(registry.upInstancesByVip('greeter'))).toEqual(['a:greeter:8080', 'c:greeter:8080']);
  });

  it('keeps the view when a server answers something that is not a registry', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const state = { full: applicationsDocument([A], 'UP_1_'), fullAnswer: undefined as FakeResponse | undefined };
    serve(server, state);
    const { registry, fetches } = start([server.url], clock, { fetchDeltas: false });
    await until(clock, () => fetches.length === 1, 'the first fetch');
    state.fullAnswer = { status: 200, body: '<applications/>' };
    await expect(registry.refresh()).rejects.toMatchObject({ code: 'ERR_EUREKA_PROTOCOL', message: expect.stringContaining('not JSON') });
    state.fullAnswer = { status: 200, body: { apps: [] } };
    await expect(registry.refresh()).rejects.toMatchObject({ code: 'ERR_EUREKA_PROTOCOL' });
    expect(ids(registry.instancesByApp('greeter'))).toEqual(['a:greeter:8080']);
    expect(fetches.slice(1).map((f) => f.ok)).toEqual([false, false]);
  });

  it('asks the next server when one is warming up (403) or down', async () => {
    const clock = new ManualClock();
    const warming = await fake();
    const ready = await fake();
    warming.on(() => ({ status: 403, body: 'warming up' }));
    serve(ready, { full: applicationsDocument([A], 'UP_1_') });
    const { registry, fetches } = start([await refusedUrl(), warming.url, ready.url], clock, { shuffleServiceUrls: false });
    await until(clock, () => fetches.length === 1, 'the fetch');
    expect(fetches[0]).toMatchObject({ ok: true, serviceUrl: ready.url });
    expect(warming.lines).toEqual(['GET /apps']);
    expect(ids(registry.instancesByApp('greeter'))).toEqual(['a:greeter:8080']);
  });

  it('refresh() fetches at once and says when it failed; without fetchRegistry it is refused', async () => {
    const clock = new ManualClock();
    const server = await fake();
    serve(server, { full: applicationsDocument([A], 'UP_1_') });
    const { registry } = start([server.url], clock);
    await registry.refresh();
    expect(ids(registry.instancesByApp('greeter'))).toEqual(['a:greeter:8080']);
    await registry.refresh();
    expect(server.lines).toEqual(['GET /apps', 'GET /apps/delta']);

    const down = start([await refusedUrl()], clock).registry;
    await expect(down.refresh()).rejects.toMatchObject({ code: 'ERR_REGISTRY_UNAVAILABLE' });
    const quiet = start([server.url], clock, { fetchRegistry: false }).registry;
    await expect(quiet.refresh()).rejects.toMatchObject({ code: 'ERR_INVALID_STATE' });
  });
});

describe('EurekaRegistry discovery: views', () => {
  it('serves views by app and by VIP, comma lists included, as frozen arrays kept until the view changes', async () => {
    const clock = new ManualClock();
    const server = await fake();
    const multi = wireInstance({ instanceId: 'm:greeter:8080', vipAddress: 'greeter, hello' });
    const other = wireInstance({ instanceId: 'o:other:8080', app: 'OTHER', vipAddress: 'hello', status: 'STARTING' });
    const state = { full: applicationsDocument([A, multi, other], 'STARTING_1_UP_2_'), delta: undefined as Json };
    serve(server, state);
    const { registry, fetches } = start([server.url], clock);
    await until(clock, () => fetches.length === 1, 'the fetch');
    expect(ids(registry.instancesByVip('hello'))).toEqual(['m:greeter:8080', 'o:other:8080']);
    expect(ids(registry.upInstancesByVip('HELLO'))).toEqual(['m:greeter:8080']);
    expect(ids(registry.instancesByVip('hello,greeter'))).toEqual(['a:greeter:8080', 'm:greeter:8080', 'o:other:8080']);
    expect(ids(registry.instancesByApp('other'))).toEqual(['o:other:8080']);
    expect(registry.instancesByVip('nothing')).toEqual([]);
    const up = registry.upInstancesByVip('greeter');
    expect(Object.isFrozen(up)).toBe(true);
    expect(registry.upInstancesByVip('greeter')).toBe(up);

    state.delta = applicationsDocument([{ ...other, status: 'UP', actionType: 'MODIFIED' }], 'UP_3_');
    await clock.advanceAsync(30_000);
    await until(clock, () => fetches.length === 2, 'the delta');
    expect(registry.upInstancesByVip('greeter')).not.toBe(up);
    expect(ids(registry.upInstancesByVip('hello'))).toEqual(['m:greeter:8080', 'o:other:8080']);
  });
});
