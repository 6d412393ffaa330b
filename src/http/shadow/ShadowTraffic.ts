// Over 500 lines because the tee of a server request and of a client call share one bounded queue, one
// client per shadow VIP and the Diffy-style comparison of answers, all live-settable; options, the copy queue,
// the comparator and the admin routes are in their own files.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { EventEmitter } from 'eventemitter3';
import { CommandRegistry } from '../../breaker/CommandRegistry.js';
import type { Clock } from '../../common/Clock.js';
import { systemClock } from '../../common/Clock.js';
import { KaryonError, isKaryonError } from '../../common/KaryonError.js';
import type { Logger } from '../../common/Logger.js';
import { silentLogger } from '../../common/Logger.js';
import { errorMessage } from '../../internal/async.js';
import { HOP_BY_HOP_HEADERS } from '../../internal/http.js';
import { invalidOption } from '../../internal/validate.js';
import type { ShadowCopyOutcome, ShadowMetrics, ShadowTrafficEvents } from '../../common/ShadowTrafficEvents.js';
import type { ServiceRegistry } from '../../registry/types.js';
import { createServiceClient } from '../ServiceClient.js';
import type { ServiceClient } from '../ServiceClient.js';
import type { ServiceRequest } from '../ServiceRequest.js';
import type { ShadowTee } from '../ShadowTee.js';
import type { ServiceClientOptions } from '../ServiceClientOptions.js';
import { ServiceResponse } from '../TryOutcome.js';
import type { CapturedResponse } from './CapturedResponse.js';
import { headerText, pickHeaders, readCapped, wantedHeaders } from './CapturedResponse.js';
import { CapturingBody } from './CapturingBody.js';
import { RequestBodyCapture, ResponseCapture } from './captureExchange.js';
import { SHADOW_HEADER } from './isShadowRequest.js';
import { ResponseComparator, prepareResponse, viewOf } from './ResponseComparator.js';
import type { PreparedResponse } from './ResponseComparator.js';
import { mergeShadowSettings, resolveShadowSettings } from './ShadowOptions.js';
import type { ResolvedHeaderRule, ResolvedShadowCompareOptions, ResolvedShadowRoute, ResolvedShadowSettings, ShadowSettings, ShadowTrafficOptions } from './ShadowOptions.js';
import { ShadowTarget } from './ShadowTarget.js';
import type { ShadowReport } from './types.js';

/** Methods that may be sent twice without harm (RFC 9110); others are copied only with `allowNonIdempotent`. */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * Request headers a copy does not carry besides the hop-by-hop ones: the length is the copy's client's to set,
 * and `expect` would wait on the shadow.
 */
const NOT_COPIED: ReadonlySet<string> = new Set([...HOP_BY_HOP_HEADERS, 'content-length', 'expect']);

const noop = (): void => undefined;

/** One sampled request on its way to the shadows. */
interface ShadowJob {
  /** When the request came (epoch ms). */
  readonly at: number;
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  /** The copy's headers, marker included. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body: string | Buffer | undefined;
  /** The comparison settings when the request came, or undefined when not compared. */
  readonly compare: ResolvedShadowCompareOptions | undefined;
  /** The primary's answer, or undefined when not compared (or the primary call failed). */
  readonly primary: Promise<CapturedResponse> | undefined;
  /**
   * Stops waiting for the caller to read the primary's body (client-side copies); undefined when the primary's
   * answer is whole already (server-side copies).
   */
  readonly abandonPrimary: (() => void) | undefined;
  /** The second answer of the current version, when this request was sampled for noise. */
  secondary?: Promise<CapturedResponse | undefined>;
  /** The primary's answer prepared once, whatever the number of shadow VIPs. */
  prepared?: Promise<PreparedResponse | undefined>;
  /** Noise learned from this request once. */
  learned?: Promise<void>;
}

/** The copy as its client sends it: never hedged (one copy of a request is load enough). */
function copyRequest(job: ShadowJob, signal: AbortSignal): ServiceRequest {
  const request = { method: job.method, path: job.path, headers: job.headers, signal, hedge: false };
  return job.body === undefined ? request : { ...request, body: job.body };
}

