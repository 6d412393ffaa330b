import { connect } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { isKaryonError } from 'karyon-ts';
import type { Logger, InstanceDescriptor } from 'karyon-ts';
import { encodeInstance } from '../../src/registry/eureka/wire.js';
import { encodeLease } from '../../src/registry/server/encodeLease.js';
import type { EurekaServerOptions } from 'karyon-ts/testing';
import { EurekaServer, ManualClock } from 'karyon-ts/testing';
import { waitFor } from '../support/logger.js';

// The development Eureka server over real HTTP on loopback.

const servers: EurekaServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(options: EurekaServerOptions = {}) {
  const lines: string[] = [];
  const logger: Logger = {
    debug: () => undefined,
    info: (message) => lines.push(message),
    warn: (message) => lines.push(`WARN ${message}`),
    error: (message) => lines.push(`ERROR ${message}`),
  };
  const server = new EurekaServer({ port: 0, host: '127.0.0.1', logger, ...options });
  servers.push(server);
  await server.listen();
  const call = async (method: string, path: string, init: { body?: string | Buffer; headers?: Record<string, string> } = {}) => {
    const response = await request(`http://127.0.0.1:${server.port}${path}`, {
      method: method as 'GET',
      headers: { accept: 'application/json', ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
      ...(init.body === undefined ? {} : { body: init.body }),
    });
    const raw = Buffer.from(await response.body.arrayBuffer());
    return { status: response.statusCode, headers: response.headers, raw, text: raw.toString(), json: () => JSON.parse(raw.toString()) };
  };
  return { server, lines, call };
}

function descriptor(id: string, fields: Partial<InstanceDescriptor> = {}): InstanceDescriptor {
  return {
    instanceId: id,
    app: 'GREETER',
    vipAddress: 'greeter',
    secureVipAddress: 'greeter-secure',
    hostName: `${id}.local`,
    ipAddr: '127.0.0.1',
    port: 8080,
    portEnabled: true,
    securePort: 8443,
    securePortEnabled: false,
    zone: 'default',
    metadata: { version: '1' },
    homePageUrl: 'http://127.0.0.1:8080/',
    statusPageUrl: 'http://127.0.0.1:8077/status',
    healthCheckUrl: 'http://127.0.0.1:8077/healthcheck',
    leaseRenewalIntervalMs: 30_000,
    leaseDurationMs: 90_000,
    ...fields,
  };
}

/** The body our own Eureka client sends: `{"instance": encodeInstance(...)}`. */
function registration(id: string, status: string, lastDirty: number, fields: Partial<InstanceDescriptor> = {}): string {
  return JSON.stringify({ instance: encodeInstance(descriptor(id, fields), status, lastDirty) });
}

describe('EurekaServer REST API', () => {
  it('registers and answers every read under /eureka and /eureka/v2, upper-casing the app', async () => {
    const { server, call, lines } = await start();
    expect((await call('POST', '/eureka/apps/greeter', { body: registration('g-1', 'UP', 1000) })).status).toBe(204);
    expect((await call('POST', '/eureka/v2/apps/GREETER', { body: registration('g-2', 'STARTING', 1000, { port: 8081 }) })).status).toBe(204);
    expect(lines).toEqual([
      'registered GREETER/g-1 as UP at 127.0.0.1:8080 (vip greeter, lease 90s)',
      'registered GREETER/g-2 as STARTING at 127.0.0.1:8081 (vip greeter, lease 90s)',
    ]);

    for (const base of ['/eureka', '/eureka/v2']) {
      const apps = await call('GET', `${base}/apps`);
      expect(apps.status).toBe(200);
      expect(apps.headers['content-type']).toBe('application/json');
      const doc = apps.json();
      expect(doc.applications.apps__hashcode).toBe('STARTING_1_UP_1_');
      expect(doc.applications.versions__delta).toBe('2');
      expect(doc.applications.application).toHaveLength(1);
      expect(doc.applications.application[0].name).toBe('GREETER');
      const instances = doc.applications.application[0].instance;
      expect(instances.map((i: { instanceId: string; status: string }) => [i.instanceId, i.status])).toEqual([
        ['g-1', 'UP'],
        ['g-2', 'STARTING'],
      ]);
      expect(instances[1]).toMatchObject({ port: { $: 8081, '@enabled': 'true' }, vipAddress: 'greeter', metadata: { version: '1' } });

      const app = (await call('GET', `${base}/apps/greeter`)).json();
      expect(app.application.name).toBe('GREETER');
      expect(app.application.instance).toHaveLength(2);
      const one = (await call('GET', `${base}/apps/Greeter/g-2`)).json();
      expect(one.instance).toMatchObject({ instanceId: 'g-2', status: 'STARTING', app: 'GREETER' });
      expect((await call('GET', `${base}/instances/g-1`)).json().instance.instanceId).toBe('g-1');
      const vip = (await call('GET', `${base}/vips/GREETER`)).json();
      expect(vip.applications.application[0].instance).toHaveLength(2);
      // The VIP's own hash, and no registry version, as the real server answers.
      expect(vip.applications).toMatchObject({ versions__delta: '-1', apps__hashcode: 'STARTING_1_UP_1_' });
      const svip = (await call('GET', `${base}/svips/greeter-secure`)).json();
      expect(svip.applications.application[0].instance).toHaveLength(2);
    }
    expect((await call('GET', '/eureka/apps/NOBODY')).status).toBe(404);
    expect((await call('GET', '/eureka/apps/GREETER/nobody')).status).toBe(404);
    expect((await call('GET', '/eureka/instances/nobody')).status).toBe(404);
    // A VIP nobody serves is an empty document, as the real server answers.
    for (const path of ['/eureka/vips/nobody', '/eureka/svips/greeter']) {
      const empty = await call('GET', path);
      expect(empty.status).toBe(200);
      expect(empty.json()).toEqual({ applications: { versions__delta: '-1', apps__hashcode: '', application: [] } });
    }
    expect(server.instances().map((lease) => lease.instance.instanceId)).toEqual(['g-1', 'g-2']);
    const summary = await call('GET', '/eureka', { headers: { accept: 'text/plain' } });
    expect(summary.text).toContain('GREETER/g-2  STARTING  127.0.0.1:8081  vip greeter');
  });

  it('renews, cancels, sets and removes overrides, and merges metadata, with the status codes of Netflix', async () => {
    const { server, call } = await start();
    await call('POST', '/eureka/apps/GREETER', { body: registration('g-1', 'UP', 1000) });
    const status = () => server.instance('greeter', 'g-1')?.instance.status;

    // The heartbeat's status is read and ignored; only lastDirtyTimestamp matters.
    expect((await call('PUT', '/eureka/apps/GREETER/g-1?status=DOWN&lastDirtyTimestamp=1000')).status).toBe(200);
    expect(status()).toBe('UP');
    expect((await call('PUT', '/eureka/apps/GREETER/g-1?status=UP&lastDirtyTimestamp=2000')).status).toBe(404);
    expect((await call('PUT', '/eureka/apps/OTHER/g-1')).status).toBe(404);

    expect((await call('PUT', '/eureka/v2/apps/GREETER/g-1/status?value=OUT_OF_SERVICE')).status).toBe(200);
    expect((await call('GET', '/eureka/apps/GREETER/g-1')).json().instance).toMatchObject({
      status: 'OUT_OF_SERVICE',
      overriddenStatus: 'OUT_OF_SERVICE',
    });
    // The real server writes only the current spelling.
    expect((await call('GET', '/eureka/apps/GREETER/g-1')).json().instance).not.toHaveProperty('overriddenstatus');
    // The OUT_OF_SERVICE re-register case: re-registering as UP does not bring it back.
    expect((await call('POST', '/eureka/apps/GREETER', { body: registration('g-1', 'UP', 3000) })).status).toBe(204);
    expect(status()).toBe('OUT_OF_SERVICE');
    expect((await call('DELETE', '/eureka/apps/GREETER/g-1/status?value=UP')).status).toBe(200);
    expect(status()).toBe('UP');

    // Removing an override without a value leaves UNKNOWN: the heartbeat gets 404 and the client re-registers.
    await call('PUT', '/eureka/apps/GREETER/g-1/status?value=OUT_OF_SERVICE');
    expect((await call('DELETE', '/eureka/apps/GREETER/g-1/status')).status).toBe(200);
    expect(status()).toBe('UNKNOWN');
    const refused = await call('PUT', '/eureka/apps/GREETER/g-1?status=UP&lastDirtyTimestamp=3000');
    expect(refused.status).toBe(404);
    expect(refused.text).toContain('status is UNKNOWN');
    expect((await call('POST', '/eureka/apps/GREETER', { body: registration('g-1', 'UP', 4000) })).status).toBe(204);
    expect(status()).toBe('UP');
    expect((await call('PUT', '/eureka/apps/GREETER/g-1?lastDirtyTimestamp=4000')).status).toBe(200);

    expect((await call('PUT', '/eureka/apps/GREETER/g-1/metadata?version=2&owner=team-a')).status).toBe(200);
    expect((await call('GET', '/eureka/apps/GREETER/g-1')).json().instance.metadata).toEqual({ version: '2', owner: 'team-a' });

    expect((await call('DELETE', '/eureka/apps/GREETER/g-1')).status).toBe(200);
    expect((await call('DELETE', '/eureka/apps/GREETER/g-1')).status).toBe(404);
    expect((await call('PUT', '/eureka/apps/GREETER/g-1')).status).toBe(404);
    expect((await call('PUT', '/eureka/apps/GREETER/g-1/status?value=UP')).status).toBe(404);
    expect((await call('DELETE', '/eureka/apps/GREETER/g-1/status')).status).toBe(404);
    expect((await call('PUT', '/eureka/apps/GREETER/g-1/metadata?a=b')).status).toBe(404);
    expect(server.instances()).toEqual([]);
  });

  it('stores metadata keys named like Object.prototype members, and __proto__ changes no prototype', async () => {
    const { server, call } = await start();
    await call('POST', '/eureka/apps/GREETER', { body: registration('g-1', 'UP', 1000) });
    const keys = ['toString', 'constructor', 'valueOf', 'hasOwnProperty', '__proto__', '__defineGetter__'];
    const query = keys.map((key, i) => `${key}=v${i}`).join('&');
    // A repeated key keeps its first value, and `@class` is still not metadata.
    expect((await call('PUT', `/eureka/apps/GREETER/g-1/metadata?${query}&toString=ignored&@class=java.util.Map`)).status).toBe(200);
    const expected = [['version', '1'], ...keys.map((key, i) => [key, `v${i}`])].sort();

    // JSON.parse makes `__proto__` an own key like any other, so the document is compared entry by entry.
    const shown = (await call('GET', '/eureka/apps/GREETER/g-1')).json().instance.metadata as object;
    expect(Object.entries(shown).sort()).toEqual(expected);
    expect(Object.entries((await call('GET', '/eureka/apps/GREETER')).json().application.instance[0].metadata as object).sort()).toEqual(expected);
    const stored = server.instance('GREETER', 'g-1')!.instance.metadata;
    expect(Object.entries(stored).sort()).toEqual(expected);
    expect(Object.getPrototypeOf(stored)).toBe(Object.prototype);
  });

  it('serves the delta with actions and the hash of the whole registry, gzipped when asked', async () => {
    const { call } = await start();
    await call('POST', '/eureka/apps/GREETER', { body: registration('g-1', 'UP', 1000) });
    await call('POST', '/eureka/apps/GREETER', { body: registration('g-2', 'UP', 1000) });
    await call('POST', '/eureka/apps/CALLER', { body: registration('c-1', 'DOWN', 1000, { app: 'CALLER', vipAddress: 'caller' }) });
    await call('PUT', '/eureka/apps/GREETER/g-2/status?value=OUT_OF_SERVICE');
    await call('DELETE', '/eureka/apps/GREETER/g-1');

    const delta = await call('GET', '/eureka/apps/delta', { headers: { 'accept-encoding': 'gzip, deflate' } });
    expect(delta.status).toBe(200);
    expect(delta.headers['content-encoding']).toBe('gzip');
    const doc = JSON.parse(gunzipSync(delta.raw).toString());
    expect(doc.applications.versions__delta).toBe('5');
    expect(doc.applications.apps__hashcode).toBe('DOWN_1_OUT_OF_SERVICE_1_');
    const actions = doc.applications.application.flatMap((app: { instance: { instanceId: string; actionType: string }[] }) =>
      app.instance.map((i) => `${i.instanceId}:${i.actionType}`),
    );
    expect(actions.sort()).toEqual(['c-1:ADDED', 'g-1:DELETED', 'g-2:MODIFIED']);

    const full = await call('GET', '/eureka/apps', { headers: { 'accept-encoding': 'gzip' } });
    expect(full.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(full.raw).toString()).applications.apps__hashcode).toBe('DOWN_1_OUT_OF_SERVICE_1_');
    const plain = await call('GET', '/eureka/apps', { headers: { 'accept-encoding': 'gzip;q=0, identity' } });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.json().applications.apps__hashcode).toBe('DOWN_1_OUT_OF_SERVICE_1_');
  });

  it('answers JSON when Accept contains json, is absent or */*, and 406 when only XML is acceptable', async () => {
    const { call } = await start();
    expect((await call('GET', '/eureka/apps', { headers: { accept: '' } })).json().applications).toBeDefined();
    expect((await call('GET', '/eureka/apps', { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } })).status).toBe(200);
    const xml = await call('GET', '/eureka/apps', { headers: { accept: 'application/xml' } });
    expect(xml.status).toBe(406);
    expect(xml.text).toContain('answers JSON only');
  });

  it('shows a change at once by default, and after the refresh tick with the emulated read-only cache', async () => {
    const clock = new ManualClock();
    const { call } = await start({ clock, responseCacheMs: 30_000 });
    const count = async (path: string) => {
      const doc = (await call('GET', path)).json();
      const apps = doc.applications?.application ?? [doc.application];
      return apps.reduce((n: number, app: { instance: unknown[] }) => n + app.instance.length, 0);
    };
    await call('POST', '/eureka/apps/GREETER', { body: registration('g-1', 'UP', 1000) });
    expect(await count('/eureka/apps')).toBe(1);
    expect(await count('/eureka/apps/GREETER')).toBe(1);
    await call('POST', '/eureka/apps/GREETER', { body: registration('g-2', 'UP', 1000) });
    expect(await count('/eureka/apps')).toBe(1);
    expect(await count('/eureka/apps/GREETER')).toBe(1);
    // One instance is not cached: Netflix reads it from the registry too.
    expect((await call('GET', '/eureka/apps/GREETER/g-2')).status).toBe(200);
    await clock.advanceAsync(30_000);
    expect(await count('/eureka/apps')).toBe(2);
    expect(await count('/eureka/apps/GREETER')).toBe(2);

    const { call: callUncached } = await start();
    await callUncached('POST', '/eureka/apps/GREETER', { body: registration('g-1', 'UP', 1000) });
    expect((await callUncached('GET', '/eureka/apps')).json().applications.application[0].instance).toHaveLength(1);
    await callUncached('POST', '/eureka/apps/GREETER', { body: registration('g-2', 'UP', 1000) });
    expect((await callUncached('GET', '/eureka/apps')).json().applications.application[0].instance).toHaveLength(2);
  });

  it('writes every lease as encodeLease does, with its latest renewal, after heartbeats and changes', async () => {
    const clock = new ManualClock();
    const { server, call } = await start({ clock });
    for (const id of ['g-1', 'g-2', 'g-3']) await call('POST', '/eureka/apps/GREETER', { body: registration(id, 'UP', 1000) });
    await call('POST', '/eureka/apps/OTHER', { body: registration('o-1', 'UP', 1000, { app: 'OTHER', vipAddress: 'greeter' }) });
    const expected = (ids: string[]) => ids.map((id) => encodeLease(server.instance(id.startsWith('o') ? 'OTHER' : 'GREETER', id)!));
    const full = async () => (await call('GET', '/eureka/apps')).json().applications.application.flatMap((app: { instance: unknown[] }) => app.instance);
    expect(await full()).toEqual(expected(['g-1', 'g-2', 'g-3', 'o-1']));
    clock.advance(5_000);
    expect((await call('PUT', '/eureka/apps/GREETER/g-1')).status).toBe(200);
    expect((await call('PUT', '/eureka/apps/OTHER/o-1')).status).toBe(200);
    // A change, so the full registry is built again: the renewed leases show their new renewal time.
    expect((await call('PUT', '/eureka/apps/GREETER/g-2/status?value=OUT_OF_SERVICE')).status).toBe(200);
    const after = await full();
    expect(after).toEqual(expected(['g-1', 'g-2', 'g-3', 'o-1']));
    expect(after[0].leaseInfo.lastRenewalTimestamp).toBe(clock.now());
    expect(after[2].leaseInfo.lastRenewalTimestamp).toBe(clock.now() - 5_000);
    clock.advance(1_000);
    expect((await call('PUT', '/eureka/apps/GREETER/g-3')).status).toBe(200);
    const vip = (await call('GET', '/eureka/vips/greeter')).json().applications;
    expect(vip.application.flatMap((app: { instance: unknown[] }) => app.instance)).toEqual(expected(['g-1', 'g-2', 'g-3', 'o-1']));
    expect(vip.versions__delta).toBe('-1');
    expect((await call('GET', '/eureka/apps/GREETER')).json().application.instance).toEqual(expected(['g-1', 'g-2', 'g-3']));
  });

  it('evicts on the eviction tick an instance that stopped renewing for one lease duration', async () => {
    const clock = new ManualClock();
    const { call, lines } = await start({ clock, leaseDurationMs: 10_000, evictionIntervalMs: 5_000 });
    await call('POST', '/eureka/apps/GREETER', { body: JSON.stringify({ instance: { ...encodeInstance(descriptor('g-1'), 'UP', 1000), leaseInfo: undefined } }) });
    await call('POST', '/eureka/apps/GREETER', { body: registration('g-2', 'UP', 1000, { leaseDurationMs: 60_000 }) });
    await clock.advanceAsync(5_000);
    expect((await call('PUT', '/eureka/apps/GREETER/g-1')).status).toBe(200);
    await clock.advanceAsync(10_000);
    expect((await call('GET', '/eureka/apps/GREETER/g-1')).status).toBe(200);
    await clock.advanceAsync(5_000);
    expect((await call('GET', '/eureka/apps/GREETER/g-1')).status).toBe(404);
    expect((await call('GET', '/eureka/apps/GREETER/g-2')).status).toBe(200);
    expect(lines.at(-1)).toBe('evicted GREETER/g-1: no renewal for 15s (lease 10s)');
  });

  it('reset() emulates a restart that lost the registry: heartbeats get 404 until the instance registers again', async () => {
    const { server, call } = await start();
    await call('POST', '/eureka/apps/GREETER', { body: registration('g-1', 'UP', 1000) });
    expect(server.reset()).toBe(1);
    expect((await call('GET', '/eureka/apps')).json().applications).toEqual({ versions__delta: '2', apps__hashcode: '', application: [] });
    expect((await call('GET', '/eureka/apps/delta')).json().applications.application).toEqual([]);
    expect((await call('PUT', '/eureka/apps/GREETER/g-1')).status).toBe(404);
    expect((await call('POST', '/eureka/apps/GREETER', { body: registration('g-1', 'UP', 1000) })).status).toBe(204);
    expect((await call('PUT', '/eureka/apps/GREETER/g-1')).status).toBe(200);
  });
});

