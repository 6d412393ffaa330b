// The development registry's REST behaviour, checked against the real Spring Cloud Netflix Eureka server with the
// same requests: HTTP codes, what a read shows after each write, and the bodies' shapes. Each case runs on both;
// the two documented differences (a bad status value: the real server answers 500, ours 400 with the reason; an
// XML-only Accept: the real server answers XML, ours 406) are the only expectations that differ.
// The real server runs with its read-only response cache off, so a read shows a write at once on both.
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EurekaServer } from 'karyon-ts/testing';
import { buildInterop, killAll, startEurekaCluster } from './harness.js';
import { interopSuite } from './suite.js';
import { registration } from './peers.js';

type Kind = 'real' | 'development';

interface Answer {
  readonly code: number;
  readonly body: string;
  json(): Record<string, unknown>;
}

async function call(base: string, method: string, path: string, body?: unknown, accept = 'application/json'): Promise<Answer> {
  const res = await request(`${base}${path}`, {
    method: method as 'GET',
    headers: { accept, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.body.text();
  return { code: res.statusCode, body: text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** `status/overriddenStatus` as a read of the instance shows it, or the HTTP code. */
async function shown(base: string, app: string, id: string): Promise<string> {
  const answer = await call(base, 'GET', `/apps/${app}/${id}`);
  if (answer.code !== 200) return `HTTP ${answer.code}`;
  const instance = answer.json()['instance'] as Record<string, unknown>;
  return `${String(instance['status'])}/${String(instance['overriddenStatus'])}`;
}

function applicationsOf(answer: Answer): { hash: unknown; delta: unknown; instances: string[] } {
  const doc = answer.json()['applications'] as { apps__hashcode: unknown; versions__delta: unknown; application: { instance: { instanceId: string }[] }[] };
  return { hash: doc.apps__hashcode, delta: doc.versions__delta, instances: doc.application.flatMap((a) => a.instance.map((i) => i.instanceId)).sort() };
}

function conformance(kind: Kind, base: () => string): void {
  it('registers (204) and reads back by app in any case, instance id, VIP and secure VIP; 404 for unknowns', async () => {
    const b = base();
    expect((await call(b, 'POST', '/apps/CONF-READ', registration('CONF-READ', 'r-1'))).code).toBe(204);
    expect((await call(b, 'POST', '/apps/CONF-READ', registration('CONF-READ', 'r-2', { status: 'STARTING' }))).code).toBe(204);
    expect(await shown(b, 'conf-read', 'r-1')).toBe('UP/UNKNOWN');
    expect(await shown(b, 'CONF-READ', 'r-2')).toBe('STARTING/UNKNOWN');
    const byId = await call(b, 'GET', '/instances/r-1');
    expect(byId.code).toBe(200);
    expect(byId.json()['instance']).toMatchObject({ instanceId: 'r-1', app: 'CONF-READ', port: { $: 8080, '@enabled': 'true' }, metadata: { version: '1' } });
    expect(byId.json()['instance']).not.toHaveProperty('overriddenstatus');
    const app = await call(b, 'GET', '/apps/CONF-READ');
    expect(app.code).toBe(200);
    expect((app.json()['application'] as { name: string }).name).toBe('CONF-READ');
    for (const path of ['/vips/conf-read-vip', '/svips/conf-read-svip']) {
      const vip = await call(b, 'GET', path);
      expect(vip.code).toBe(200);
      expect(applicationsOf(vip)).toEqual({ hash: 'STARTING_1_UP_1_', delta: '-1', instances: ['r-1', 'r-2'] });
    }
    for (const path of ['/vips/nobody-vip', '/svips/nobody-svip']) {
      const none = await call(b, 'GET', path);
      expect(none.code).toBe(200);
      expect(applicationsOf(none)).toEqual({ hash: '', delta: '-1', instances: [] });
    }
    for (const path of ['/apps/CONF-NOBODY', '/apps/CONF-READ/nobody', '/instances/nobody']) expect((await call(b, 'GET', path)).code).toBe(404);
    const all = applicationsOf(await call(b, 'GET', '/apps'));
    expect(all.instances).toEqual(expect.arrayContaining(['r-1', 'r-2']));
    const delta = await call(b, 'GET', '/apps/delta');
    expect(delta.code).toBe(200);
    expect(applicationsOf(delta).instances).toEqual(expect.arrayContaining(['r-1', 'r-2']));
  });

  it('renews with 200, and 404 for an unknown app or id and for a newer lastDirtyTimestamp', async () => {
    const b = base();
    await call(b, 'POST', '/apps/CONF-RENEW', registration('CONF-RENEW', 'n-1'));
    expect((await call(b, 'PUT', '/apps/CONF-RENEW/n-1?status=UP&lastDirtyTimestamp=1000')).code).toBe(200);
    expect((await call(b, 'PUT', '/apps/CONF-RENEW/n-1?status=UP&lastDirtyTimestamp=500')).code).toBe(200);
    expect((await call(b, 'PUT', '/apps/CONF-RENEW/n-1')).code).toBe(200);
    expect((await call(b, 'PUT', '/apps/CONF-RENEW/n-1?status=UP&lastDirtyTimestamp=2000')).code).toBe(404);
    expect((await call(b, 'PUT', '/apps/CONF-OTHER/n-1')).code).toBe(404);
    expect((await call(b, 'PUT', '/apps/CONF-RENEW/nobody')).code).toBe(404);
    // The heartbeat's status is not a status change.
    expect((await call(b, 'PUT', '/apps/CONF-RENEW/n-1?status=DOWN&lastDirtyTimestamp=1000')).code).toBe(200);
    expect(await shown(b, 'CONF-RENEW', 'n-1')).toBe('UP/UNKNOWN');
  });

  it('keeps an operator override through a re-registration, removes it with a value, and ignores removing none', async () => {
    const b = base();
    await call(b, 'POST', '/apps/CONF-OVR', registration('CONF-OVR', 'o-1'));
    // Removing an override that does not exist changes nothing.
    expect((await call(b, 'DELETE', '/apps/CONF-OVR/o-1/status?value=UP')).code).toBe(200);
    expect(await shown(b, 'CONF-OVR', 'o-1')).toBe('UP/UNKNOWN');
    expect((await call(b, 'PUT', '/apps/CONF-OVR/o-1/status?value=OUT_OF_SERVICE')).code).toBe(200);
    expect(await shown(b, 'CONF-OVR', 'o-1')).toBe('OUT_OF_SERVICE/OUT_OF_SERVICE');
    expect((await call(b, 'POST', '/apps/CONF-OVR', registration('CONF-OVR', 'o-1', { lastDirtyTimestamp: '3000' }))).code).toBe(204);
    expect(await shown(b, 'CONF-OVR', 'o-1')).toBe('OUT_OF_SERVICE/OUT_OF_SERVICE');
    expect((await call(b, 'DELETE', '/apps/CONF-OVR/o-1/status?value=UP')).code).toBe(200);
    expect(await shown(b, 'CONF-OVR', 'o-1')).toBe('UP/UNKNOWN');
    // Without a value the status becomes UNKNOWN: heartbeats get 404 until the instance registers again.
    await call(b, 'PUT', '/apps/CONF-OVR/o-1/status?value=OUT_OF_SERVICE');
    expect((await call(b, 'DELETE', '/apps/CONF-OVR/o-1/status')).code).toBe(200);
    expect(await shown(b, 'CONF-OVR', 'o-1')).toBe('UNKNOWN/UNKNOWN');
    expect((await call(b, 'PUT', '/apps/CONF-OVR/o-1?status=UP&lastDirtyTimestamp=3000')).code).toBe(404);
    expect((await call(b, 'POST', '/apps/CONF-OVR', registration('CONF-OVR', 'o-1', { lastDirtyTimestamp: '4000' }))).code).toBe(204);
    expect(await shown(b, 'CONF-OVR', 'o-1')).toBe('UP/UNKNOWN');
    // A status value that is no status.
    const bad = await call(b, 'PUT', '/apps/CONF-OVR/o-1/status?value=BOGUS');
    expect(bad.code).toBe(kind === 'real' ? 500 : 400);
    if (kind === 'development') expect(bad.body).toContain('BOGUS');
    expect(await shown(b, 'CONF-OVR', 'o-1')).toBe('UP/UNKNOWN');
  });

  it('merges metadata; cancels with 200 then 404; writes to an unknown instance get 404', async () => {
    const b = base();
    await call(b, 'POST', '/apps/CONF-META', registration('CONF-META', 'm-1'));
    expect((await call(b, 'PUT', '/apps/CONF-META/m-1/metadata?version=2&owner=team-a')).code).toBe(200);
    expect((await call(b, 'GET', '/apps/CONF-META/m-1')).json()['instance']).toMatchObject({ metadata: { version: '2', owner: 'team-a' } });
    expect((await call(b, 'DELETE', '/apps/CONF-META/m-1')).code).toBe(200);
    expect((await call(b, 'DELETE', '/apps/CONF-META/m-1')).code).toBe(404);
    expect(await shown(b, 'CONF-META', 'm-1')).toBe('HTTP 404');
    expect((await call(b, 'PUT', '/apps/CONF-META/m-1/status?value=UP')).code).toBe(404);
    expect((await call(b, 'DELETE', '/apps/CONF-META/m-1/status')).code).toBe(404);
    expect((await call(b, 'PUT', '/apps/CONF-META/m-1/metadata?a=b')).code).toBe(404);
  });

  it('refuses bad registrations with 400 and registers nothing', async () => {
    const b = base();
    const without = (field: string): unknown => {
      const body = registration('CONF-BAD', 'b-1');
      delete body.instance[field];
      return body;
    };
    expect((await call(b, 'POST', '/apps/CONF-BAD', '{"instance": {')).code).toBe(400);
    expect((await call(b, 'POST', '/apps/CONF-BAD', {})).code).toBe(400);
    expect((await call(b, 'POST', '/apps/CONF-BAD', without('hostName'))).code).toBe(400);
    expect((await call(b, 'POST', '/apps/CONF-BAD', without('ipAddr'))).code).toBe(400);
    expect((await call(b, 'POST', '/apps/CONF-BAD', without('dataCenterInfo'))).code).toBe(400);
    expect((await call(b, 'POST', '/apps/CONF-OTHER', registration('CONF-BAD', 'b-1'))).code).toBe(400);
    expect((await call(b, 'GET', '/apps/CONF-BAD')).code).toBe(404);
  });

  it('answers an XML-only Accept with XML (real server) or 406 (the development registry answers JSON only)', async () => {
    const answer = await call(base(), 'GET', '/apps', undefined, 'application/xml');
    expect(answer.code).toBe(kind === 'real' ? 200 : 406);
    if (kind === 'real') expect(answer.body).toContain('<applications>');
  });
}

describe('Eureka REST conformance: the development registry', () => {
  let server: EurekaServer | undefined;
  beforeAll(async () => {
    server = new EurekaServer({ port: 0, host: '127.0.0.1' });
    await server.listen();
  });
  afterAll(async () => {
    await server?.close();
  });
  conformance('development', () => `http://127.0.0.1:${server?.port ?? 0}/eureka`);
});

interopSuite('Eureka REST conformance: the real Eureka server', () => {
  let url = '';
  beforeAll(async () => {
    await buildInterop();
    const [peer] = await startEurekaCluster(1, { properties: { 'eureka.server.use-read-only-response-cache': 'false' } });
    url = peer?.serviceUrl ?? '';
  }, 900_000);
  afterAll(async () => {
    await killAll();
  });
  conformance('real', () => url);
});
