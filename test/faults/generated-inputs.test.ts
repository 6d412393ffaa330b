import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { defineConfig, isKaryonError } from 'karyon-ts';
import type { InstanceDescriptor } from 'karyon-ts';
import { parseProperties } from '../../src/config/parseProperties.js';
import { Router } from '../../src/internal/http.js';
import {
  decodeApplications,
  decodeInstance,
  encodeApplications,
  encodeInstance,
} from '../../src/registry/eureka/wire.js';
import { parseStatsdLine } from '../../src/sidecar/statsdLine.js';

// Generated inputs (fast-check) for the parsers that take what other processes send: the Eureka wire, the
// `.properties` files, the statsd lines a sidecar relays, configuration values and admin request routing. Each
// property either round-trips or fails only the documented way. Runs are bounded (numRuns) and seeded by
// fast-check; a failure prints its seed and counterexample, which goes into the regression cases below.

const RUNS = 300;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const nonBlank = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.trim() !== '');
const metadataKey = fc.string({ minLength: 1, maxLength: 10 }).filter((k) => k !== '@class' && k !== '__proto__');
const descriptor: fc.Arbitrary<InstanceDescriptor> = fc.record({
  instanceId: nonBlank,
  app: nonBlank,
  vipAddress: fc.string({ maxLength: 20 }),
  secureVipAddress: fc.string({ maxLength: 20 }),
  hostName: nonBlank,
  ipAddr: nonBlank,
  port: fc.integer({ min: 0, max: 65535 }),
  portEnabled: fc.boolean(),
  securePort: fc.integer({ min: 0, max: 65535 }),
  securePortEnabled: fc.boolean(),
  zone: nonBlank,
  metadata: fc.dictionary(metadataKey, fc.string({ maxLength: 20 }), { maxKeys: 4 }),
  homePageUrl: fc.string({ maxLength: 30 }),
  statusPageUrl: fc.string({ maxLength: 30 }),
  healthCheckUrl: fc.string({ maxLength: 30 }),
  leaseRenewalIntervalMs: fc.integer({ min: 1, max: 600 }).map((s) => s * 1000),
  leaseDurationMs: fc.integer({ min: 1, max: 600 }).map((s) => s * 1000),
});
const status = fc.constantFrom('UP', 'DOWN', 'STARTING', 'OUT_OF_SERVICE', 'UNKNOWN');

function documentedWireError(error: unknown): boolean {
  return isKaryonError(error, 'ERR_EUREKA_PROTOCOL');
}

