import { createHash } from 'node:crypto';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { KaryonError } from '../common/KaryonError.js';
import { abortReason, errorMessage, jitter, runWithTimeout } from '../internal/async.js';
import { RepeatingTask } from '../internal/RepeatingTask.js';
import { basicAuthorization, durationMs, invalidOption, nonEmptyString, oneOf, positiveInt } from '../internal/validate.js';
import { decodeSpringEnvironment, parseText } from './formats.js';
import type { Parsed } from './formats.js';
import { SourceHealth } from './SourceHealth.js';
import type { ConfigSource, ConfigSourceContext, ConfigSourceStatus, SourceContent } from './types.js';

/** What a remote source's URL answers: a JSON object, a `.properties` text, or a Spring Cloud Config environment. */
export type RemoteFormat = 'json' | 'properties' | 'spring-cloud-config';

/** Options of {@link remoteSource}. */
export interface RemoteSourceOptions {
  /**
   * The URL polled. For `spring-cloud-config`, the config server's base URL (`http://config:8888`); the source
   * requests `{url}/{application}/{profile}[/{label}]`. Credentials in the URL (`http://user:pass@host`) are
   * sent as HTTP Basic authentication and masked wherever the URL is shown.
   */
  readonly url: string;
  /**
   * What the URL answers.
   * @default 'properties' when the URL path ends in `.properties`, otherwise 'json'
   */
  readonly format?: RemoteFormat;
  /** Spring Cloud Config: the application name (`spring.application.name`). Required for that format. */
  readonly application?: string;
  /**
   * Spring Cloud Config: the profiles, comma-separated.
   * @default the configuration's `environment`, or `'default'`
   */
  readonly profile?: string;
  /**
   * Spring Cloud Config: the label (branch, tag or commit); a `/` in it is sent as `(_)`, as the server expects.
   * @default the server's default label
   */
  readonly label?: string;
  /**
   * Delay between polls while the source answers, in ms (jittered).
   * @default 60000
   */
  readonly intervalMs?: number;
  /**
   * How long one request may take, in ms.
   * @default 10000
   */
  readonly timeoutMs?: number;
  /**
   * First retry delay after a failure, in ms; doubles with each failure in a row (jittered).
   * @default 1000
   */
  readonly backoffInitialMs?: number;
  /**
   * Longest retry delay, in ms.
   * @default 300000
   */
  readonly backoffMaxMs?: number;
  /**
   * Spread of every delay, as a ratio either way, so a fleet does not poll in lockstep.
   * @default 0.2
   */
  readonly jitter?: number;
  /**
   * Extra request headers (an `authorization` header, a tenant). Never shown.
   * @default none
   */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Largest response body, in bytes; a larger one is rejected as an update.
   * @default 1048576
   */
  readonly maxBytes?: number;
  /**
   * Make `start()` fail when the first fetch fails. Otherwise the configuration starts without this source's
   * values and keeps retrying.
   * @default false
   */
  readonly failFast?: boolean;
  /**
   * Keys the schema does not declare: `reject` the update, or `ignore` them (a Spring Cloud Config repository's
   * shared `application.yml` usually holds keys for other services).
   * @default 'reject'
   */
  readonly unknownKeys?: 'reject' | 'ignore';
  /**
   * The undici dispatcher (an `Agent` with your TLS or proxy settings).
   * @default undici's global dispatcher
   */
  readonly dispatcher?: Dispatcher;
}

interface ResolvedRemoteSourceOptions {
  readonly url: URL;
  readonly shownUrl: string;
  readonly format: RemoteFormat;
  readonly application: string | undefined;
  readonly profile: string | undefined;
  readonly label: string | undefined;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  readonly jitter: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly maxBytes: number;
  readonly failFast: boolean;
  readonly unknownKeys: 'reject' | 'ignore';
  readonly dispatcher: Dispatcher | undefined;
}