/** Looks up a request header by lower-case name. */
type HeaderLookup = (name: string) => unknown;

function hasBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function routeMatches(route: ResolvedShadowRoute, method: string, pathname: string): boolean {
  if (route.methods !== undefined && !route.methods.has(method)) return false;
  if (route.prefix !== undefined && !pathname.startsWith(route.prefix)) return false;
  return route.pattern === undefined || route.pattern.test(pathname);
}

function headerMatches(rule: ResolvedHeaderRule, value: unknown): boolean {
  const text = headerText(value);
  const match = rule.match;
  if (typeof match === 'boolean') return match === (text !== undefined);
  if (text === undefined) return false;
  return typeof match === 'string' ? text === match : match.test(text);
}

/** Headers given by hand (a client call) may be in any case: exact name first, then a scan. */
function lookupAnyCase(headers: Readonly<Record<string, unknown>>): HeaderLookup {
  return (name) => {
    const exact = headers[name];
    if (exact !== undefined) return exact;
    for (const key in headers) if (key.length === name.length && key.toLowerCase() === name) return headers[key];
    return undefined;
  };
}

function copyHeaders(source: Readonly<Record<string, unknown>>): Record<string, string | readonly string[]> {
  const out: Record<string, string | readonly string[]> = {};
  for (const name in source) {
    const value = source[name];
    const lower = name.toLowerCase();
    if (NOT_COPIED.has(lower)) continue;
    if (Array.isArray(value)) out[lower] = value.map((item) => headerText(item) ?? '');
    else {
      const text = headerText(value);
      if (text !== undefined) out[lower] = text;
    }
  }
  out[SHADOW_HEADER] = '1';
  return out;
}

/**
 * Shadow traffic: copies a sampled share of real requests to one or more shadow VIPs (a new version, a
 * rewrite, an instance under profiling) and ignores their answers, so the shadow meets the real load, mix and
 * timing while users are served by the primary alone.
 *
 * Copies leave after the primary's answer is on its way and never delay it: each shadow VIP has a client of
 * its own (balanced, ejecting, no retries unless configured), a bounded number of copies in flight and a
 * bounded queue; copies that do not fit are dropped and counted, never waited for. Every copy carries
 * `x-karyon-shadow: 1` ({@link SHADOW_HEADER}) so the shadow can suppress side effects, and requests that
 * carry it are never copied. Optionally the answers are compared Diffy-style with the primary's (status,
 * chosen headers, JSON bodies), leaving out ignored fields and noise learned from two answers of the current
 * version.
 *
 * Tee server requests with {@link shadowMiddleware} (or the Express and Fastify adapters), client calls
 * with the client's `shadow` option. Every setting is live (`setOptions()`); `enabled: false` is the kill
 * switch. Create with {@link createShadowTraffic}.
 */
export class ShadowTraffic extends EventEmitter<ShadowTrafficEvents> implements ShadowTee, AsyncDisposable {
  readonly #registry: ServiceRegistry;
  readonly #clientOptions: ServiceClientOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #random: () => number;
  // The shadow clients' breakers, apart from the service's: a client of the noise VIP may share its VIP,
  // and so its command name, with one of the service's real clients.
  readonly #commands: CommandRegistry;
  readonly #comparator = new ResponseComparator();
  readonly #targets = new Map<string, ShadowTarget>();
  readonly #retiring = new Set<Promise<void>>();
  readonly #skipped = new Map<string, number>();
  #raw: ShadowSettings;
  #settings: ResolvedShadowSettings;
  #noise: ShadowTarget | undefined;
  #sampled = 0;
  #closing: Promise<void> | undefined;
  /** Marks the requests this shadow traffic observed, so two adapters on one server do not copy twice. */
  readonly #observed = Symbol('karyon.shadow.observed');

