import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defineConfig, fileSource, renderTemplate } from 'karyon-ts';
import type { ConfigSchema, ConfigSourceEvent, DynamicConfig } from 'karyon-ts';
import { waitUntil } from './support.js';
import { killSpawnedProcesses } from '../support/processes.js';

// Whatever fails, no process this file starts outlives it.
killSpawnedProcesses();

// Disk faults under the configuration file source and the template renderer: a target directory that is full
// or read-only (a small tmpfs of our own, remounted; needs root), a file that vanishes or cannot be read. The
// last good file (or values) stays, the error is reported, and nothing half-written is ever read.

const isRoot = process.getuid?.() === 0;
function canMount(): boolean {
  if (!isRoot) return false;
  const probe = join(tmpdir(), `karyon-mount-probe-${process.pid}`);
  try {
    execFileSync('mkdir', ['-p', probe]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe]);
    return true;
  } catch {
    return false;
  } finally {
    execFileSync('rm', ['-rf', probe]);
  }
}
const mountable = canMount();

interface Settings {
  readonly port: number;
  readonly zone: string;
}
const schema: ConfigSchema<Settings> = {
  port: { doc: 'port', format: 'port', default: 8080 },
  zone: { doc: 'zone', format: String, default: 'default' },
};

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'karyon-disk-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function startedConfig(options: Parameters<typeof defineConfig<Settings>>[0] = { schema }): Promise<DynamicConfig<Settings>> {
  const config = defineConfig<Settings>(options);
  cleanups.push(() => config.close());
  await config.start();
  return config;
}

/** A tmpfs of `size` mounted at a new directory; unmounted after the test. */
function tmpfs(dir: string, size: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  cleanups.push(() => {
    execFileSync('umount', ['-l', dir]);
  });
}

describe.skipIf(!mountable)('template renderer on a full or read-only target (tmpfs; needs root and mount)', () => {
  it('keeps the last good file when the disk is full, reports ENOSPC, leaves no temporary file, and writes again once there is room', async () => {
    const dir = await scratch();
    const target = join(dir, 'target');
    await mkdir(target);
    tmpfs(target, '64k');
    const template = join(dir, 'app.properties.template');
    await writeFile(template, `port=\${port}\nzone=\${zone}\npadding=${'x'.repeat(20_000)}\nend=\${port}\n`);
    const config = await startedConfig();
    const output = join(target, 'app.properties');
    const renderer = await renderTemplate({ config, template, output });
    cleanups.push(() => renderer.close());
    const good = await readFile(output, 'utf8');
    const errors: Error[] = [];
    renderer.on('renderError', (error) => errors.push(error));
    // Fill what is left of the disk.
    const filler = join(target, 'filler');
    await writeFile(filler, Buffer.alloc(64 * 1024)).catch(() => undefined);
    config.setOverride('port', 9001);
    await renderer.flush();
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]!.message).toMatch(/ENOSPC/);
    expect(await readFile(output, 'utf8')).toBe(good);
    expect((await readdir(target)).sort()).toEqual(['app.properties', 'filler']);
    await rm(filler);
    config.setOverride('port', 9002);
    await renderer.flush();
    expect(await readFile(output, 'utf8')).toContain('end=9002\n');
  });

  it('keeps the last good file on a read-only target, reports EROFS, and writes again once writable', async () => {
    const dir = await scratch();
    const target = join(dir, 'target');
    await mkdir(target);
    tmpfs(target, '256k');
    const template = join(dir, 'app.properties.template');
    await writeFile(template, 'port=${port}\n');
    const config = await startedConfig();
    const output = join(target, 'app.properties');
    const renderer = await renderTemplate({ config, template, output });
    cleanups.push(() => renderer.close());
    const errors: Error[] = [];
    renderer.on('renderError', (error) => errors.push(error));
    execFileSync('mount', ['-o', 'remount,ro', target]);
    config.setOverride('port', 9001);
    await renderer.flush();
    expect(errors[0]?.message).toMatch(/EROFS/);
    expect(await readFile(output, 'utf8')).toBe('port=8080\n');
    execFileSync('mount', ['-o', 'remount,rw', target]);
    config.setOverride('port', 9002);
    await renderer.flush();
    expect(await readFile(output, 'utf8')).toBe('port=9002\n');
  });
});

describe('configuration file source on a failing disk', () => {
  it('keeps the last good values when the file cannot be read or is half written, reports it, and recovers', async () => {
    const dir = await scratch();
    const file = join(dir, 'app.json');
    await writeFile(file, JSON.stringify({ port: 9001, zone: 'eu' }));
    const config = await startedConfig({ schema, sources: [fileSource({ path: file, cascade: false, debounceMs: 20 })] });
    const errors: ConfigSourceEvent[] = [];
    const recovered: ConfigSourceEvent[] = [];
    config.on('sourceError', (event) => errors.push(event));
    config.on('sourceRecovered', (event) => recovered.push(event));
    expect(config.snapshot).toMatchObject({ port: 9001, zone: 'eu' });

    // Unreadable: a directory where the file was (EISDIR), as a botched deploy leaves it.
    await rm(file);
    await mkdir(file);
    await waitUntil(() => errors.length > 0, 'the read error to be reported', 10_000);
    expect(errors[0]!.error ?? '').toMatch(/EISDIR|directory|not a (regular )?file/i);
    expect(config.snapshot).toMatchObject({ port: 9001, zone: 'eu' });

    // Half written: a truncated JSON document is rejected whole; no value of it applies.
    await rm(file, { recursive: true });
    const rejected: unknown[] = [];
    config.on('configRejected', (event) => rejected.push(event));
    await writeFile(file, '{"port": 9002, "zone": "u');
    await waitUntil(() => rejected.length > 0 || errors.length > 1, 'the half-written file to be rejected', 10_000);
    expect(config.snapshot).toMatchObject({ port: 9001, zone: 'eu' });

    // Whole again.
    await writeFile(file, JSON.stringify({ port: 9003, zone: 'us' }));
    await waitUntil(() => config.snapshot.port === 9003, 'the good file to apply', 10_000);
    expect(config.snapshot.zone).toBe('us');
    expect(recovered.length).toBeGreaterThan(0);
  });
});
