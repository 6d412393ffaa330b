// collectd's statsd plugin (Debian package collectd-core) receives our metrics over UDP and aggregates them;
// its csv plugin writes what it dispatches, and the test reads the values back. CI installs the package;
// on a developer machine without it the suite is skipped, with the reason in its name.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from 'karyon-ts';
import { lifecycleMetrics } from 'karyon-ts/extend';
import { findBinary, killSpawnedProcesses } from '../support/processes.js';

// Whatever fails, no process spawned here outlives the file.
killSpawnedProcesses();

const collectd = findBinary('collectd');
const pluginDir = ['/usr/lib/collectd', '/usr/lib64/collectd', '/usr/local/lib/collectd'].find((d) => existsSync(join(d, 'statsd.so')));
const typesDb = ['/usr/share/collectd/types.db', '/usr/local/share/collectd/types.db'].find((f) => existsSync(f));
const missing =
  collectd === undefined
    ? 'collectd is not installed (apt-get install collectd-core)'
    : pluginDir === undefined || typesDb === undefined
      ? "collectd's statsd plugin or types.db was not found (apt-get install collectd-core)"
      : undefined;

if (missing !== undefined && process.env['CI'] !== undefined) {
  describe('collectd statsd plugin', () => {
    it('is installed in CI', () => {
      throw new Error(`${missing}: CI must install it before running the tests`);
    });
  });
}

async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Every value collectd wrote for one metric file prefix (e.g. `derive-karyon_it.orders`), oldest first. */
function values(csvDir: string, prefix: string): number[] {
  if (!existsSync(csvDir)) return [];
  const files = readdirSync(csvDir).filter((f) => f.startsWith(`${prefix}-`) && /-\d{4}-\d{2}-\d{2}$/.test(f));
  return files
    .sort()
    .flatMap((f) => readFileSync(join(csvDir, f), 'utf8').trim().split('\n').slice(1))
    .map((row) => Number(row.split(',')[1]))
    .filter((v) => !Number.isNaN(v));
}

describe.skipIf(missing !== undefined)(`collectd statsd plugin${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
  let dir = '';
  let csvDir = '';
  let port = 0;
  let child: ChildProcess | undefined;
  let output = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'karyon-collectd-'));
    csvDir = join(dir, 'csv', 'karyon-test', 'statsd');
    port = await freeUdpPort();
    const config = [
      'Interval 1',
      `BaseDir "${dir}"`,
      `PIDFile "${join(dir, 'collectd.pid')}"`,
      `PluginDir "${pluginDir!}"`,
      `TypesDB "${typesDb!}"`,
      'Hostname "karyon-test"',
      'FQDNLookup false',
      'LoadPlugin statsd',
      'LoadPlugin csv',
      '<Plugin statsd>',
      '  Host "127.0.0.1"',
      `  Port "${port}"`,
      '  TimerLower true',
      '  TimerUpper true',
      '  TimerSum true',
      '  TimerCount true',
      '</Plugin>',
      '<Plugin csv>',
      `  DataDir "${join(dir, 'csv')}"`,
      '  StoreRates false',
      '</Plugin>',
      '',
    ].join('\n');
    writeFileSync(join(dir, 'collectd.conf'), config);
    child = spawn(collectd!, ['-f', '-C', join(dir, 'collectd.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 15_000;
    while (!output.includes('Listening on')) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`collectd did not start: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  async function until(check: () => boolean, what: () => string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`collectd never wrote ${what()}; its output: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('aggregates our counters, gauges, timers and sets as statsd does', async () => {
    const metrics = createMetrics({ host: '127.0.0.1', port, prefix: 'karyon_it', tagFormat: 'none', globalTags: { dropped: 'in plain format' } });
    const orders = metrics.counter('orders', { shop: 'eu' });
    for (let i = 1; i <= 8; i++) orders.increment(i);
    metrics.increment('orders', 6);
    const depth = metrics.gauge('queue.depth');
    depth.set(17.5);
    depth.set(12);
    const latency = metrics.timer('latency');
    for (const ms of [10, 20, 30, 40]) latency.record(ms);
    const users = metrics.set('users');
    for (const user of ['ann', 'bob', 'cid', 'ann']) users.add(user);
    await metrics.close();

    // Counter total (collectd's derive keeps the running sum): 1+..+8 + 6.
    await until(() => values(csvDir, 'derive-karyon_it.orders').at(-1) === 42, () => `derive-karyon_it.orders = 42 (got ${values(csvDir, 'derive-karyon_it.orders').join(',')})`);
    await until(() => values(csvDir, 'gauge-karyon_it.queue.depth').at(-1) === 12, () => 'gauge-karyon_it.queue.depth = 12');
    // Timers: collectd reports seconds.
    await until(() => values(csvDir, 'gauge-karyon_it.latency-count').reduce((a, b) => a + b, 0) === 4, () => 'a timer count of 4');
    expect(Math.min(...values(csvDir, 'latency-karyon_it.latency-lower'))).toBeCloseTo(0.01, 6);
    expect(Math.max(...values(csvDir, 'latency-karyon_it.latency-upper'))).toBeCloseTo(0.04, 6);
    expect(values(csvDir, 'latency-karyon_it.latency-sum').reduce((a, b) => a + b, 0)).toBeCloseTo(0.1, 6);
    await until(() => Math.max(0, ...values(csvDir, 'objects-karyon_it.users')) === 3, () => 'a set of 3 distinct users');
  });

  it('receives Telegraf-tagged lines from the built-in handles', async () => {
    const metrics = createMetrics({ host: '127.0.0.1', port, tagFormat: 'telegraf' });
    const lifecycle = lifecycleMetrics(metrics);
    lifecycle.transition('STARTING', 'UP');
    lifecycle.transition('UP', 'OUT_OF_SERVICE');
    lifecycle.transition('OUT_OF_SERVICE', 'UP');
    lifecycle.transition('UP', 'OUT_OF_SERVICE');
    await metrics.close();
    await until(
      () => values(csvDir, 'derive-karyon.lifecycle.transitions,from=UP,to=OUT_OF_SERVICE').at(-1) === 2,
      () => 'two UP -> OUT_OF_SERVICE transitions',
    );
    expect(values(csvDir, 'derive-karyon.lifecycle.transitions,from=STARTING,to=UP').at(-1)).toBe(1);
    expect(values(csvDir, 'gauge-karyon.lifecycle.state,state=OUT_OF_SERVICE').at(-1)).toBe(1);
    expect(values(csvDir, 'gauge-karyon.lifecycle.state,state=UP').at(-1)).toBe(0);
  });
});
