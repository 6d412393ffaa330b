import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadSettings, serviceOptionsFromSettings } from 'karyon-ts';

describe('loadSettings', () => {
  it('reads every documented environment variable', () => {
    const settings = loadSettings({
      env: {
        KARYON_APP_NAME: 'greeter',
        PORT: '9090',
        KARYON_ZONE: 'us-east-1a',
        KARYON_EUREKA_URLS: 'http://a:8761/eureka, http://b:8761/eureka/v2',
        KARYON_EUREKA_HEARTBEAT_MS: '5000',
        KARYON_EUREKA_FETCH_MS: '1000',
        KARYON_DEREGISTRATION_DELAY_MS: '250',
        KARYON_MAX_DEREGISTRATION_DELAY_MS: '90000',
        KARYON_QUIET_PERIOD_MS: '3000',
        KARYON_ADMIN_PORT: '0',
        KARYON_ADMIN_HOST: '0.0.0.0',
        KARYON_ADMIN_TOKEN: 's3cret',
        KARYON_STATSD_HOST: '127.0.0.1',
        KARYON_STATSD_PORT: '8126',
        KARYON_EUREKA_TOKEN: 'team-a',
        KARYON_EUREKA_TOKEN_HEADER: 'x-api-key',
        KARYON_ADMIN_TOKENS_FILE: '/etc/karyon/tokens.json',
        KARYON_METRICS_PROMETHEUS: 'true',
        KARYON_HOST_NAME: 'greeter-7f9c.pods.internal',
        KARYON_IP_ADDR: '10.1.2.3',
        KARYON_PREFER_IP_ADDRESS: 'true',
        KARYON_EUREKA_DECODE_PRIORITY: 'idle',
      },
    });
    expect(settings).toEqual({
      app: { name: 'greeter', port: 9090, zone: 'us-east-1a', hostName: 'greeter-7f9c.pods.internal', ipAddr: '10.1.2.3' },
      eureka: {
        serviceUrls: ['http://a:8761/eureka', 'http://b:8761/eureka/v2'],
        heartbeatIntervalMs: 5000,
        registryFetchIntervalMs: 1000,
        token: 'team-a',
        tokenHeader: 'x-api-key',
        preferIpAddress: true,
        decodePriority: 'idle',
      },
      lifecycle: { deregistrationDelayMs: 250, maxDeregistrationDelayMs: 90_000, quietPeriodMs: 3000 },
      admin: { port: 0, host: '0.0.0.0', token: 's3cret', tokensFile: '/etc/karyon/tokens.json' },
      statsd: { host: '127.0.0.1', port: 8126 },
      metrics: { prometheus: true },
    });
    expect(Object.isFrozen(settings.app)).toBe(true);
  });

  it('has the documented defaults', () => {
    const settings = loadSettings({ env: { KARYON_APP_NAME: 'greeter' } });
    expect(settings).toEqual({
      app: { name: 'greeter', port: 8080, zone: 'default', hostName: null, ipAddr: null },
      eureka: { serviceUrls: [], heartbeatIntervalMs: 30_000, registryFetchIntervalMs: 30_000, token: null, tokenHeader: null, preferIpAddress: false, decodePriority: 'low' },
      lifecycle: { deregistrationDelayMs: null, maxDeregistrationDelayMs: null, quietPeriodMs: 10_000 },
      admin: { port: 8077, host: null, token: null, tokensFile: null },
      statsd: { host: null, port: 8125 },
      metrics: { prometheus: false },
    });
  });

  it('takes a switch as true/false or 1/0, and names the key of anything else', () => {
    const prometheus = (value: string): boolean => loadSettings({ env: { KARYON_APP_NAME: 'a', KARYON_METRICS_PROMETHEUS: value } }).metrics.prometheus;
    expect([prometheus('true'), prometheus('TRUE'), prometheus('1'), prometheus('false'), prometheus('0')]).toEqual([true, true, true, false, false]);
    // convict's own Boolean would take these as true.
    expect(() => prometheus('off')).toThrow(/metrics.prometheus: must be true or false \(got "off"\)/);
    expect(() => prometheus('no')).toThrow(/metrics.prometheus/);
  });

  it('lets argv win over env, and env over values', () => {
    const settings = loadSettings({
      values: { app: { name: 'from-values', port: 1 } },
      env: { PORT: '2' },
      argv: ['--app-port', '3'],
    });
    expect(settings.app).toEqual({ name: 'from-values', port: 3, zone: 'default', hostName: null, ipAddr: null });
  });

  it('rejects bad values with ERR_INVALID_CONFIG naming the key', () => {
    expect(() => loadSettings({ env: {} })).toThrow(/app.name/);
    expect(() => loadSettings({ env: { KARYON_APP_NAME: 'a', PORT: 'eighty' } })).toThrow(/app.port/);
    expect(() => loadSettings({ env: { KARYON_APP_NAME: 'a', KARYON_EUREKA_URLS: 'ftp://x' } })).toThrow(/eureka.serviceUrls/);
    expect(() => loadSettings({ values: { app: { name: 'a' }, bogus: 1 } })).toThrow(/bogus/);
    try {
      loadSettings({ env: {} });
    } catch (error) {
      expect(error).toMatchObject({ code: 'ERR_INVALID_CONFIG' });
    }
  });

  it('turns metrics settings into metrics options: statsd, Prometheus, both or neither', () => {
    const metricsOf = (env: Record<string, string>): unknown => serviceOptionsFromSettings(loadSettings({ env: { KARYON_APP_NAME: 'a', ...env } })).metrics;
    expect(metricsOf({})).toBeUndefined();
    expect(metricsOf({ KARYON_METRICS_PROMETHEUS: 'true' })).toEqual({ prometheus: true });
    expect(metricsOf({ KARYON_STATSD_HOST: 'statsd.local' })).toEqual({ host: 'statsd.local', port: 8125 });
    expect(metricsOf({ KARYON_STATSD_HOST: 'statsd.local', KARYON_METRICS_PROMETHEUS: '1' })).toEqual({ host: 'statsd.local', port: 8125, prometheus: true });
  });

  it('turns settings into service options', () => {
    const options = serviceOptionsFromSettings(
      loadSettings({ env: { KARYON_APP_NAME: 'greeter', KARYON_ADMIN_TOKEN: 't', KARYON_DEREGISTRATION_DELAY_MS: '5' } }),
    );
    expect(options).toMatchObject({
      name: 'greeter',
      port: 8080,
      zone: 'default',
      admin: { port: 8077, token: 't' },
      lifecycle: { deregistrationDelayMs: 5, quietPeriodMs: 10_000 },
      lease: { renewalIntervalMs: 30_000, durationMs: 90_000 },
    });
  });

  it('passes the advertised host on: host name, IP address, preferIpAddress', () => {
    const optionsOf = (env: Record<string, string>) => serviceOptionsFromSettings(loadSettings({ env: { KARYON_APP_NAME: 'a', ...env } }));
    expect(optionsOf({ KARYON_HOST_NAME: 'a-1.pods.internal', KARYON_IP_ADDR: '10.1.2.3' })).toMatchObject({
      hostName: 'a-1.pods.internal',
      ipAddr: '10.1.2.3',
    });
    expect(optionsOf({ KARYON_PREFER_IP_ADDRESS: '1' }).preferIpAddress).toBe(true);
    const defaults = optionsOf({});
    expect(['hostName', 'ipAddr', 'preferIpAddress'].filter((key) => key in defaults)).toEqual([]);
  });

  it('reads the admin tokens file and passes the Eureka token on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'karyon-settings-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'tokens.json');
    writeFileSync(file, JSON.stringify([{ name: 'oncall', token: 'operate-secret-1', role: 'operate' }, { name: 'dash', token: 'read-secret-22', role: 'read' }]));
    const options = serviceOptionsFromSettings(
      loadSettings({
        env: { KARYON_APP_NAME: 'greeter', KARYON_ADMIN_TOKENS_FILE: file, KARYON_EUREKA_URLS: 'http://e:8761/eureka', KARYON_EUREKA_TOKEN: 'team-a' },
      }),
    );
    expect(options.admin).toMatchObject({ port: 8077, tokens: [{ name: 'oncall', role: 'operate' }, { name: 'dash', role: 'read' }] });
    expect(options.registry).toMatchObject({ eureka: { serviceUrls: ['http://e:8761/eureka'], token: 'team-a' } });
    expect(() => serviceOptionsFromSettings(loadSettings({ env: { KARYON_APP_NAME: 'x', KARYON_ADMIN_TOKENS_FILE: join(dir, 'missing.json') } }))).toThrow(/could not be read/);
  });

  it("passes decodePriority on to the Eureka registry, and refuses a value other than 'low' or 'idle'", () => {
    const env = { KARYON_APP_NAME: 'greeter', KARYON_EUREKA_URLS: 'http://e:8761/eureka' };
    expect(serviceOptionsFromSettings(loadSettings({ env })).registry).toMatchObject({ eureka: { decodePriority: 'low' } });
    expect(serviceOptionsFromSettings(loadSettings({ env: { ...env, KARYON_EUREKA_DECODE_PRIORITY: 'idle' } })).registry).toMatchObject({ eureka: { decodePriority: 'idle' } });
    expect(() => loadSettings({ env: { ...env, KARYON_EUREKA_DECODE_PRIORITY: 'high' } })).toThrow(/eureka\.decodePriority[\s\S]*high/);
  });
});
