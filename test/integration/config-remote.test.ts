import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigSchema } from 'karyon-ts';
import { KaryonError, defineConfig, fileSource, remoteSource } from 'karyon-ts';
import type { ConfigChangeEvent, ConfigSourceEvent, DynamicConfig, RemoteSourceOptions } from 'karyon-ts';
import { ManualClock } from 'karyon-ts/testing';
import { waitFor } from '../support/logger.js';

interface Settings {
  readonly app: { readonly port: number; readonly zone: string; readonly tags: readonly string[] };
  readonly client: { readonly greeter: { readonly rule: string; readonly timeoutMs: number } };
}

const schema: ConfigSchema<Settings> = {
  app: {
    port: { doc: 'port', format: 'port', default: 8080, env: 'PORT', arg: 'port' },
    zone: { doc: 'zone', format: String, default: 'default' },
    tags: { doc: 'tags', format: Array, default: [] },
  },
  client: {
    greeter: {
      rule: { doc: 'rule', format: ['round-robin', 'p2c-ewma', 'random'], default: 'round-robin' },
      timeoutMs: { doc: 'timeout', format: 'nat', default: 1000 },
    },
  },
};

type Mode = 'ok' | 'error' | 'reset' | 'hang';

interface FakeConfigServer {
  readonly url: string;
  body: string;
  contentType: string;
  mode: Mode;
  etags: boolean;
  readonly requests: { url: string; headers: IncomingHttpHeaders }[];
  /** Answers requests itself when set (the Spring Cloud Config server below). */
  route?: (url: string, headers: IncomingHttpHeaders, res: ServerResponse) => void;
  close(): Promise<void>;
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function configServer(body: unknown = {}): Promise<FakeConfigServer> {
  const hanging: ServerResponse[] = [];
  const holder: { server?: Server } = {};
  const state: FakeConfigServer = {
    url: '',
    body: JSON.stringify(body),
    contentType: 'application/json',
    mode: 'ok',
    etags: true,
    requests: [],
    close: async () => {
      for (const res of hanging) res.destroy();
      holder.server?.closeAllConnections();
      await new Promise((resolve) => holder.server?.close(resolve));
    },
  };
  const server = createServer((req, res) => {
    state.requests.push({ url: req.url ?? '', headers: req.headers });
    if (state.mode === 'reset') {
      req.socket.destroy();
      return;
    }
    if (state.mode === 'hang') {
      hanging.push(res);
      return;
    }
    if (state.mode === 'error') {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('maintenance');
      return;
    }
    if (state.route !== undefined) {
      state.route(req.url ?? '', req.headers, res);
      return;
    }
    const etag = `"${createHash('sha1').update(state.body).digest('hex')}"`;
    if (state.etags && req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': state.contentType, ...(state.etags ? { etag } : {}) });
    res.end(state.body);
  });
  holder.server = server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (state as { url: string }).url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  cleanup.push(() => state.close());
  return state;
}

function remoteConfig(url: string, options: Partial<RemoteSourceOptions> & { clock?: ManualClock; env?: Record<string, string>; argv?: string[] } = {}) {
  const { clock = new ManualClock(), env, argv, ...rest } = options;
  const source = remoteSource({ url, intervalMs: 60_000, jitter: 0, backoffInitialMs: 1_000, backoffMaxMs: 8_000, ...rest });
  const config = defineConfig<Settings>({ schema, clock, sources: [source], env: env ?? {}, argv: argv ?? [] });
  cleanup.push(() => config.close());
  const completed = () => config.sources()[0]?.details.completed as number;
  // Counted when a request starts, in the same turn as the timer that starts it.
  const started = () => config.sources()[0]?.details.requests as number;
  /** Moves the clock and waits until the poll it starts (if any) has finished. */
  const poll = async (ms: number, expectedCompleted: number) => {
    await clock.advanceAsync(ms);
    await waitFor(() => completed() === expectedCompleted, 10_000, `poll #${expectedCompleted}`);
  };
  return { config, clock, source, completed, started, poll };
}

function events<T>(config: DynamicConfig<Settings>, name: 'change' | 'sourceError' | 'sourceRecovered' | 'configRejected'): T[] {
  const out: T[] = [];
  config.on(name, (event: unknown) => out.push(event as T));
  return out;
}

describe('remote sources', () => {
  it('polls with If-None-Match: a 304 keeps the layer, a new body applies', async () => {
    const server = await configServer({ app: { port: 1001 } });
    const { config, clock, poll, completed, started } = remoteConfig(`${server.url}/greeter.json`);
    await config.start();
    expect(config.get('app.port')).toBe(1001);
    expect(server.requests[0]?.headers['if-none-match']).toBeUndefined();
    const changes = events<ConfigChangeEvent>(config, 'change');

    await clock.advanceAsync(59_999);
    expect(started()).toBe(1);
    await poll(1, 2);
    expect(server.requests[1]?.headers['if-none-match']).toMatch(/^"[0-9a-f]{40}"$/);
    expect(config.sources()[0]?.details).toMatchObject({ lastStatus: 304, notModified: 1 });
    expect(changes).toHaveLength(0);

    server.body = JSON.stringify({ app: { port: 1002 } });
    await poll(60_000, 3);
    expect(config.get('app.port')).toBe(1002);
    expect(changes).toEqual([expect.objectContaining({ trigger: 'remote', source: `remote:${server.url}/greeter.json`, changes: [{ key: 'app.port', oldValue: 1001, newValue: 1002 }] })]);
    expect(completed()).toBe(3);

    // Without ETags, the same body twice is not a change either.
    server.etags = false;
    await poll(60_000, 4);
    await poll(60_000, 5);
    expect(changes).toHaveLength(1);
  });

  it('keeps the last good values while the source is down and retries with exponential backoff', async () => {
    const server = await configServer({ app: { port: 1001, zone: 'remote' } });
    const { config, clock, poll, completed, started } = remoteConfig(server.url);
    await config.start();
    const good = config.snapshot;
    const errors = events<ConfigSourceEvent>(config, 'sourceError');
    const recovered = events<ConfigSourceEvent>(config, 'sourceRecovered');

    server.mode = 'error';
    await poll(60_000, 2);
    expect(errors).toEqual([expect.objectContaining({ source: `remote:${server.url}/`, error: `HTTP 503 from ${server.url}/`, consecutiveFailures: 1 })]);
    expect(config.snapshot).toBe(good);
    expect(config.sources()[0]).toMatchObject({ state: 'failing', consecutiveFailures: 1, lastError: `HTTP 503 from ${server.url}/` });

    // 1 s, 2 s, 4 s, then the 8 s cap: each retry comes exactly when due, not before.
    for (const [delay, n] of [
      [1_000, 3],
      [2_000, 4],
      [4_000, 5],
      [8_000, 6],
      [8_000, 7],
    ] as const) {
      await clock.advanceAsync(delay - 1);
      expect(started()).toBe(n - 1);
      await poll(1, n);
    }
    server.mode = 'reset';
    await poll(8_000, 8);
    expect(errors.at(-1)?.consecutiveFailures).toBe(7);
    expect(errors.at(-1)?.error).toMatch(/socket|closed|ECONNRESET|other side/i);
    // Another layer changing meanwhile keeps the failing source's last good values.
    config.setOverride('client.greeter.rule', 'random');
    expect(config.snapshot.app).toEqual(good.app);

    server.mode = 'ok';
    server.body = JSON.stringify({ app: { port: 1002, zone: 'remote' } });
    await poll(8_000, 9);
    expect(recovered).toHaveLength(1);
    expect(config.get('app.port')).toBe(1002);
    expect(config.sources()[0]).toMatchObject({ state: 'ok', consecutiveFailures: 0, lastError: undefined });
    // Back to the normal interval.
    await clock.advanceAsync(59_999);
    expect(started()).toBe(9);
    await poll(1, 10);
    expect(completed()).toBe(10);
  });

  it('gives up on a request that does not answer within timeoutMs', async () => {
    const server = await configServer({ app: { port: 1001 } });
    const { config, clock, completed } = remoteConfig(server.url, { timeoutMs: 5_000 });
    await config.start();
    server.mode = 'hang';
    await clock.advanceAsync(60_000);
    await waitFor(() => server.requests.length === 2, 10_000, 'the hanging request');
    expect(completed()).toBe(1);
    await clock.advanceAsync(5_000);
    await waitFor(() => completed() === 2, 10_000, 'the timeout');
    expect(config.sources()[0]?.lastError).toBe(`no answer from ${server.url}/ within 5000 ms`);
    expect(config.get('app.port')).toBe(1001);
  });

  it('lets the caller of reload() give up through its signal without marking the source as failing', async () => {
    const server = await configServer({ app: { port: 1001 } });
    const { config } = remoteConfig(server.url);
    await config.start();
    server.mode = 'hang';
    const controller = new AbortController();
    const reloading = config.reload(controller.signal);
    await waitFor(() => server.requests.length === 2, 10_000, 'the reload request');
    controller.abort(new Error('operator gave up'));
    await expect(reloading).rejects.toThrow('operator gave up');
    expect(config.sources()[0]).toMatchObject({ state: 'ok', consecutiveFailures: 0 });
    await expect(config.reload(controller.signal)).rejects.toThrow('operator gave up');
    server.mode = 'ok';
    server.body = JSON.stringify({ app: { port: 1002 } });
    await config.reload();
    expect(config.get('app.port')).toBe(1002);
  });

  it('rejects a response that does not parse, validate or fit, keeping the last good values', async () => {
    const server = await configServer({ app: { port: 1001 } });
    const { config, poll } = remoteConfig(server.url, { maxBytes: 200 });
    await config.start();
    const rejected = events<{ reason: string }>(config, 'configRejected');
    const bodies = ['{"app": {"port": ', '{"app": {"port": "http"}}', '{"app": {"zone": 1}}', `{"app": {"zone": "${'z'.repeat(300)}"}}`, '{"unknown": true}'];
    for (const [i, body] of bodies.entries()) {
      server.body = body;
      await poll(60_000, i + 2);
    }
    expect(rejected.map((r) => r.reason)).toEqual([
      expect.stringMatching(/response invalid JSON/),
      `'app.port' must be an integer (got "http")`,
      expect.stringMatching(/'app.zone'.*String/),
      expect.stringMatching(/the response is \d+ bytes, more than the limit of 200/),
      `unknown key 'unknown': not declared in the schema`,
    ]);
    expect(config.get('app.port')).toBe(1001);
    // Still a working source: it answered, the answers were bad.
    expect(config.sources()[0]?.state).toBe('ok');
  });

  it('reads a .properties URL', async () => {
    const server = await configServer();
    server.body = 'app.port = 1001\napp.tags = a, b\n';
    server.contentType = 'text/plain';
    const { config } = remoteConfig(`${server.url}/greeter.properties`);
    await config.start();
    expect(config.snapshot.app).toMatchObject({ port: 1001, tags: ['a', 'b'] });
  });

  it('starts without a source that is down, then applies it when it answers; failFast refuses to start', async () => {
    const server = await configServer({ app: { port: 1001 } });
    server.mode = 'error';
    const { config, poll } = remoteConfig(server.url);
    const errors = events<ConfigSourceEvent>(config, 'sourceError');
    await config.start();
    expect(config.get('app.port')).toBe(8080);
    expect(errors).toHaveLength(1);
    server.mode = 'ok';
    await poll(1_000, 2);
    expect(config.get('app.port')).toBe(1001);

    server.mode = 'error';
    const strict = remoteConfig(server.url, { failFast: true }).config;
    const error = (await strict.start().catch((e: unknown) => e)) as KaryonError;
    expect(error).toBeInstanceOf(KaryonError);
    expect(error).toMatchObject({ code: 'ERR_INVALID_CONFIG', retryable: true });
    expect(error.message).toContain(`remote:${server.url}/ could not be fetched: HTTP 503`);
  });

  it('layers remote values above files, env and arguments, and below overrides', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'karyon-config-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'app.json'), JSON.stringify({ app: { port: 1001, zone: 'file' }, client: { greeter: { timeoutMs: 5 } } }));
    const server = await configServer({ app: { port: 1004, zone: 'remote' } });
    const clock = new ManualClock();
    const config = defineConfig<Settings>({
      schema,
      clock,
      env: { PORT: '1002' },
      argv: ['--port', '1003'],
      sources: [remoteSource({ url: server.url, jitter: 0 }), fileSource({ path: join(dir, 'app.json'), watch: false })],
    });
    cleanup.push(() => config.close());
    await config.start();
    const where = () => Object.fromEntries(config.describe().keys.map((k) => [k.key, `${k.layer} ${String(k.value)}`]));
    expect(where()).toMatchObject({ 'app.port': 'remote 1004', 'app.zone': 'remote remote', 'client.greeter.timeoutMs': 'file 5', 'app.tags': 'default ' });
    config.setOverride('app.port', 1005);
    expect(where()['app.port']).toBe('override 1005');
    config.clearOverride('app.port');
    server.body = JSON.stringify({ app: { zone: 'remote' } });
    await config.reload();
    expect(where()['app.port']).toBe('argv 1003');
  });
});

describe('Spring Cloud Config sources', () => {
  const environment = (name: string, profiles: string[], label: string | null, version: string, propertySources: { name: string; source: Record<string, unknown> }[]) =>
    JSON.stringify({ name, profiles, label, version, state: null, propertySources });

  it('requests /{application}/{profile}/{label} with Basic auth and lets the first property source win', async () => {
    const server = await configServer();
    let version = 'c0ffee1';
    let rule = 'p2c-ewma';
    server.route = (url, headers, res) => {
      if (headers.authorization !== `Basic ${Buffer.from('reader:s3cret').toString('base64')}`) {
        res.writeHead(401, { 'www-authenticate': 'Basic' });
        res.end();
        return;
      }
      const match = /^\/config\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(url);
      if (match === null) {
        res.writeHead(404);
        res.end();
        return;
      }
      const [, application, profile, label] = match.map((part) => (part === undefined ? undefined : decodeURIComponent(part)));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        environment(application!, profile!.split(','), label ?? null, version, [
          { name: `git:${application}-${profile}.yml`, source: { 'client.greeter.rule': rule, 'app.tags[0]': 'prod' } },
          { name: `git:${application}.yml`, source: { 'client.greeter.rule': 'round-robin', 'client.greeter.timeoutMs': 250, 'app.tags[0]': 'x', 'app.tags[1]': 'y' } },
          { name: 'git:application.yml', source: { 'app.zone': 'eu-1', 'spring.datasource.url': 'jdbc:postgresql://db/x', 'management.endpoints.web.exposure.include': 'health' } },
        ]),
      );
    };
    const credentialed = server.url.replace('http://', 'http://reader:s3cret@');
    const { config, poll } = remoteConfig(`${credentialed}/config`, {
      format: 'spring-cloud-config',
      application: 'greeter',
      label: 'release/1.2',
      unknownKeys: 'ignore',
    });
    // The profile defaults to the configuration's environment.
    await config.start();
    expect(server.requests[0]?.url).toBe('/config/greeter/default/release(_)1.2');
    expect(config.snapshot).toMatchObject({ client: { greeter: { rule: 'p2c-ewma', timeoutMs: 250 } }, app: { zone: 'eu-1', tags: ['prod'] } });
    const status = config.sources()[0]!;
    expect(status.details).toMatchObject({ format: 'spring-cloud-config', version: 'c0ffee1' });
    expect(JSON.stringify(config.sources())).not.toContain('s3cret');
    expect(status.name).toBe(`remote:${server.url}/config/greeter`);

    version = 'c0ffee2';
    rule = 'random';
    await poll(60_000, 2);
    expect(config.get('client.greeter.rule')).toBe('random');
    expect(config.sources()[0]?.details.version).toBe('c0ffee2');
  });

  it('uses the environment as the profile and rejects a shared key the schema does not know unless told to ignore it', async () => {
    const server = await configServer();
    server.route = (url, _headers, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(environment('greeter', ['prod'], null, 'v1', [{ name: 'git:application.yml', source: { 'app.zone': url, 'spring.application.name': 'greeter' } }]));
    };
    const source = remoteSource({ url: server.url, format: 'spring-cloud-config', application: 'greeter' });
    const config = defineConfig<Settings>({ schema, clock: new ManualClock(), environment: 'prod,eu', sources: [source] });
    cleanup.push(() => config.close());
    await expect(config.start()).rejects.toThrow(/unknown key 'spring': not declared in the schema \[remote:/);
    expect(server.requests[0]?.url).toBe('/greeter/prod%2Ceu');
    expect(() => remoteSource({ url: server.url, format: 'spring-cloud-config' })).toThrow(/option 'remoteSource.application'/);
    expect(() => remoteSource({ url: 'ftp://x' })).toThrow(/option 'remoteSource.url' must be an http\(s\) URL/);
  });
});
