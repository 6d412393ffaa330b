import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createService, EurekaRegistry } from 'karyon-ts';
import type { InstanceDescriptor, Service, RegistrationEvent } from 'karyon-ts';
import { encodeInstance } from '../../src/registry/eureka/wire.js';
import type { EurekaServerOptions } from 'karyon-ts/testing';
import { testInstance, EurekaServer } from 'karyon-ts/testing';
import { memoryLogger, waitFor } from '../support/logger.js';
import { killSpawnedProcesses } from '../support/processes.js';

// Owner tokens of the development Eureka server over real HTTP: one team's token cannot touch another team's
// instances, a refused request changes nothing, and our Eureka client (alone, under a service, behind a
// gateway) works with the right token.

const teamA = 'greeter-owner-7f3a9c21d4e8b6f0';
const teamB = 'billing-owner-0b9e4d7c1a6f2e35';
const reader = 'registry-reader-5c8e1f0a9d3b7264';
const secrets = [teamA, teamB, reader];

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});
const dir = mkdtempSync(join(tmpdir(), 'karyon-registry-security-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function start(options: EurekaServerOptions = {}, owners: boolean = true) {
  const logger = memoryLogger();
  const ownerTokens = owners ? { ownerTokens: { GREETER: teamA, BILLING: teamB } } : {};
  const server = new EurekaServer({ port: 0, host: '127.0.0.1', logger, ...ownerTokens, ...options });
  cleanups.push(() => server.close());
  await server.listen();
  const base = `http://127.0.0.1:${server.port}/eureka`;
  const call = async (method: string, path: string, headers: Record<string, string> = {}, body?: string) => {
    const res = await request(`${base}${path}`, {
      method: method as 'GET',
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body ?? null,
    });
    return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
  };
  return { server, logger, call, base };
}

function body(app: string, id: string, status = 'UP', lastDirty = 1_700_000_000_000): string {
  return JSON.stringify({
    instance: encodeInstance(
      testInstance({ instanceId: id, app, port: 8080 }),
      status,
      lastDirty,
    ),
  });
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** Everything a reader or the server holds, as bytes: what a refused request must leave as it was. */
async function state(server: EurekaServer, call: Awaited<ReturnType<typeof start>>['call'], headers: Record<string, string> = {}): Promise<string> {
  const apps = await call('GET', '/apps', headers);
  const delta = await call('GET', '/apps/delta', headers);
  return JSON.stringify({ apps: apps.text, delta: delta.text, leases: server.instances() });
}

/** Every write a client can make to one instance of `app`, with the status a refusal is expected to leave. */
function writes(app: string, id: string): [string, string, string | undefined][] {
  return [
    ['POST', `/apps/${app}`, body(app, `${id}-new`)],
    ['POST', `/apps/${app}`, body(app, id, 'DOWN', 1_800_000_000_000)],
    ['PUT', `/apps/${app}/${id}?status=UP&lastDirtyTimestamp=1700000000000`, undefined],
    ['PUT', `/apps/${app}/${id}/status?value=OUT_OF_SERVICE`, undefined],
    ['DELETE', `/apps/${app}/${id}/status?value=UP`, undefined],
    ['PUT', `/apps/${app}/${id}/metadata?owner=mallory`, undefined],
    ['DELETE', `/apps/${app}/${id}`, undefined],
  ];
}

describe('the development Eureka server with owner tokens', () => {
  it("a team's token cannot touch another team's instances: 403 with a reason, 401 without a token, nothing changes", async () => {
    const { server, call, logger } = await start();
    expect((await call('POST', '/apps/GREETER', bearer(teamA), body('GREETER', 'g-1'))).status).toBe(204);
    expect((await call('POST', '/apps/BILLING', { 'x-karyon-registry-token': teamB }, body('BILLING', 'b-1'))).status).toBe(204);
    const before = await state(server, call);

    for (const [method, path, payload] of writes('BILLING', 'b-1')) {
      const wrong = await call(method, path, bearer(teamA), payload);
      expect({ method, path, status: wrong.status }).toEqual({ method, path, status: 403 });
      expect(wrong.text).toMatch(/not the owner token of application BILLING/);
      const missing = await call(method, path, {}, payload);
      expect({ method, path, status: missing.status }).toEqual({ method, path, status: 401 });
      expect(missing.text).toMatch(/missing registry token/);
      expect(missing.headers['www-authenticate']).toMatch(/^Bearer realm="karyon-registry"/);
      // GREETER's token in the other accepted header, and a Basic credential, fare no better.
      expect((await call(method, path, { 'x-karyon-registry-token': teamA }, payload)).status).toBe(403);
      expect((await call(method, path, { authorization: `Basic ${Buffer.from(`billing:${teamA}`).toString('base64')}` }, payload)).status).toBe(401);
    }
    // An application without an owner token cannot be slipped in by anyone.
    const intruder = await call('POST', '/apps/INTRUDER', bearer(teamA), body('INTRUDER', 'i-1'));
    expect(intruder.status).toBe(403);
    expect(intruder.text).toMatch(/application INTRUDER has no owner token/);

    expect(await state(server, call)).toBe(before);
    const refusals = logger.lines.filter((line) => line.startsWith('warn refused'));
    expect(refusals.length).toBe(writes('BILLING', 'b-1').length * 4 + 1);
    expect(refusals[0]).toMatch(/^warn refused POST \/eureka\/apps\/BILLING from 127\.0\.0\.1 \(403\)/);
    for (const secret of secrets) expect(logger.lines.join('\n')).not.toContain(secret);

    // The owner can do each of them, and each one changes the registry.
    let previous = before;
    for (const [method, path, payload] of writes('BILLING', 'b-1')) {
      const res = await call(method, path, bearer(teamB), payload);
      expect({ method, path, ok: res.status < 300 }).toEqual({ method, path, ok: true });
      const now = await state(server, call);
      if (method !== 'PUT' || !path.includes('?status=')) expect(now).not.toBe(previous); // a renewal is not a change
      previous = now;
    }
    expect(server.instance('BILLING', 'b-1')).toBeUndefined();
    expect(server.instance('BILLING', 'b-1-new')?.instance.status).toBe('UP');
    expect(server.instance('GREETER', 'g-1')?.instance.status).toBe('UP');
  });

  it("an app registering under another app's instance id, with its own token, hides nothing and costs no full fetch", async () => {
    const { server, call, base } = await start({ responseCacheMs: 0 });
    expect((await call('POST', '/apps/GREETER', bearer(teamA), body('GREETER', 'g-1'))).status).toBe(204);
    // BILLING's owner, allowed to write BILLING only, reuses GREETER's id.
    expect((await call('POST', '/apps/BILLING', bearer(teamB), body('BILLING', 'g-1'))).status).toBe(204);
    expect(server.instance('GREETER', 'g-1')?.instance.status).toBe('UP');

    const viewer = new EurekaRegistry({ serviceUrls: [base], registryFetchIntervalMs: 50, jitterRatio: 0 });
    cleanups.push(() => viewer.close());
    const fetches: string[] = [];
    let mismatches = 0;
    viewer.on('fetch', (event) => fetches.push(`${event.kind}:${event.reason ?? ''}:${event.skipped}`));
    viewer.on('hashMismatch', () => mismatches++);
    await viewer.refresh();
    // BILLING's record changes status on every cycle: each delta carries it, GREETER's record is untouched.
    for (const status of ['DOWN', 'UP', 'DOWN', 'UP']) {
      const seen = fetches.length;
      expect((await call('PUT', `/apps/BILLING/g-1/status?value=${status === 'DOWN' ? 'OUT_OF_SERVICE' : 'UP'}`, bearer(teamB))).status).toBe(200);
      await waitFor(() => fetches.length >= seen + 2, 10_000, 'two more fetches');
      expect(viewer.instance('g-1', 'GREETER')?.status).toBe('UP');
      expect(viewer.upInstancesByVip('greeter').map((instance) => instance.app)).toEqual(['GREETER']);
    }
    expect(viewer.instance('g-1', 'BILLING')).toBeDefined();
    expect(mismatches).toBe(0);
    expect(fetches[0]).toBe('full:initial:0');
    expect(fetches.slice(1).every((fetch) => fetch === 'delta::0')).toBe(true);
  });

  it('keeps reads open without a read token, and with one accepts it or any owner token', async () => {
    const open = await start();
    expect((await open.call('GET', '/apps')).status).toBe(200);

    const guarded = await start({ readToken: reader });
    expect((await guarded.call('POST', '/apps/GREETER', bearer(teamA), body('GREETER', 'g-1'))).status).toBe(204);
    const paths = ['/apps', '/apps/delta', '/apps/GREETER', '/apps/GREETER/g-1', '/instances/g-1', '/vips/greeter', '/svips/greeter', '/'];
    for (const path of paths) {
      const bare = await guarded.call('GET', path);
      expect({ path, status: bare.status }).toEqual({ path, status: 401 });
      expect(bare.text).toMatch(/send the read token or an owner token/);
      expect({ path, status: (await guarded.call('GET', path, bearer('not-a-token'))).status }).toEqual({ path, status: 403 });
      expect({ path, status: (await guarded.call('GET', path, bearer(reader))).status }).toEqual({ path, status: 200 });
      expect({ path, status: (await guarded.call('GET', path, { 'x-karyon-registry-token': teamB })).status }).toEqual({ path, status: 200 });
    }
    // The read token reads; it does not write.
    expect((await guarded.call('DELETE', '/apps/GREETER/g-1', bearer(reader))).status).toBe(403);
    expect(guarded.server.instance('GREETER', 'g-1')).toBeDefined();
  });

  it('without owner tokens behaves as a plain Eureka server', async () => {
    const { call, server } = await start({}, false);
    expect((await call('POST', '/apps/ANY', {}, body('ANY', 'a-1'))).status).toBe(204);
    expect((await call('PUT', '/apps/ANY/a-1/status?value=OUT_OF_SERVICE')).status).toBe(200);
    expect((await call('DELETE', '/apps/ANY/a-1')).status).toBe(200);
    expect(server.instances()).toEqual([]);
  });
});

describe('our Eureka client with owner tokens', () => {
  const descriptor = (app: string, id: string): InstanceDescriptor => testInstance({ instanceId: id, app, port: 8080 });

  function client(url: string, options: Partial<ConstructorParameters<typeof EurekaRegistry>[0]>): EurekaRegistry {
    const made = new EurekaRegistry({ serviceUrls: [url], jitterRatio: 0, retryInitialDelayMs: 50, retryMaxDelayMs: 200, ...options });
    cleanups.push(() => made.close());
    return made;
  }

  it('registers, changes status, renews, reads and cancels with the right token; a wrong one changes nothing', async () => {
    const { server, base } = await start({ readToken: reader });
    const owner = client(base, { token: teamA });
    await owner.register(descriptor('GREETER', 'g-1'), 'STARTING');
    expect(server.instance('GREETER', 'g-1')?.instance.status).toBe('STARTING');
    await owner.setStatus('g-1', 'UP');
    await owner.setStatus('g-1', 'OUT_OF_SERVICE');
    expect(server.instance('GREETER', 'g-1')?.instance).toMatchObject({ status: 'OUT_OF_SERVICE', overriddenStatus: 'OUT_OF_SERVICE' });
    await owner.heartbeat('g-1');
    await owner.refresh(); // a read, with the owner token
    expect(owner.instance('g-1')?.status).toBe('OUT_OF_SERVICE');

    // Another team's client, sending its token in the other accepted header: every write is refused.
    const mallory = client(base, { token: teamB, tokenHeader: 'x-karyon-registry-token', fetchRegistry: false });
    const refused: RegistrationEvent[] = [];
    mallory.on('registration', (event) => void refused.push(event));
    const before = JSON.stringify(server.instances());
    await mallory.register(descriptor('GREETER', 'g-2'), 'UP');
    await mallory.register(descriptor('GREETER', 'g-1'), 'DOWN');
    expect(refused.map((e) => [e.ok, e.statusCode])).toEqual([
      [false, 403],
      [false, 403],
    ]);
    expect(refused[0]?.error).toMatch(/HTTP 403: the token presented is not the owner token of application GREETER/);
    await mallory.close();
    expect(JSON.stringify(server.instances())).toBe(before);

    await owner.setStatus('g-1', 'UP');
    await owner.deregister('g-1');
    expect(server.instances()).toEqual([]);
  });

  it('a service with registry: { eureka: { token } } registers, goes out of service and leaves under its token', async () => {
    const { server, base } = await start();
    const service: Service = createService({
      name: 'greeter',
      port: 8080,
      hostName: '127.0.0.1',
      ipAddr: '127.0.0.1',
      registry: { eureka: { serviceUrls: [base], token: teamA, registryFetchIntervalMs: 60_000 } },
      admin: false,
      lifecycle: { deregistrationDelayMs: 0 },
    });
    cleanups.push(() => service.stop());
    await service.start();
    const id = service.instanceId!;
    await waitFor(() => server.instance('GREETER', id)?.instance.status === 'UP', 10_000, 'the service UP in the registry');
    await service.markOutOfService();
    await waitFor(() => server.instance('GREETER', id)?.instance.overriddenStatus === 'OUT_OF_SERVICE', 10_000, 'the override');
    await service.stop();
    expect(server.instance('GREETER', id)).toBeUndefined();
  });

  it('sends the token in the header a gateway in front of Eureka checks', async () => {
    // The registry behind the gateway checks nothing; the gateway lets through only requests with its key.
    const { server, base } = await start({}, false);
    const seen: string[] = [];
    const gateway: Server = createServer((req, res) => {
      seen.push(`${req.method ?? ''} ${String(req.headers['x-api-key'] === teamA)}`);
      if (req.headers['x-api-key'] !== teamA) {
        res.writeHead(401, { 'content-type': 'text/plain' }).end('gateway: missing or wrong x-api-key');
        return;
      }
      const target = new URL(base);
      const headers = { ...req.headers };
      delete headers['x-api-key'];
      delete headers.host;
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        request(`${target.origin}${req.url ?? '/'}`, { method: req.method as 'GET', headers, body: chunks.length > 0 ? Buffer.concat(chunks) : null }).then(
          async (upstream) => {
            const payload = Buffer.from(await upstream.body.arrayBuffer());
            const out: Record<string, string> = {};
            for (const [name, value] of Object.entries(upstream.headers)) if (typeof value === 'string' && name !== 'connection' && name !== 'keep-alive') out[name] = value;
            res.writeHead(upstream.statusCode, out).end(payload);
          },
          () => res.writeHead(502).end(),
        );
      });
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => gateway.close(resolve)));
    const address = gateway.address();
    const via = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/eureka`;

    const keyed = client(via, { token: teamA, tokenHeader: 'X-Api-Key' });
    await keyed.register(descriptor('GREETER', 'g-1'), 'UP');
    await keyed.refresh();
    expect(keyed.instance('g-1')?.status).toBe('UP');
    expect(server.instance('GREETER', 'g-1')).toBeDefined();

    const keyless = client(via, { fetchRegistry: false });
    const events: RegistrationEvent[] = [];
    keyless.on('registration', (event) => void events.push(event));
    await keyless.register(descriptor('GREETER', 'g-2'), 'UP');
    expect(events[0]).toMatchObject({ ok: false, statusCode: 401 });
    expect(server.instance('GREETER', 'g-2')).toBeUndefined();
    expect(seen.filter((line) => line.endsWith('true')).length).toBeGreaterThanOrEqual(2);
    gateway.closeAllConnections();
  });
});

const { track } = killSpawnedProcesses();

describe('karyon registry with owner tokens', () => {

  it('reads them from a file and the environment, says whose they are, and never prints a token', async () => {
    const owners = join(dir, 'owners.json');
    writeFileSync(owners, JSON.stringify({ greeter: teamA, billing: teamB }));
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'registry', '--port', '0', '--host', '127.0.0.1', '--wait-when-empty', '0', '--owner-tokens', owners], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, KARYON_REGISTRY_READ_TOKEN: reader },
    });
    track(child);
    const out = { stdout: '', stderr: '' };
    child.stdout.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor(() => out.stdout.includes('Ctrl-C to stop'), 30_000, 'the registry to listen');
    expect(out.stdout).toContain(
      'karyon registry: owner tokens for 2 application(s) (BILLING, GREETER), in Authorization: Bearer or X-Karyon-Registry-Token; reads need the read token or an owner token\n',
    );
    const base = /listening on (http:\/\/127\.0\.0\.1:\d+\/eureka)/.exec(out.stdout)![1]!;
    const post = async (headers: Record<string, string>) => {
      const res = await request(`${base}/apps/GREETER`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: body('GREETER', 'g-1') });
      await res.body.dump();
      return res.statusCode;
    };
    expect(await post({})).toBe(401);
    expect(await post(bearer(teamB))).toBe(403);
    expect(await post(bearer(teamA))).toBe(204);
    const bare = await request(`${base}/apps`, { headers: { accept: 'application/json' } });
    await bare.body.dump();
    expect(bare.statusCode).toBe(401);
    const read = await request(`${base}/apps/GREETER`, { headers: { accept: 'application/json', ...bearer(reader) } });
    expect(JSON.stringify(await read.body.json())).toContain('"instanceId":"g-1"');
    await waitFor(() => out.stdout.includes('registered GREETER/g-1'), 10_000, 'the registration line');
    await waitFor(() => (out.stdout + out.stderr).includes('refused POST /eureka/apps/GREETER'), 10_000, 'the refusal line');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const secret of secrets) expect(out.stdout + out.stderr).not.toContain(secret);
  });

  it('exits with a message naming the file when the tokens cannot be read', async () => {
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, `{"GREETER": "${teamA}"`);
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'registry', '--port', '0', '--owner-tokens', broken], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr).toMatch(/karyon registry: owner token file .*broken\.json is not valid JSON/);
    expect(stderr).not.toContain(teamA);
  });
});