function resolveRemoteSourceOptions(options: RemoteSourceOptions): ResolvedRemoteSourceOptions {
  if (typeof options !== 'object' || options === null) invalidOption('remoteSource', 'an object with a url', options);
  const text = nonEmptyString('remoteSource.url', options.url);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return invalidOption('remoteSource.url', 'an absolute http(s) URL', text);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') invalidOption('remoteSource.url', 'an http(s) URL', text);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (typeof value !== 'string') invalidOption(`remoteSource.headers['${name}']`, 'a string', value);
    headers[name.toLowerCase()] = value;
  }
  const authorization = basicAuthorization('remoteSource.url', url);
  if (authorization !== undefined) {
    headers.authorization ??= authorization;
    url.username = '';
    url.password = '';
  }
  const format = oneOf<RemoteFormat>('remoteSource.format', options.format, ['json', 'properties', 'spring-cloud-config'], url.pathname.endsWith('.properties') ? 'properties' : 'json');
  if (format === 'spring-cloud-config') nonEmptyString('remoteSource.application', options.application);
  for (const name of ['profile', 'label'] as const) {
    if (options[name] !== undefined) nonEmptyString(`remoteSource.${name}`, options[name]);
  }
  const backoffInitialMs = durationMs('remoteSource.backoffInitialMs', options.backoffInitialMs, 1000);
  const jitterRatio = options.jitter ?? 0.2;
  if (typeof jitterRatio !== 'number' || !(jitterRatio >= 0 && jitterRatio < 1)) invalidOption('remoteSource.jitter', 'a ratio from 0 to below 1', jitterRatio);
  if (options.failFast !== undefined && typeof options.failFast !== 'boolean') invalidOption('remoteSource.failFast', 'a boolean', options.failFast);
  return Object.freeze({
    url,
    shownUrl: url.toString(),
    format,
    application: options.application,
    profile: options.profile,
    label: options.label,
    intervalMs: positiveInt('remoteSource.intervalMs', options.intervalMs, 60_000),
    timeoutMs: positiveInt('remoteSource.timeoutMs', options.timeoutMs, 10_000),
    backoffInitialMs,
    backoffMaxMs: Math.max(backoffInitialMs, durationMs('remoteSource.backoffMaxMs', options.backoffMaxMs, 300_000)),
    jitter: jitterRatio,
    headers: Object.freeze(headers),
    maxBytes: positiveInt('remoteSource.maxBytes', options.maxBytes, 1024 * 1024),
    failFast: options.failFast ?? false,
    unknownKeys: oneOf('remoteSource.unknownKeys', options.unknownKeys, ['reject', 'ignore'], 'reject'),
    dispatcher: options.dispatcher,
  });
}

type Fetched =
  | { readonly kind: 'notModified' }
  | { readonly kind: 'body'; readonly text: string; readonly etag: string | undefined }
  | { readonly kind: 'tooLarge'; readonly size: number; readonly etag: string | undefined };

/**
 * A remote layer polled over HTTP with `If-None-Match`: a 304 keeps the layer as it is; a failure (refused,
 * timed out, 5xx, 404) keeps the last good values and retries with exponential backoff and jitter; content that
 * does not parse or validate is rejected whole.
 */
export class RemoteSource implements ConfigSource {
  readonly layer = 'remote' as const;
  readonly name: string;
  readonly unknownKeys: 'reject' | 'ignore';
  readonly #options: ResolvedRemoteSourceOptions;
  #context: ConfigSourceContext | undefined;
  #requestUrl: string | undefined;
  #task: RepeatingTask | undefined;
  #chain: Promise<number> = Promise.resolve(0);
  #etag: string | undefined;
  #lastDigest: string | undefined;
  #springVersion: string | null | undefined;
  #lastStatus: number | undefined;
  readonly #health = new SourceHealth();
  #requests = 0;
  #completed = 0;
  #notModified = 0;

  /** Use {@link remoteSource}. */
  constructor(options: RemoteSourceOptions) {
    this.#options = resolveRemoteSourceOptions(options);
    this.unknownKeys = this.#options.unknownKeys;
    const { format, shownUrl, application } = this.#options;
    this.name = format === 'spring-cloud-config' ? `remote:${shownUrl.replace(/\/+$/, '')}/${application ?? ''}` : `remote:${shownUrl}`;
  }

