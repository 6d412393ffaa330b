import { gzipSync, brotliCompressSync, deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { FieldPattern, formatPath, normalizePath } from '../../src/http/shadow/FieldPattern.js';
import { resolveShadowSettings } from '../../src/http/shadow/ShadowOptions.js';
import type { ResolvedShadowCompareOptions } from '../../src/http/shadow/ShadowOptions.js';
import type { CapturedResponse } from '../../src/http/shadow/CapturedResponse.js';
import { diffJson } from '../../src/http/shadow/diffJson.js';
import { ResponseComparator, prepareResponse, viewOf } from '../../src/http/shadow/ResponseComparator.js';

function compareOptions(compare: object = {}): ResolvedShadowCompareOptions {
  return resolveShadowSettings({ vip: 'next', compare }).compare!;
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): CapturedResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: Buffer.from(JSON.stringify(body)) };
}

async function fields(comparator: ResponseComparator, a: CapturedResponse, b: CapturedResponse, options: ResolvedShadowCompareOptions): Promise<string[]> {
  return comparator.compare(await prepareResponse(a, options.maxBodyBytes), await prepareResponse(b, options.maxBodyBytes), options);
}

describe('field paths and patterns', () => {
  it('formats paths with bare keys, quoted keys and indices, and normalizes indices for noise', () => {
    expect(formatPath(['body', 'items', 2, 'price'])).toBe('body.items[2].price');
    expect(formatPath(['headers', 'content-type'])).toBe('headers.content-type');
    expect(formatPath(['body', 'a.b', 'x y', '1st'])).toBe('body["a.b"]["x y"]["1st"]');
    expect(normalizePath(['body', 'items', 2, 'price'])).toBe('body.items[*].price');
  });

  it('matches a field and everything under it, with * for any key or index and [*] for any index', () => {
    const items = new FieldPattern('body.items[*].id');
    expect(items.matches(['body', 'items', 0, 'id'])).toBe(true);
    expect(items.matches(['body', 'items', 7, 'id', 'inner'])).toBe(true);
    expect(items.matches(['body', 'items', 'x', 'id'])).toBe(false);
    expect(items.matches(['body', 'items', 0, 'name'])).toBe(false);
    expect(items.matches(['body', 'items'])).toBe(false);
    expect(new FieldPattern('body.*.etag').matches(['body', 3, 'etag'])).toBe(true);
    expect(new FieldPattern('body.*.etag').matches(['body', 'user', 'etag'])).toBe(true);
    expect(new FieldPattern('body.items.0').matches(['body', 'items', 0, 'id'])).toBe(true);
    expect(new FieldPattern('body.items[1]').matches(['body', 'items', 0, 'id'])).toBe(false);
    expect(new FieldPattern('body["a.b"]').matches(['body', 'a.b', 'c'])).toBe(true);
    expect(new FieldPattern('headers.date').matches(['headers', 'date'])).toBe(true);
  });

  it('rejects patterns it cannot read, naming the option and the problem', () => {
    expect(() => new FieldPattern('', 'ignore[0]')).toThrow(/option 'ignore\[0\]' must be a non-empty field path/);
    expect(() => new FieldPattern('body..x')).toThrow(/unexpected '\.' at 5/);
    expect(() => new FieldPattern('body.')).toThrow(/ends with a dot/);
    expect(() => new FieldPattern('body[x]')).toThrow(/'\[x\]' is neither an index/);
    expect(() => new FieldPattern('body[1')).toThrow(/unclosed '\['/);
    expect(() => new FieldPattern('body.a b')).toThrow(/'a b' is not a bare key; quote it as \["a b"\]/);
    expect(() => resolveShadowSettings({ vip: 'next', compare: { ignore: ['body..x'] } })).toThrow(/option 'shadow.compare.ignore\[0\]'/);
  });
});

