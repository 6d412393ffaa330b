import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createService, loadSettings, serviceOptionsFromSettings } from 'karyon-ts';
import { EurekaServer } from 'karyon-ts/testing';
import { waitFor } from '../support/logger.js';

const sockets: Socket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

async function statsdServer(): Promise<{ port: number; lines: string[] }> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  const lines: string[] = [];
  socket.on('message', (message) => lines.push(...message.toString().split('\n').filter((l) => l !== '')));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, lines };
}

describe('service metrics', () => {
  it('reports lifecycle and health metrics with the global tags, flushed by stop()', async () => {
    const statsd = await statsdServer();
    const service = createService({
      name: 'metered',
      port: 8080,
      hostName: 'host-m',
      zone: 'z1',
      version: '1.0.0',
      admin: false,
      lifecycle: { deregistrationDelayMs: 0 },
      // Long flush interval: only stop() can have sent what arrives.
      metrics: { host: '127.0.0.1', port: statsd.port, flushIntervalMs: 60_000 },
    });
    service.addHealthCheck('db', () => true);
    await service.start();
    service.metrics.counter('greetings.sent').increment(3);
    await service.stop();
    await waitFor(() => statsd.lines.some((l) => l.includes('to:STOPPED')), 5000, 'the STOPPED transition');
    const tags = 'app:metered,instance:host-m:metered:8080,zone:z1,version:1.0.0';
    expect(statsd.lines).toContain(`karyon.lifecycle.transitions:1|c|#${tags},from:STARTING,to:UP`);
    expect(statsd.lines).toContain(`karyon.lifecycle.transitions:1|c|#${tags},from:SHUTTING_DOWN,to:STOPPED`);
    expect(statsd.lines).toContain(`greetings.sent:3|c|#${tags}`);
    expect(statsd.lines).toContain(`karyon.health.check.results:1|c|#${tags},check:db,result:UP`);
    expect(statsd.lines.some((l) => l.startsWith('karyon.lifecycle.initialize.duration:') && l.includes('|ms|'))).toBe(true);
    expect(statsd.lines.some((l) => l.startsWith('karyon.lifecycle.shutdown.duration:'))).toBe(true);
    expect(statsd.lines).toContain(`karyon.lifecycle.state:1|g|#${tags},state:STOPPED`);
    expect(statsd.lines).toContain(`karyon.lifecycle.state:0|g|#${tags},state:SHUTTING_DOWN`);
  });

  it('serves GET /metrics for a service configured only by the environment (KARYON_METRICS_PROMETHEUS)', async () => {
    const settings = loadSettings({ env: { KARYON_APP_NAME: 'from-env', KARYON_ADMIN_PORT: '0', KARYON_METRICS_PROMETHEUS: 'true' } });
    const service = createService({ ...serviceOptionsFromSettings(settings), lifecycle: { deregistrationDelayMs: 0 } });
    await service.start();
    try {
      const res = await request(`${service.adminUrl}/metrics`);
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toMatch(/karyon_lifecycle_state\{[^}]*app="from-env"/);
    } finally {
      await service.stop();
    }
  });

  it('says how to turn GET /metrics on when the exposition is off (statsd only)', async () => {
    const service = createService({ name: 'statsd-only', admin: { port: 0, host: '127.0.0.1' }, lifecycle: { deregistrationDelayMs: 0 }, metrics: { host: '127.0.0.1', port: 9 } });
    await service.start();
    try {
      const res = await request(`${service.adminUrl}/metrics`);
      expect(res.statusCode).toBe(404);
      expect(await res.body.json()).toEqual({ error: expect.stringContaining('KARYON_METRICS_PROMETHEUS=true') as unknown });
    } finally {
      await service.stop();
    }
  });

  it('serves GET /metrics on the admin port when Prometheus exposition is on', async () => {
    const service = createService({
      name: 'scraped',
      admin: { port: 0, host: '127.0.0.1' },
      lifecycle: { deregistrationDelayMs: 0 },
      metrics: { prometheus: true },
    });
    await service.start();
    try {
      const res = await request(`${service.adminUrl}/metrics`);
      const text = await res.body.text();
      expect(res.statusCode).toBe(200);
      expect(text).toMatch(/karyon_lifecycle_transitions_total\{[^}]*from="STARTING"[^}]*to="UP"[^}]*\} 1/);
    } finally {
      await service.stop();
    }
  });

  it('an unreachable statsd host does not hold up start or stop', async () => {
    const service = createService({
      name: 'unreachable',
      admin: false,
      lifecycle: { deregistrationDelayMs: 0 },
      metrics: { host: '127.0.0.1', port: 9 },
    });
    const started = Date.now();
    await service.start();
    for (let i = 0; i < 1000; i++) service.metrics.counter('x').increment();
    await service.stop();
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reports breaker states at once and calls by outcome, the last ones at stop', async () => {
    const statsd = await statsdServer();
    const service = createService({
      name: 'guarded',
      port: 8080,
      hostName: 'h',
      admin: false,
      lifecycle: { deregistrationDelayMs: 0 },
      metrics: { host: '127.0.0.1', port: statsd.port, flushIntervalMs: 60_000 },
    });
    await service.start();
    let fail = false;
    const flaky = service.command('flaky', () => {
      if (fail) throw new Error('down');
      return 'ok';
    }, { requestVolumeThreshold: 2, errorThresholdPercentage: 50 });
    await flaky();
    fail = true;
    await flaky().catch(() => undefined); // 1 success + 1 failure: 50% of the volume of 2, the circuit opens
    await flaky().catch(() => undefined); // short-circuited
    await flaky().catch(() => undefined); // short-circuited
    await service.stop();
    await waitFor(() => statsd.lines.some((l) => l.includes('to:STOPPED')), 5000, 'the STOPPED transition');
    const tags = 'app:guarded,instance:h:guarded:8080,zone:default';
    expect(statsd.lines).toContain(`karyon.breaker.state:1|g|#${tags},breaker:flaky,state:open`);
    expect(statsd.lines).toContain(`karyon.breaker.calls:1|c|#${tags},breaker:flaky,outcome:success`);
    expect(statsd.lines).toContain(`karyon.breaker.calls:1|c|#${tags},breaker:flaky,outcome:failure`);
    expect(statsd.lines).toContain(`karyon.breaker.calls:2|c|#${tags},breaker:flaky,outcome:short_circuited`);
  });
});