describe('EurekaServer on bad input', () => {
  it('answers each bad request with the 4xx a real server gives and a reason, and changes nothing', async () => {
    const { server, call } = await start({ maxBodyBytes: 4096 });
    await call('POST', '/eureka/apps/GREETER', { body: registration('g-1', 'UP', 1000) });
    const before = server.instances();
    const good = JSON.parse(registration('g-2', 'UP', 1000));
    const cases: [string, string, { body?: string; headers?: Record<string, string> }, number, string | RegExp][] = [
      ['POST', '/eureka/apps/GREETER', { body: '{"instance": {' }, 400, /^request body is not valid JSON/],
      ['POST', '/eureka/apps/GREETER', { body: '' }, 400, 'request body is empty; expected JSON'],
      ['POST', '/eureka/apps/GREETER', { body: '{"app":"GREETER"}' }, 400, 'request body must be a JSON object {"instance":{...}}'],
      ['POST', '/eureka/apps/GREETER', { body: JSON.stringify({ instance: { ...good.instance, hostName: '' } }) }, 400, 'Missing hostname'],
      ['POST', '/eureka/apps/GREETER', { body: JSON.stringify({ instance: { ...good.instance, ipAddr: undefined } }) }, 400, 'Missing ip address'],
      ['POST', '/eureka/apps/GREETER', { body: JSON.stringify({ instance: { ...good.instance, dataCenterInfo: undefined } }) }, 400, 'Missing dataCenterInfo'],
      ['POST', '/eureka/apps/GREETER', { body: JSON.stringify({ instance: { ...good.instance, status: 'READY' } }) }, 400, /^Unknown status "READY"/],
      ['POST', '/eureka/apps/OTHER', { body: JSON.stringify(good) }, 400, 'Mismatched appName, expecting OTHER but was GREETER'],
      ['POST', '/eureka/apps/GREETER', { body: JSON.stringify({ instance: { ...good.instance, pad: 'x'.repeat(5000) } }) }, 413, /exceeds the limit of 4096/],
      ['POST', '/eureka/apps/GREETER', { body: '<instance/>', headers: { 'content-type': 'application/xml' } }, 415, /reads JSON only/],
      ['PUT', '/eureka/apps/GREETER/g-1?lastDirtyTimestamp=soon', {}, 400, 'invalid lastDirtyTimestamp "soon": expected epoch milliseconds'],
      ['PUT', '/eureka/apps/GREETER/g-1/status?value=BROKEN', {}, 400, /^unknown status "BROKEN": expected one of UP, DOWN/],
      ['PUT', '/eureka/apps/GREETER/g-1/status', {}, 400, /^missing query parameter value/],
      ['DELETE', '/eureka/apps/GREETER/g-1/status?value=up', {}, 400, /^unknown status "up"/],
      ['PUT', '/eureka/apps/GREETER/nobody/status?value=BROKEN', {}, 404, 'no instance GREETER/nobody'],
      ['GET', '/eureka/apps/GREETER/g-1/extra/segments', {}, 404, /^no Eureka endpoint/],
      ['GET', '/apps', {}, 404, /paths start with \/eureka\/apps/],
      ['PATCH', '/eureka/apps/GREETER/g-1', {}, 405, /PATCH is not allowed/],
      ['GET', '/eureka/apps/%E0%A4%A', {}, 404, /^no Eureka endpoint/],
    ];
    for (const [method, path, init, status, text] of cases) {
      const response = await call(method, path, init);
      expect({ method, path, status: response.status }).toEqual({ method, path, status });
      if (typeof text === 'string') expect(response.text).toBe(text);
      else expect(response.text).toMatch(text);
    }
    expect(server.instances()).toEqual(before);
    expect((await call('PUT', '/eureka/apps/GREETER/g-1')).status).toBe(200);
  });

  it('survives malformed HTTP and clients that hang up mid-body', async () => {
    const { server, call } = await start();
    const port = server.port!;
    await new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.end('NOT HTTP AT ALL\r\n\r\n'));
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
      socket.resume();
    });
    await new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write('POST /eureka/apps/GREETER HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"inst');
        setTimeout(() => socket.destroy(), 50);
      });
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
    expect((await call('POST', '/eureka/apps/GREETER', { body: registration('g-1', 'UP', 1000) })).status).toBe(204);
    expect(server.instances()).toHaveLength(1);
  });
});

