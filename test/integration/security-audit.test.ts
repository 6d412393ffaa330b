import type { ConfigSchema } from 'karyon-ts';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandRegistry, createMetrics, defineConfig } from 'karyon-ts';
import { breakerAdminRoutes, configAdminRoutes, adminMetrics } from 'karyon-ts/extend';
import { AdminServer } from '../../src/admin/AdminServer.js';
import { resolveAdminOptions } from '../../src/admin/AdminOptions.js';
import type { AdminOptions, Logger } from 'karyon-ts';
import type { AdminServiceView, AuditEntry } from 'karyon-ts/extend';
import { ManualClock } from 'karyon-ts/testing';

// The audit log over real HTTP: every mutation attempt of the admin port is an entry (who, what, before/after,
// when, from where, how it ended), a structured log line and a metric, and no token or secret value is ever in
// any of them.

const readToken = 'audit-viewer-9f2c4e7a1b3d5068';
const operateToken = 'audit-operator-3e8a0d6c2f4b1975';
const initialSecret = 'initial-db-password-5b7d';
const newSecret = 'rotated-db-password-8c1e';
const secrets = [readToken, operateToken, initialSecret, newSecret];

interface Settings {
  readonly app: { readonly zone: string };
  readonly db: { readonly password: string };
}

const schema: ConfigSchema<Settings> = {
  app: { zone: { doc: 'zone', format: String, default: 'zone-a' } },
  db: { password: { doc: 'database password', format: String, default: initialSecret, sensitive: true } },
};

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function setup(options: AdminOptions = {}) {
  const clock = new ManualClock();
  const lines: string[] = [];
  const write = (level: string) => (message: string, fields?: Readonly<Record<string, unknown>>) => void lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  const logger: Logger = { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
  let status: 'UP' | 'OUT_OF_SERVICE' = 'UP';
  const view: AdminServiceView = {
    status: () => ({ app: 'audited', instanceId: 'i-1', vipAddress: 'audited', zone: 'z', version: undefined, status, registryStatus: status, outOfServiceByOperator: status !== 'UP', since: 0, startedAt: 0, uptimeMs: 0, port: 8080, transitions: [] }),
    health: () => Promise.resolve({ ready: true, live: true, checks: {} }),
    setOperatorStatus: (next) => {
      status = next;
      return Promise.resolve();
    },
  };
  const metrics = createMetrics({ prometheus: true });
  cleanups.push(() => metrics.close());
  const admin = new AdminServer(
    view,
    resolveAdminOptions({
      port: 0,
      host: '127.0.0.1',
      tokens: [
        { name: 'viewer', token: readToken, role: 'read' },
        { name: 'ops', token: operateToken, role: 'operate' },
      ],
      ...options,
    }),
    { clock, logger, auditMetrics: adminMetrics(metrics) },
  );
  const commands = new CommandRegistry({ group: 'audited', clock });
  commands.command('lookup', () => 'ok');
  const breakers = breakerAdminRoutes(admin, commands);
  cleanups.push(() => commands.close());
  cleanups.push(() => breakers.close());
  const config = defineConfig<Settings>({ schema });
  await config.start();
  cleanups.push(() => config.close());
  configAdminRoutes(admin, config);
  await admin.listen();
  cleanups.push(() => admin.close());
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await request(`${admin.url!}${path}`, {
      method: method as 'GET',
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: res.statusCode, text: await res.body.text() };
  };
  const audit = async (query = ''): Promise<{ text: string; entries: AuditEntry[] }> => {
    const res = await call('GET', `/audit${query}`, undefined, readToken);
    expect(res.status).toBe(200);
    return { text: res.text, entries: (JSON.parse(res.text) as { entries: AuditEntry[] }).entries };
  };
  return { admin, clock, lines, metrics, config, commands, call, audit };
}

describe('the audit log', () => {
  it('records each mutation attempt: who, what, before/after, when, from where and how it ended', async () => {
    const { clock, call, audit, config } = await setup();
    const start = clock.now();
    const steps: [string, string, unknown, string | undefined, number][] = [
      ['PUT', '/status', { status: 'OUT_OF_SERVICE' }, operateToken, 200],
      ['PUT', '/breakers/lookup', { action: 'forceOpen', settings: { timeoutMs: 300 } }, operateToken, 200],
      ['PUT', '/config/app.zone', { value: 'zone-b' }, operateToken, 200],
      ['PUT', '/config/db.password', { value: newSecret }, operateToken, 200],
      ['DELETE', '/config/app.zone', undefined, operateToken, 200],
      ['POST', '/config/reload', undefined, operateToken, 200],
      ['PUT', '/status', { status: 'UP' }, readToken, 403],
      ['PUT', '/config/app.zone', { value: 'zone-c' }, undefined, 401],
      ['PUT', '/breakers/lookup', { action: 'explode' }, operateToken, 400],
      ['PUT', '/breakers/missing', { action: 'reset' }, operateToken, 404],
      ['PUT', '/config/app.zone', { value: 42 }, operateToken, 400],
    ];
    for (const [method, path, body, token, status] of steps) {
      clock.advance(1000);
      expect({ method, path, status: (await call(method, path, body, token)).status }).toEqual({ method, path, status });
    }
    const { entries } = await audit();
    expect(entries.map((e) => ({ ...e }))).toEqual([
      entry(1, 'ops', 'PUT', '/status', 'status.set', { status: 'UP', outOfServiceByOperator: false }, { status: 'OUT_OF_SERVICE', outOfServiceByOperator: true }, 'ok', 200),
      entry(2, 'ops', 'PUT', '/breakers/lookup', 'breaker.forceOpen', { state: 'CLOSED', overrides: {} }, { state: 'FORCED_OPEN', overrides: { timeoutMs: 300, forceOpen: true, forceClosed: false } }, 'ok', 200),
      entry(3, 'ops', 'PUT', '/config/app.zone', 'config.set', { key: 'app.zone', value: 'zone-a', overridden: false }, { key: 'app.zone', value: 'zone-b', overridden: true }, 'ok', 200),
      entry(4, 'ops', 'PUT', '/config/db.password', 'config.set', { key: 'db.password', value: '[Sensitive]', overridden: false }, { key: 'db.password', value: '[Sensitive]', overridden: true }, 'ok', 200),
      entry(5, 'ops', 'DELETE', '/config/app.zone', 'config.clear', { key: 'app.zone', value: 'zone-b', overridden: true }, { key: 'app.zone', value: 'zone-a', overridden: false }, 'ok', 200),
      entry(6, 'ops', 'POST', '/config/reload', 'config.reload', { version: config.version }, { version: config.version }, 'ok', 200),
      { ...entry(7, 'viewer', 'PUT', '/status', 'PUT /status', null, null, 'denied', 403), role: 'read', reason: "token 'viewer' has the read role; this needs operate" },
      { ...entry(8, 'anonymous', 'PUT', '/config/app.zone', 'PUT /config/:key', null, null, 'denied', 401), reason: 'missing bearer token: this needs a token with the operate role' },
      entry(9, 'ops', 'PUT', '/breakers/lookup', 'PUT /breakers/:name', null, null, 'failed', 400),
      entry(10, 'ops', 'PUT', '/breakers/missing', 'PUT /breakers/:name', null, null, 'failed', 404),
      entry(11, 'ops', 'PUT', '/config/app.zone', 'config.set', { key: 'app.zone', value: 'zone-a', overridden: false }, null, 'failed', 400),
    ]);

    function entry(step: number, actor: string, method: string, path: string, action: string, before: unknown, after: unknown, outcome: string, status: number) {
      return { at: start + step * 1000, actor, role: 'operate', remote: '127.0.0.1', method, path, action, before, after, outcome, status };
    }
  });

  it('writes each entry as a structured log line and counts it as a metric', async () => {
    const { call, lines, metrics } = await setup();
    await call('PUT', '/status', { status: 'OUT_OF_SERVICE' }, operateToken);
    await call('PUT', '/status', { status: 'UP' }, readToken);
    await call('PUT', '/status', { status: 'UP' });
    const auditLines = lines.filter((line) => line.includes('admin audit'));
    expect(auditLines.map((line) => line.slice(0, line.indexOf(' {')))).toEqual([
      'info admin audit: ops status.set ok (200)',
      'warn admin audit: viewer PUT /status denied (403)',
      'warn admin audit: anonymous PUT /status denied (401)',
    ]);
    const fields = JSON.parse(auditLines[0]!.slice(auditLines[0]!.indexOf(' {') + 1)) as { audit: AuditEntry };
    expect(fields.audit).toMatchObject({ actor: 'ops', action: 'status.set', before: { status: 'UP' }, after: { status: 'OUT_OF_SERVICE' }, remote: '127.0.0.1' });
    const text = metrics.prometheus!.render();
    expect(text).toContain('# HELP karyon_admin_mutations_total Admin mutation attempts by action, outcome (ok, denied, failed) and actor.');
    expect(text).toMatch(/^karyon_admin_mutations_total\{action="status\.set",actor="ops",outcome="ok"\} 1$/m);
    expect(text).toMatch(/^karyon_admin_mutations_total\{action="PUT \/status",actor="viewer",outcome="denied"\} 1$/m);
    expect(text).toMatch(/^karyon_admin_mutations_total\{action="PUT \/status",actor="anonymous",outcome="denied"\} 1$/m);
  });

  it('never holds a token or a secret value: not in the entries, the log lines or the metrics', async () => {
    const { call, audit, lines, metrics } = await setup();
    // Secrets in every place a caller can put them: tokens (right, wrong, in the wrong header), a sensitive
    // value set, rejected and cleared, and a body that is not the expected shape.
    await call('PUT', '/config/db.password', { value: newSecret }, operateToken);
    await call('PUT', '/config/db.password', { value: 12345 }, operateToken);
    await call('PUT', '/config/db.password', { value: newSecret }, readToken);
    await call('PUT', '/config/db.password', { value: newSecret }, `${operateToken}-guess`);
    await call('PUT', '/config/db.password', { value: newSecret }, operateToken.slice(0, 9));
    await call('DELETE', '/config/db.password', undefined, operateToken);
    await call('PUT', '/status', { status: newSecret }, operateToken);
    await call('PUT', `/status?token=${operateToken}`, { status: 'OUT_OF_SERVICE' }, readToken);
    await call('PUT', '/breakers/lookup', { settings: { timeoutMs: newSecret } }, operateToken);
    const { text, entries } = await audit();
    expect(entries.length).toBe(9);
    const everything = [text, ...lines, metrics.prometheus!.render()].join('\n');
    for (const secret of secrets) expect(everything).not.toContain(secret);
    for (const secret of secrets) expect(everything).not.toContain(secret.slice(0, 12));
    expect(entries.find((e) => e.path === '/status' && e.outcome === 'denied')?.path).toBe('/status'); // the query is dropped
  });

  it('stays bounded and answers the last entries on ?limit', async () => {
    const { call, audit, admin } = await setup({ audit: { capacity: 3, deniedCapacity: 2 } });
    for (let i = 0; i < 6; i++) await call('PUT', '/status', { status: i % 2 === 0 ? 'OUT_OF_SERVICE' : 'UP' }, operateToken);
    for (let i = 0; i < 6; i++) await call('PUT', '/status', { status: 'UP' });
    expect(admin.audit.size).toBe(5);
    const { entries } = await audit();
    expect(entries.map((e) => `${e.outcome} ${(e.after as { status?: string } | null)?.status ?? '-'}`)).toEqual([
      'ok UP',
      'ok OUT_OF_SERVICE',
      'ok UP',
      'denied -',
      'denied -',
    ]);
    expect((await audit('?limit=2')).entries.map((e) => e.outcome)).toEqual(['denied', 'denied']);
    const bad = await call('GET', '/audit?limit=zero', undefined, readToken);
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/limit must be a positive integer/);
  });
});
