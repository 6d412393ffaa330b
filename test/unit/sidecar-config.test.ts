import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { serviceClientOptionKeys } from '../../src/http/ServiceClientOptions.js';
import type { ClientOptionKey } from '../../src/http/ServiceClientOptions.js';
import { resolveSidecarOptions } from '../../src/sidecar/SidecarOptions.js';
import { loadSidecarConfig, sidecarConfigKeys } from 'karyon-ts/sidecar';
import type { SidecarOptions } from 'karyon-ts/sidecar';

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

  it('passes eureka.decodePriority on to the registry, from the file or KARYON_EUREKA_DECODE_PRIORITY', async () => {
    const path = file({ app: { name: 'hello', port: 8000 }, eureka: { serviceUrls: ['http://a:8761/eureka'], decodePriority: 'idle' } });
    expect((await loadSidecarConfig({ file: path })).options.registry).toEqual({ eureka: { serviceUrls: ['http://a:8761/eureka'], decodePriority: 'idle' } });
    const fromEnv = await loadSidecarConfig({ file: path, env: { KARYON_EUREKA_DECODE_PRIORITY: 'low' } });
    expect(fromEnv.options.registry).toEqual({ eureka: { serviceUrls: ['http://a:8761/eureka'], decodePriority: 'low' } });
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

describe('loadSidecarConfig: client options are checked key by key, as the file keys are', () => {
  const app = { name: 'a', port: 1 };
  const vipKeys = 'rule, balancer, zoneAffinity, outlierDetection, latency, outOfServiceBackoffMs, retries, hedging, connectTimeoutMs, timeoutMs, deadlineMs, breaker, pool, address, closeTimeoutMs';
  const env = (vips: unknown, more: Record<string, string> = {}) => ({ KARYON_APP_NAME: 'a', PORT: '1', KARYON_SIDECAR_PROXY_VIPS: JSON.stringify(vips), ...more });

  it('rejects a typo in per-VIP options, naming its path and the keys it could be', async () => {
    await expect(loadSidecarConfig({ file: file({ app, proxy: { vips: { 'slow-report': { timeoutMS: 500 } } } }) })).rejects.toThrow(
      new RegExp(`^unknown key 'proxy\\.vips\\.slow-report\\.timeoutMS' in .*\\.json \\(known in 'proxy\\.vips\\.slow-report': ${vipKeys}\\)$`),
    );
    await expect(loadSidecarConfig({ file: file({ app, proxy: { vips: { 'slow-report': { timeoutMs: '30s', retrys: false } } } }) })).rejects.toThrow(
      /^unknown key 'proxy\.vips\.slow-report\.retrys' in .*\.json \(known in 'proxy\.vips\.slow-report': rule, balancer, .*\)$/,
    );
  });

  it('rejects a typo in nested options, per VIP and for every VIP', async () => {
    const cases: [unknown, RegExp][] = [
      [{ vips: { x: { retries: { maxRetry: 1 } } } }, /^unknown key 'proxy\.vips\.x\.retries\.maxRetry' in .*\.json \(known in 'proxy\.vips\.x\.retries': maxRetries, budget, retryOnStatus\)$/],
      [{ vips: { x: { retries: { budget: { ttl: '10s' } } } } }, /^unknown key 'proxy\.vips\.x\.retries\.budget\.ttl' in .*\.json \(known in 'proxy\.vips\.x\.retries\.budget': ratio, minRetriesPerSecond, ttlMs\)$/],
      [{ vips: { x: { breaker: { sleepWindow: 5000 } } } }, /^unknown key 'proxy\.vips\.x\.breaker\.sleepWindow' in .*\.json \(known in 'proxy\.vips\.x\.breaker': timeoutMs, .*sleepWindowMs, /],
      [{ vips: { x: { hedging: { quantil: 0.9 } } } }, /^unknown key 'proxy\.vips\.x\.hedging\.quantil' in .*\.json \(known in 'proxy\.vips\.x\.hedging': quantile, minSamples, minDelayMs\)$/],
      [{ vips: { x: { outlierDetection: { consecutiveErrors: 3 } } } }, /^unknown key 'proxy\.vips\.x\.outlierDetection\.consecutiveErrors' in .*\.json \(known in 'proxy\.vips\.x\.outlierDetection': consecutiveFailures, /],
      [{ vips: { x: { pool: { maxConnections: 10 } } } }, /^unknown key 'proxy\.vips\.x\.pool\.maxConnections' in .*\.json \(known in 'proxy\.vips\.x\.pool': connections, keepAliveTimeoutMs\)$/],
      [{ vips: { x: { zoneAffinity: { recheck: '1s' } } } }, /^unknown key 'proxy\.vips\.x\.zoneAffinity\.recheck' in .*\.json \(known in 'proxy\.vips\.x\.zoneAffinity': zone, /],
      [{ vips: { x: { latency: { decay: '10s' } } } }, /^unknown key 'proxy\.vips\.x\.latency\.decay' in .*\.json \(known in 'proxy\.vips\.x\.latency': decayMs, priorMs, idleDecayMs, stallWindowMs\)$/],
      [{ retries: { maxRetry: 1 } }, /^unknown key 'proxy\.retries\.maxRetry' in .*\.json \(known in 'proxy\.retries': maxRetries, budget, retryOnStatus\)$/],
      [{ breaker: { errorThreshold: 50 } }, /^unknown key 'proxy\.breaker\.errorThreshold' in .*\.json \(known in 'proxy\.breaker': /],
      [{ hedging: { minDelay: '5ms' } }, /^unknown key 'proxy\.hedging\.minDelay' in .*\.json/],
      [{ outlierDetection: { baseEjection: '30s' } }, /^unknown key 'proxy\.outlierDetection\.baseEjection' in .*\.json/],
    ];
    for (const [proxy, message] of cases) await expect(loadSidecarConfig({ file: file({ app, proxy }) })).rejects.toThrow(message);
  });

  it('rejects the same typos from the environment, naming the variable', async () => {
    await expect(loadSidecarConfig({ env: env({ 'slow-report': { timeoutMS: 500 } }), cwd: dir })).rejects.toThrow(
      new RegExp(`^unknown key 'proxy\\.vips\\.slow-report\\.timeoutMS' from KARYON_SIDECAR_PROXY_VIPS \\(known in 'proxy\\.vips\\.slow-report': ${vipKeys}\\)$`),
    );
    await expect(loadSidecarConfig({ env: env({ x: { retries: { maxRetry: 1 } } }), cwd: dir })).rejects.toThrow(
      /^unknown key 'proxy\.vips\.x\.retries\.maxRetry' from KARYON_SIDECAR_PROXY_VIPS \(known in 'proxy\.vips\.x\.retries': maxRetries, budget, retryOnStatus\)$/,
    );
    // The environment wins over the file: its typo is reported, as coming from it.
    await expect(loadSidecarConfig({ file: file({ app, proxy: { vips: { x: { timeoutMs: 1 } } } }), env: { KARYON_SIDECAR_PROXY_VIPS: '{"x":{"retrys":false}}' } })).rejects.toThrow(
      /^unknown key 'proxy\.vips\.x\.retrys' from KARYON_SIDECAR_PROXY_VIPS /,
    );
    await expect(loadSidecarConfig({ env: { KARYON_APP_NAME: 'a', PORT: '1', KARYON_SIDECAR_PROXY_RETRIES: '{"maxRetry":1}' }, cwd: dir })).rejects.toThrow(
      /^unknown key 'proxy\.retries\.maxRetry' from KARYON_SIDECAR_PROXY_RETRIES \(known in 'proxy\.retries': maxRetries, budget, retryOnStatus\)$/,
    );
  });

  it('rejects the options only code can give, saying they cannot be set in a file', async () => {
    for (const key of ['transport', 'clock', 'logger', 'random', 'shadow']) {
      await expect(loadSidecarConfig({ file: file({ app, proxy: { vips: { x: { [key]: {} } } } }) })).rejects.toThrow(
        new RegExp(`^key 'proxy\\.vips\\.x\\.${key}' in .*\\.json cannot be set in a file or the environment: it takes a function or object only code can give`),
      );
    }
    await expect(loadSidecarConfig({ env: env({ x: { logger: 'console' } }), cwd: dir })).rejects.toThrow(
      /^key 'proxy\.vips\.x\.logger' from KARYON_SIDECAR_PROXY_VIPS cannot be set in a file or the environment/,
    );
  });

  it('rejects a key that only looks like one: inherited names, and sidecar keys that are not client options', async () => {
    for (const key of ['constructor', 'toString', '__proto__', 'vips', 'maxVips', 'maxBufferedBodyBytes']) {
      const path = join(dir, `proto-${key}.json`);
      writeFileSync(path, `{"app":{"name":"a","port":1},"proxy":{"vips":{"x":{"${key}":1}}}}`);
      await expect(loadSidecarConfig({ file: path })).rejects.toThrow(`unknown key 'proxy.vips.x.${key}'`);
    }
  });

  it('accepts every client option data can carry, per VIP and nested, and the client accepts their values', async () => {
    const vip = {
      rule: 'round-robin',
      balancer: 'round-robin',
      zoneAffinity: { zone: 'eu-west-1a', maxEjectedPercent: 80, maxLoadPerInstance: 0.6, minAvailable: 2, recheckMs: '1s' },
      outlierDetection: {
        consecutiveFailures: 5, ejectOnConnectFailure: true, baseEjectionMs: '30s', maxEjectionMs: '5m', maxEjectedPercent: 10, panicThresholdPercent: 50,
        successRate: { intervalMs: '10s', requestVolume: 50, minimumHosts: 3, gapPercent: 10 },
      },
      latency: { decayMs: '10s', priorMs: 30, idleDecayMs: '50s', stallWindowMs: 20 },
      outOfServiceBackoffMs: '5s',
      retries: { maxRetries: 2, budget: { ratio: 0.2, minRetriesPerSecond: 10, ttlMs: '10s' }, retryOnStatus: [502, 503, 504] },
      hedging: { quantile: 0.95, minSamples: 20, minDelayMs: '1ms' },
      connectTimeoutMs: '2s',
      timeoutMs: '5s',
      deadlineMs: '10s',
      breaker: {
        timeoutMs: 0, interruptOnTimeout: true, breakerEnabled: true, requestVolumeThreshold: 20, errorThresholdPercentage: 50, sleepWindowMs: '5s',
        forceOpen: false, forceClosed: false, rollingWindowMs: '10s', rollingBuckets: 10, percentileWindowMs: '1m', percentileBuckets: 6,
        maxConcurrent: 1000, maxQueued: 0, rejectionsCountAsErrors: true, fallbackEnabled: true, fallbackMaxConcurrent: 10,
      },
      pool: { connections: 10, keepAliveTimeoutMs: '4s' },
      address: 'hostname',
      closeTimeoutMs: '5s',
    };
    // The example names every key the option types have, but those only code can give.
    const paths = (value: unknown, at: string): string[] =>
      typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.entries(value).flatMap(([k, v]) => [`${at}${k}`, ...paths(v, `${at}${k}.`)]) : [];
    const shape = (keys: ClientOptionKey, at: string): string[] =>
      typeof keys === 'string' ? [] : Object.entries(keys).flatMap(([k, v]) => (v === 'code' ? [] : [`${at}${k}`, ...shape(v, `${at}${k}.`)]));
    expect(paths(vip, '').sort()).toEqual(shape(serviceClientOptionKeys, '').sort());

    const { options } = await loadSidecarConfig({ file: file({ app, proxy: { retries: vip.retries, breaker: vip.breaker, hedging: vip.hedging, outlierDetection: vip.outlierDetection, vips: { x: vip, y: { retries: false, hedging: true, zoneAffinity: false, outlierDetection: false, breaker: false } } } }) });
    expect(options.proxy?.vips?.x).toMatchObject({ timeoutMs: 5000, retries: { budget: { ttlMs: 10_000 } }, breaker: { percentileWindowMs: 60_000 } });
    expect(() => resolveSidecarOptions(options)).not.toThrow();
    const fromEnv = await loadSidecarConfig({ env: env({ x: vip }), cwd: dir });
    expect(fromEnv.options.proxy?.vips).toEqual(options.proxy?.vips && { x: options.proxy.vips.x });
  });

  it('accepts every client option used in docs/sidecar.md, per VIP too', async () => {
    const doc = readFileSync(new URL('../../docs/sidecar.md', import.meta.url), 'utf8');
    const named = /every `service\.client\(\)` option a file can\s+hold \(([^)]*)\)/.exec(doc)?.[1];
    const keys = [...(named ?? '').matchAll(/`(\w+)`/g)].map((match) => match[1] as string);
    expect(keys).toContain('timeoutMs');
    const values: Record<string, unknown> = { timeoutMs: '1s', deadlineMs: '2s', retries: false, breaker: false, hedging: true, outlierDetection: false, pool: { connections: 4 } };
    for (const key of keys) {
      expect(values).toHaveProperty(key);
      const { options } = await loadSidecarConfig({ file: file({ app, proxy: { vips: { x: { [key]: values[key] } } } }) });
      expect(() => resolveSidecarOptions(options)).not.toThrow();
    }
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
