import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate, inflateRaw } from 'node:zlib';
import type { CapturedResponse } from './CapturedResponse.js';
import { diffJson } from './diffJson.js';
import type { PathSegment } from './FieldPattern.js';
import { formatPath, normalizePath } from './FieldPattern.js';
import type { ResolvedShadowCompareOptions } from './ShadowOptions.js';
import type { ShadowDifference, ShadowResponseView } from './types.js';

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);
const inflateRawAsync = promisify(inflateRaw);
const brotliAsync = promisify(brotliDecompress);

/** Most differing fields listed for one comparison: a completely different body is one problem, not thousands. */
const MAX_FIELDS = 100;
/** Most fields learned as noise; past it nothing more is learned (a bound on memory, whatever the traffic). */
const MAX_NOISE_FIELDS = 1000;
/** Text bodies in the admin API are cut here. */
const MAX_VIEW_TEXT = 4096;

/** An answer ready to compare: body decoded and, when JSON, parsed. */
export interface PreparedResponse {
  /** The HTTP status. */
  readonly status: number;
  /** The captured headers. */
  readonly headers: Readonly<Record<string, string>>;
  /** `json` when the body parsed as JSON, `text` otherwise, `none` when it was not kept. */
  readonly kind: 'json' | 'text' | 'none';
  /** The parsed body, for `json`. */
  readonly json: unknown;
  /** The decoded body, for `json` and `text`. */
  readonly text: string | undefined;
}

const JSON_TYPE = /\bjson\b/i;

/**
 * Decodes and parses a captured answer off the primary's path: gzip, deflate and br bodies are inflated
 * (to at most `16 x limit` bytes, so a small compressed body cannot take the memory), a JSON content type
 * is parsed. A body that cannot be decoded counts as not kept.
 */
export async function prepareResponse(captured: CapturedResponse, limit: number): Promise<PreparedResponse> {
  const body = captured.body;
  const encoding = (captured.headers['content-encoding'] ?? '').trim().toLowerCase();
  // The common case (a body sent as is) is decoded without another promise.
  const text = body === undefined || typeof body === 'string' ? body : encoding === '' || encoding === 'identity' ? body.toString('utf8') : await decompress(body, encoding, limit);
  const { status, headers } = captured;
  if (text === undefined) return { status, headers, kind: 'none', json: undefined, text: undefined };
  if (JSON_TYPE.test(headers['content-type'] ?? '')) {
    try {
      return { status, headers, kind: 'json', json: JSON.parse(text) as unknown, text };
    } catch {
      // Declared JSON but not JSON: compared as text, so the difference still shows.
    }
  }
  return { status, headers, kind: 'text', json: undefined, text };
}

async function decompress(body: Buffer, encoding: string, limit: number): Promise<string | undefined> {
  const options = { maxOutputLength: Math.max(16 * limit, 1024 * 1024) };
  try {
    switch (encoding) {
      case 'gzip':
      case 'x-gzip':
        return (await gunzipAsync(body, options)).toString('utf8');
      case 'deflate':
        // "deflate" is zlib-wrapped by the standard, raw by some servers: try both, as browsers do.
        return (await inflateAsync(body, options).catch(() => inflateRawAsync(body, options))).toString('utf8');
      case 'br':
        return (await brotliAsync(body, options)).toString('utf8');
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

/** How an answer shows in the admin API. */
export function viewOf(response: PreparedResponse, compared: readonly string[]): ShadowResponseView {
  const headers: Record<string, string> = {};
  for (const name of compared) {
    const value = response.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  let body: unknown = null;
  if (response.kind === 'json') body = response.json;
  else if (response.kind === 'text') {
    const text = response.text as string;
    body = text.length > MAX_VIEW_TEXT ? `${text.slice(0, MAX_VIEW_TEXT)}…` : text;
  }
  return { status: response.status, headers, body };
}

/** Every field in which two answers differ: status, the compared headers, and the body when both were kept. */
function rawDifferences(a: PreparedResponse, b: PreparedResponse, headers: readonly string[]): PathSegment[][] {
  const out: PathSegment[][] = [];
  if (a.status !== b.status) out.push(['status']);
  for (const name of headers) if (a.headers[name] !== b.headers[name]) out.push(['headers', name]);
  if (a.kind === 'none' || b.kind === 'none') return out;
  if (a.kind === 'json' && b.kind === 'json') out.push(...diffJson(a.json, b.json, ['body'], MAX_FIELDS));
  else if (a.kind !== b.kind || a.text !== b.text) out.push(['body']);
  return out;
}

/**
 * Diffy's comparison: the fields in which the shadow's answer differs from the primary's, less the fields
 * configured as ignored and the fields learned as noise (those in which two answers of the current version
 * differed). Keeps the most recent differences for the admin API.
 */
export class ResponseComparator {
  readonly #noise = new Map<string, number>();
  #differences: ShadowDifference[] = [];

  /**
   * Learns noise from two answers of the current version to one request. The status is never learned: two
   * statuses that differ are a failure of one of them, not a field that varies.
   */
  learn(a: PreparedResponse, b: PreparedResponse, options: ResolvedShadowCompareOptions): void {
    for (const path of rawDifferences(a, b, options.headers)) {
      if (path.length === 1 && path[0] === 'status') continue;
      const key = normalizePath(path);
      const seen = this.#noise.get(key);
      if (seen !== undefined) this.#noise.set(key, seen + 1);
      else if (this.#noise.size < MAX_NOISE_FIELDS) this.#noise.set(key, 1);
    }
  }

  /** The differing fields of the shadow's answer, ignored fields and noise left out. */
  compare(primary: PreparedResponse, shadow: PreparedResponse, options: ResolvedShadowCompareOptions): string[] {
    const fields: string[] = [];
    for (const path of rawDifferences(primary, shadow, options.headers)) {
      if (options.ignore.some((pattern) => pattern.matches(path)) || this.#isNoise(path)) continue;
      fields.push(formatPath(path));
    }
    return fields;
  }

  /** Keeps a difference, dropping the oldest beyond `max`. */
  record(difference: ShadowDifference, max: number): void {
    if (max === 0) {
      this.#differences = [];
      return;
    }
    this.#differences.push(difference);
    if (this.#differences.length > max) this.#differences = this.#differences.slice(-max);
  }

  /** The kept differences, oldest first. */
  differences(): readonly ShadowDifference[] {
    return [...this.#differences];
  }

  /** The fields learned as noise, with how many times two answers differed in them. */
  noise(): Record<string, number> {
    return Object.fromEntries(this.#noise);
  }

  /** Forgets the learned noise (after the current version changed, say). */
  resetNoise(): void {
    this.#noise.clear();
  }

  /** A field is noise when it, or a field above it, was learned as noise. */
  #isNoise(path: readonly PathSegment[]): boolean {
    if (this.#noise.size === 0) return false;
    for (let length = 1; length <= path.length; length++) {
      if (this.#noise.has(normalizePath(path.slice(0, length)))) return true;
    }
    return false;
  }
}
