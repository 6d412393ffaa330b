import type { ResponseBody, ResponseHeaders } from '../Transport.js';

/** What was kept of one answer for comparison. */
export interface CapturedResponse {
  /** The HTTP status. */
  readonly status: number;
  /** The headers needed: those compared, plus `content-type` and `content-encoding` to read the body. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body as sent (bytes) or as read by the caller (text); undefined when it was not kept. */
  readonly body: Buffer | string | undefined;
}

/** The headers a capture keeps: the compared ones, and the two needed to decode the body. */
export function wantedHeaders(compared: readonly string[]): readonly string[] {
  return [...new Set([...compared, 'content-type', 'content-encoding'])];
}

/** One header value as text: repeated values joined as HTTP joins them. */
export function headerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return value.map((item) => headerText(item) ?? '').join(', ');
  return undefined;
}

/** The wanted headers of a response (lower-case names, as undici gives them). */
export function pickHeaders(headers: ResponseHeaders, wanted: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of wanted) {
    const value = headerText(headers[name]);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * Reads a body, keeping at most `limit` bytes: past the limit the rest is still read (so the connection
 * can be reused) but not kept, and the result is undefined. `headers` give the declared length, when any.
 */
export async function readCapped(body: ResponseBody, limit: number, headers: ResponseHeaders): Promise<Buffer | undefined> {
  const declared = Number(headerText(headers['content-length']) ?? Number.NaN);
  if (declared > limit) {
    await body.dump();
    return undefined;
  }
  // A length that fits is read in one call, without iterating.
  if (declared >= 0) return Buffer.from(await body.arrayBuffer());
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  for await (const chunk of body) {
    if (over) continue;
    size += chunk.byteLength;
    if (size > limit) {
      over = true;
      chunks.length = 0;
      continue;
    }
    chunks.push(Buffer.from(chunk));
  }
  return over ? undefined : Buffer.concat(chunks);
}
