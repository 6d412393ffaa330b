// Each option key is declared once; the places that name it again are derived from that declaration or checked
// against it here, so a key added in one place only fails this file.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { karyonConfigSchema, karyonLiveKeys, loadSettings, serviceOptionsFromSettings } from 'karyon-ts';
import type { KaryonSettings } from 'karyon-ts';
import { sidecarConfigKeys } from 'karyon-ts/sidecar';
import { SchemaIndex } from '../../src/config/SchemaIndex.js';
import { karyonSettingKeys } from '../../src/config/schema.js';
import { karyonLiveSettingsSchema } from '../../src/config/karyonConfigSchema.js';
import { instanceIdentityKeys } from '../../src/lifecycle/ServiceOptions.js';

/** The rows of the first table of a markdown page whose header starts with `| key |`: key -> its cells. */
function tableRows(page: string): Map<string, string[]> {
  const text = readFileSync(new URL(`../../docs/${page}`, import.meta.url), 'utf8');
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.startsWith('| key |'));
  const rows = new Map<string, string[]>();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').slice(1, -1).map((cell) => cell.trim());
    const key = /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1];
    if (key === undefined) throw new Error(`docs/${page}: a row without a key: ${line}`);
    rows.set(key, cells.slice(1));
  }
  return rows;
}

/** `settings` with every read of a key, nested ones included, recorded in `read` (`app.port`). */
function recording<T extends object>(value: T, read: Set<string>, at = ''): T {
  // A copy: a frozen object's proxy must hand out its own nested objects, not proxies of them.
  const copy = { ...value } as Record<string, unknown>;
  return new Proxy(copy, {
    get(target, name, receiver) {
      const item: unknown = Reflect.get(target, name, receiver);
      if (typeof name !== 'string') return item;
      const key = `${at}${name}`;
      if (typeof item === 'object' && item !== null && !Array.isArray(item)) return recording(item, read, `${key}.`);
      read.add(key);
      return item;
    },
  }) as T;
}

describe('the settings keys, declared once in the settings schema', () => {
  it('are each in docs/configuration.md, with the environment variable and argument the schema gives them, and nothing else is', () => {
    const rows = tableRows('configuration.md');
    expect([...rows.keys()].sort()).toEqual([...karyonSettingKeys.keys()].sort());
    for (const [key, leaf] of karyonSettingKeys) {
      const [env, arg] = rows.get(key) as string[];
      expect(env, key).toMatch(new RegExp(`^\`${leaf.env}\`( |$)`));
      expect(arg, key).toBe(`\`--${leaf.arg}\``);
    }
  });

  it('are each read by serviceOptionsFromSettings', () => {
    const settings = loadSettings({
      env: {
        KARYON_APP_NAME: 'greeter',
        KARYON_EUREKA_URLS: 'http://127.0.0.1:8761/eureka',
        KARYON_STATSD_HOST: '127.0.0.1',
        KARYON_METRICS_PROMETHEUS: 'true',
      },
    });
    const read = new Set<string>();
    serviceOptionsFromSettings(recording<KaryonSettings>(settings, read));
    expect([...karyonSettingKeys.keys()].filter((key) => !read.has(key))).toEqual([]);
  });

  it('are the static keys of karyonConfigSchema, beside the live ones, each live key a key of it', () => {
    const all = new SchemaIndex(karyonConfigSchema).leaves;
    const live = new SchemaIndex(karyonLiveSettingsSchema).leaves;
    expect([...all.keys()].sort()).toEqual([...karyonSettingKeys.keys(), ...live.keys()].sort());
    for (const key of live.keys()) expect(karyonLiveKeys).toContain(key);
    for (const key of karyonLiveKeys) expect(all.has(key), key).toBe(true);
  });
});

describe("the sidecar's keys", () => {
  it('share an environment variable only with the setting that declares it, by the same meaning', () => {
    const byEnv = new Map([...karyonSettingKeys.values()].map((leaf) => [leaf.env, leaf.key]));
    const shared = sidecarConfigKeys.flatMap((entry) => entry.env.filter((name) => !name.startsWith('KARYON_SIDECAR_')).map((name) => [entry.key, byEnv.get(name)]));
    expect(Object.fromEntries(shared)).toEqual({
      'app.name': 'app.name',
      'app.port': 'app.port',
      'app.zone': 'app.zone',
      'app.hostName': 'app.hostName',
      'app.ipAddr': 'app.ipAddr',
      'app.preferIpAddress': 'eureka.preferIpAddress',
      'eureka.serviceUrls': 'eureka.serviceUrls',
      'eureka.heartbeatIntervalMs': 'eureka.heartbeatIntervalMs',
      'eureka.registryFetchIntervalMs': 'eureka.registryFetchIntervalMs',
      'eureka.decodePriority': 'eureka.decodePriority',
      'lifecycle.deregistrationDelayMs': 'lifecycle.deregistrationDelayMs',
      'admin.port': 'admin.port',
      'admin.token': 'admin.token',
      'metrics.host': 'statsd.host',
      'metrics.port': 'statsd.port',
    });
  });

  it("name the application by its name, its port and every key of a service's instance identity", () => {
    const app = sidecarConfigKeys.filter((entry) => entry.key.startsWith('app.')).map((entry) => entry.key.slice('app.'.length));
    expect(app.sort()).toEqual(['name', 'port', ...instanceIdentityKeys].sort());
  });
});
