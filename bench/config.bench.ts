// Dynamic configuration costs, measured against a baseline in the same run:
//  1. Reading a value: property.get() (a field read of the value in force) against convict's get() (a walk
//     and a deep clone per call), a plain object field read and config.get(key) (a handle lookup by key).
//  2. One applied change (build, validate, swap) against the bare convict work any correct reload must do.
//  3. From a file write (temporary file + rename, as deploy tools do) to the new value visible to get() and to
//     onChange listeners, against the raw fs.watch event for the same write (the floor any watcher has).
// Run: npx tsx bench/config.bench.ts
import { watch } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import convict from 'convict';
import { defineConfig, fileSource } from '../src/index.js';
import type { ConfigSchema } from '../src/index.js';
import { fmt, median, percentile, table } from './support.js';

interface Settings {
  readonly client: { readonly greeter: { readonly rule: string; readonly timeoutMs: number; readonly servers: readonly string[] } };
  readonly app: { readonly port: number; readonly zone: string };
}

const schema: ConfigSchema<Settings> = {
  client: {
    greeter: {
      rule: { doc: 'rule', format: ['round-robin', 'p2c-ewma', 'random'], default: 'p2c-ewma' },
      timeoutMs: { doc: 'timeout', format: 'nat', default: 1000 },
      servers: { doc: 'servers', format: Array, default: ['a:80', 'b:80', 'c:80'] },
    },
  },
  app: {
    port: { doc: 'port', format: 'port', default: 8080 },
    zone: { doc: 'zone', format: String, default: 'default' },
  },
};

const READS = 2_000_000;
const ROUNDS = 7;
const WRITES = 30;

/** Nanoseconds per call of `read`, median of several rounds. */
function nsPerCall(read: () => unknown): number {
  const samples: number[] = [];
  let sink = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < READS; i++) {
      const value = read();
      if (value === undefined) sink++;
    }
    samples.push(Number(process.hrtime.bigint() - started) / READS);
  }
  if (sink > 0) throw new Error('a read returned nothing');
  return median(samples);
}

async function reads(): Promise<void> {
  const config = defineConfig<Settings>({ schema });
  await config.start();
  const rule = config.property('client.greeter.rule');
  const servers = config.property('client.greeter.servers');
  const plain = { client: { greeter: { rule: 'p2c-ewma', servers: ['a:80', 'b:80', 'c:80'] } } };
  const c = convict(schema as convict.Schema<Settings>, { env: {}, args: [] });
  c.validate({ allowed: 'strict' });
  // Warm up every path before measuring.
  for (const read of [() => rule.get(), () => c.get('client.greeter.rule'), () => config.get('client.greeter.rule')]) nsPerCall(read);

  const rows = [
    { measure: "a string: 'client.greeter.rule'", property: nsPerCall(() => rule.get()), convict: nsPerCall(() => c.get('client.greeter.rule')), plain: nsPerCall(() => plain.client.greeter.rule), byKey: nsPerCall(() => config.get('client.greeter.rule')) },
    { measure: "a list: 'client.greeter.servers'", property: nsPerCall(() => servers.get()), convict: nsPerCall(() => c.get('client.greeter.servers')), plain: nsPerCall(() => plain.client.greeter.servers), byKey: nsPerCall(() => config.get('client.greeter.servers')) },
  ];
  table(
    `Reading a value (median ns per call over ${ROUNDS} rounds of ${READS.toLocaleString('en')}; ratio = convict.get() / property.get())`,
    rows.map((r) => ({
      measure: r.measure,
      'property.get()': fmt(r.property),
      'convict.get()': fmt(r.convict),
      'plain field read': fmt(r.plain),
      'config.get(key)': fmt(r.byKey),
      ratio: fmt(r.convict / r.property, 1),
    })),
  );
  await config.close();
}

