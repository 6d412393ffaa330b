import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigSchema } from 'karyon-ts';
import { KaryonError, defineConfig, fileSource, remoteSource } from 'karyon-ts';
import type { ConfigRejectedEvent } from 'karyon-ts';
import { seeded } from '../../bench/support.js';

// 1,000 generated invalid updates (broken syntax, wrong types, unknown keys, huge values, structural and
// prototype tricks, validator refusals) through every dynamic layer: JSON and .properties files, a remote
// URL, and runtime overrides. After each one the snapshot must be the very object of the last good one.

interface Settings {
  readonly app: { readonly port: number; readonly zone: string; readonly debug: boolean; readonly tags: readonly string[] };
  readonly client: { readonly greeter: { readonly rule: string; readonly timeoutMs: number } };
  readonly db: { readonly password: string | null };
}

const schema: ConfigSchema<Settings> = {
  app: {
    port: { doc: 'port', format: 'port', default: 8080 },
    zone: { doc: 'zone', format: String, default: 'default' },
    debug: { doc: 'debug', format: Boolean, default: false },
    tags: { doc: 'tags', format: Array, default: [] },
  },
  client: {
    greeter: {
      rule: { doc: 'rule', format: ['round-robin', 'p2c-ewma', 'random'], default: 'round-robin' },
      timeoutMs: { doc: 'timeout', format: 'nat', default: 1000 },
    },
  },
  db: { password: { doc: 'secret', format: '*', default: null, nullable: true, sensitive: true } },
};

const MAX_BYTES = 64 * 1024;

type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;
const word = (rng: Rng, length = 6): string => Array.from({ length }, () => String.fromCharCode(97 + Math.floor(rng() * 26))).join('');

/** A value of the wrong type (or out of range) for each key, never one convict or our coercion could accept. */
function wrongValue(rng: Rng, key: string): unknown {
  switch (key) {
    case 'app.port':
      return pick(rng, [word(rng), -1 - Math.floor(rng() * 100), 65536 + Math.floor(rng() * 1e6), 80.5, true, [], {}, null, '80abc', 2 ** 60, 1e300]);
    case 'app.zone':
      return pick(rng, [Math.floor(rng() * 100), true, [word(rng)], { x: 1 }, null]);
    case 'app.debug':
      return pick(rng, ['maybe', 2, [], {}, null, 'yes']);
    case 'app.tags':
      return pick(rng, [7, true, { a: 1 }, null]);
    case 'client.greeter.rule':
      return pick(rng, ['fastest', word(rng), 3, null, ['random']]);
    default:
      // client.greeter.timeoutMs: a wrong type, or over the validator's limit.
      return pick(rng, [-1, 'soon', 1.5, 60_001 + Math.floor(rng() * 1e6), null, {}]);
  }
}

const leafKeys = ['app.port', 'app.zone', 'app.debug', 'app.tags', 'client.greeter.rule', 'client.greeter.timeoutMs'];

function nest(key: string, value: unknown): Record<string, unknown> {
  return key
    .split('.')
    .reverse()
    .reduce<unknown>((inner, segment) => ({ [segment]: inner }), value) as Record<string, unknown>;
}

