import { mkdir, mkdtemp, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigSchema } from 'karyon-ts';
import { defineConfig, fileSource } from 'karyon-ts';
import type { ConfigChangeEvent, ConfigRejectedEvent, DynamicConfig } from 'karyon-ts';
import { ManualClock } from 'karyon-ts/testing';
import { waitFor } from '../support/logger.js';

interface Settings {
  readonly app: { readonly port: number; readonly zone: string; readonly name: string; readonly debug: boolean };
  readonly pair: { readonly a: number; readonly b: number };
}

const schema: ConfigSchema<Settings> = {
  app: {
    port: { doc: 'port', format: 'port', default: 8080 },
    zone: { doc: 'zone', format: String, default: 'default' },
    name: { doc: 'name', format: String, default: 'app' },
    debug: { doc: 'debug', format: Boolean, default: false },
  },
  pair: {
    a: { doc: 'a', format: 'int', default: 0 },
    b: { doc: 'b', format: 'int', default: 0 },
  },
};

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function directory(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'karyon-config-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function track(config: DynamicConfig<Settings>): DynamicConfig<Settings> {
  cleanup.push(() => config.close());
  return config;
}

/** Replaces a file the way editors and deploy tools do: write a temporary file, then rename it over. */
async function replaceFile(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp-${Math.random().toString(16).slice(2)}`;
  await writeFile(temporary, text);
  await rename(temporary, path);
}

describe('file sources', () => {
  it('cascades name.json, name.properties, then the environment files, later files winning', async () => {
    const dir = await directory();
    await writeFile(join(dir, 'app.json'), JSON.stringify({ app: { port: 1001, zone: 'json', name: 'from-json' } }));
    await writeFile(join(dir, 'app.properties'), 'app.port=1002\napp.zone=properties\n');
    await writeFile(join(dir, 'app-prod.json'), '{"app.port": 1003}');
    await writeFile(join(dir, 'app-prod.properties'), '# the environment file wins\napp.port = 1004\n');
    await writeFile(join(dir, 'app-eu.properties'), 'app.debug=true\n');
    const config = track(defineConfig<Settings>({ schema, environment: 'prod,eu', sources: [fileSource({ path: join(dir, 'app'), watch: false })] }));
    await config.start();
    expect(config.snapshot.app).toEqual({ port: 1004, zone: 'properties', name: 'from-json', debug: true });
    const source = (key: string) => config.describe().keys.find((k) => k.key === key)?.source;
    expect(source('app.port')).toBe(`file:${join(dir, 'app-prod.properties')}`);
    expect(source('app.zone')).toBe(`file:${join(dir, 'app.properties')}`);
    expect(source('app.name')).toBe(`file:${join(dir, 'app.json')}`);
    expect(config.sources()[0]).toMatchObject({
      state: 'ok',
      origins: ['app.json', 'app.properties', 'app-prod.json', 'app-prod.properties', 'app-eu.properties'].map((f) => `file:${join(dir, f)}`),
    });

    // A path with an extension reads that format only.
    const jsonOnly = track(defineConfig<Settings>({ schema, environment: 'prod', sources: [fileSource({ path: join(dir, 'app.json'), watch: false })] }));
    await jsonOnly.start();
    expect(jsonOnly.snapshot.app).toMatchObject({ port: 1003, zone: 'json' });
    const noCascade = track(defineConfig<Settings>({ schema, environment: 'prod', sources: [fileSource({ path: join(dir, 'app.json'), watch: false, cascade: false })] }));
    await noCascade.start();
    expect(noCascade.get('app.port')).toBe(1001);
  });

  it('picks up in-place writes, replacements by rename, deletion and re-creation while watching', async () => {
    const dir = await directory();
    const file = join(dir, 'app.json');
    await writeFile(file, JSON.stringify({ app: { port: 1001 } }));
    const config = track(defineConfig<Settings>({ schema, sources: [fileSource({ path: file, debounceMs: 20 })] }));
    await config.start();
    const port = config.property('app.port');
    const seen: number[] = [];
    port.onChange((value) => seen.push(value));

    await writeFile(file, JSON.stringify({ app: { port: 1002 } }));
    await waitFor(() => port.get() === 1002, 10_000, 'an in-place write');
    await replaceFile(file, JSON.stringify({ app: { port: 1003 } }));
    await waitFor(() => port.get() === 1003, 10_000, 'a replacement by rename');
    await unlink(file);
    await waitFor(() => port.get() === 8080, 10_000, 'the deleted file to empty its layer');
    expect(config.describe().keys.find((k) => k.key === 'app.port')?.layer).toBe('default');
    expect(config.sources()[0]?.origins).toEqual([]);
    await writeFile(file, JSON.stringify({ app: { port: 1004 } }));
    await waitFor(() => port.get() === 1004, 10_000, 'the re-created file');
    expect(seen).toEqual([1002, 1003, 8080, 1004]);
    // (An in-place write may be read half-done, truncated: that read is rejected and changes nothing.)
    expect(config.history().filter((h) => h.kind === 'applied')).toHaveLength(5);
  });

  it('rejects a broken file while watching, keeps the last good values and applies the fix', async () => {
    const dir = await directory();
    const file = join(dir, 'app.properties');
    await writeFile(file, 'app.port=1001\n');
    const config = track(defineConfig<Settings>({ schema, sources: [fileSource({ path: file, debounceMs: 10 })] }));
    await config.start();
    const good = config.snapshot;
    const rejected: ConfigRejectedEvent[] = [];
    config.on('configRejected', (event) => rejected.push(event));
    await replaceFile(file, 'app.port=not-a-port\n');
    await waitFor(() => rejected.length === 1, 10_000, 'the rejection');
    expect(rejected[0]).toMatchObject({ trigger: 'file', source: `file:${join(dir, 'app.properties')}`, reason: `'app.port' must be an integer (got "not-a-port")` });
    expect(config.snapshot).toBe(good);
    await replaceFile(file, 'app.port=\\u00zz\n');
    await waitFor(() => rejected.length === 2, 10_000, 'the second rejection');
    expect(rejected[1]?.reason).toMatch(/invalid \.properties: line 1: malformed/);
    await replaceFile(file, 'app.port=1002\n');
    await waitFor(() => config.get('app.port') === 1002, 10_000, 'the fix');
  });

  it('reads a burst of writes once, after the debounce', async () => {
    const dir = await directory();
    const file = join(dir, 'app.json');
    await writeFile(file, JSON.stringify({ pair: { a: 0, b: 0 } }));
    const clock = new ManualClock();
    const config = track(defineConfig<Settings>({ schema, clock, sources: [fileSource({ path: file, debounceMs: 500 })] }));
    await config.start();
    const changes: ConfigChangeEvent[] = [];
    config.on('change', (event) => changes.push(event));
    for (let i = 1; i <= 20; i++) await writeFile(file, JSON.stringify({ pair: { a: i, b: i } }));
    // The watcher saw the writes: a debounce timer waits on the manual clock, and nothing was read yet.
    await waitFor(() => clock.pendingTimers > 0, 10_000, 'a file event');
    expect(config.snapshot.pair).toEqual({ a: 0, b: 0 });
    await clock.advanceAsync(500);
    await waitFor(() => changes.length === 1, 10_000, 'the debounced read');
    expect(config.snapshot.pair).toEqual({ a: 20, b: 20 });
    // Late events for the same content read it again and change nothing: the next change seen is the next
    // write's.
    await clock.advanceAsync(500);
    await writeFile(file, JSON.stringify({ pair: { a: 21, b: 21 } }));
    await waitFor(() => clock.pendingTimers > 0, 10_000, 'the next file event');
    await clock.advanceAsync(500);
    await waitFor(() => changes.length >= 2, 10_000, 'the next write read');
    expect(changes).toHaveLength(2);
    expect(config.snapshot.pair).toEqual({ a: 21, b: 21 });
  });

  it('follows a Kubernetes ConfigMap update (a symlinked ..data directory swapped by rename)', async () => {
    const dir = await directory();
    await mkdir(join(dir, '..v1'));
    await writeFile(join(dir, '..v1', 'app.json'), JSON.stringify({ app: { zone: 'v1' } }));
    await symlink('..v1', join(dir, '..data'));
    await symlink(join('..data', 'app.json'), join(dir, 'app.json'));
    const config = track(defineConfig<Settings>({ schema, sources: [fileSource({ path: join(dir, 'app.json'), debounceMs: 20 })] }));
    await config.start();
    expect(config.get('app.zone')).toBe('v1');
    await mkdir(join(dir, '..v2'));
    await writeFile(join(dir, '..v2', 'app.json'), JSON.stringify({ app: { zone: 'v2' } }));
    await symlink('..v2', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await waitFor(() => config.get('app.zone') === 'v2', 10_000, 'the ConfigMap swap');
  });

  it('re-reads on a timer when asked, for file systems without change events', async () => {
    const dir = await directory();
    const file = join(dir, 'app.json');
    await writeFile(file, JSON.stringify({ app: { port: 1001 } }));
    const clock = new ManualClock();
    const config = track(defineConfig<Settings>({ schema, clock, sources: [fileSource({ path: file, watch: false, pollIntervalMs: 5_000 })] }));
    await config.start();
    await writeFile(file, JSON.stringify({ app: { port: 1002 } }));
    await clock.advanceAsync(4_999);
    expect(config.get('app.port')).toBe(1001);
    await clock.advanceAsync(1);
    await waitFor(() => config.get('app.port') === 1002, 10_000, 'the polled read');
    // reload() reads now, without waiting for the timer.
    await writeFile(file, JSON.stringify({ app: { port: 1003 } }));
    await config.reload();
    expect(config.get('app.port')).toBe(1003);
  });

  it('rejects a file over the size limit, and fails start naming a missing directory or a broken first file', async () => {
    const dir = await directory();
    const file = join(dir, 'app.json');
    await writeFile(file, JSON.stringify({ app: { port: 1001 } }));
    const config = track(defineConfig<Settings>({ schema, sources: [fileSource({ path: file, watch: false, maxBytes: 100 })] }));
    await config.start();
    await writeFile(file, JSON.stringify({ app: { port: 1002, name: 'n'.repeat(200) } }));
    await config.reload();
    expect(config.get('app.port')).toBe(1001);
    expect(config.history().at(-1)).toMatchObject({ kind: 'rejected', reason: expect.stringMatching(/bytes, more than the limit of 100/) as string });

    const missing = track(defineConfig<Settings>({ schema, sources: [fileSource({ path: join(dir, 'nope', 'app.json') })] }));
    await expect(missing.start()).rejects.toThrow(/cannot watch directory .*nope/);
    await writeFile(join(dir, 'broken.json'), '{"app": ');
    const broken = track(defineConfig<Settings>({ schema, sources: [fileSource({ path: join(dir, 'broken.json'), watch: false })] }));
    await expect(broken.start()).rejects.toThrow(/broken\.json invalid JSON/);
    expect(() => fileSource({ path: '' })).toThrow(/option 'fileSource.path'/);
    expect(() => fileSource({ path: 'x', debounceMs: -1 })).toThrow(/option 'fileSource.debounceMs'/);
  });

  it('never shows a reader a mix of two keys that always change together while files and overrides change', async () => {
    const dir = await directory();
    const file = join(dir, 'pair.json');
    await writeFile(file, JSON.stringify({ pair: { a: 0, b: 0 } }));
    const config = track(defineConfig<Settings>({ schema, sources: [fileSource({ path: file, debounceMs: 0 })] }));
    await config.start();
    const a = config.property('pair.a');
    const b = config.property('pair.b');
    let reads = 0;
    let torn = 0;
    let stop = false;
    // A reader that runs between every I/O callback of the writer, for as long as changes apply.
    const reader = (async () => {
      while (!stop) {
        for (let i = 0; i < 200; i++) {
          const snapshot = config.snapshot;
          const first = a.get();
          const second = b.get();
          if (first !== second || snapshot.pair.a !== snapshot.pair.b) torn++;
          reads++;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const versions = new Set<number>();
    for (let i = 1; i <= 60; i++) {
      await replaceFile(file, JSON.stringify({ pair: { a: i, b: i } }));
      await config.reload();
      versions.add(config.version);
    }
    stop = true;
    await reader;
    expect(a.get()).toBe(60);
    expect(versions.size).toBeGreaterThan(30);
    expect(reads).toBeGreaterThan(10_000);
    expect(torn).toBe(0);
  });
});