  /** Use {@link createShadowTraffic}. */
  constructor(options: ShadowTrafficOptions) {
    super();
    if (typeof options !== 'object' || options === null) invalidOption('shadow', 'an object', options);
    const { registry, client, metrics, clock, logger, random, ...settings } = options;
    if (typeof registry !== 'object' || registry === null || typeof registry.upInstancesByVip !== 'function') {
      invalidOption('shadow.registry', 'a ServiceRegistry', registry);
    }
    if (client !== undefined && (typeof client !== 'object' || client === null)) invalidOption('shadow.client', 'client options', client);
    if (random !== undefined && typeof random !== 'function') invalidOption('shadow.random', 'a function returning [0, 1)', random);
    this.#settings = resolveShadowSettings(settings);
    this.#raw = settings;
    this.#registry = registry;
    this.#clock = clock ?? systemClock;
    this.#logger = logger ?? silentLogger;
    this.#random = random ?? Math.random;
    if (metrics !== undefined) reportTo(this, metrics);
    this.#commands = new CommandRegistry({ group: 'shadow', clock: this.#clock, logger: this.#logger });
    const { shadow: _ignored, ...clientOptions } = (client ?? {}) as ServiceClientOptions;
    // A copy is sent once: a retry would multiply the load on the shadow when it struggles.
    this.#clientOptions = { retries: false, clock: this.#clock, logger: this.#logger, ...clientOptions };
    this.#sync();
  }

  /** False while the kill switch is on (or once closed). */
  get enabled(): boolean {
    return this.#settings.enabled && this.#closing === undefined;
  }

  /**
   * The settings in force, defaults filled in (read by the admin routes and tests).
   * @internal
   */
  get settings(): ResolvedShadowSettings {
    return this.#settings;
  }

