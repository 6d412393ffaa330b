import { get } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { AdminServer } from '../../src/admin/AdminServer.js';
import { resolveAdminOptions } from '../../src/admin/AdminOptions.js';
import type { AdminOptions } from 'karyon-ts';
import type { AdminServiceView, BreakerAdminOptions } from 'karyon-ts/extend';
import { breakerAdminRoutes } from 'karyon-ts/extend';
import { createService, CommandRegistry } from 'karyon-ts';
import { hystrixCommandIntegerKeys } from '../support/hystrix.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.allSettled(cleanups.splice(0).map((cleanup) => cleanup()));
});

const view = {} as AdminServiceView;

async function adminWith(registry: CommandRegistry, options: BreakerAdminOptions = {}, adminOptions: AdminOptions = {}) {
  const admin = new AdminServer(view, resolveAdminOptions({ port: 0, host: '127.0.0.1', ...adminOptions }));
  const routes = breakerAdminRoutes(admin, registry, options);
  await admin.listen();
  cleanups.push(async () => {
    await routes.close();
    await admin.close();
    await registry.close();
  });
  return { admin, url: admin.url!, routes };
}

/** Polls `condition` until it holds: event-driven waits that tolerate a loaded machine. */
async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Frame {
  readonly field: string;
  readonly value: string;
}

/** Opens an SSE stream with plain node:http and splits what arrives into frames (`field: value\n\n`). */
function openStream(url: string): Promise<{ status: number; headers: IncomingHttpHeaders; frames: Frame[]; ended: () => boolean; body: () => string; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      const frames: Frame[] = [];
      let buffer = '';
      let all = '';
      let ended = false;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        all += chunk;
        buffer += chunk;
        for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
          const frame = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          const colon = frame.indexOf(':');
          frames.push({ field: frame.slice(0, colon), value: frame.slice(colon + 1).trimStart() });
        }
      });
      const onEnd = () => {
        ended = true;
      };
      res.on('end', onEnd);
      res.on('close', onEnd);
      res.on('error', onEnd);
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        frames,
        ended: () => ended,
        body: () => all,
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

const commandBooleans = [
  'isCircuitBreakerOpen',
  'propertyValue_circuitBreakerForceOpen',
  'propertyValue_circuitBreakerForceClosed',
  'propertyValue_circuitBreakerEnabled',
  'propertyValue_executionIsolationThreadInterruptOnTimeout',
  'propertyValue_requestCacheEnabled',
  'propertyValue_requestLogEnabled',
];
const commandStrings = ['type', 'name', 'group', 'threadPool', 'propertyValue_executionIsolationStrategy'];
const percentileKeys = ['0', '25', '50', '75', '90', '95', '99', '99.5', '100'];
const threadPoolIntegers = [
  'currentTime',
  'currentActiveCount',
  'currentCompletedTaskCount',
  'currentCorePoolSize',
  'currentLargestPoolSize',
  'currentMaximumPoolSize',
  'currentPoolSize',
  'currentQueueSize',
  'currentTaskCount',
  'rollingCountThreadsExecuted',
  'rollingMaxActiveThreads',
  'rollingCountCommandRejections',
  'propertyValue_queueSizeRejectionThreshold',
  'propertyValue_metricsRollingStatisticalWindowInMilliseconds',
  'reportingHosts',
];

function dataObjects(frames: readonly Frame[]): Record<string, unknown>[] {
  return frames.filter((f) => f.field === 'data').map((f) => JSON.parse(f.value) as Record<string, unknown>);
}