/** A bad JSON document; `nonce` keeps each one distinct so no source skips it as unchanged. */
function badJson(rng: Rng, nonce: number): { kind: string; text: string } {
  const valid = { app: { zone: `z${nonce}` }, client: { greeter: { timeoutMs: 1000 + nonce } } };
  const kind = pick(rng, ['syntax', 'type', 'type', 'unknown', 'huge', 'structure', 'proto']);
  switch (kind) {
    case 'syntax': {
      const text = JSON.stringify(valid);
      const cut = 1 + Math.floor(rng() * (text.length - 2));
      const broken = pick(rng, [text.slice(0, cut), `${text.slice(0, cut)}#${text.slice(cut)}`, `${text},`, `{'app': 1, "n": ${nonce}}`, `{"n": ${nonce}}}`]);
      // A '#' that lands inside a string leaves valid JSON: only text JSON.parse refuses counts as broken.
      return { kind, text: parses(broken) ? `${broken.slice(0, -1)}` : broken };
    }
    case 'type': {
      const key = pick(rng, leafKeys);
      return { kind, text: JSON.stringify({ ...valid, ...merge(valid, nest(key, wrongValue(rng, key))) }) };
    }
    case 'unknown': {
      const key = pick(rng, [`${word(rng)}`, `app.${word(rng)}`, `client.${word(rng)}.rule`, `app.port.${word(rng)}`]);
      return { kind, text: JSON.stringify(merge(valid, nest(key, nonce))) };
    }
    case 'huge': {
      const size = MAX_BYTES + 1 + Math.floor(rng() * 1000);
      return { kind, text: JSON.stringify(merge(valid, nest(pick(rng, ['app.zone', 'db.password']), 'x'.repeat(size)))) };
    }
    case 'structure':
      return { kind, text: pick(rng, [JSON.stringify({ app: nonce }), JSON.stringify([valid, nonce]), `"${nonce}"`, JSON.stringify({ client: { greeter: [nonce] } })]) };
    default:
      return { kind, text: `{"__proto__": {"polluted": ${nonce}}, "app": {"constructor": {"prototype": {"x": 1}}}}` };
  }
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** A bad `.properties` document. */
function badProperties(rng: Rng, nonce: number): { kind: string; text: string } {
  const valid = `app.zone=z${nonce}\nclient.greeter.timeoutMs=${1000 + nonce}\n`;
  const kind = pick(rng, ['syntax', 'type', 'unknown', 'huge', 'structure']);
  switch (kind) {
    case 'syntax':
      return { kind, text: `${valid}app.zone=\\u${pick(rng, ['zz00', '12', 'g123', ''])}\n` };
    case 'type': {
      const key = pick(rng, ['app.port', 'app.debug', 'client.greeter.rule', 'client.greeter.timeoutMs']);
      const value = { 'app.port': pick(rng, ['eighty', '-1', '70000', '8.5', '0x50']), 'app.debug': pick(rng, ['maybe', 'yes', '1']), 'client.greeter.rule': pick(rng, ['fastest', word(rng)]), 'client.greeter.timeoutMs': pick(rng, ['-5', 'soon', '99999999']) }[key];
      return { kind, text: `${valid}${key}=${value}\n` };
    }
    case 'unknown':
      return { kind, text: `${valid}${pick(rng, [word(rng), `app.${word(rng)}`, `db.${word(rng)}.x`])}=1\n` };
    case 'huge':
      return { kind, text: `${valid}app.zone=${'x'.repeat(MAX_BYTES + 1 + Math.floor(rng() * 1000))}\n` };
    default:
      return { kind, text: `${valid}${pick(rng, ['app.port=1\napp.port.x=2', 'app=5', 'app.tags[0]=a\napp.tags[2]=c'])}\n` };
  }
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const current = out[key];
    out[key] =
      typeof current === 'object' && current !== null && !Array.isArray(current) && typeof value === 'object' && value !== null && !Array.isArray(value)
        ? merge(current as Record<string, unknown>, value as Record<string, unknown>)
        : value;
  }
  return out;
}

