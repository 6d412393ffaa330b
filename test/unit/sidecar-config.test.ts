import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSidecarConfig, resolveSidecarOptions, sidecarConfigKeys } from '../../src/sidecar/index.js';
import type { SidecarOptions } from '../../src/sidecar/index.js';

const dir = mkdtempSync(join(tmpdir(), 'karyon-sidecar-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(content: unknown): string {
  const path = join(dir, `sidecar-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

describe('loadSidecarConfig', () => {
  it('reads the file, resolves relative paths against its directory and converts durations', async () => {
    const path = file({
      app: { name: 'hello', port: 8000 },
      eureka: { serviceUrls: ['http://eureka:8761/eureka'], heartbeatIntervalMs: '5s' },
      process: { command: './run.sh', args: ['--port', '${app.port}'], stopTimeoutMs: '2m', cwd: 'app' },
      checks: [
        { name: 'http', http: 'http://127.0.0.1:${app.port}/health', intervalMs: '10s' },
        { name: 'off', script: ['karyon:kill-switch', 'disabled-${app.port}'] },
      ],
      statsdRelay: { port: 0 },
    });
    const { options, file: read } = await loadSidecarConfig({ file: path });
    expect(read).toBe(path);
    expect(options.app).toEqual({ name: 'hello', port: 8000 });
    expect(options.registry).toEqual({ eureka: { serviceUrls: ['http://eureka:8761/eureka'], heartbeatIntervalMs: 5000 } });
    expect(options.process).toEqual({ command: './run.sh', args: ['--port', '8000'], stopTimeoutMs: 120_000, cwd: join(dir, 'app') });
    expect(options.checks).toEqual([
      { name: 'http', http: 'http://127.0.0.1:8000/health', intervalMs: 10_000 },
      { name: 'off', script: ['karyon:kill-switch', 'disabled-8000'], cwd: join(dir, 'app') },
    ]);
    expect(options.statsdRelay).toEqual({ port: 0 });
    expect(options.admin).toEqual({});
  });

  it('lets the environment win: KARYON_SIDECAR_* first, then the KARYON_* key of the same meaning', async () => {
    const path = file({ app: { name: 'hello', port: 8000 }, admin: { port: 8077 } });
    const { options, fromEnv } = await loadSidecarConfig({
      file: path,
      env: {
        PORT: '8001',
        KARYON_ADMIN_PORT: '9000',
        KARYON_SIDECAR_ADMIN_PORT: '9100',
        KARYON_EUREKA_URLS: 'http://a:8761/eureka, http://b:8761/eureka',
        KARYON_SIDECAR_CHECKS: '[{"name":"t","ttlMs":"30s"}]',
        KARYON_SIDECAR_STATSD_RELAY_PORT: '8126',
        KARYON_SIDECAR_PROCESS_ENV: '{"MODE":"blue"}',
        KARYON_STATSD_HOST: 'statsd',
        KARYON_SIDECAR_ADMIN_ENABLED: '',
      },
    });
    expect(options.app.port).toBe(8001);
    expect(options.admin).toEqual({ port: 9100 });
    expect(options.registry).toEqual({ eureka: { serviceUrls: ['http://a:8761/eureka', 'http://b:8761/eureka'] } });
    expect(options.checks).toEqual([{ name: 't', ttlMs: 30_000 }]);
    expect(options.statsdRelay).toEqual({ port: 8126 });
    expect(options.process).toEqual({ env: { MODE: 'blue' } });
    expect(options.metrics).toEqual({ host: 'statsd' });
    expect(fromEnv).toMatchObject({ 'app.port': 'PORT', 'admin.port': 'KARYON_SIDECAR_ADMIN_PORT' });
  });

  it('builds everything from the environment alone', async () => {
    const { options } = await loadSidecarConfig({ env: { KARYON_APP_NAME: 'envy', PORT: '7000', KARYON_SIDECAR_PROCESS_COMMAND: 'python3' }, cwd: dir });
    expect(options).toMatchObject({ app: { name: 'envy', port: 7000 }, process: { command: 'python3', cwd: dir } });
  });

  it('turns the admin server and the relay off with false', async () => {
    const { options } = await loadSidecarConfig({ file: file({ app: { name: 'a', port: 1 }, admin: false, statsdRelay: false }) });
    expect(options.admin).toBe(false);
    expect(options.statsdRelay).toBeUndefined();
  });

  it('builds the configuration from its schema and renders paths against the file', async () => {
    const path = file({
      app: { name: 'cfg', port: 1 },
      config: { schema: { greeting: { doc: 'g', format: 'String', default: 'hi', env: 'GREETING' } }, template: 't.tmpl', output: 'out-${app.port}.properties', reloadSignal: false },
    });
    const { options } = await loadSidecarConfig({ file: path, env: { GREETING: 'hey' } });
    const config = options.config!;
    expect(config.template).toBe(join(dir, 't.tmpl'));
    expect(config.output).toBe(join(dir, 'out-1.properties'));
    expect(config.reloadSignal).toBe(false);
    await config.config.start();
    expect(config.config.get('greeting' as never)).toBe('hey');
    await config.config.close();
  });

  it('converts duration strings in client options, per VIP and nested, as for the proxy options', async () => {
    const path = file({
      app: { name: 'a', port: 1 },
      proxy: {
        timeoutMs: '2s',
        breaker: { sleepWindowMs: '5s' },
        retries: { maxRetries: 1, budget: { ttlMs: '10s' } },
        vips: {
          'slow-report': { timeoutMs: '30s', deadlineMs: '1m', connectTimeoutMs: 500, retries: false },
          greeter: {
            hedging: { minDelayMs: '20ms' },
            outlierDetection: { baseEjectionMs: '30s', maxEjectionMs: '5m' },
            breaker: { timeoutMs: '3s', rollingWindowMs: '10s' },
            pool: { keepAliveTimeoutMs: '4s' },
            latency: { decayMs: '10s' },
            zoneAffinity: { recheckMs: '1.5s' },
          },
        },
      },
    });
    const { options } = await loadSidecarConfig({ file: path });
    expect(options.proxy).toEqual({
      timeoutMs: 2000,
      breaker: { sleepWindowMs: 5000 },
      retries: { maxRetries: 1, budget: { ttlMs: 10_000 } },
      vips: {
        'slow-report': { timeoutMs: 30_000, deadlineMs: 60_000, connectTimeoutMs: 500, retries: false },
        greeter: {
          hedging: { minDelayMs: 20 },
          outlierDetection: { baseEjectionMs: 30_000, maxEjectionMs: 300_000 },
          breaker: { timeoutMs: 3000, rollingWindowMs: 10_000 },
          pool: { keepAliveTimeoutMs: 4000 },
          latency: { decayMs: 10_000 },
          zoneAffinity: { recheckMs: 1500 },
        },
      },
    });
    expect(() => resolveSidecarOptions(options)).not.toThrow();
    const fromEnv = await loadSidecarConfig({ env: { KARYON_APP_NAME: 'a', PORT: '1', KARYON_SIDECAR_PROXY_VIPS: '{"slow-report":{"timeoutMs":"30s"}}' }, cwd: dir });
    expect(fromEnv.options.proxy).toEqual({ vips: { 'slow-report': { timeoutMs: 30_000 } } });
  });

  it('rejects a bad duration in client options, naming its path and where it came from', async () => {
    const app = { name: 'a', port: 1 };
    await expect(loadSidecarConfig({ file: file({ app, proxy: { vips: { 'slow-report': { timeoutMs: '30 seconds' } } } }) })).rejects.toThrow(
      /^key 'proxy\.vips\.slow-report\.timeoutMs' in .*\.json must be milliseconds, or a duration with a unit as in 500ms, 30s, 2m \(got "30 seconds"\)$/,
    );
    await expect(loadSidecarConfig({ file: file({ app, proxy: { vips: { greeter: { breaker: { sleepWindowMs: 'soon' } } } } }) })).rejects.toThrow(
      /^key 'proxy\.vips\.greeter\.breaker\.sleepWindowMs' in .*\.json must be milliseconds/,
    );
    await expect(loadSidecarConfig({ file: file({ app, proxy: { retries: { budget: { ttlMs: '-1s' } } } }) })).rejects.toThrow(
      /^key 'proxy\.retries\.budget\.ttlMs' in .*\.json must be milliseconds/,
    );
    await expect(loadSidecarConfig({ file: file({ app, proxy: { vips: { 'slow-report': 30_000 } } }) })).rejects.toThrow(
      /^key 'proxy\.vips\.slow-report' in .*\.json must be an object of client options \(got 30000\)$/,
    );
    await expect(loadSidecarConfig({ env: { KARYON_APP_NAME: 'a', PORT: '1', KARYON_SIDECAR_PROXY_VIPS: '{"x":{"deadlineMs":"2 min"}}' }, cwd: dir })).rejects.toThrow(
      /^key 'proxy\.vips\.x\.deadlineMs' from KARYON_SIDECAR_PROXY_VIPS must be milliseconds/,
    );
  });

  it('accepts the complete example of docs/sidecar.md', async () => {
    const doc = readFileSync(new URL('../../docs/sidecar.md', import.meta.url), 'utf8');
    const example = /A complete example:\n\n```json\n([\s\S]*?)\n```/.exec(doc)?.[1];
    expect(example).toBeDefined();
    const path = join(dir, 'doc-example.json');
    writeFileSync(path, example as string);
    const { options } = await loadSidecarConfig({ file: path });
    expect(options.proxy).toEqual({ timeoutMs: 2000, vips: { 'slow-report': { timeoutMs: 30_000, retries: false } } });
    expect(options.lifecycle).toEqual({ deregistrationDelayMs: 30_000, readinessTimeoutMs: 600_000 });
    expect(() => resolveSidecarOptions(options)).not.toThrow();
  });

  it('are all documented in docs/sidecar.md, with their environment variables', () => {
    const doc = readFileSync(new URL('../../docs/sidecar.md', import.meta.url), 'utf8');
    for (const entry of sidecarConfigKeys) expect(doc).toContain(`| \`${entry.key}\` | ${entry.env.map((name) => `\`${name}\``).join(', ')} |`);
  });

  it('names every key with its environment variables', () => {
    const keys = new Map(sidecarConfigKeys.map((entry) => [entry.key, entry.env]));
    expect(keys.get('app.name')).toEqual(['KARYON_SIDECAR_APP_NAME', 'KARYON_APP_NAME']);
    expect(keys.get('lifecycle.deregistrationDelayMs')).toEqual(['KARYON_SIDECAR_LIFECYCLE_DEREGISTRATION_DELAY_MS', 'KARYON_DEREGISTRATION_DELAY_MS']);
    expect(keys.get('port')).toEqual(['KARYON_SIDECAR_PORT']);
    for (const entry of sidecarConfigKeys) expect(entry.doc).not.toBe('');
  });
});

describe('resolveSidecarOptions', () => {
  const app = { name: 'a', port: 8000 };
  const cases: [string, SidecarOptions, RegExp][] = [
    ['a missing port', { app: { name: 'a' } as SidecarOptions['app'] }, /option 'app\.port' must be a port between 1 and 65535/],
    ['spawn and watch at once', { app, process: { command: 'x', pid: 1 } }, /option 'process\.pid' must be unset when 'process\.command' is set/],
    ['a bad stop signal', { app, process: { command: 'x', stopSignal: 'SIGNOPE' as NodeJS.Signals } }, /option 'process\.stopSignal' must be a signal name/],
    ['a bad restart policy', { app, process: { command: 'x', restart: 'sometimes' as 'always' } }, /option 'process\.restart' must be 'never', 'on-failure' or 'always'/],
    ['a check named process', { app, checks: [{ name: 'process', tcp: 'a:1' }] }, /option 'checks\[0\]\.name' must be another name than 'process'/],
    ['two checks of one name', { app, checks: [{ name: 'x', tcp: 'a:1' }, { name: 'x', tcp: 'a:2' }] }, /option 'checks\[1\]\.name' must be a name no other check has/],
    ['a check of no kind', { app, checks: [{ name: 'x' }] }, /option 'checks\[0\]' must be exactly one of/],
    ['an HTTP option on a TCP check', { app, checks: [{ name: 'x', tcp: 'a:1', method: 'POST' }] }, /option 'checks\[0\]\.method' must be unset on a tcp check/],
    ['a bad proxy option', { app, proxy: { timeoutMs: -1 } }, /option 'proxy\.timeoutMs' must be a non-negative number of milliseconds/],
    ['a bad per-VIP option', { app, proxy: { vips: { greeter: { balancer: 'fastest' as 'random' } } } }, /option 'proxy\.vips\.greeter\./],
    ['a per-VIP duration as text', { app, proxy: { vips: { greeter: { deadlineMs: '30s' as unknown as number } } } }, /option 'proxy\.vips\.greeter\.deadlineMs' must be a non-negative number of milliseconds/],
    ['per-VIP options that are not an object', { app, proxy: { vips: { greeter: 5 as never } } }, /option 'proxy\.vips\.greeter' must be an object of client options \(got 5\)/],
    ['a template without output', { app, config: { config: { onChange: () => () => undefined } as never, template: 't' } }, /option 'config\.output' must be set together/],
  ];
  for (const [what, options, message] of cases) {
    it(`rejects ${what}`, () => expect(() => resolveSidecarOptions(options)).toThrow(message));
  }

  it('fills the defaults', () => {
    const resolved = resolveSidecarOptions({ app, process: { command: 'x' } });
    expect(resolved).toMatchObject({ port: 8078, host: '127.0.0.1', readinessTimeoutMs: 300_000, readinessPollMs: 500, maxBufferedBodyBytes: 1024 * 1024, maxVips: 256 });
    expect(resolved.process).toMatchObject({ mode: 'spawn', stopSignal: 'SIGTERM', stopTimeoutMs: 10_000, restart: 'never', maxRestarts: 5, inheritEnv: true });
    expect(resolveSidecarOptions({ app }).process.mode).toBe('none');
    expect(resolveSidecarOptions({ app, process: { pid: 42 } }).process.mode).toBe('watch');
    expect(resolveSidecarOptions({ app, statsdRelay: {} }).statsdRelay).toEqual({ port: 8125, host: '127.0.0.1' });
  });
});
