import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { ConfigSchema } from 'karyon-ts';
import { defineConfig, fileSource } from 'karyon-ts';
import { configAdminRoutes } from 'karyon-ts/extend';
import { AdminServer } from '../../src/admin/AdminServer.js';
import { resolveAdminOptions } from '../../src/admin/AdminOptions.js';
import type { AdminOptions, DynamicConfig } from 'karyon-ts';
import type { AdminServiceView } from 'karyon-ts/extend';

interface Settings {
  readonly app: { readonly port: number; readonly zone: string };
  readonly db: { readonly password: string | null };
  readonly client: { readonly greeter: { readonly rule: string } };
}

const schema: ConfigSchema<Settings> = {
  app: {
    port: { doc: 'HTTP port', format: 'port', default: 8080 },
    zone: { doc: 'zone', format: String, default: 'default' },
  },
  db: { password: { doc: 'database password', format: '*', default: 'hunter2', nullable: true, sensitive: true } },
  client: { greeter: { rule: { doc: 'rule', format: ['round-robin', 'p2c-ewma'], default: 'round-robin' } } },
};

const view: AdminServiceView = {
  status: () => ({
    app: 'config-test',
    instanceId: 'i-1',
    vipAddress: 'config-test',
    zone: 'default',
    version: undefined,
    status: 'UP',
    registryStatus: 'UP',
    outOfServiceByOperator: false,
    since: 0,
    startedAt: 0,
    uptimeMs: 0,
    port: 8080,
    transitions: [],
  }),
  health: async () => ({ ready: true, live: true, checks: {} }),
  setOperatorStatus: async () => undefined,
};

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function setup(options: AdminOptions = {}, config?: DynamicConfig<Settings>) {
  const dir = await mkdtemp(join(tmpdir(), 'karyon-config-admin-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'app.json');
  await writeFile(file, JSON.stringify({ app: { zone: 'from-file' } }));
  const dynamic = config ?? defineConfig<Settings>({ schema, sources: [fileSource({ path: file, watch: false })] });
  cleanup.push(() => dynamic.close());
  if (config === undefined) await dynamic.start();
  const admin = new AdminServer(view, resolveAdminOptions({ port: 0, host: '127.0.0.1', ...options }));
  configAdminRoutes(admin, dynamic);
  await admin.listen();
  cleanup.push(() => admin.close());
  return { config: dynamic, url: admin.url!, file };
}

async function call(url: string, method = 'GET', body?: string, headers: Record<string, string> = {}) {
  const res = await request(url, { method: method as 'GET', body: body ?? null, headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: JSON.parse(text) as { error?: string; issues?: unknown; entries?: unknown; version?: number } & Record<string, unknown> };
}

describe('config admin routes', () => {
  it('GET /config shows each value with its layer and source, secrets masked', async () => {
    const { url, file } = await setup();
    const res = await call(`${url}/config`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      version: 1,
      keys: {
        'app.port': { value: 8080, layer: 'default', source: 'default', sensitive: false, doc: 'HTTP port' },
        'app.zone': { value: 'from-file', layer: 'file', source: `file:${file}` },
        'db.password': { value: '[Sensitive]', sensitive: true },
      },
      overrides: {},
      sources: [{ name: `file:${file}`, layer: 'file', state: 'ok' }],
    });
    expect(res.text).not.toContain('hunter2');
    const one = await call(`${url}/config/app.zone`);
    expect(one.json).toMatchObject({ key: 'app.zone', value: 'from-file', layer: 'file', overridden: false });
    expect((await call(`${url}/config/app.nope`)).status).toBe(404);
  });

  it('PUT /config/{key} sets a validated override; DELETE removes it', async () => {
    const { url, config } = await setup();
    const put = await call(`${url}/config/app.port`, 'PUT', JSON.stringify({ value: 9090 }));
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ key: 'app.port', value: 9090, layer: 'override', overridden: true, outcome: 'applied', version: 2, changes: [{ key: 'app.port', oldValue: 8080, newValue: 9090 }] });
    expect(config.get('app.port')).toBe(9090);
    // Text is coerced like any other layer.
    expect((await call(`${url}/config/app.port`, 'PUT', '{"value":"9091"}')).json).toMatchObject({ value: 9091 });
    const secret = await call(`${url}/config/db.password`, 'PUT', JSON.stringify({ value: 'correct horse' }));
    expect(secret.status).toBe(200);
    expect(secret.text).not.toContain('correct horse');
    expect(config.get('db.password')).toBe('correct horse');

    const del = await call(`${url}/config/app.port`, 'DELETE');
    expect(del.status).toBe(200);
    expect(del.json).toMatchObject({ key: 'app.port', value: 8080, layer: 'default', overridden: false, outcome: 'applied' });
    expect((await call(`${url}/config/app.port`, 'DELETE')).json).toEqual({ error: "no runtime override for 'app.port'" });
  });

  it('answers 400 with the reason for a rejected value and 4xx for bad requests, without changing anything', async () => {
    const { url, config } = await setup();
    const before = config.snapshot;
    const cases: [string, string | undefined, number, RegExp][] = [
      ['app.port', '{"value":"eighty"}', 400, /'app.port' must be an integer \(got "eighty"\)/],
      ['app.port', '{"value":70000}', 400, /'app.port'.*65535/],
      ['client.greeter.rule', '{"value":"fastest"}', 400, /possible values/],
      ['db.password', JSON.stringify({ value: 'x'.repeat(70_000) }), 413, /exceeds the limit/],
      ['app.port', '{"val":1}', 400, /body must be a JSON object \{"value": \.\.\.\}/],
      ['app.port', '{"value":', 400, /not valid JSON/],
      ['app.port', undefined, 400, /empty/],
      ['app', '{"value":{}}', 400, /'app' is a group of settings/],
      ['nope', '{"value":1}', 404, /no configuration key 'nope'/],
    ];
    for (const [key, body, status, reason] of cases) {
      const res = await call(`${url}/config/${key}`, 'PUT', body);
      expect({ key, status: res.status }).toEqual({ key, status });
      expect(res.json.error).toMatch(reason);
    }
    const rejected = await call(`${url}/config/app.port`, 'PUT', '{"value":"eighty"}');
    expect(rejected.json.issues).toEqual([{ key: 'app.port', origin: 'override', message: `'app.port' must be an integer (got "eighty")` }]);
    expect(config.snapshot).toBe(before);
  });

  it('GET /config/history lists changes and rejections with their reasons', async () => {
    const { url } = await setup();
    await call(`${url}/config/app.zone`, 'PUT', '{"value":"eu"}');
    await call(`${url}/config/app.port`, 'PUT', '{"value":-1}');
    await call(`${url}/config/db.password`, 'PUT', '{"value":"s3cr3t-value"}');
    const res = await call(`${url}/config/history`);
    expect(res.status).toBe(200);
    expect(res.json.entries).toEqual([
      expect.objectContaining({ kind: 'applied', trigger: 'start', version: 1 }),
      expect.objectContaining({ kind: 'applied', trigger: 'override', version: 2, changes: [{ key: 'app.zone', oldValue: 'from-file', newValue: 'eu' }] }),
      expect.objectContaining({ kind: 'rejected', trigger: 'override', version: 2, reason: expect.stringMatching(/'app.port'.*65535/) }),
      expect.objectContaining({ kind: 'applied', version: 3, changes: [{ key: 'db.password', oldValue: '[Sensitive]', newValue: '[Sensitive]' }] }),
    ]);
    expect(res.text).not.toContain('s3cr3t-value');
  });

  it('POST /config/reload reads the sources again', async () => {
    const { url, file, config } = await setup();
    await writeFile(file, JSON.stringify({ app: { zone: 'reloaded' } }));
    const res = await call(`${url}/config/reload`, 'POST');
    expect(res.status).toBe(200);
    expect(res.json.version).toBe(2);
    expect(config.get('app.zone')).toBe('reloaded');
  });

  it('needs the admin token for changes when one is set, and answers 503 before the configuration started', async () => {
    const { url } = await setup({ token: 'admin-secret' });
    expect((await call(`${url}/config`)).status).toBe(200);
    expect((await call(`${url}/config/app.zone`, 'PUT', '{"value":"x"}')).status).toBe(401);
    expect((await call(`${url}/config/app.zone`, 'DELETE')).status).toBe(401);
    expect((await call(`${url}/config/app.zone`, 'PUT', '{"value":"x"}', { authorization: 'Bearer admin-secret' })).status).toBe(200);

    const cold = defineConfig<Settings>({ schema });
    const { url: coldUrl } = await setup({}, cold);
    const res = await call(`${coldUrl}/config`);
    expect(res.status).toBe(503);
    expect(res.json.error).toMatch(/has not started/);
  });
});