/** One applied change (setOverride: build a fresh convict instance, validate, swap) against the convict work alone. */
async function changes(): Promise<void> {
  const config = defineConfig<Settings>({ schema });
  await config.start();
  const rule = config.property('client.greeter.rule');
  let seen = 0;
  rule.onChange(() => seen++);
  const N = 2_000;
  const time = (work: (i: number) => void): number => {
    const samples: number[] = [];
    for (let round = 0; round < 5; round++) {
      const started = performance.now();
      for (let i = 0; i < N; i++) work(i);
      samples.push(((performance.now() - started) * 1000) / N);
    }
    return median(samples);
  };
  const rules = ['round-robin', 'random'];
  time((i) => config.setOverride('client.greeter.rule', rules[i % 2]!));
  const ours = time((i) => config.setOverride('client.greeter.rule', rules[i % 2]!));
  const bare = time((i) => {
    const c = convict(schema as convict.Schema<Settings>, { env: {}, args: [] });
    c.set('client.greeter.rule', rules[i % 2]!);
    c.validate({ allowed: 'strict' });
    c.getProperties();
  });
  if (seen === 0) throw new Error('no change was seen');
  table('One applied change (median µs per change)', [
    { measure: 'setOverride(): coerce, check the layer, build + validate, freeze, swap, notify', 'µs': fmt(ours, 1), 'ratio to bare convict': fmt(ours / bare, 1) },
    { measure: 'bare convict: new instance, set, validate strictly, getProperties (baseline)', 'µs': fmt(bare, 1), 'ratio to bare convict': '1.0' },
  ]);
  await config.close();
}

async function replace(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

/** Raw fs.watch: from the start of the write to the directory event. */
async function rawWatchLatencies(dir: string): Promise<number[]> {
  const file = join(dir, 'raw.json');
  await writeFile(file, '{}');
  const latencies: number[] = [];
  let pending: { started: number; resolve: () => void } | undefined;
  const watcher = watch(dir, (_event, name) => {
    if (name === 'raw.json' && pending !== undefined) {
      latencies.push(performance.now() - pending.started);
      const { resolve } = pending;
      pending = undefined;
      resolve();
    }
  });
  for (let i = 0; i < WRITES; i++) {
    await new Promise<void>((resolve) => {
      pending = { started: performance.now(), resolve };
      void replace(file, JSON.stringify({ n: i }));
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  watcher.close();
  return latencies;
}

/** From the start of the write until get() returns the new value, and until onChange runs. */
async function configLatencies(dir: string, debounceMs: number): Promise<{ get: number[]; listener: number[] }> {
  const file = join(dir, `app-${debounceMs}.json`);
  await writeFile(file, JSON.stringify({ app: { port: 1000 } }));
  const config = defineConfig<Settings>({ schema, sources: [fileSource({ path: file, debounceMs })] });
  await config.start();
  const port = config.property('app.port');
  const get: number[] = [];
  const listener: number[] = [];
  let started = 0;
  port.onChange(() => listener.push(performance.now() - started));
  for (let i = 1; i <= WRITES; i++) {
    const expected = 1000 + i;
    started = performance.now();
    void replace(file, JSON.stringify({ app: { port: expected } }));
    // Poll get() once per event-loop turn, as a request handler reading the value would.
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (port.get() === expected) {
          get.push(performance.now() - started);
          resolve();
        } else {
          setImmediate(check);
        }
      };
      check();
    });
    await new Promise((resolve) => setTimeout(resolve, debounceMs + 20));
  }
  await config.close();
  return { get, listener };
}

async function latency(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'karyon-config-bench-'));
  try {
    const raw = await rawWatchLatencies(dir);
    const fast = await configLatencies(dir, 0);
    const standard = await configLatencies(dir, 100);
    const row = (measure: string, samples: number[]) => ({
      measure,
      'median ms': fmt(median(samples), 3),
      'p90 ms': fmt(percentile(samples, 90), 3),
      'ratio to raw fs.watch (median)': fmt(median(samples) / median(raw), 1),
      'ms above raw fs.watch + debounce': fmt(median(samples) - median(raw) - (measure.includes('100') ? 100 : 0), 3),
    });
    table(`From a file write (temp + rename) to the new value (${WRITES} writes each)`, [
      row('raw fs.watch event (baseline)', raw),
      row('get() sees it, debounceMs 0', fast.get),
      row('onChange runs, debounceMs 0', fast.listener),
      row('get() sees it, debounceMs 100 (default)', standard.get),
      row('onChange runs, debounceMs 100 (default)', standard.listener),
    ]);
    if (fast.listener.length !== WRITES || standard.listener.length !== WRITES) throw new Error('a change was missed');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await reads();
await changes();
await latency();
console.log(
  'property.get() returns the value held by its handle (moved to each new snapshot in one pass); convict.get()\n' +
    'walks the key and deep-clones the value on every call. After a write the config reads the files, builds and\n' +
    'validates a fresh convict instance from every layer, then swaps the snapshot and runs the listeners.',
);