let server: Server;
let remoteBody = '{}';
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'karyon-bad-updates-'));
  server = createServer((req, res) => {
    const etag = `"${createHash('sha1').update(remoteBody).digest('hex')}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', etag });
    res.end(remoteBody);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('1,000 generated bad updates', () => {
  it('are all rejected through files, remote and overrides, leaving the last good snapshot byte for byte', async () => {
    // Seeded, so that a failure can be replayed.
    const rng = seeded(0x5eed);
    const jsonFile = join(dir, 'app.json');
    const propertiesFile = join(dir, 'app.properties');
    await writeFile(jsonFile, JSON.stringify({ app: { port: 1001 } }));
    await writeFile(propertiesFile, 'app.debug=true\n');
    remoteBody = JSON.stringify({ client: { greeter: { rule: 'p2c-ewma' } } });
    const files = fileSource({ path: join(dir, 'app'), watch: false, maxBytes: 4 * MAX_BYTES });
    // Real time, so a request that never answered would fail after timeoutMs instead of hanging the test;
    // the poll interval is far beyond the test, so only refresh() fetches.
    const remote = remoteSource({
      url: `http://127.0.0.1:${(server.address() as { port: number }).port}/config.json`,
      maxBytes: 4 * MAX_BYTES,
      intervalMs: 3_600_000,
      timeoutMs: 10_000,
    });
    const config = defineConfig<Settings>({
      schema,
      sources: [files, remote],
      maxValueBytes: MAX_BYTES,
      validators: { 'client.greeter.timeoutMs': (value) => value <= 60_000 || 'must be at most 60000 ms' },
    });
    await config.start();
    const rejections: ConfigRejectedEvent[] = [];
    config.on('configRejected', (event) => rejections.push(event));

    let lastGood = config.snapshot;
    let lastGoodText = JSON.stringify(lastGood);
    let lastGoodVersion = config.version;
    let goodJson = JSON.stringify({ app: { port: 1001 } });
    const kinds = new Map<string, number>();
    const failures: string[] = [];
    let bad = 0;

    for (let i = 1; bad < 1000; i++) {
      if (i % 40 === 0) {
        // Now and then a good update through a random layer moves "last good" on.
        const layer = pick(rng, ['file', 'remote', 'override']);
        const zone = `good-${i}`;
        if (layer === 'file') {
          // The port: the one key of the file no higher layer hides, so the update shows.
          goodJson = JSON.stringify({ app: { port: 2000 + i, zone } });
          await writeFile(jsonFile, goodJson);
          await writeFile(propertiesFile, 'app.debug=true\n');
          await files.refresh();
        } else if (layer === 'remote') {
          remoteBody = JSON.stringify({ client: { greeter: { rule: 'p2c-ewma' } }, app: { zone } });
          await remote.refresh();
        } else {
          config.setOverride('app.tags', [zone]);
        }
        if (config.version !== lastGoodVersion + 1) failures.push(`#${i} good ${layer} update: version ${config.version}, expected ${lastGoodVersion + 1}`);
        lastGood = config.snapshot;
        lastGoodText = JSON.stringify(lastGood);
        lastGoodVersion = config.version;
        continue;
      }
      const before = rejections.length;
      const channel = pick(rng, ['json-file', 'properties-file', 'remote', 'override']);
      let kind: string;
      if (channel === 'json-file') {
        const update = badJson(rng, i);
        kind = update.kind;
        await writeFile(jsonFile, update.text);
        await writeFile(propertiesFile, 'app.debug=true\n');
        await files.refresh();
      } else if (channel === 'properties-file') {
        const update = badProperties(rng, i);
        kind = update.kind;
        await writeFile(jsonFile, goodJson);
        await writeFile(propertiesFile, update.text);
        await files.refresh();
      } else if (channel === 'remote') {
        const update = badJson(rng, i);
        kind = update.kind;
        remoteBody = update.text;
        await remote.refresh();
      } else {
        const key = pick(rng, [...leafKeys, 'unknown', 'group', 'huge']);
        kind = key === 'unknown' || key === 'group' || key === 'huge' ? key : 'type';
        const [target, value] =
          key === 'unknown' ? [`app.${word(rng)}`, 1] : key === 'group' ? ['client.greeter', { rule: 'random' }] : key === 'huge' ? ['app.zone', 'x'.repeat(MAX_BYTES + i)] : [key, wrongValue(rng, key)];
        try {
          config.setOverride(target, value);
          failures.push(`#${i} override ${target}=${JSON.stringify(value)} was accepted`);
        } catch (error) {
          if (!(error instanceof KaryonError) || error.code !== 'ERR_INVALID_CONFIG') failures.push(`#${i} override threw ${String(error)}`);
        }
      }
      bad++;
      kinds.set(`${channel}/${kind}`, (kinds.get(`${channel}/${kind}`) ?? 0) + 1);
      if (rejections.length !== before + 1) failures.push(`#${i} ${channel}/${kind}: ${rejections.length - before} rejections;`);
      if (config.snapshot !== lastGood || JSON.stringify(config.snapshot) !== lastGoodText || config.version !== lastGoodVersion) {
        failures.push(`#${i} ${channel}/${kind}: the snapshot changed`);
      }
    }

    expect(failures).toEqual([]);
    expect(rejections).toHaveLength(1000);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Every channel and every kind of damage was exercised.
    for (const expected of ['json-file/syntax', 'json-file/type', 'json-file/unknown', 'json-file/huge', 'json-file/structure', 'json-file/proto', 'properties-file/syntax', 'properties-file/type', 'properties-file/unknown', 'properties-file/huge', 'properties-file/structure', 'remote/syntax', 'remote/type', 'remote/huge', 'remote/proto', 'override/type', 'override/unknown', 'override/group', 'override/huge']) {
      expect(kinds.get(expected) ?? 0, expected).toBeGreaterThan(5);
    }
    // Each rejection says what was wrong and where it came from, and secrets stay out of the reasons.
    for (const rejection of rejections) {
      expect(rejection.reason.length).toBeGreaterThan(0);
      expect(['file', 'remote', 'override']).toContain(rejection.trigger);
    }
    expect(rejections.some((r) => r.reason.includes('xxxxxxxx'))).toBe(false);
    await config.close();
  }, 300_000);
});
