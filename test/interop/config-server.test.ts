// The remote config source against the real Spring Cloud Config Server (native file backend): application,
// profile and label; the server's property sources applied in its order; a change of a backend file reaching a
// live property within one poll; a bad value rejected with the last good one kept.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { defineConfig, remoteSource } from 'karyon-ts';
import type { ConfigRejectedEvent, ConfigSchema, DynamicConfig, RemoteSourceOptions } from 'karyon-ts';
import { waitFor } from '../support/logger.js';
import { buildInterop, killAll, startConfigServer } from './harness.js';
import { interopSuite } from './suite.js';
import type { JavaProcess } from './harness.js';
import { eurekaRequest } from './peers.js';

interface Settings {
  readonly app: { readonly zone: string };
  readonly client: { readonly greeter: { readonly rule: string; readonly timeoutMs: number } };
}

const schema: ConfigSchema<Settings> = {
  app: { zone: { doc: 'zone', format: String, default: 'default' } },
  client: {
    greeter: {
      rule: { doc: 'rule', format: ['round-robin', 'p2c-ewma', 'random'], default: 'p2c-ewma' },
      timeoutMs: { doc: 'timeout', format: 'nat', default: 1000 },
    },
  },
};

interopSuite('the remote config source on the real Spring Cloud Config Server', () => {
  let dir: string;
  let server: JavaProcess;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    await buildInterop();
    dir = mkdtempSync(join(tmpdir(), 'karyon-config-server-'));
    mkdirSync(join(dir, 'v2'));
    writeFileSync(join(dir, 'application.properties'), 'app.zone=shared-zone\nclient.greeter.timeoutMs=100\n');
    writeFileSync(join(dir, 'interop-app.properties'), 'client.greeter.timeoutMs=200\nclient.greeter.rule=round-robin\n');
    writeFileSync(join(dir, 'interop-app-dev.properties'), 'client.greeter.timeoutMs=300\n');
    writeFileSync(join(dir, 'v2', 'interop-app.properties'), 'client.greeter.rule=random\n');
    server = await startConfigServer(dir);
  }, 900_000);
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  });
  afterAll(async () => {
    await killAll();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  function config(options: Partial<RemoteSourceOptions>): DynamicConfig<Settings> {
    const source = remoteSource({ url: server.url, format: 'spring-cloud-config', application: 'interop-app', unknownKeys: 'ignore', ...options });
    const created = defineConfig<Settings>({ schema, sources: [source] });
    cleanups.push(() => created.close());
    return created;
  }

  it('reads the application, profile and label, applying the property sources in the server\'s order', async () => {
    // What the server itself answers: the most specific source first.
    const raw = JSON.parse((await eurekaRequest('GET', `${server.url}/interop-app/dev/v2`)).body) as { propertySources: { name: string }[] };
    expect(raw.propertySources.map((s) => s.name.slice(s.name.indexOf(dir) + dir.length))).toEqual([
      '/interop-app-dev.properties',
      '/v2/interop-app.properties',
      '/interop-app.properties',
      '/application.properties',
    ]);

    const plain = config({ profile: 'default' });
    await plain.start();
    expect(plain.snapshot).toMatchObject({ app: { zone: 'shared-zone' }, client: { greeter: { rule: 'round-robin', timeoutMs: 200 } } });

    const dev = config({ profile: 'dev' });
    await dev.start();
    expect(dev.snapshot).toMatchObject({ app: { zone: 'shared-zone' }, client: { greeter: { rule: 'round-robin', timeoutMs: 300 } } });

    const labelled = config({ profile: 'dev', label: 'v2' });
    await labelled.start();
    expect(labelled.snapshot).toMatchObject({ app: { zone: 'shared-zone' }, client: { greeter: { rule: 'random', timeoutMs: 300 } } });
    expect(labelled.sources()[0]?.details).toMatchObject({ format: 'spring-cloud-config' });
  }, 60_000);

  it('brings a change of a backend file to a live property within one poll, and keeps the last good value when a bad one comes', async () => {
    const intervalMs = 1000;
    const live = config({ profile: 'prod', intervalMs, jitter: 0 });
    await live.start();
    const rule = live.property('client.greeter.rule');
    expect(rule.get()).toBe('round-robin');
    const seen: { value: string; at: number }[] = [];
    rule.onChange((value) => seen.push({ value, at: Date.now() }));
    const rejected: ConfigRejectedEvent[] = [];
    live.on('configRejected', (e) => rejected.push(e));

    const changedAt = Date.now();
    writeFileSync(join(dir, 'interop-app-prod.properties'), 'client.greeter.rule=p2c-ewma\n');
    cleanups.push(async () => rmSync(join(dir, 'interop-app-prod.properties'), { force: true }));
    await waitFor(() => seen.length > 0, 10_000, 'the new rule');
    expect(seen[0]?.value).toBe('p2c-ewma');
    // One poll interval, plus the request itself.
    expect((seen[0]?.at ?? Infinity) - changedAt).toBeLessThan(intervalMs + 1000);

    writeFileSync(join(dir, 'interop-app-prod.properties'), 'client.greeter.rule=fastest-please\n');
    await waitFor(() => rejected.length > 0, 10_000, 'the bad value rejected');
    expect(rejected[0]?.reason).toMatch(/client\.greeter\.rule/);
    expect(rule.get()).toBe('p2c-ewma');
    expect(seen).toHaveLength(1);

    writeFileSync(join(dir, 'interop-app-prod.properties'), 'client.greeter.rule=random\n');
    await waitFor(() => rule.get() === 'random', 10_000, 'the fixed value');
  }, 60_000);
});
