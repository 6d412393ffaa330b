// GET /metrics on a real admin server, and `promtool check metrics` (Debian package prometheus) on what it
// serves. CI installs the package; on a developer machine without it the promtool test is skipped, with the
// reason in its name.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { AdminServer } from '../../src/admin/AdminServer.js';
import { resolveAdminOptions } from '../../src/admin/AdminOptions.js';
import type { AdminServiceView } from 'karyon-ts/extend';
import {
  breakerMetrics,
  clientMetrics,
  configMetrics,
  healthMetrics,
  lifecycleMetrics,
  metricsAdminRoutes,
  registryMetrics,
} from 'karyon-ts/extend';
import { createMetrics } from 'karyon-ts';
import { statusClass } from '../../src/metrics/builtin.js';
import type { Metrics } from 'karyon-ts';
import { killSpawnedProcesses } from '../support/processes.js';

// Whatever fails, no process spawned here outlives the file.
killSpawnedProcesses();

const promtool = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/bin', '/usr/local/bin']
  .filter((d) => d !== '')
  .map((d) => join(d, 'promtool'))
  .find((path) => existsSync(path));
const missing = promtool === undefined ? 'promtool is not installed (apt-get install prometheus)' : undefined;

const view: AdminServiceView = {
  status: () => ({
    app: 'metrics-test',
    instanceId: 'i-1',
    vipAddress: 'metrics-test',
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
  health: () => Promise.resolve({ ready: true, live: true, checks: {} }),
  setOperatorStatus: () => Promise.resolve(),
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function adminWith(metrics: Metrics): Promise<string> {
  const admin = new AdminServer(view, resolveAdminOptions({ port: 0, host: '127.0.0.1' }));
  metricsAdminRoutes(admin, metrics);
  await admin.listen();
  cleanups.push(() => admin.close());
  return admin.url!;
}

async function get(url: string): Promise<{ status: number; contentType: string; body: string }> {
  const res = await request(url);
  return { status: res.statusCode, contentType: String(res.headers['content-type']), body: await res.body.text() };
}

/** Records every built-in metric and some awkward user metrics. */
function populate(metrics: Metrics): void {
  const lifecycle = lifecycleMetrics(metrics);
  lifecycle.state('STARTING');
  lifecycle.initializeDuration(230);
  lifecycle.transition('STARTING', 'UP');
  lifecycle.shutdownDuration(1500);
  healthMetrics(metrics).check('db', 'UP', 4);
  healthMetrics(metrics).check('db', 'DOWN', 2000);
  const registry = registryMetrics(metrics);
  registry.heartbeat(12);
  registry.heartbeatFailure(3000, 'timeout');
  registry.fetch('full', 'success', 40);
  registry.fetch('delta', 'failure', 5000);
  registry.instances({ UP: 3, OUT_OF_SERVICE: 1 });
  registry.hashMismatch();
  const client = clientMetrics(metrics);
  client.request('greeter', 'success', statusClass(200), 7);
  client.request('greeter', 'failure', statusClass(503), 70);
  client.retry('greeter');
  client.retryBudgetExhausted('greeter');
  client.hedge('greeter');
  client.ejection('greeter');
  const breaker = breakerMetrics(metrics);
  breaker.state('greeter', 'closed');
  breaker.state('greeter', 'open');
  breaker.call('greeter', 'short_circuited');
  configMetrics(metrics).reload('file');
  configMetrics(metrics).rejection('remote');
  metrics.counter('user.events', { 'event-type': 'quote " backslash \\ newline \n end' }).increment(2);
  metrics.gauge('free.memory', -1.5e-7);
  metrics.histogram('batch.size', { le: 'tag called le' }).record(33);
  metrics.unique('visitors', 'ann');
}

describe('Prometheus exposition at GET /metrics', () => {
  it('serves the text format 0.0.4 with the recorded values (Prometheus alone)', async () => {
    const metrics = createMetrics({ prometheus: true, globalTags: { app: 'greeter', zone: 'eu-1a' } });
    cleanups.push(() => metrics.close());
    const url = await adminWith(metrics);
    populate(metrics);
    const res = await get(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(res.body).toBe(metrics.prometheus!.render());
    expect(res.body).toContain('# TYPE karyon_client_requests_total counter\n');
    expect(res.body).toContain('karyon_client_requests_total{app="greeter",outcome="failure",status_class="5xx",target="greeter",zone="eu-1a"} 1\n');
    expect(res.body).toContain('karyon_lifecycle_initialize_duration_seconds_sum{app="greeter",zone="eu-1a"} 0.23\n');
    expect(res.body).toContain('user_events_total{app="greeter",event_type="quote \\" backslash \\\\ newline \\n end",zone="eu-1a"} 2\n');
    metrics.increment('user.events', 1, { 'event-type': 'quote " backslash \\ newline \n end' });
    expect((await get(`${url}/metrics`)).body).toContain('user_events_total{app="greeter",event_type="quote \\" backslash \\\\ newline \\n end",zone="eu-1a"} 3\n');
  });

  it('records reach statsd and the exposition at once when both are on', async () => {
    const statsd = dgram.createSocket('udp4');
    const lines: string[] = [];
    statsd.on('message', (m) => lines.push(...m.toString().split('\n')));
    await new Promise<void>((resolve) => statsd.bind(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => statsd.close(() => resolve())));
    const metrics = createMetrics({ host: '127.0.0.1', port: statsd.address().port, prometheus: true, tagFormat: 'telegraf' });
    cleanups.push(() => metrics.close());
    const url = await adminWith(metrics);
    const hits = metrics.counter('hits', { route: '/a' });
    hits.increment();
    hits.increment(4);
    metrics.timing('took', 250, { route: '/a' });
    await metrics.flush();
    const deadline = Date.now() + 10_000;
    while (lines.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(lines).toEqual(['hits,route=/a:1|c', 'hits,route=/a:4|c', 'took,route=/a:250|ms']);
    const { body } = await get(`${url}/metrics`);
    expect(body).toContain('hits_total{route="/a"} 5\n');
    expect(body).toContain('took_seconds_bucket{route="/a",le="0.25"} 1\n');
    expect(body).toContain('took_seconds_bucket{route="/a",le="0.1"} 0\n');
  });

  it('answers 404 with the option to set when the exposition is off', async () => {
    const metrics = createMetrics({ host: '127.0.0.1', port: 9 });
    cleanups.push(() => metrics.close());
    const url = await adminWith(metrics);
    const res = await get(`${url}/metrics`);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toEqual({ error: 'the Prometheus exposition is off; create the metrics with `prometheus: true` (KARYON_METRICS_PROMETHEUS=true)' });
  });

  it.skipIf(missing !== undefined)(`promtool check metrics accepts the exposition${missing === undefined ? '' : ` (skipped: ${missing})`}`, async () => {
    const metrics = createMetrics({ prometheus: true, prefix: 'svc', globalTags: { app: 'greeter', instance_id: 'i-1' } });
    cleanups.push(() => metrics.close());
    const url = await adminWith(metrics);
    populate(metrics);
    const { body } = await get(`${url}/metrics`);
    const child = spawn(promtool!, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => {
      child.on('close', resolve);
      child.stdin.end(body);
    });
    // promtool exits 1 on a parse error and 3 on lint problems (missing help, counters without _total, ...).
    expect({ code, output }).toEqual({ code: 0, output: '' });
  });

  it.skipIf(missing !== undefined)(`promtool rejects a broken exposition, so the check above can fail${missing === undefined ? '' : ` (skipped: ${missing})`}`, async () => {
    const child = spawn(promtool!, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const code = await new Promise<number | null>((resolve) => {
      child.on('close', resolve);
      child.stdin.end('# TYPE requests counter\nrequests{a="1} 2\n');
    });
    expect(code).not.toBe(0);
  });
});

if (missing !== undefined && process.env['CI'] !== undefined) {
  describe('promtool', () => {
    it('is installed in CI', () => {
      throw new Error(`${missing}: CI must install it before running the tests`);
    });
  });
}