describe('GET /hystrix.stream', () => {
  it('streams a HystrixCommand and a HystrixThreadPool per command with every key the dashboard needs, typed', async () => {
    const registry = new CommandRegistry({ group: 'catalog' });
    const getItem = registry.command(
      'getItem',
      async (n: number) => {
        await new Promise((resolve) => setTimeout(resolve, 3));
        if (n % 4 === 0) throw new Error('flaky');
        return n;
      },
      { fallback: () => -1, maxConcurrent: 4 },
    );
    for (let i = 0; i < 12; i++) await getItem(i);
    registry.executor('client:reviews');
    const { url } = await adminWith(registry);
    const stream = await openStream(`${url}/hystrix.stream?delay=100`);
    cleanups.unshift(async () => stream.close());
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream;charset=UTF-8');
    expect(stream.headers['cache-control']).toContain('no-cache');
    await until(() => dataObjects(stream.frames).length >= 8, 'two rounds of objects');
    expect(stream.body()).toMatch(/^data: \{/);
    const objects = dataObjects(stream.frames);
    const commands = objects.filter((o) => o.type === 'HystrixCommand');
    const pools = objects.filter((o) => o.type === 'HystrixThreadPool');
    expect(new Set(commands.map((c) => c.name))).toEqual(new Set(['getItem', 'client:reviews']));
    expect(new Set(pools.map((p) => p.name))).toEqual(new Set(['getItem', 'client:reviews']));
    for (const event of commands) {
      for (const key of hystrixCommandIntegerKeys) expect(Number.isInteger(event[key]), `${key} of ${String(event.name)}`).toBe(true);
      for (const key of commandBooleans) expect(typeof event[key], key).toBe('boolean');
      for (const key of commandStrings) expect(typeof event[key], key).toBe('string');
      for (const key of ['latencyExecute', 'latencyTotal']) {
        const percentiles = event[key] as Record<string, unknown>;
        expect(Object.keys(percentiles).sort()).toEqual([...percentileKeys].sort());
        for (const p of percentileKeys) expect(Number.isInteger(percentiles[p]), `${key}.${p}`).toBe(true);
      }
      for (const [key, value] of Object.entries(event)) expect(value, key).not.toBeNull();
      expect(event).toMatchObject({ reportingHosts: 1, propertyValue_executionIsolationStrategy: 'SEMAPHORE' });
    }
    for (const pool of pools) {
      expect(typeof pool.name).toBe('string');
      for (const key of threadPoolIntegers) expect(Number.isInteger(pool[key]), `${key} of pool ${String(pool.name)}`).toBe(true);
      for (const [key, value] of Object.entries(pool)) expect(value, key).not.toBeNull();
    }
    const item = commands.find((c) => c.name === 'getItem')!;
    expect(item).toMatchObject({
      group: 'catalog',
      requestCount: 12,
      errorCount: 3,
      errorPercentage: 25,
      rollingCountSuccess: 9,
      rollingCountFailure: 3,
      rollingCountFallbackSuccess: 3,
      isCircuitBreakerOpen: false,
      propertyValue_executionIsolationSemaphoreMaxConcurrentRequests: 4,
      threadPool: 'getItem',
    });
    expect(item.latencyExecute_mean as number).toBeGreaterThanOrEqual(2);
    expect(pools.find((p) => p.name === 'getItem')).toMatchObject({ currentCorePoolSize: 4, currentCompletedTaskCount: 12, rollingCountThreadsExecuted: 12 });
  });

  it('follows state live: a forced-open command shows isCircuitBreakerOpen in the next objects', async () => {
    const registry = new CommandRegistry();
    const cmd = registry.command('flip', () => 1);
    const { url } = await adminWith(registry);
    const stream = await openStream(`${url}/hystrix.stream?delay=50`);
    cleanups.unshift(async () => stream.close());
    await until(() => dataObjects(stream.frames).length >= 2, 'the first objects');
    cmd.forceOpen();
    await until(
      () => dataObjects(stream.frames).some((o) => o.type === 'HystrixCommand' && o.isCircuitBreakerOpen === true),
      'an open circuit in the stream',
    );
    expect(dataObjects(stream.frames).at(-2)).toMatchObject({ propertyValue_circuitBreakerForceOpen: true });
  });

  it('sends ping keep-alives while there is nothing to report', async () => {
    const { url } = await adminWith(new CommandRegistry());
    const stream = await openStream(`${url}/hystrix.stream?delay=50`);
    cleanups.unshift(async () => stream.close());
    await until(() => stream.frames.filter((f) => f.field === 'ping').length >= 2, 'two pings');
    expect(stream.body()).toMatch(/^ping: \n\n/);
  });

  it('refuses listeners beyond the limit with 503, and frees a slot when a client disconnects', async () => {
    const { url, routes } = await adminWith(new CommandRegistry(), { stream: { maxListeners: 2 } });
    const a = await openStream(`${url}/hystrix.stream`);
    const b = await openStream(`${url}/hystrix.stream`);
    cleanups.unshift(async () => {
      a.close();
      b.close();
    });
    const refused = await request(`${url}/hystrix.stream`);
    expect(refused.statusCode).toBe(503);
    expect(await refused.body.json()).toEqual({ error: 'MaxConcurrentConnections reached: 2' });
    expect(routes.stream.listeners).toBe(2);
    a.close();
    await until(() => routes.stream.listeners === 1, 'the server to notice the disconnect');
    const c = await openStream(`${url}/hystrix.stream`);
    cleanups.unshift(async () => c.close());
    expect(c.status).toBe(200);
  });

  it('answers 400 for a bad delay', async () => {
    const { url } = await adminWith(new CommandRegistry());
    for (const delay of ['abc', '0', '-5', '10', '1e3', '99999999']) {
      const res = await request(`${url}/hystrix.stream?delay=${delay}`);
      expect({ delay, status: res.statusCode }).toEqual({ delay, status: 400 });
      expect(((await res.body.json()) as { error: string }).error).toMatch(/query parameter 'delay' must be an integer number of ms between 50 and 60000/);
    }
  });

  it('routes.close() ends open streams at once and refuses new ones', async () => {
    const { url, routes } = await adminWith(new CommandRegistry());
    const stream = await openStream(`${url}/hystrix.stream`);
    await until(() => stream.frames.length > 0, 'the first frame');
    await routes.close();
    await until(() => stream.ended(), 'the stream to end');
    expect(routes.stream.listeners).toBe(0);
    expect((await request(`${url}/hystrix.stream`)).statusCode).toBe(503);
  });

  it("open streams end on their own when the admin server closes, without waiting for its drain deadline", async () => {
    const registry = new CommandRegistry();
    // A drain deadline far beyond the test's timeout: stop() only finishes in time if the streams end by themselves.
    const { admin, url } = await adminWith(registry, {}, { closeTimeoutMs: 60_000 });
    const streams = [await openStream(`${url}/hystrix.stream`), await openStream(`${url}/hystrix.stream?delay=60000`)];
    await until(() => streams.every((s) => s.frames.length > 0), 'the first frames');
    await admin.close();
    await until(() => streams.every((s) => s.ended()), 'both streams to end');
  });

  it('works on a service: its admin server carries the stream, and stop() is not held up by listeners', async () => {
    const service = createService({
      name: 'stream-svc',
      admin: { port: 0, host: '127.0.0.1', closeTimeoutMs: 60_000 },
      lifecycle: { deregistrationDelayMs: 0 },
    });
    const hello = service.command('hello', () => 'hi');
    await service.start();
    cleanups.push(() => service.stop());
    await hello();
    const stream = await openStream(`${service.adminUrl!}/hystrix.stream`);
    await until(() => dataObjects(stream.frames).some((o) => o.name === 'hello' && o.rollingCountSuccess === 1), 'the command in the stream');
    await service.stop();
    await until(() => stream.ended(), 'the stream to end');
  });
});