  /**
   * Changes settings live (a dynamic configuration binds them here): given fields replace the current ones,
   * `compare` objects are merged. `{ enabled: false }` is the kill switch: teeing stops at once, queued
   * copies are dropped and copies in flight are aborted. Shadow VIPs added get a client, removed ones are
   * closed; lower limits drop the queued copies beyond them.
   *
   * @throws KaryonError `ERR_INVALID_OPTION` for a bad setting; then nothing changes
   */
  setOptions(change: ShadowSettings): void {
    const raw = mergeShadowSettings(this.#raw, change);
    const settings = resolveShadowSettings(raw);
    const wasEnabled = this.#settings.enabled;
    this.#raw = raw;
    this.#settings = settings;
    if (wasEnabled && !settings.enabled) {
      const reason = new KaryonError('ERR_INVALID_STATE', 'shadow traffic was switched off');
      for (const target of this.#targets.values()) target.queue.clear(reason);
      this.#noise?.queue.clear(reason);
      this.#logger.info('shadow traffic switched off');
    } else if (!wasEnabled && settings.enabled) {
      this.#logger.info('shadow traffic switched on');
    }
    this.#sync();
  }

  /** Forgets the noise learned so far (after the primary's version changed, say). */
  resetNoise(): void {
    this.#comparator.resetNoise();
  }

  /**
   * Tees one `node:http` exchange when it is sampled: call it before the handler sees the request (the
   * middlewares do). The request body is copied as the handler reads it; the copy is sent once the response
   * has finished, and the response is captured for comparison without changing what is sent or when.
   */
  observe(req: IncomingMessage, res: ServerResponse): void {
    const settings = this.#settings;
    if (!settings.enabled || this.#closing !== undefined) return;
    const seen = req as unknown as Record<symbol, boolean>;
    if (seen[this.#observed] === true) return;
    seen[this.#observed] = true;
    const method = req.method ?? 'GET';
    // Express strips a router's mount path from `url` and keeps the path the client sent in `originalUrl`.
    const original = (req as { originalUrl?: unknown }).originalUrl;
    const path = typeof original === 'string' ? original : (req.url ?? '/');
    const headers = req.headers;
    if (!this.#admits(settings, method, path, (name) => headers[name], undefined)) return;
    let body: RequestBodyCapture | undefined;
    if (hasBody(headers)) {
      if (Number(headers['content-length']) > settings.maxBodyBytes) {
        this.#skip('body_too_large');
        return;
      }
      // Bytes already read or buffered went past without being seen (a body parser ran first): the copy
      // would be wrong, so there is none.
      if (req.complete || req.readableLength > 0 || req.readableDidRead) {
        this.#skip('body_unavailable');
        return;
      }
      body = new RequestBodyCapture(req, settings.maxBodyBytes);
    }
    const compare = settings.compare;
    const response = compare === undefined ? undefined : new ResponseCapture(res, wantedHeaders(compare.headers), compare.maxBodyBytes);
    const copied = copyHeaders(headers);
    const at = this.#clock.now();
    res.once('finish', () => {
      // node:http dumps what the handler left unread once the response ends: such a body is not whole.
      if (body !== undefined && body.state !== 'complete') {
        this.#skip(body.state === 'too-large' ? 'body_too_large' : 'body_unavailable');
        return;
      }
      this.#submit({
        at,
        method,
        path,
        headers: copied,
        body: body?.bytes(),
        compare,
        primary: response === undefined ? undefined : Promise.resolve(response.result(method)),
        abandonPrimary: undefined,
      });
    });
  }

  /**
   * Tees one client call: `send` makes the primary call, whose outcome is returned as it is; when the call
   * is sampled, a copy follows once it settled. When answers are compared, the response's body is handed
   * over wrapped, so that what the caller reads is kept for the comparison (read or dump it as usual).
   * The service client's `shadow` option calls it for each request.
   */
  teeCall(request: ServiceRequest, send: (request: ServiceRequest) => Promise<ServiceResponse>): Promise<ServiceResponse> {
    const settings = this.#settings;
    if (!settings.enabled || this.#closing !== undefined) return send(request);
    const given = request.method ?? 'GET';
    const path = request.path;
    // A call the client will refuse is not copied: let the client say what is wrong.
    if (typeof given !== 'string' || typeof path !== 'string' || !path.startsWith('/')) return send(request);
    const method = given.toUpperCase();
    const source: Readonly<Record<string, unknown>> = request.headers ?? {};
    if (!this.#admits(settings, method, path, lookupAnyCase(source), request.idempotent)) return send(request);
    let body: string | Buffer | undefined;
    const primaryBody = request.body;
    if (primaryBody !== undefined) {
      if (typeof primaryBody !== 'string' && !(primaryBody instanceof Uint8Array)) {
        // A stream is read once, by the primary call; buffering it first would delay the primary.
        this.#skip('body_unavailable');
        return send(request);
      }
      const size = typeof primaryBody === 'string' ? Buffer.byteLength(primaryBody) : primaryBody.byteLength;
      if (size > settings.maxBodyBytes) {
        this.#skip('body_too_large');
        return send(request);
      }
      // Bytes are copied now: the caller owns the array and may reuse it once the call is over.
      body = typeof primaryBody === 'string' ? primaryBody : Buffer.from(primaryBody);
    }
    const at = this.#clock.now();
    const headers = copyHeaders(source);
    const job = (compare: ResolvedShadowCompareOptions | undefined, primary: Promise<CapturedResponse> | undefined, abandonPrimary?: () => void): ShadowJob => ({
      at,
      method,
      path,
      headers,
      body,
      compare,
      primary,
      abandonPrimary,
    });
    return send(request).then(
      (response) => {
        const compare = this.#settings.compare;
        if (compare === undefined) {
          this.#submit(job(undefined, undefined));
          return response;
        }
        const capturing = new CapturingBody(response.body, compare.maxBodyBytes);
        const status = response.statusCode;
        const captured = pickHeaders(response.headers, wantedHeaders(compare.headers));
        const primary = capturing.captured.then((kept) => ({ status, headers: captured, body: kept }));
        if (!this.#submit(job(compare, primary, () => capturing.abandon()))) return response;
        const wrapped = new ServiceResponse({ statusCode: status, headers: response.headers, body: capturing }, response.instanceId);
        wrapped.tries = response.tries;
        return wrapped;
      },
      (error: unknown) => {
        // The shadow still meets the request (there is just no answer to compare it with), unless the
        // client refused the call itself: closed, or a bad request.
        if (!isKaryonError(error, 'ERR_INVALID_STATE') && !isKaryonError(error, 'ERR_INVALID_OPTION')) this.#submit(job(undefined, undefined));
        throw error;
      },
    );
  }

  /** Counts, settings and the recent differences, as `GET /shadow` answers. */
  report(): ShadowReport {
    const settings = this.#settings;
    const compare = settings.compare;
    const noise = this.#noise;
    return {
      enabled: this.enabled,
      rate: settings.rate,
      targets: [...this.#targets.values()].map((target) => target.report()),
      differences: this.#comparator.differences(),
      sampled: this.#sampled,
      skipped: Object.fromEntries(this.#skipped),
      comparing: compare !== undefined,
      ignored: compare === undefined ? [] : compare.ignore.map((pattern) => pattern.source),
      noise:
        noise === undefined || compare?.noise === undefined
          ? null
          : { vip: noise.vip, rate: compare.noise.rate, sent: noise.sent, failed: noise.failed, dropped: noise.dropped, fields: this.#comparator.noise() },
    };
  }

  /**
   * Stops teeing, drops the queued copies, aborts those in flight and closes the clients. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      const reason = new KaryonError('ERR_INVALID_STATE', 'shadow traffic was closed');
      const targets = [...this.#targets.values()];
      if (this.#noise !== undefined) targets.push(this.#noise);
      for (const target of targets) target.queue.close(reason);
      this.#closing = Promise.all([...targets.map((target) => target.client.close()), ...this.#retiring]).then(() => this.#commands.close());
    }
    return this.#closing;
  }

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Whether a request is copied: never a copy, idempotent unless allowed, on a matching route and headers, sampled. */
  #admits(settings: ResolvedShadowSettings, method: string, path: string, header: HeaderLookup, idempotent: boolean | undefined): boolean {
    const rate = settings.rate;
    if (rate === 0 || (rate < 1 && !(this.#random() < rate))) return false;
    if (header(SHADOW_HEADER) !== undefined) return false;
    if (!(idempotent ?? IDEMPOTENT_METHODS.has(method)) && !settings.allowNonIdempotent) return false;
    if (settings.routes.length > 0) {
      const query = path.indexOf('?');
      const pathname = query < 0 ? path : path.slice(0, query);
      if (!settings.routes.some((route) => routeMatches(route, method, pathname))) return false;
    }
    for (const rule of settings.headers) if (!headerMatches(rule, header(rule.name))) return false;
    this.#sampled++;
    return true;
  }

  #skip(reason: string): void {
    this.#skipped.set(reason, (this.#skipped.get(reason) ?? 0) + 1);
    this.emit('skip', { reason });
  }

  /** Queues the copies of one request; false when no shadow VIP took it. */
  #submit(job: ShadowJob): boolean {
    const settings = this.#settings;
    // The kill switch may have been thrown while the primary was being answered.
    if (!settings.enabled || this.#closing !== undefined) return false;
    const noise = this.#noise;
    const rate = job.compare?.noise?.rate;
    if (noise !== undefined && job.primary !== undefined && rate !== undefined && this.#random() < rate) {
      job.secondary = this.#offerSecondary(noise, job);
    }
    let accepted = false;
    for (const target of this.#targets.values()) {
      const taken = target.queue.offer({ run: (signal) => this.#copy(target, job, signal), drop: () => this.#dropped(target) });
      if (taken) accepted = true;
      else this.#dropped(target);
    }
    return accepted;
  }

  #dropped(target: ShadowTarget): void {
    target.dropped++;
    this.#copied(target.vip, 'dropped');
  }

  /** Sends one copy, then compares its answer when asked to. Never rejects. */
  async #copy(target: ShadowTarget, job: ShadowJob, signal: AbortSignal): Promise<void> {
    const vip = target.vip;
    target.sent++;
    this.#copied(vip, 'sent');
    const started = this.#clock.now();
    let response: ServiceResponse;
    try {
      response = await target.client.request(copyRequest(job, signal));
    } catch (error) {
      this.#failed(target, signal, error);
      return;
    }
    if (this.listenerCount('answer') !== 0) this.emit('answer', { vip, durationMs: this.#clock.now() - started });
    const compare = job.compare;
    if (compare === undefined || job.primary === undefined) {
      await response.body.dump().catch(noop);
      return;
    }
    let body: Buffer | undefined;
    try {
      body = await readCapped(response.body, compare.maxBodyBytes, response.headers);
    } catch (error) {
      if (signal.aborted) {
        this.#failed(target, signal, error);
        return;
      }
      body = undefined; // the answer came; its body broke off: compare the rest
    }
    const shadow: CapturedResponse = { status: response.statusCode, headers: pickHeaders(response.headers, wantedHeaders(compare.headers)), body };
    try {
      await this.#compare(target, job, shadow, compare, signal);
    } catch (error) {
      // A comparison is an observation: whatever goes wrong in it stays here.
      this.#logger.warn('shadow comparison failed', { vip, error: errorMessage(error) });
    }
  }

  #copied(vip: string, outcome: ShadowCopyOutcome): void {
    if (this.listenerCount('copy') !== 0) this.emit('copy', { vip, outcome });
  }

  #failed(target: ShadowTarget, signal: AbortSignal, error: unknown): void {
    if (signal.aborted) {
      target.aborted++;
      this.#copied(target.vip, 'aborted');
      return;
    }
    target.failed++;
    this.#copied(target.vip, 'failed');
    this.#logger.debug('shadow copy got no answer', { vip: target.vip, error: errorMessage(error) });
  }

  async #compare(target: ShadowTarget, job: ShadowJob, shadow: CapturedResponse, compare: ResolvedShadowCompareOptions, signal: AbortSignal): Promise<void> {
    const limit = compare.maxBodyBytes;
    job.prepared ??= this.#awaitPrimary(job, compare, signal).then((primary) => (primary === undefined ? undefined : prepareResponse(primary, limit)));
    const primary = await job.prepared;
    if (primary === undefined || signal.aborted) return;
    const secondary = job.secondary;
    if (secondary !== undefined) {
      job.learned ??= secondary.then(async (answer) => {
        if (answer !== undefined) this.#comparator.learn(primary, await prepareResponse(answer, limit), compare);
      });
      await job.learned;
    }
    // Ignored fields and headers as they are now: an operator who just ignored a field wants it gone at once.
    const current = this.#settings.compare ?? compare;
    const prepared = await prepareResponse(shadow, limit);
    const fields = this.#comparator.compare(primary, prepared, current);
    target.compared++;
    if (fields.length === 0) {
      target.matches++;
      this.emit('comparison', { vip: target.vip, result: 'match' });
      return;
    }
    target.mismatches++;
    this.emit('comparison', { vip: target.vip, result: 'mismatch' });
    this.#comparator.record(
      { at: job.at, vip: target.vip, method: job.method, path: job.path, primary: viewOf(primary, current.headers), shadow: viewOf(prepared, current.headers), fields },
      current.maxDifferences,
    );
  }

  /** The primary's answer; a client-side caller gets `primaryWaitMs` to finish reading its body. */
  #awaitPrimary(job: ShadowJob, compare: ResolvedShadowCompareOptions, signal: AbortSignal): Promise<CapturedResponse | undefined> {
    const primary = job.primary;
    const abandon = job.abandonPrimary;
    if (primary === undefined) return Promise.resolve(undefined);
    if (abandon === undefined) return primary;
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(abandon, compare.primaryWaitMs).unref();
      const onAbort = (): void => {
        timer.clear();
        resolve(undefined);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void primary.then((answer) => {
        timer.clear();
        signal.removeEventListener('abort', onAbort);
        resolve(answer);
      });
    });
  }

  /** Sends the request once more to the current version, for noise; resolves with its answer or undefined. */
  #offerSecondary(noise: ShadowTarget, job: ShadowJob): Promise<CapturedResponse | undefined> {
    const compare = job.compare as ResolvedShadowCompareOptions;
    return new Promise((resolve) => {
      const taken = noise.queue.offer({
        run: async (signal) => {
          noise.sent++;
          try {
            const response = await noise.client.request(copyRequest(job, signal));
            const body = await readCapped(response.body, compare.maxBodyBytes, response.headers);
            resolve({ status: response.statusCode, headers: pickHeaders(response.headers, wantedHeaders(compare.headers)), body });
          } catch (error) {
            if (signal.aborted) noise.aborted++;
            else noise.failed++;
            this.#logger.debug('second request for noise got no answer', { vip: noise.vip, error: errorMessage(error) });
            resolve(undefined);
          }
        },
        drop: () => {
          noise.dropped++;
          resolve(undefined);
        },
      });
      if (!taken) {
        noise.dropped++;
        resolve(undefined);
      }
    });
  }

  /** Makes the shadow VIPs and the noise VIP follow the settings. */
  #sync(): void {
    if (this.#closing !== undefined) return;
    const settings = this.#settings;
    const limits = (): ResolvedShadowSettings => this.#settings;
    const wanted = new Set(settings.vips);
    for (const [vip, target] of this.#targets) {
      if (wanted.has(vip)) continue;
      this.#targets.delete(vip);
      this.#retire(target, 'the shadow VIP was removed');
    }
    for (const vip of settings.vips) {
      if (!this.#targets.has(vip)) this.#targets.set(vip, new ShadowTarget(vip, this.#client(vip), limits));
    }
    const noiseVip = settings.compare?.noise?.vip;
    if (this.#noise !== undefined && this.#noise.vip !== noiseVip) {
      this.#retire(this.#noise, 'the noise VIP changed');
      this.#noise = undefined;
    }
    if (noiseVip !== undefined && this.#noise === undefined) this.#noise = new ShadowTarget(noiseVip, this.#client(noiseVip), limits);
    // Lower limits drop the queued copies beyond them (each drop is counted by its task).
    for (const target of this.#targets.values()) target.queue.trim();
    this.#noise?.queue.trim();
  }

  #client(vip: string): ServiceClient {
    // With a breaker (unless `client.breaker` is false), a dead shadow costs no connection attempt per copy
    // once its circuit opens: short-circuited copies fail at once and are counted as failed.
    return createServiceClient({ ...this.#clientOptions, registry: this.#registry, vip, commands: this.#commands });
  }

  #retire(target: ShadowTarget, why: string): void {
    target.queue.close(new KaryonError('ERR_INVALID_STATE', why));
    const closing = target.client.close().catch(noop);
    this.#retiring.add(closing);
    void closing.then(() => this.#retiring.delete(closing));
  }
}

/**
 * Creates shadow traffic to `vip`, found in `registry`.
 *
 * @throws KaryonError `ERR_INVALID_OPTION` naming a wrong option
 * @example
 * ```ts
 * const shadow = createShadowTraffic({
 *   registry: service.registry,
 *   vip: 'greeter-next',
 *   rate: 0.2,
 *   compare: { ignore: ['body.servedAt'], noise: { vip: 'greeter' } },
 * });
 * bindShadowMetrics(shadow, shadowMetrics(service.metrics));             // karyon-ts/extend
 * const server = createServer(shadowMiddleware(shadow)(handler)); // or: service.client('greeter', { shadow })
 * shadow.setOptions({ enabled: false });                            // the kill switch
 * ```
 */
export function createShadowTraffic(options: ShadowTrafficOptions): ShadowTraffic {
  return new ShadowTraffic(options);
}

/** The deprecated `metrics` option: the shadow's own events, reported to the sink given. */
function reportTo(shadow: ShadowTraffic, metrics: ShadowMetrics): void {
  shadow.on('copy', (e) => metrics.copy(e.vip, e.outcome));
  shadow.on('answer', (e) => metrics.latency(e.vip, e.durationMs));
  shadow.on('skip', (e) => metrics.skipped(e.reason));
  shadow.on('comparison', (e) => metrics.comparison(e.vip, e.result));
}