describe('JSON differences', () => {
  it('lists changed, missing, added and retyped fields, and array elements by index', () => {
    const a = { id: 1, name: 'a', tags: ['x', 'y'], nested: { keep: true, gone: 1 }, kind: 'obj', list: [{ v: 1 }, { v: 2 }] };
    const b = { id: 1, name: 'b', tags: ['x'], nested: { keep: true, added: 2 }, kind: { now: 'object' }, list: [{ v: 1 }, { v: 3 }] };
    expect(diffJson(a, b, ['body'], 100).map(formatPath)).toEqual([
      'body.name',
      'body.tags[1]',
      'body.nested.gone',
      'body.nested.added',
      'body.kind',
      'body.list[1].v',
    ]);
    expect(diffJson({ a: [1, 2] }, { a: [1, 2] }, ['body'], 100)).toEqual([]);
    expect(diffJson(null, {}, ['body'], 100).map(formatPath)).toEqual(['body']);
    expect(diffJson([1], { 0: 1 }, ['body'], 100).map(formatPath)).toEqual(['body']);
  });

  it('stops at the limit', () => {
    const a = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i]));
    const b = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, -i - 1]));
    expect(diffJson(a, b, ['body'], 100)).toHaveLength(100);
  });
});

describe('response comparator', () => {
  it('finds a planted difference in status, a compared header and a JSON field', async () => {
    const options = compareOptions({ headers: ['content-type', 'x-version'] });
    const comparator = new ResponseComparator();
    const primary = json({ id: 7, price: 10, items: [{ sku: 'a' }] }, 200, { 'x-version': '1' });
    expect(await fields(comparator, primary, json({ id: 7, price: 10, items: [{ sku: 'a' }] }, 200, { 'x-version': '1' }), options)).toEqual([]);
    expect(await fields(comparator, primary, json({ id: 7, price: 12, items: [{ sku: 'a' }] }, 200, { 'x-version': '1' }), options)).toEqual(['body.price']);
    expect(await fields(comparator, primary, json({ id: 7, price: 10, items: [{ sku: 'b' }] }, 500, { 'x-version': '2' }), options)).toEqual([
      'status',
      'headers.x-version',
      'body.items[0].sku',
    ]);
    // Headers not chosen are not compared.
    expect(await fields(comparator, json({ a: 1 }, 200, { date: 'x' }), json({ a: 1 }, 200, { date: 'y' }), options)).toEqual([]);
  });

  it('leaves out configured ignored fields, and the fields under them', async () => {
    const options = compareOptions({ ignore: ['body.generatedAt', 'body.items[*].etag', 'body.debug'] });
    const comparator = new ResponseComparator();
    const a = json({ price: 1, generatedAt: 100, items: [{ etag: 'a', n: 1 }, { etag: 'b', n: 2 }], debug: { host: 'x', ms: 3 } });
    const b = json({ price: 2, generatedAt: 200, items: [{ etag: 'c', n: 1 }, { etag: 'd', n: 5 }], debug: { host: 'y' } });
    expect(await fields(comparator, a, b, options)).toEqual(['body.price', 'body.items[1].n']);
  });

  it('learns noise from two answers of the current version and leaves it out, for every array index', async () => {
    const options = compareOptions();
    const comparator = new ResponseComparator();
    const primary = json({ price: 10, requestId: 'r1', items: [{ id: 1, servedBy: 'i-1' }, { id: 2, servedBy: 'i-1' }] });
    const secondary = json({ price: 10, requestId: 'r2', items: [{ id: 1, servedBy: 'i-2' }, { id: 2, servedBy: 'i-1' }] });
    const shadow = json({ price: 11, requestId: 'r3', items: [{ id: 1, servedBy: 'i-9' }, { id: 2, servedBy: 'i-9' }] });
    // Before learning, noise shows as differences.
    expect(await fields(comparator, primary, shadow, options)).toEqual(['body.price', 'body.requestId', 'body.items[0].servedBy', 'body.items[1].servedBy']);
    comparator.learn(await prepareResponse(primary, options.maxBodyBytes), await prepareResponse(secondary, options.maxBodyBytes), options);
    expect(comparator.noise()).toEqual({ 'body.requestId': 1, 'body.items[*].servedBy': 1 });
    expect(await fields(comparator, primary, shadow, options)).toEqual(['body.price']);
    comparator.resetNoise();
    expect(await fields(comparator, primary, shadow, options)).toHaveLength(4);
  });

  it('never learns the status as noise', async () => {
    const options = compareOptions();
    const comparator = new ResponseComparator();
    comparator.learn(await prepareResponse(json({ a: 1 }, 200), 1000), await prepareResponse(json({ a: 1 }, 503), 1000), options);
    expect(comparator.noise()).toEqual({});
    expect(await fields(comparator, json({ a: 1 }, 200), json({ a: 1 }, 503), options)).toEqual(['status']);
  });

  it('compares text bodies whole, and decodes gzip, deflate and br bodies before comparing', async () => {
    const options = compareOptions();
    const comparator = new ResponseComparator();
    const text = (body: string | Buffer, encoding?: string): CapturedResponse => ({
      status: 200,
      headers: { 'content-type': 'text/plain', ...(encoding !== undefined && { 'content-encoding': encoding }) },
      body: typeof body === 'string' ? Buffer.from(body) : body,
    });
    expect(await fields(comparator, text('hello'), text('hello'), options)).toEqual([]);
    expect(await fields(comparator, text('hello'), text('hullo'), options)).toEqual(['body']);
    expect(await fields(comparator, text('hello'), text(gzipSync('hello'), 'gzip'), options)).toEqual([]);
    expect(await fields(comparator, text('hello'), text(deflateRawSync('hello'), 'deflate'), options)).toEqual([]);
    expect(await fields(comparator, text('hello'), text(brotliCompressSync('hello'), 'br'), options)).toEqual([]);
    const gzippedJson: CapturedResponse = { status: 200, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync('{"a":2}') };
    expect(await fields(comparator, json({ a: 1 }), gzippedJson, options)).toEqual(['body.a']);
  });

  it('compares only status and headers when a body was not kept, and JSON against non-JSON as a body difference', async () => {
    const options = compareOptions();
    const comparator = new ResponseComparator();
    const unkept: CapturedResponse = { status: 200, headers: { 'content-type': 'application/json' }, body: undefined };
    expect(await fields(comparator, json({ a: 1 }), unkept, options)).toEqual([]);
    expect(await fields(comparator, json({ a: 1 }), { ...unkept, status: 404 }, options)).toEqual(['status']);
    const broken: CapturedResponse = { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{not json') };
    expect(await fields(comparator, json({ a: 1 }), broken, options)).toEqual(['body']);
    const unknownEncoding: CapturedResponse = { status: 200, headers: { 'content-type': 'application/json', 'content-encoding': 'zstd' }, body: Buffer.from('x') };
    expect(await fields(comparator, json({ a: 1 }), unknownEncoding, options)).toEqual([]);
  });

  it('shows answers with the compared headers and a parsed or cut body, and keeps the most recent differences', async () => {
    const options = compareOptions({ headers: ['content-type'] });
    const view = viewOf(await prepareResponse(json({ a: 1 }, 201, { 'x-other': 'y' }), 1000), options.headers);
    expect(view).toEqual({ status: 201, headers: { 'content-type': 'application/json' }, body: { a: 1 } });
    const long = viewOf(await prepareResponse({ status: 200, headers: {}, body: Buffer.from('x'.repeat(5000)) }, 10_000), []);
    expect(long.body).toBe(`${'x'.repeat(4096)}…`);
    expect(viewOf(await prepareResponse({ status: 200, headers: {}, body: undefined }, 10), []).body).toBeNull();

    const comparator = new ResponseComparator();
    for (let i = 0; i < 5; i++) {
      comparator.record({ at: i, vip: 'next', method: 'GET', path: `/${i}`, primary: view, shadow: view, fields: ['body.a'] }, 3);
    }
    expect(comparator.differences().map((d) => d.path)).toEqual(['/2', '/3', '/4']);
    comparator.record({ at: 9, vip: 'next', method: 'GET', path: '/9', primary: view, shadow: view, fields: [] }, 0);
    expect(comparator.differences()).toEqual([]);
  });
});