describe('Eureka wire', () => {
  it('decodes what it encodes, through JSON text, field for field', () => {
    fc.assert(
      fc.property(descriptor, status, fc.integer({ min: 1, max: 2 ** 45 }), (d, s, dirty) => {
        const wire = JSON.parse(JSON.stringify(encodeInstance(d, s, dirty))) as unknown;
        const { instance } = decodeInstance(wire, 0);
        const trimmedMetadata = d.metadata;
        expect(instance).toMatchObject({
          instanceId: d.instanceId,
          app: d.app.toUpperCase(),
          vipAddress: d.vipAddress,
          secureVipAddress: d.secureVipAddress,
          hostName: d.hostName,
          ipAddr: d.ipAddr,
          port: d.port,
          portEnabled: d.portEnabled,
          securePort: d.securePort,
          securePortEnabled: d.securePortEnabled,
          homePageUrl: d.homePageUrl,
          statusPageUrl: d.statusPageUrl,
          healthCheckUrl: d.healthCheckUrl,
          leaseRenewalIntervalMs: d.leaseRenewalIntervalMs,
          leaseDurationMs: d.leaseDurationMs,
          status: s,
          lastDirtyTimestamp: dirty,
        });
        expect({ ...instance.metadata }).toEqual(trimmedMetadata);
      }),
      { numRuns: RUNS },
    );
  });

  it('decodes a whole applications document it encodes, with its hash and version', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(descriptor, status), { maxLength: 6 }), fc.nat(), (entries, version) => {
        const document = encodeApplications(
          entries.map(([d, s]) => encodeInstance(d, s, 1)),
          version,
          'UP_1_',
        );
        const decoded = decodeApplications(JSON.parse(JSON.stringify(document)), 0);
        expect(decoded.errors).toEqual([]);
        expect(decoded.versionsDelta).toBe(String(version));
        expect(decoded.instances.map((i) => i.instance.instanceId).sort()).toEqual(entries.map(([d]) => d.instanceId).sort());
      }),
      { numRuns: RUNS },
    );
  });

  it('answers arbitrary JSON with a decoded document, skipped instances, or ERR_EUREKA_PROTOCOL only', () => {
    const json = fc.jsonValue({ maxDepth: 4 });
    // Arbitrary values where an instance's fields are expected, so the decoder's branches are reached.
    const instanceLike = fc.record(
      {
        instanceId: json,
        hostName: json,
        app: json,
        ipAddr: json,
        status: json,
        port: json,
        securePort: json,
        dataCenterInfo: fc.oneof(json, fc.record({ name: json, '@class': json, metadata: json }, { requiredKeys: [] })),
        leaseInfo: json,
        metadata: json,
        lastDirtyTimestamp: json,
        overriddenStatus: json,
        actionType: json,
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      json,
      fc.record({ applications: json }),
      fc.record({ applications: fc.record({ application: fc.oneof(json, fc.array(fc.record({ name: json, instance: fc.oneof(instanceLike, fc.array(instanceLike)) }))) }) }),
    );
    fc.assert(
      fc.property(body, (value) => {
        try {
          const decoded = decodeApplications(value, 0);
          for (const entry of decoded.instances) expect(entry.instance.instanceId.trim()).not.toBe('');
        } catch (error) {
          expect(documentedWireError(error), String(error)).toBe(true);
        }
      }),
      { numRuns: RUNS * 3 },
    );
    fc.assert(
      fc.property(fc.oneof(json, instanceLike), (value) => {
        try {
          decodeInstance(value, 0);
        } catch (error) {
          expect(documentedWireError(error), String(error)).toBe(true);
        }
      }),
      { numRuns: RUNS * 3 },
    );
  });
});

/** Writes a key or value as `java.util.Properties.store` would, so that parsing gives it back. */
function escapeProperty(text: string, isKey: boolean): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (c === '\f') out += '\\f';
    else if (c === ' ' && (isKey || i === 0)) out += '\\ ';
    else if ((c === '=' || c === ':' || c === '#' || c === '!') && (isKey || i === 0)) out += `\\${c}`;
    else if (c === '\uFEFF' && i === 0) out += '\\uFEFF';
    else out += c;
  }
  return out;
}

describe('.properties parser', () => {
  it('gives back every key and value written with Java escapes', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1, maxLength: 15 }), fc.string({ maxLength: 30 }), { maxKeys: 8 }), fc.constantFrom('=', ':', ' = ', ' '), (entries, separator) => {
        const text = Object.entries(entries)
          .map(([key, value]) => `${escapeProperty(key, true)}${separator}${escapeProperty(value, false)}`)
          .join('\n');
        expect(Object.fromEntries(parseProperties(text))).toEqual(entries);
      }),
      { numRuns: RUNS },
    );
  });

  it('reads any text, failing only on a malformed \\u escape, with its line', () => {
    const text = fc.oneof(fc.string({ maxLength: 200 }), fc.array(fc.constantFrom('a', '=', ':', '\\', '\\u', 'u00e9', '\n', '\r\n', ' ', '#', '!', '\t', 'x\\\n'), { maxLength: 40 }).map((parts) => parts.join('')));
    fc.assert(
      fc.property(text, (input) => {
        try {
          parseProperties(input);
        } catch (error) {
          expect((error as Error).message).toMatch(/line \d+/);
          expect(input).toContain('\\u');
        }
      }),
      { numRuns: RUNS * 3 },
    );
  });
});

