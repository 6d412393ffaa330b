import { describe, expect, it } from 'vitest';
import type { ConfigSchema } from 'karyon-ts';
import { KaryonError, bindProperty, defineConfig, filterLogger, karyonConfigSchema, karyonConfigValidators, karyonLiveKeys } from 'karyon-ts';
import { HealthMonitor, bindConfigMetrics } from 'karyon-ts/extend';
import type { ConfigChangeEvent, DynamicConfig, ConfigRejectedEvent, ConfigRollbackEvent, ConfigSource, ConfigSourceContext, ConfigSourceStatus, KaryonConfig, LogLevel, Property, SourceContent, SourceUpdateOutcome } from 'karyon-ts';
import { ManualClock } from 'karyon-ts/testing';

/** A source whose content the test sets by hand, to drive a layer without files or servers. */
class MemorySource implements ConfigSource {
  readonly layer: 'file' | 'remote';
  readonly name: string;
  readonly unknownKeys: 'reject' | 'ignore';
  context: ConfigSourceContext | undefined;
  content: SourceContent;
  closed = false;

  constructor(layer: 'file' | 'remote', name: string, values: unknown = {}, unknownKeys: 'reject' | 'ignore' = 'reject') {
    this.layer = layer;
    this.name = name;
    this.unknownKeys = unknownKeys;
    this.content = { origins: [{ name, values }] };
  }

  async open(context: ConfigSourceContext): Promise<SourceContent> {
    this.context = context;
    return this.content;
  }

  set(values: unknown): SourceUpdateOutcome {
    this.content = { origins: [{ name: this.name, values }] };
    return this.context!.update(this.content);
  }

  fail(error: string): SourceUpdateOutcome {
    return this.context!.update({ error });
  }

  async refresh(): Promise<void> {
    this.context?.update(this.content);
  }

