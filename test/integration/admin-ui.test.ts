import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createService } from 'karyon-ts';
import { adminUiContentSecurityPolicy, adminUiRoutes } from 'karyon-ts/extend';
import { InMemoryRegistry } from 'karyon-ts/testing';
import type { AdminUiOptions, Service } from 'karyon-ts';
import type { RegistryReport } from 'karyon-ts/extend';
import { waitFor } from '../support/logger.js';
import { killSpawnedProcesses, killTree } from '../support/processes.js';

// Whatever fails, no process spawned here outlives the file.
killSpawnedProcesses();

const uiDir = fileURLToPath(new URL('../../src/admin/ui/', import.meta.url));
const services: Service[] = [];
const temps: string[] = [];
afterEach(async () => {
  await Promise.allSettled(services.splice(0).map((s) => s.stop()));
  await Promise.allSettled(temps.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function serve(options?: AdminUiOptions): Promise<string> {
  // The service's own web UI is off, so the one under test, with its options, serves GET /.
  const service = createService({ name: 'ui-test', port: 7400, registry: new InMemoryRegistry(), admin: { port: 0, host: '127.0.0.1', ui: false }, lifecycle: { deregistrationDelayMs: 0 } });
  services.push(service);
  adminUiRoutes(service.admin!, options);
  await service.start();
  return service.adminUrl!;
}

async function get(url: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') {
  const res = await request(url, { method, headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body, text: body.toString('utf8') };
}

/** The relative module specifiers a JS file imports. */
function importsOf(source: string): string[] {
  return [...source.matchAll(/^\s*import\s[^'"]*['"](\.\/[^'"]+)['"]/gm)].map((m) => m[1]!);
}

describe('admin web UI: serving', () => {
  it('GET / serves the page with a strict CSP, security headers and revalidation, and 304 on a matching ETag', async () => {
    const base = await serve();
    const page = await get(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toBe(adminUiContentSecurityPolicy);
    for (const directive of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"]) {
      expect(adminUiContentSecurityPolicy).toContain(directive);
    }
    expect(adminUiContentSecurityPolicy).not.toContain('unsafe-inline');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.text).toContain('<main');
    // No inline script or style: the CSP would refuse them.
    expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.text).not.toMatch(/<style|\sstyle=/);
    const etag = page.headers.etag as string;
    expect(etag).toMatch(/^"[^"]+"$/);
    const again = await get(`${base}/`, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect((await get(`${base}/`, { 'if-none-match': `W/${etag}` })).status).toBe(304);
    expect((await get(`${base}/`, { 'if-none-match': '"other"' })).status).toBe(200);
  });

  it('names its assets under a digest of all files, served immutable with the right types; every module import resolves', async () => {
    const base = await serve();
    const page = (await get(`${base}/`)).text;
    const referenced = [...page.matchAll(/(?:src|href)="(ui\/[^"]+)"/g)].map((m) => m[1]!);
    expect(referenced.length).toBeGreaterThanOrEqual(3);
    const versions = new Set(referenced.map((path) => /^ui\/([0-9a-f]{16})\//.exec(path)?.[1]));
    expect(versions.size).toBe(1);
    const version = [...versions][0]!;
    expect(version).toBeDefined();

    const types: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };
    const seen = new Set<string>();
    const queue = referenced.map((path) => path.slice(`ui/${version}/`.length));
    while (queue.length > 0) {
      const file = queue.shift()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const asset = await get(`${base}/ui/${version}/${file}`);
      expect(asset.status, file).toBe(200);
      expect(asset.headers['content-type'], file).toBe(types[file.slice(file.lastIndexOf('.'))]);
      expect(asset.headers['cache-control'], file).toBe('private, max-age=31536000, immutable');
      expect(asset.headers['x-content-type-options']).toBe('nosniff');
      expect(asset.text).toBe(await readFile(join(uiDir, file), 'utf8'));
      if (file.endsWith('.js')) queue.push(...importsOf(asset.text).map((specifier) => specifier.slice(2)));
    }
    // Every file shipped is reachable from the page: nothing dead, nothing missing.
    const shipped = (await readdir(uiDir)).filter((name) => name !== 'index.html');
    expect([...seen].sort()).toEqual(shipped.sort());

    const unversioned = await get(`${base}/ui/app.js`);
    expect(unversioned.status).toBe(200);
    expect(unversioned.headers['cache-control']).toBe('no-cache');
    const stale = await get(`${base}/ui/0123456789abcdef/app.js`);
    expect(stale.status).toBe(200);
    expect(stale.headers['cache-control']).toBe('no-cache');
  });

  it('stays open when reads need a token (it holds no data), while the API behind it does not', async () => {
    const service = createService({
      name: 'ui-test',
      port: 7401,
      registry: new InMemoryRegistry(),
      admin: { port: 0, host: '127.0.0.1', tokens: [{ name: 'viewer', token: 'read-only-token', role: 'read' }] },
      lifecycle: { deregistrationDelayMs: 0 },
    });
    services.push(service);
    await service.start();
    const base = service.adminUrl!;
    const page = await get(`${base}/`);
    expect(page.status).toBe(200);
    const script = /src="(ui\/[^"]+\.js)"/.exec(page.text)![1]!;
    expect((await get(`${base}/${script}`)).status).toBe(200);
    expect((await get(`${base}/ui/style.css`)).status).toBe(200);
    expect((await get(`${base}/status`)).status).toBe(401);
    expect((await get(`${base}/status`, { authorization: 'Bearer read-only-token' })).status).toBe(200);
  });

  it('works offline: no file loads anything from another origin', async () => {
    const files = await readdir(uiDir);
    for (const file of files) {
      const text = await readFile(join(uiDir, file), 'utf8');
      const urls = [...text.matchAll(/\b(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}[^\s'"`)]*/gi)].map((m) => m[0]);
      // The SVG namespace is a name, not a request.
      expect(urls.filter((url) => !url.startsWith('http://www.w3.org/2000/svg')), file).toEqual([]);
    }
  });

  it('compresses for clients that accept gzip, and only for them', async () => {
    const base = await serve();
    const plain = await get(`${base}/ui/app.js`);
    const zipped = await get(`${base}/ui/app.js`, { 'accept-encoding': 'br, gzip;q=0.8' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toBe('accept-encoding');
    expect(gunzipSync(zipped.body).toString('utf8')).toBe(plain.text);
    expect(Number(zipped.headers['content-length'])).toBeLessThan(plain.body.length);
    expect((await get(`${base}/ui/app.js`, { 'accept-encoding': 'gzip;q=0' })).headers['content-encoding']).toBeUndefined();
    expect(plain.headers['content-encoding']).toBeUndefined();
  });

  it('refuses names that are not files of the folder: traversal, encoded slashes, unknown files', async () => {
    const base = await serve();
    for (const path of ['/ui/..%2Fuiroutes.ts', '/ui/%2e%2e%2fpackage.json', '/ui/..%2F..%2Fpackage.json', '/ui/missing.js', '/ui/index.html', '/ui/v/..%2F..%2Fsecret', '/ui/%ZZ']) {
      const res = await get(`${base}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.headers['content-type'], path).toContain('application/json');
    }
    const head = await get(`${base}/ui/style.css`, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
  });

  it('answers 500 naming the folder when the files are missing, and serves them once they are there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'karyon-ui-'));
    temps.push(dir);
    const base = await serve({ directory: dir });
    const missing = await get(`${base}/`);
    expect(missing.status).toBe(500);
    expect(JSON.parse(missing.text).error).toContain(`index.html is missing from ${dir}`);
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>t</title><link rel="stylesheet" href="ui/a.css">');
    await writeFile(join(dir, 'a.css'), 'body{}');
    await writeFile(join(dir, 'notes.txt'), 'not served');
    const page = await get(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.text).toMatch(/href="ui\/[0-9a-f]{16}\/a\.css"/);
    expect((await get(`${base}/ui/a.css`)).text).toBe('body{}');
    expect((await get(`${base}/ui/notes.txt`)).status).toBe(404);

    const gone = await serve({ directory: join(dir, 'nope') });
    const unreadable = await get(`${gone}/`);
    expect(unreadable.status).toBe(500);
    expect(JSON.parse(unreadable.text).error).toContain('cannot be read from');
  });

  it('the example service runs with the console on its admin port and stops gracefully on SIGTERM', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    // Its own TMPDIR, where it keeps its configuration files, removed however it stopped.
    const tmp = await mkdtemp(join(tmpdir(), 'karyon-example-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/admin-ui/main.ts', '--admin-port', '0', '--token', 'smoke-token'], {
      cwd: root,
      env: { ...process.env, TMPDIR: tmp },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = { stdout: '', stderr: '' };
    child.stdout.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      // The last line it prints once started: the lines before it may come in separate chunks.
      await waitFor(() => out.stdout.includes('Ctrl-C stops everything gracefully.') || child.exitCode !== null, 30_000, 'the example to start');
      if (child.exitCode !== null) throw new Error(`the example exited (${child.exitCode}) before it was ready:\n${out.stdout}\n${out.stderr}`);
      const base = /admin web UI:\s+(http:\/\/\S+?)\/\s*$/m.exec(out.stdout)![1]!;
      expect(out.stdout).toContain('admin token:        smoke-token');
      expect((await get(`${base}/`)).text).toContain('<main');
      await waitFor(
        async () => {
          const report = JSON.parse((await get(`${base}/registry`)).text) as RegistryReport;
          return report.apps.map((app) => app.name).join() === 'BILLING,GREETER,STOREFRONT';
        },
        30_000,
        'the storefront to see every app',
      );
      const breakers = JSON.parse((await get(`${base}/breakers`)).text) as { commands: { name: string }[] };
      expect(breakers.commands.map((c) => c.name).sort()).toEqual(['client:greeter', 'inventory.lookup', 'payments.charge', 'recommendations']);
      expect((await get(`${base}/metrics`)).text).toContain('storefront_page_views_total');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out.stdout).toContain('stopped');
      expect(out.stderr).not.toMatch(/error:/);
    } finally {
      killTree(child);
      await exited;
      await rm(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});