describe('statsd lines in the relay', () => {
  it('parses every line an application can send, and names what is wrong with any other', () => {
    const name = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_.-]{0,20}$/);
    const tagPart = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/);
    const line = fc.record({
      name,
      value: fc.double({ min: -1e9, max: 1e9, noNaN: true, noDefaultInfinity: true }),
      type: fc.constantFrom('c', 'g', 'ms', 'h', 'd'),
      rate: fc.option(fc.double({ min: 0.001, max: 1, noNaN: true }), { nil: undefined }),
      tags: fc.dictionary(tagPart, tagPart, { maxKeys: 3 }),
    });
    fc.assert(
      fc.property(line, (l) => {
        const value = l.type === 'g' && l.value > 0 ? `${l.value}` : String(Math.abs(l.value));
        const tags = Object.entries(l.tags).map(([k, v]) => `${k}:${v}`).join(',');
        const text = `${l.name}:${value}|${l.type}${l.rate === undefined ? '' : `|@${l.rate}`}${tags === '' ? '' : `|#${tags}`}`;
        const parsed = parseStatsdLine(text);
        expect(typeof parsed, `${text}: ${typeof parsed === 'string' ? parsed : 'parsed'}`).toBe('object');
        expect(parsed).toMatchObject({ name: l.name, type: l.type, tags: l.tags });
      }),
      { numRuns: RUNS },
    );
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 60 }), fc.array(fc.constantFrom('a', ':', '|', '@', '#', ',', '1', '-', '+', '.', 'c', 'g', 'ms', 's', 'e', '_e{', '0.5'), { maxLength: 20 }).map((p) => p.join(''))), (text) => {
        const parsed = parseStatsdLine(text);
        if (typeof parsed === 'string') expect(parsed.length).toBeGreaterThan(0);
        else expect(parsed.name.length).toBeGreaterThan(0);
      }),
      { numRuns: RUNS * 3 },
    );
  });
});

describe('configuration values through the schema', () => {
  it('applies a value the schema accepts, refuses any other with ERR_INVALID_CONFIG and keeps the last good', async () => {
    interface Settings {
      readonly port: number;
      readonly name: string;
      readonly ratio: number;
      readonly mode: 'a' | 'b';
    }
    const config = defineConfig<Settings>({
      schema: {
        port: { doc: 'port', format: 'port', default: 8080 },
        name: { doc: 'name', format: String, default: 'x' },
        ratio: { doc: 'ratio', format: Number, default: 0.5 },
        mode: { doc: 'mode', format: ['a', 'b'], default: 'a' },
      },
    });
    cleanups.push(() => config.close());
    await config.start();
    const keys = ['port', 'name', 'ratio', 'mode'] as const;
    fc.assert(
      fc.property(fc.constantFrom(...keys), fc.oneof(fc.anything(), fc.integer({ min: -10, max: 70_000 }), fc.constantFrom('a', 'b', 'c')), (key, value) => {
        const before = config.snapshot;
        try {
          config.setOverride(key, value);
        } catch (error) {
          expect(isKaryonError(error, 'ERR_INVALID_CONFIG'), String(error)).toBe(true);
          expect(config.snapshot).toBe(before);
          return;
        }
        const now = config.snapshot[key];
        if (key === 'port') expect(Number.isInteger(now) && (now as number) >= 0 && (now as number) <= 65535).toBe(true);
        if (key === 'mode') expect(['a', 'b']).toContain(now);
        if (key === 'name') expect(typeof now).toBe('string');
        if (key === 'ratio') expect(typeof now).toBe('number');
      }),
      { numRuns: RUNS },
    );
  });
});

describe('admin request routing', () => {
  it('matches any method and path to a handler, a 404 or a 405, never throwing', () => {
    const router = new Router<void>();
    const handler = (): void => undefined;
    for (const [method, path] of [
      ['GET', '/healthcheck'],
      ['GET', '/status'],
      ['PUT', '/status'],
      ['GET', '/breakers'],
      ['PUT', '/breakers/:name'],
      ['GET', '/config'],
      ['GET', '/apps/:app/:id'],
    ] as const) {
      router.add(method, path, handler);
    }
    const segment = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('status', 'breakers', 'apps', 'config', '..', '%2F', '', ':name'));
    const path = fc.array(segment, { maxLength: 5 }).map((parts) => `/${parts.join('/')}`);
    const method = fc.oneof(fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'OPTIONS'), fc.string({ maxLength: 8 }));
    fc.assert(
      fc.property(method, path, (m, p) => {
        const match = router.match(m, p);
        expect(['found', 'not-found', 'method-not-allowed']).toContain(match.kind);
        if (match.kind === 'found') expect(router.match(m, p).kind).toBe('found');
      }),
      { numRuns: RUNS * 3 },
    );
  });
});