  status(): ConfigSourceStatus {
    return { name: this.name, layer: this.layer, state: this.closed ? 'closed' : 'ok', origins: [this.name], lastSuccessAt: undefined, lastError: undefined, consecutiveFailures: 0, details: {} };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

interface Settings {
  readonly app: { readonly port: number; readonly zone: string; readonly debug: boolean; readonly tags: readonly string[] };
  readonly client: { readonly greeter: { readonly rule: string; readonly timeoutMs: number } };
  readonly db: { readonly password: string | null; readonly labels: Readonly<Record<string, string>> };
  readonly pair: { readonly a: number; readonly b: number };
}

const schema: ConfigSchema<Settings> = {
  app: {
    port: { doc: 'port', format: 'port', default: 8080, env: 'PORT', arg: 'port' },
    zone: { doc: 'zone', format: String, default: 'default', env: 'ZONE', arg: 'zone' },
    debug: { doc: 'debug', format: Boolean, default: false, env: 'DEBUG' },
    tags: { doc: 'tags', format: Array, default: [], env: 'TAGS' },
  },
  client: {
    greeter: {
      rule: { doc: 'rule', format: ['round-robin', 'p2c-ewma', 'random'], default: 'round-robin', env: 'GREETER_RULE' },
      timeoutMs: { doc: 'timeout', format: 'nat', default: 1000 },
    },
  },
  db: {
    password: { doc: 'secret', format: '*', default: null, nullable: true, sensitive: true, env: 'DB_PASSWORD' },
    labels: { doc: 'labels', format: Object, default: {} },
  },
  pair: {
    a: { doc: 'a', format: 'int', default: 0 },
    b: { doc: 'b', format: 'int', default: 0 },
  },
};

function setup(options: { env?: Record<string, string>; argv?: string[]; sources?: ConfigSource[]; clock?: ManualClock } = {}) {
  const clock = options.clock ?? new ManualClock();
  const config = defineConfig<Settings>({
    schema,
    clock,
    env: options.env ?? {},
    argv: options.argv ?? [],
    sources: options.sources ?? [],
    validators: { 'client.greeter.timeoutMs': (value) => value <= 60_000 || 'must be at most 60000 ms' },
  });
  return { config, clock };
}

function collect<T>(config: DynamicConfig<Settings>, event: 'change' | 'configRejected' | 'rollback'): T[] {
  const events: T[] = [];
  config.on(event, (e: unknown) => events.push(e as T));
  return events;
}

describe('DynamicConfig: layers', () => {
  it('applies defaults < files < env < argv < remote < overrides, and says where each value came from', async () => {
    const base = new MemorySource('file', 'file:app.json', { app: { port: 1001, zone: 'file-zone', debug: true } });
    const envFile = new MemorySource('file', 'file:app-prod.json', { app: { port: 1002 }, client: { greeter: { timeoutMs: 2000 } } });
    const remote = new MemorySource('remote', 'remote:http://config', { app: { port: 1005 }, client: { greeter: { rule: 'random' } } });
    const { config } = setup({ env: { PORT: '1003', ZONE: 'env-zone' }, argv: ['--port', '1004'], sources: [remote, base, envFile] });
    await config.start();

    expect(config.snapshot.app).toEqual({ port: 1005, zone: 'env-zone', debug: true, tags: [] });
    const sources = Object.fromEntries(config.describe().keys.map((k) => [k.key, k.source]));
    expect(sources).toMatchObject({
      'app.port': 'remote:http://config',
      'app.zone': 'env:ZONE',
      'app.debug': 'file:app.json',
      'app.tags': 'default',
      'client.greeter.rule': 'remote:http://config',
      'client.greeter.timeoutMs': 'file:app-prod.json',
    });

    config.setOverride('app.port', 1006);
    expect(config.get('app.port')).toBe(1006);
    expect(config.describe().keys.find((k) => k.key === 'app.port')).toMatchObject({ layer: 'override', source: 'override', value: 1006 });

    // Peel the layers off from the top: each removal falls back to the next layer down.
    config.clearOverride('app.port');
    expect(config.get('app.port')).toBe(1005);
    remote.set({});
    expect(config.get('app.port')).toBe(1004);
    expect(config.get('client.greeter.rule')).toBe('round-robin');
    await config.close();

    const withoutArgv = setup({ env: { PORT: '1003' }, sources: [base, envFile] }).config;
    await withoutArgv.start();
    expect(withoutArgv.get('app.port')).toBe(1003);
    const withoutEnv = setup({ sources: [base, envFile] }).config;
    await withoutEnv.start();
    expect(withoutEnv.get('app.port')).toBe(1002);
    envFile.set({});
    expect(withoutEnv.get('app.port')).toBe(1001);
    base.set({});
    expect(withoutEnv.get('app.port')).toBe(8080);
    expect(withoutEnv.describe().keys.find((k) => k.key === 'app.port')?.layer).toBe('default');
  });

  it('coerces text from env, argv and files strictly, and reads dotted keys, lists and argument spellings', async () => {
    const file = new MemorySource('file', 'file:app.properties', { 'client.greeter.timeoutMs': '2500', app: { tags: 'a, b,,c' }, 'db.labels.team': 'core' });
    const { config } = setup({ env: { DEBUG: 'TRUE', DB_PASSWORD: 'hunter2' }, argv: ['--zone=eu-1', 'positional', '--port', '9090'], sources: [file] });
    await config.start();
    expect(config.snapshot).toMatchObject({
      app: { port: 9090, zone: 'eu-1', debug: true, tags: ['a', 'b', 'c'] },
      client: { greeter: { timeoutMs: 2500 } },
      db: { password: 'hunter2', labels: { team: 'core' } },
    });
  });

  it('rejects an invalid initial configuration naming every bad key and where it came from', async () => {
    const file = new MemorySource('file', 'file:app.json', { app: { port: 70000, zone: 5 }, bogus: { key: 1 } });
    const { config } = setup({ env: { DEBUG: 'maybe' }, sources: [file] });
    const error = (await config.start().catch((e: unknown) => e)) as KaryonError;
    expect(error).toBeInstanceOf(KaryonError);
    expect(error.code).toBe('ERR_INVALID_CONFIG');
    expect(error.message).toContain("unknown key 'bogus': not declared in the schema [file:app.json]");
    expect(error.message).toContain("'app.debug' must be true or false");
    expect(error.message).toContain('env:DEBUG');
    expect(file.closed).toBe(true);
    // Only the env and unknown-key issues are found before validation; fix them and the formats speak.
    const second = setup({ sources: [new MemorySource('file', 'file:app.json', { app: { port: 70000, zone: 5 } })] }).config;
    const formatError = (await second.start().catch((e: unknown) => e)) as KaryonError;
    expect(formatError.message).toMatch(/'app\.port'.*65535/);
    expect(formatError.message).toMatch(/'app\.zone'.*String/);
    expect(formatError.message).toContain('[file:app.json]');
    expect(formatError.errors.map((issue) => (issue as { key: string }).key).sort()).toEqual(['app.port', 'app.zone']);
  });

  it('is not readable before start(), and property handles made early work once started', async () => {
    const { config } = setup();
    const port = config.property('app.port');
    expect(() => port.get()).toThrow(/before the configuration started/);
    expect(() => config.snapshot).toThrow(expect.objectContaining({ code: 'ERR_INVALID_STATE' }) as Error);
    expect(() => config.setOverride('app.port', 1)).toThrow(/has not started/);
    await config.start();
    expect(port.get()).toBe(8080);
    // @ts-expect-error: a key the settings type does not have does not compile, and throws at run time.
    expect(() => config.property('app.nope')).toThrow(/unknown configuration key 'app.nope'/);
    // @ts-expect-error: the value type follows the key path.
    const wrong: Property<number> = config.property('client.greeter.rule');
    expect(wrong.get()).toBe('round-robin');
  });
});

describe('DynamicConfig: snapshots and properties', () => {
  it('gives frozen snapshots, the same handle per key, and values without copies', async () => {
    const { config } = setup();
    await config.start();
    const snapshot = config.snapshot;
    expect(Object.isFrozen(snapshot)).toBe(true);
    expect(Object.isFrozen(snapshot.app.tags)).toBe(true);
    expect(() => {
      (snapshot.app as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(config.property('app.port')).toBe(config.property('app.port'));
    // A branch property is the very object in the snapshot: no clone.
    expect(config.property('client.greeter').get()).toBe(snapshot.client.greeter);
    const rule: Property<string> = config.property('client.greeter.rule');
    expect(rule.get()).toBe('round-robin');
  });

  it('keeps unchanged branches identical across snapshots', async () => {
    const { config } = setup();
    await config.start();
    const before = config.snapshot;
    config.setOverride('app.port', 9000);
    const after = config.snapshot;
    expect(after).not.toBe(before);
    expect(after.app).not.toBe(before.app);
    expect(after.client).toBe(before.client);
    expect(after.app.tags).toBe(before.app.tags);
  });

  it('calls key listeners only when their key changes, after every handle moved to the new snapshot', async () => {
    const { config } = setup();
    await config.start();
    const a = config.property('pair.a');
    const b = config.property('pair.b');
    const seen: string[] = [];
    const dispose = a.onChange((value, previous) => seen.push(`a ${previous}->${value} b=${b.get()} snap.b=${config.snapshot.pair.b}`));
    config.property('client.greeter').onChange(() => seen.push('greeter'));
    const file = config.property('app.zone');
    file.onChange(() => seen.push('zone'));

    config.setOverride('app.port', 9000);
    expect(seen).toEqual([]);
    // One override changes one key; to change a and b together use a source.
    const events = collect<ConfigChangeEvent>(config, 'change');
    config.setOverride('pair.b', 7);
    config.setOverride('pair.a', 7);
    expect(seen).toEqual(['a 0->7 b=7 snap.b=7']);
    config.setOverride('client.greeter.rule', 'p2c-ewma');
    expect(seen).toContain('greeter');
    dispose();
    config.setOverride('pair.a', 8);
    expect(seen.filter((s) => s.startsWith('a '))).toHaveLength(1);
    expect(events.map((e) => e.changes.map((c) => c.key))).toEqual([['pair.b'], ['pair.a'], ['client.greeter.rule'], ['pair.a']]);
    expect(events[0]).toMatchObject({ trigger: 'override', source: 'override', previousVersion: 2, version: 3 });
  });

  it('moves keys that change together in one update together: no reader sees a mix', async () => {
    const file = new MemorySource('file', 'file:pair.json', { pair: { a: 0, b: 0 } });
    const { config } = setup({ sources: [file] });
    await config.start();
    const a = config.property('pair.a');
    const b = config.property('pair.b');
    const mixes: string[] = [];
    a.onChange(() => {
      if (a.get() !== b.get()) mixes.push(`listener a=${a.get()} b=${b.get()}`);
    });
    b.onChange(() => {
      if (a.get() !== b.get()) mixes.push(`listener a=${a.get()} b=${b.get()}`);
    });
    for (let i = 1; i <= 200; i++) {
      file.set({ pair: { a: i, b: i } });
      const snapshot = config.snapshot;
      if (a.get() !== b.get() || snapshot.pair.a !== snapshot.pair.b || a.get() !== i) mixes.push(`after ${i}`);
    }
    expect(mixes).toEqual([]);
    expect(config.version).toBe(201);
  });

  it('masks sensitive values in change events, describe(), history and overrides, but not for the property owner', async () => {
    const { config } = setup({ env: { DB_PASSWORD: 'hunter2' } });
    await config.start();
    const events = collect<ConfigChangeEvent>(config, 'change');
    const seen: unknown[] = [];
    config.property('db.password').onChange((value) => seen.push(value));
    config.setOverride('db.password', 'correct horse');
    expect(seen).toEqual(['correct horse']);
    expect(events[0]?.changes).toEqual([{ key: 'db.password', oldValue: '[Sensitive]', newValue: '[Sensitive]' }]);
    expect(config.describe().keys.find((k) => k.key === 'db.password')).toMatchObject({ value: '[Sensitive]', sensitive: true, layer: 'override' });
    expect(config.overrides()).toEqual({ 'db.password': '[Sensitive]' });
    const text = JSON.stringify([config.history(), config.describe()]);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('correct horse');
    // A rejected sensitive value is not echoed either.
    expect(() => config.setOverride('db.password', 'x'.repeat(70_000))).toThrow(KaryonError);
    expect(JSON.stringify(config.history())).not.toContain('xxxx');
  });
});

describe('DynamicConfig: rejected updates', () => {
  it('rejects a bad update whole, keeps the last good snapshot and says why', async () => {
    const file = new MemorySource('file', 'file:app.json', { app: { port: 1001 } });
    const { config } = setup({ sources: [file] });
    await config.start();
    const good = config.snapshot;
    const rejected = collect<ConfigRejectedEvent>(config, 'configRejected');
    const changed = collect<ConfigChangeEvent>(config, 'change');

    const bad: [unknown, RegExp][] = [
      [{ app: { port: 'eighty' } }, /'app.port' must be an integer \(got "eighty"\)/],
      [{ app: { port: 1002, zone: ['x'] } }, /'app.zone'.*String/],
      [{ app: { port: 1002 }, nope: 1 }, /unknown key 'nope'/],
      [{ app: 5 }, /'app' is a group of settings/],
      [{ client: { greeter: { timeoutMs: 100_000 } } }, /'client.greeter.timeoutMs': must be at most 60000 ms/],
      [{ client: { greeter: { rule: 'fastest' } } }, /'client.greeter.rule'.*possible values/],
      [{ app: { zone: 'z'.repeat(70_000) } }, /'app.zone' is 70000 bytes, more than the limit of 65536/],
      [{ app: { port: 2 ** 60 } }, /'app.port' must be an integer within/],
      [{ ['__proto__']: { polluted: true } }, /not a valid key|unknown key/],
      [['a list'], /must hold an object/],
    ];
    for (const [values, reason] of bad) {
      expect(file.set(values)).toBe('rejected');
      expect(config.snapshot).toBe(good);
      expect(rejected.at(-1)?.reason).toMatch(reason);
    }
    expect(file.fail('invalid JSON: Unexpected token')).toBe('rejected');
    expect(rejected.at(-1)).toMatchObject({ trigger: 'file', source: 'file:app.json', reason: 'file:app.json: invalid JSON: Unexpected token', version: 1 });
    expect(rejected).toHaveLength(bad.length + 1);
    expect(changed).toHaveLength(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(config.history().filter((h) => h.kind === 'rejected')).toHaveLength(bad.length + 1);

    // A later good update of the same source applies, and the rejected content left no trace.
    expect(file.set({ app: { port: 1003 } })).toBe('applied');
    expect(config.snapshot.app.port).toBe(1003);
    expect(changed).toHaveLength(1);
  });

  it('keeps a source rejected until it changes, while other sources still apply with its last good values', async () => {
    const file = new MemorySource('file', 'file:app.json', { app: { zone: 'file' } });
    const remote = new MemorySource('remote', 'remote:x', {});
    const { config } = setup({ sources: [file, remote] });
    await config.start();
    file.set({ app: { zone: 'bad', port: -1 } });
    remote.set({ app: { debug: true } });
    expect(config.snapshot.app).toMatchObject({ zone: 'file', debug: true, port: 8080 });
  });

  it('rejects a bad value even while a higher layer hides it, so it cannot surface later', async () => {
    const file = new MemorySource('file', 'file:app.json', {});
    const remote = new MemorySource('remote', 'remote:x', { app: { port: 1005, zone: 'remote' }, client: { greeter: { timeoutMs: 500 } } });
    const { config } = setup({ sources: [file, remote] });
    await config.start();
    const rejected = collect<ConfigRejectedEvent>(config, 'configRejected');
    expect(file.set({ app: { port: 'http' } })).toBe('rejected');
    expect(file.set({ app: { zone: { nested: 'object' } } })).toBe('rejected');
    expect(file.set({ client: { greeter: { timeoutMs: 100_000 } } })).toBe('rejected');
    expect(rejected.map((r) => r.reason)).toEqual([
      `'app.port' must be an integer (got "http")`,
      `'app.zone' holds a single value, not a group of settings (got an object)`,
      `'client.greeter.timeoutMs': must be at most 60000 ms (in file:app.json, hidden by remote:x)`,
    ]);
    // Had they been taken, dropping the remote keys would now expose them; instead the defaults show.
    remote.set({});
    expect(config.snapshot.app.port).toBe(8080);
    expect(config.snapshot.client.greeter.timeoutMs).toBe(1000);
  });

  it('throws ERR_INVALID_CONFIG from setOverride with each issue, and records it', async () => {
    const { config } = setup();
    await config.start();
    const error = (() => {
      try {
        config.setOverride('app.port', 'x');
      } catch (e) {
        return e as KaryonError;
      }
      return undefined;
    })();
    expect(error?.code).toBe('ERR_INVALID_CONFIG');
    expect(error?.errors).toEqual([{ key: 'app.port', origin: 'override', message: `'app.port' must be an integer (got "x")` }]);
    expect(() => config.setOverride('nope', 1)).toThrow(/unknown key 'nope'/);
    expect(() => config.setOverride('app', {})).toThrow(/group of settings/);
    expect(() => config.setOverride('client.greeter.timeoutMs', 61_000)).toThrow(/at most 60000/);
    expect(config.history().map((h) => h.kind)).toEqual(['applied', 'rejected', 'rejected', 'rejected', 'rejected']);
    expect(config.setOverride('app.port', '9000')).toMatchObject({ outcome: 'applied', version: 2, changes: [{ key: 'app.port', oldValue: 8080, newValue: 9000 }] });
    expect(config.setOverride('app.port', 9000)).toMatchObject({ outcome: 'unchanged', version: 2, changes: [] });
    expect(config.clearOverride('app.zone')).toMatchObject({ outcome: 'unchanged' });
  });

  it('runs validators on the candidate snapshot, so they can check keys against each other', async () => {
    const config = defineConfig<Settings>({
      schema,
      clock: new ManualClock(),
      validators: { pair: (pair) => pair.a <= pair.b || `a (${pair.a}) must not exceed b (${pair.b})` },
    });
    await config.start();
    config.setOverride('pair.b', 5);
    config.setOverride('pair.a', 5);
    expect(() => config.setOverride('pair.a', 6)).toThrow(/'pair': a \(6\) must not exceed b \(5\)/);
    expect(config.snapshot.pair).toEqual({ a: 5, b: 5 });
  });

  it('keeps a bounded history', async () => {
    const config = defineConfig<Settings>({ schema, clock: new ManualClock(), historyLimit: 3 });
    await config.start();
    for (let i = 1; i <= 5; i++) config.setOverride('pair.a', i);
    expect(config.history().map((h) => h.version)).toEqual([4, 5, 6]);
  });
});

class FakeReadiness {
  healthy = true;
  readonly listeners = new Set<(healthy: boolean) => void>();
  set(healthy: boolean): void {
    this.healthy = healthy;
    for (const listener of this.listeners) listener(healthy);
  }
  options(windowMs: number) {
    return {
      windowMs,
      isHealthy: () => this.healthy,
      onHealthChange: (listener: (healthy: boolean) => void) => {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
      },
    };
  }
}

describe('DynamicConfig: rollback', () => {
  it('restores the previous snapshot when readiness turns critical within the window', async () => {
    const clock = new ManualClock();
    const readiness = new FakeReadiness();
    const config = defineConfig<Settings>({ schema, clock, rollback: readiness.options(10_000) });
    await config.start();
    const before = config.snapshot;
    const rollbacks = collect<ConfigRollbackEvent>(config, 'rollback');
    const changes = collect<ConfigChangeEvent>(config, 'change');
    const rules: string[] = [];
    config.property('client.greeter.rule').onChange((rule) => rules.push(rule));

    config.setOverride('client.greeter.rule', 'random');
    clock.advance(5_000);
    readiness.set(false);
    expect(config.snapshot).toBe(before);
    expect(config.get('client.greeter.rule')).toBe('round-robin');
    expect(rules).toEqual(['random', 'round-robin']);
    expect(rollbacks).toEqual([expect.objectContaining({ undoneVersion: 2, restoredVersion: 1, version: 3 })]);
    expect(changes.at(-1)).toMatchObject({ trigger: 'rollback', changes: [{ key: 'client.greeter.rule', oldValue: 'random', newValue: 'round-robin' }] });
    expect(config.history().at(-1)).toMatchObject({ kind: 'rolledBack', undoneVersion: 2, restoredVersion: 1, reason: expect.stringContaining('readiness turned critical') });
    // The override that caused it is gone with it.
    expect(config.overrides()).toEqual({});
    // A second failure has nothing left to roll back.
    readiness.set(true);
    readiness.set(false);
    expect(rollbacks).toHaveLength(1);
  });

  it('keeps a change once the window passed healthy', async () => {
    const clock = new ManualClock();
    const readiness = new FakeReadiness();
    const config = defineConfig<Settings>({ schema, clock, rollback: readiness.options(10_000) });
    await config.start();
    config.setOverride('pair.a', 1);
    clock.advance(10_001);
    readiness.set(false);
    expect(config.get('pair.a')).toBe(1);
    expect(config.history().some((h) => h.kind === 'rolledBack')).toBe(false);
  });

  it('extends the window on further changes and restores the snapshot from before the first', async () => {
    const clock = new ManualClock();
    const readiness = new FakeReadiness();
    const config = defineConfig<Settings>({ schema, clock, rollback: readiness.options(10_000) });
    await config.start();
    config.setOverride('pair.a', 1);
    clock.advance(8_000);
    config.setOverride('pair.b', 2);
    clock.advance(8_000);
    readiness.set(false);
    expect(config.snapshot.pair).toEqual({ a: 0, b: 0 });
  });

  it('rolls back at the end of the window when readiness is critical without a notification', async () => {
    const clock = new ManualClock();
    const readiness = new FakeReadiness();
    const config = defineConfig<Settings>({ schema, clock, rollback: readiness.options(1_000) });
    await config.start();
    config.setOverride('pair.a', 1);
    readiness.healthy = false;
    clock.advance(1_000);
    expect(config.get('pair.a')).toBe(0);
  });

  it('opens no window for a change made while already not ready (it may be the fix)', async () => {
    const clock = new ManualClock();
    const readiness = new FakeReadiness();
    const config = defineConfig<Settings>({ schema, clock, rollback: readiness.options(10_000) });
    await config.start();
    readiness.set(false);
    config.setOverride('pair.a', 1);
    readiness.set(true);
    readiness.set(false);
    clock.advance(20_000);
    expect(config.get('pair.a')).toBe(1);
  });

  it('can be turned on after construction by the owner of health, and off again', async () => {
    const clock = new ManualClock();
    const readiness = new FakeReadiness();
    const config = defineConfig<Settings>({ schema, clock });
    const stop = config.watchReadiness(readiness.options(10_000));
    await config.start();
    expect(readiness.listeners.size).toBe(1);
    config.setOverride('pair.a', 1);
    readiness.set(false);
    expect(config.get('pair.a')).toBe(0);
    readiness.set(true);
    stop();
    expect(readiness.listeners.size).toBe(0);
    config.setOverride('pair.a', 2);
    readiness.set(false);
    clock.advance(20_000);
    expect(config.get('pair.a')).toBe(2);
    expect(() => config.watchReadiness({ isHealthy: () => true } as never)).toThrow(/option 'rollback.onHealthChange'/);
  });

  it('works with the health monitor as the readiness source', async () => {
    const clock = new ManualClock();
    const verdictListeners = new Set<(healthy: boolean) => void>();
    const monitor = new HealthMonitor({ clock, onVerdictChange: ({ ready }) => verdictListeners.forEach((l) => l(ready)) });
    const config = defineConfig<Settings>({
      schema,
      clock,
      rollback: {
        windowMs: 30_000,
        isHealthy: () => monitor.ready,
        onHealthChange: (listener) => {
          verdictListeners.add(listener);
          return () => verdictListeners.delete(listener);
        },
      },
    });
    await config.start();
    const timeout = config.property('client.greeter.timeoutMs');
    // A check that fails while the timeout is too short for the dependency it calls.
    monitor.add('greeter', () => timeout.get() >= 100, { intervalMs: 1_000, cacheMs: 0 });
    monitor.start();
    await monitor.runAll();
    expect(monitor.ready).toBe(true);
    config.setOverride('client.greeter.timeoutMs', 10);
    await clock.advanceAsync(1_500);
    expect(timeout.get()).toBe(1000);
    expect(config.history().at(-1)?.kind).toBe('rolledBack');
    await clock.advanceAsync(1_500);
    expect(monitor.ready).toBe(true);
    await monitor.close();
    await config.close();
  });
});

describe('DynamicConfig: sources and lifecycle', () => {
  it('uses the newest content a source offered while starting', async () => {
    const slow = new MemorySource('remote', 'remote:slow', {});
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const early = new MemorySource('file', 'file:early', { app: { zone: 'first' } });
    const openEarly = early.open.bind(early);
    early.open = async (context) => {
      const content = await openEarly(context);
      // A change seen while another source is still opening.
      queueMicrotask(() => expect(context.update({ origins: [{ name: 'file:early', values: { app: { zone: 'second' } } }] })).toBe('pending'));
      return content;
    };
    slow.open = async (context) => {
      slow.context = context;
      await gate;
      return slow.content;
    };
    const { config } = setup({ sources: [early, slow] });
    const started = config.start();
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await started;
    expect(config.get('app.zone')).toBe('second');
  });

  it('ignores unknown keys of a source that asks for it', async () => {
    const shared = new MemorySource('remote', 'remote:shared', { spring: { datasource: { url: 'x' } }, app: { zone: 'shared' } }, 'ignore');
    const { config } = setup({ sources: [shared] });
    await config.start();
    expect(config.get('app.zone')).toBe('shared');
  });

  it('rejects bad options naming them', () => {
    expect(() => defineConfig({ schema: { a: { default: 1, format: 'no-such-format' } } })).toThrow(/option 'schema' is not a valid convict schema.*no-such-format/);
    expect(() => defineConfig<Settings>({ schema, validators: { nope: () => true } as never })).toThrow(/validators\['nope'\]/);
    expect(() => defineConfig<Settings>({ schema, sources: [{} as ConfigSource] })).toThrow(/sources\[0\]/);
    expect(() => defineConfig<Settings>({ schema, environment: 'prod/../x' })).toThrow(/option 'environment'/);
    expect(() => defineConfig<Settings>({ schema, argv: [1] as never })).toThrow(/option 'argv'/);
    const twin = new MemorySource('file', 'file:x');
    expect(() => defineConfig<Settings>({ schema, sources: [twin, twin] })).toThrow(/name of its own/);
  });

  it('closes its sources once, keeps the last snapshot readable and ignores later updates', async () => {
    const file = new MemorySource('file', 'file:app.json', {});
    const { config } = setup({ sources: [file] });
    await config.start();
    await config[Symbol.asyncDispose]();
    await config.close();
    expect(file.closed).toBe(true);
    expect(file.set({ app: { zone: 'late' } })).toBe('unchanged');
    expect(config.get('app.zone')).toBe('default');
    await expect(config.start()).resolves.toBeUndefined();
    const never = defineConfig<Settings>({ schema });
    await never.close();
    await expect(never.start()).rejects.toThrow(/configuration is closed/);
  });

  it('fails start() when closed during start, and when its signal aborts', async () => {
    const slow = new MemorySource('remote', 'remote:slow', {});
    slow.open = (context) => new Promise((_resolve, reject) => context.signal.addEventListener('abort', () => reject(new Error('aborted'))));
    const { config } = setup({ sources: [slow] });
    const started = config.start();
    await config.close();
    await expect(started).rejects.toThrow();
    const controller = new AbortController();
    const other = setup({ sources: [new MemorySource('remote', 'remote:slow2')] }).config;
    controller.abort(new Error('gave up'));
    await expect(other.start(controller.signal)).rejects.toThrow('gave up');
  });

  it('reports source failures and recoveries as events', async () => {
    const file = new MemorySource('remote', 'remote:x', {});
    const { config } = setup({ sources: [file] });
    await config.start();
    const events: string[] = [];
    config.on('sourceError', (e) => events.push(`error ${e.source} ${e.error} ${e.consecutiveFailures}`));
    config.on('sourceRecovered', (e) => events.push(`recovered ${e.source}`));
    file.context!.failed('HTTP 503', 1);
    file.context!.recovered();
    expect(events).toEqual(['error remote:x HTTP 503 1', 'recovered remote:x']);
  });

  it('survives listeners that throw or change the configuration again', async () => {
    const { config } = setup();
    await config.start();
    const order: string[] = [];
    config.on('change', () => {
      throw new Error('listener bug');
    });
    config.onChange((event) => {
      order.push(`change v${event.version}`);
      if (event.version === 2) config.setOverride('pair.b', 1);
    });
    config.property('pair.a').onChange(() => {
      throw new Error('property listener bug');
    });
    config.setOverride('pair.a', 1);
    expect(order).toEqual(['change v2', 'change v3']);
    expect(config.snapshot.pair).toEqual({ a: 1, b: 1 });
  });
});

describe('library settings as live properties', () => {
  it('declares the live keys with their documented defaults and environment variables', async () => {
    const config = defineConfig<KaryonConfig>({
      schema: karyonConfigSchema,
      validators: karyonConfigValidators,
      env: { KARYON_APP_NAME: 'greeter', KARYON_BALANCER_RULE: 'least-loaded', KARYON_LOG_LEVEL: 'debug', KARYON_BREAKER_ERROR_PERCENT: '25.5' },
      clock: new ManualClock(),
    });
    await config.start();
    expect(config.snapshot).toMatchObject({
      app: { name: 'greeter', port: 8080 },
      balancer: { rule: 'least-loaded' },
      retry: { budgetPercent: 20, minRetriesPerSecond: 10, budgetWindowMs: 10_000 },
      breaker: { errorThresholdPercentage: 25.5, requestVolumeThreshold: 20, sleepWindowMs: 5000, timeoutMs: 1000 },
      eureka: { heartbeatIntervalMs: 30_000, registryFetchIntervalMs: 30_000 },
      log: { level: 'debug' },
    });
    for (const key of karyonLiveKeys) expect(config.hasKey(key)).toBe(true);
    expect(() => config.setOverride('eureka.heartbeatIntervalMs', 0)).toThrow(/must be above 0 ms/);
    expect(() => config.setOverride('retry.budgetPercent', 120)).toThrow(/from 0 to 100/);
    expect(() => config.setOverride('balancer.rule', 'fastest')).toThrow(/possible values/);
    expect(() => config.setOverride('admin.token', 'x'.repeat(10))).not.toThrow();
    expect(JSON.stringify(config.describe())).not.toContain('xxxxxxxxxx');
  });

  it('bindProperty applies now and on every change until disposed', async () => {
    const config = defineConfig<KaryonConfig>({ schema: karyonConfigSchema, env: { KARYON_APP_NAME: 'greeter' }, clock: new ManualClock() });
    await config.start();
    const applied: string[] = [];
    const unbind = bindProperty(config, 'balancer.rule', (rule, previous) => applied.push(`${previous ?? '-'}->${rule}`));
    config.setOverride('balancer.rule', 'round-robin');
    config.setOverride('app.zone', 'z');
    unbind();
    config.setOverride('balancer.rule', 'random');
    expect(applied).toEqual(['-->p2c-ewma', 'p2c-ewma->round-robin']);
  });

  it('bindConfigMetrics counts applied changes and rejections by layer', async () => {
    const clock = new ManualClock();
    const readiness = new FakeReadiness();
    const file = new MemorySource('file', 'file:app.json', {});
    const config = defineConfig<Settings>({ schema, clock, sources: [file], rollback: readiness.options(1_000) });
    await config.start();
    const counted: string[] = [];
    const stop = bindConfigMetrics(config, { reload: (source) => counted.push(`reload ${source}`), rejection: (source) => counted.push(`rejection ${source}`) });
    file.set({ app: { zone: 'a' } });
    file.set({ app: { zone: 5 } });
    expect(() => config.setOverride('app.port', 'x')).toThrow(KaryonError);
    config.setOverride('app.port', 1);
    readiness.set(false);
    stop();
    config.setOverride('app.port', 2);
    expect(counted).toEqual(['reload file', 'rejection file', 'rejection override', 'reload override', 'reload rollback']);
  });

  it('filterLogger follows the live log level', async () => {
    const config = defineConfig<KaryonConfig>({ schema: karyonConfigSchema, env: { KARYON_APP_NAME: 'greeter' }, clock: new ManualClock() });
    await config.start();
    const lines: string[] = [];
    const sink = { debug: (m: string) => lines.push(`debug ${m}`), info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };
    const logger = filterLogger(sink, config.property('log.level'));
    logger.debug('hidden');
    logger.info('shown');
    config.setOverride('log.level', 'debug' satisfies LogLevel);
    logger.debug('now shown');
    config.setOverride('log.level', 'silent');
    logger.error('hidden too');
    expect(lines).toEqual(['info shown', 'debug now shown']);
  });
});