describe('EurekaServer resources', () => {
  it('close() is idempotent, works with await using, and listen() after close is refused', async () => {
    const server = new EurekaServer({ port: 0, host: '127.0.0.1' });
    servers.push(server); // closed after the test whatever failed (close() is idempotent)
    expect(() => server.url).toThrow(/not listening yet/);
    await server.listen();
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/eureka`);
    // A keep-alive connection left open must not hold close() up.
    const response = await request(`${server.url}/apps`, { headers: { accept: 'application/json' } });
    await response.body.text();
    await Promise.all([server.close(), server.close()]);
    await server.close();
    await expect(server.listen()).rejects.toSatisfy((error: unknown) => isKaryonError(error, 'ERR_INVALID_STATE'));

    let port = 0;
    {
      await using scoped = new EurekaServer({ port: 0, host: '127.0.0.1' });
      port = await scoped.listen();
    }
    await expect(request(`http://127.0.0.1:${port}/eureka/apps`)).rejects.toThrow();
  });

  it('close() during listen() waits for it and closes; a taken port fails with ERR_LISTEN', async () => {
    const server = new EurekaServer({ port: 0, host: '127.0.0.1' });
    servers.push(server);
    const listening = server.listen();
    await server.close();
    const port = await listening;
    await expect(request(`http://127.0.0.1:${port}/eureka/apps`)).rejects.toThrow();

    const { server: taken } = await start();
    const clash = new EurekaServer({ port: taken.port!, host: '127.0.0.1' });
    servers.push(clash);
    await expect(clash.listen()).rejects.toSatisfy((error: unknown) => isKaryonError(error, 'ERR_LISTEN'));
    await clash.close();
  });

  it('close() cuts a request still in flight after closeTimeoutMs', async () => {
    const server = new EurekaServer({ port: 0, host: '127.0.0.1', closeTimeoutMs: 100 });
    servers.push(server);
    const port = await server.listen();
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    // Expect: 100-continue makes the server say when it has read the request's head: the request is then in
    // flight, waiting for the 499 bytes of its body that never come.
    socket.write('POST /eureka/apps/GREETER HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\nExpect: 100-continue\r\n\r\n{');
    await waitFor(() => received.includes('100 Continue'), 10_000, 'the server to read the request head');
    const started = performance.now();
    await server.close();
    const elapsed = performance.now() - started;
    await closed;
    expect(elapsed).toBeGreaterThanOrEqual(95); // it waited for closeTimeoutMs before cutting
    expect(received).not.toMatch(/HTTP\/1\.1 [2-5]\d\d/); // no answer: the request was cut, not served
  });
});