describe('registry metrics of a service on Eureka', () => {
  it('count fetches by outcome and heartbeat failures by reason: not_found when the lease is gone, network when no server answers', async () => {
    const eureka = new EurekaServer({ port: 0, host: '127.0.0.1', responseCacheMs: 0 });
    await eureka.listen();
    const service = createService({
      name: 'leased',
      port: 8080,
      hostName: 'host-l',
      admin: { port: 0, host: '127.0.0.1' },
      lifecycle: { deregistrationDelayMs: 0 },
      registry: { eureka: { serviceUrls: [eureka.url], heartbeatIntervalMs: 100, registryFetchIntervalMs: 100, jitterRatio: 0 } },
      metrics: { prometheus: true },
    });
    const scrape = async (): Promise<string> => (await request(`${service.adminUrl}/metrics`)).body.text();
    try {
      await service.start();
      await expect.poll(scrape, { timeout: 5_000 }).toMatch(/karyon_registry_fetches_total\{[^}]*kind="full"[^}]*outcome="success"[^}]*\} [1-9]/);
      // The server loses the lease: the next heartbeat is answered 404 and the instance registers again.
      const cancelled = await request(`${eureka.url}/apps/LEASED/host-l:leased:8080`, { method: 'DELETE' });
      expect(cancelled.statusCode).toBe(200);
      await cancelled.body.dump();
      await expect.poll(scrape, { timeout: 5_000 }).toMatch(/karyon_registry_heartbeat_failures_total\{[^}]*reason="not_found"[^}]*\} 1/);
      await expect.poll(() => eureka.instances().length, { timeout: 5_000 }).toBe(1);
      // No server at all: heartbeats and fetches fail for want of an answer.
      await eureka.close();
      await expect.poll(scrape, { timeout: 5_000 }).toMatch(/karyon_registry_heartbeat_failures_total\{[^}]*reason="network"[^}]*\} [1-9]/);
      await expect.poll(scrape, { timeout: 5_000 }).toMatch(/karyon_registry_fetches_total\{[^}]*kind="(full|delta)"[^}]*outcome="failure"[^}]*\} [1-9]/);
    } finally {
      await service.stop().catch(() => undefined);
      await eureka.close();
    }
  });
});

describe('a failed start', () => {
  it('still sends its metrics: the FAILED transition and what came before reach statsd', async () => {
    const statsd = await statsdServer();
    const service = createService({
      name: 'doomed',
      port: 8080,
      hostName: 'host-d',
      admin: false,
      lifecycle: { deregistrationDelayMs: 0 },
      // Long flush interval: only the failed start's own flush can have sent what arrives.
      metrics: { host: '127.0.0.1', port: statsd.port, flushIntervalMs: 60_000 },
    });
    service.onInitialize(() => {
      service.metrics.counter('warmups.failed').increment();
      throw new Error('cache unreachable');
    });
    await expect(service.start()).rejects.toMatchObject({ code: 'ERR_HOOK_FAILED' });
    await waitFor(() => statsd.lines.some((l) => l.includes('to:FAILED')), 5000, 'the FAILED transition');
    expect(statsd.lines.some((l) => l.startsWith('warmups.failed:1|c'))).toBe(true);
    await service.stop();
  });
});