  async open(context: ConfigSourceContext): Promise<SourceContent> {
    if (this.#context !== undefined) throw new KaryonError('ERR_INVALID_STATE', `${this.name} is already open`);
    this.#context = context;
    this.#requestUrl = this.#buildUrl(context.environment);
    let first: { content: SourceContent | undefined; error: string | undefined };
    try {
      first = await this.#fetchContent(context.signal);
    } catch (error) {
      first = { content: undefined, error: errorMessage(error) };
    }
    if (first.error !== undefined) {
      if (this.#options.failFast) {
        this.#health.close();
        throw new KaryonError('ERR_INVALID_CONFIG', `${this.name} could not be fetched: ${first.error}`, { retryable: true });
      }
      this.#health.failed(this.#context, first.error);
    }
    this.#completed++;
    this.#task = new RepeatingTask({
      clock: context.clock,
      initialDelayMs: this.#nextDelay(),
      run: () => this.#enqueue(),
    });
    return first.content ?? { origins: [] };
  }

  async refresh(signal?: AbortSignal): Promise<void> {
    await this.#enqueue(signal);
  }

  status(): ConfigSourceStatus {
    return Object.freeze({
      name: this.name,
      layer: this.layer,
      ...this.#health.report(),
      origins: this.#lastDigest === undefined ? [] : [this.name],
      details: Object.freeze({
        url: this.#requestUrl ?? this.#options.shownUrl,
        format: this.#options.format,
        etag: this.#etag,
        lastStatus: this.#lastStatus,
        requests: this.#requests,
        completed: this.#completed,
        notModified: this.#notModified,
        ...(this.#options.format === 'spring-cloud-config' ? { version: this.#springVersion ?? null } : {}),
      }),
    });
  }

  async close(): Promise<void> {
    this.#health.close();
    await this.#task?.close();
    await this.#chain;
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #buildUrl(environment: string | undefined): string {
    const { url, format, application, profile, label } = this.#options;
    if (format !== 'spring-cloud-config') return url.toString();
    const base = url.toString().replace(/\/+$/, '');
    const segments = [application ?? '', profile ?? environment ?? 'default'];
    // Spring Cloud Config's convention for labels holding a slash (git branches like release/1.2).
    if (label !== undefined) segments.push(label.replaceAll('/', '(_)'));
    return `${base}/${segments.map((s) => encodeURIComponent(s)).join('/')}${url.search}`;
  }

  // One poll at a time; resolves with the delay before the next scheduled poll.
  #enqueue(signal?: AbortSignal): Promise<number> {
    const run = this.#chain.then(() => {
      if (signal?.aborted) throw abortReason(signal);
      return this.#poll(signal);
    });
    this.#chain = run.catch(() => this.#options.intervalMs);
    return run;
  }

  async #poll(signal?: AbortSignal): Promise<number> {
    const context = this.#context;
    if (context === undefined || this.#health.isClosed() || context.signal.aborted) return this.#options.intervalMs;
    const wasFailing = this.#health.failures > 0;
    let result: { content: SourceContent | undefined; error: string | undefined };
    try {
      result = await this.#fetchContent(signal === undefined ? context.signal : AbortSignal.any([context.signal, signal]));
    } catch (error) {
      // A refresh its caller gave up on is not the source failing.
      if (signal?.aborted) throw abortReason(signal);
      result = { content: undefined, error: errorMessage(error) };
    }
    if (this.#health.isClosed()) return this.#options.intervalMs;
    if (result.error !== undefined) {
      this.#health.failed(this.#context, result.error);
    } else {
      if (wasFailing) context.recovered();
      if (result.content !== undefined) context.update(result.content);
    }
    this.#completed++;
    return this.#nextDelay();
  }

  /** Fetches; content is undefined when nothing changed. An error string means the source is failing. */
  async #fetchContent(signal: AbortSignal): Promise<{ content: SourceContent | undefined; error: string | undefined }> {
    const fetched = await this.#fetch(signal);
    this.#health.succeeded(this.#context);
    if (fetched.kind === 'notModified') return { content: undefined, error: undefined };
    if (fetched.kind === 'tooLarge') {
      this.#etag = fetched.etag;
      const digest = `tooLarge:${fetched.size}:${fetched.etag ?? ''}`;
      if (digest === this.#lastDigest) return { content: undefined, error: undefined };
      this.#lastDigest = digest;
      return { content: { error: `the response is ${fetched.size} bytes, more than the limit of ${this.#options.maxBytes}` }, error: undefined };
    }
    this.#etag = fetched.etag;
    const digest = createHash('sha256').update(fetched.text).digest('base64');
    // A server without ETags sends the same body again: nothing to offer.
    if (digest === this.#lastDigest) return { content: undefined, error: undefined };
    this.#lastDigest = digest;
    return { content: this.#decode(fetched.text), error: undefined };
  }

  #decode(text: string): SourceContent {
    let parsed: Parsed;
    if (this.#options.format === 'spring-cloud-config') {
      const decoded = decodeSpringEnvironment(text);
      if (decoded.ok) this.#springVersion = decoded.environment?.version ?? null;
      parsed = decoded;
    } else {
      parsed = parseText(text, this.#options.format);
    }
    if (!parsed.ok) return { error: `response ${parsed.error}` };
    return { origins: [{ name: this.name, values: parsed.values }] };
  }

  async #fetch(signal: AbortSignal): Promise<Fetched> {
    const context = this.#context as ConfigSourceContext;
    const { timeoutMs, headers, dispatcher, maxBytes, format } = this.#options;
    const url = this.#requestUrl as string;
    this.#requests++;
    return runWithTimeout(
      async (timeoutSignal) => {
        const requestHeaders: Record<string, string> = {
          accept: format === 'properties' ? 'text/plain, */*' : 'application/json',
          ...headers,
        };
        if (this.#etag !== undefined) requestHeaders['if-none-match'] = this.#etag;
        const response = await request(url, {
          method: 'GET',
          headers: requestHeaders,
          signal: timeoutSignal,
          ...(dispatcher === undefined ? {} : { dispatcher }),
        });
        this.#lastStatus = response.statusCode;
        const etagHeader = response.headers.etag;
        const etag = typeof etagHeader === 'string' ? etagHeader : undefined;
        if (response.statusCode === 304) {
          await response.body.dump();
          this.#notModified++;
          return { kind: 'notModified' } as const;
        }
        if (response.statusCode !== 200) {
          await response.body.dump();
          throw new Error(`HTTP ${response.statusCode} from ${url}`);
        }
        const declared = Number(response.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
          response.body.destroy();
          return { kind: 'tooLarge', size: declared, etag } as const;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of response.body) {
          size += (chunk as Buffer).length;
          if (size > maxBytes) {
            response.body.destroy();
            return { kind: 'tooLarge', size, etag } as const;
          }
          chunks.push(chunk as Buffer);
        }
        return { kind: 'body', text: Buffer.concat(chunks).toString('utf8'), etag } as const;
      },
      {
        clock: context.clock,
        timeoutMs,
        signal,
        onTimeout: () => new Error(`no answer from ${url} within ${timeoutMs} ms`),
      },
    );
  }

  #nextDelay(): number {
    const { intervalMs, backoffInitialMs, backoffMaxMs, jitter: ratio } = this.#options;
    if (this.#health.failures === 0) return jitter(intervalMs, ratio);
    const exponent = Math.min(this.#health.failures - 1, 30);
    return jitter(Math.min(backoffMaxMs, backoffInitialMs * 2 ** exponent), ratio);
  }
}

/**
 * A polled remote layer: a JSON or `.properties` URL, or a Spring Cloud Config Server.
 *
 * @throws KaryonError ERR_INVALID_OPTION when an option is wrong.
 *
 * @example
 * ```ts
 * remoteSource({ url: 'https://config.internal/greeter.json', intervalMs: 30_000 });
 * remoteSource({ url: 'http://config:8888', format: 'spring-cloud-config', application: 'greeter', label: 'main' });
 * ```
 */
export function remoteSource(options: RemoteSourceOptions): RemoteSource {
  return new RemoteSource(options);
}
