// The admin API as the page calls it. Every request is relative to the page (so the console also works behind
// a reverse proxy under a path prefix) and carries the operator's token, when one was given, as a bearer token:
// reads too, since an instance may protect them. The token lives in this tab's session storage, never in a URL.

const TOKEN_KEY = 'karyon-admin-token';
const TIMEOUT_MS = 8000;

/** A request that did not get an answer it could use. `kind` says what the page should do about it. */
export class ApiError extends Error {
  /**
   * @param {'network' | 'unauthorized' | 'forbidden' | 'not-found' | 'rate-limited' | 'http'} kind
   * @param {number} status the HTTP status, 0 when there was no answer
   * @param {string} message the service's reason, or what went wrong
   */
  constructor(kind, status, message) {
    super(message);
    this.name = 'ApiError';
    this.kind = kind;
    this.status = status;
  }
}

/** Tokens are sent in a header: visible ASCII only, so a typo cannot turn into a confusing network error. */
export function tokenProblem(token) {
  if (token === '') return 'Type the token.';
  if (!/^[\x21-\x7e]+$/.test(token)) return 'A token is made of visible ASCII characters, without spaces.';
  return undefined;
}

/** The admin API client of the page. */
export class AdminApi {
  #token = '';
  #listeners = new Set();
  #base;

  constructor(base = document.baseURI) {
    this.#base = base;
    try {
      this.#token = sessionStorage.getItem(TOKEN_KEY) ?? '';
    } catch {
      // Storage may be disabled: the token then lasts as long as the page.
    }
  }

  /** True when the operator gave a token. */
  get hasToken() {
    return this.#token !== '';
  }

  /** The token to send from now on; '' forgets it. */
  setToken(token) {
    this.#token = token;
    try {
      if (token === '') sessionStorage.removeItem(TOKEN_KEY);
      else sessionStorage.setItem(TOKEN_KEY, token);
    } catch {
      // See the constructor.
    }
  }

  /** The absolute URL of an API path. */
  url(path) {
    return new URL(path, this.#base).href;
  }

  /** Calls `listener(reachable, error)` after every request that got an answer (true) or none (false). */
  onReachability(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The headers every request carries. */
  headers(extra = {}) {
    const headers = { ...extra };
    if (this.#token !== '') headers.authorization = `Bearer ${this.#token}`;
    return headers;
  }

  /**
   * Calls the API. Resolves with `{ status, data }` (`data` parsed as JSON, or the text with `as: 'text'`) when
   * the status is one of `ok`; rejects with an {@link ApiError} otherwise.
   */
  async request(method, path, { body, ok = [200], as = 'json', signal } = {}) {
    const timeout = AbortSignal.timeout(TIMEOUT_MS);
    const init = {
      method,
      headers: this.headers({ accept: as === 'text' ? 'text/plain, */*' : 'application/json' }),
      cache: 'no-store',
      credentials: 'omit',
      signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
    };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers['content-type'] = 'application/json';
    }
    let response;
    let text;
    try {
      response = await fetch(this.url(path), init);
      text = await response.text();
    } catch (error) {
      if (signal?.aborted) throw error;
      const why = timeout.aborted ? `no answer within ${TIMEOUT_MS / 1000} s` : 'the connection failed';
      this.#tell(false, error);
      throw new ApiError('network', 0, `cannot reach the service (${why})`);
    }
    this.#tell(true);
    let parsed;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (ok.includes(response.status)) return { status: response.status, data: as === 'text' ? text : parsed };
    const reason =
      (parsed !== null && typeof parsed === 'object' && typeof parsed.error === 'string' ? parsed.error : text.slice(0, 300).trim()) ||
      response.statusText ||
      `HTTP ${response.status}`;
    throw new ApiError(kindOf(response.status), response.status, reason);
  }

  #tell(reachable, error) {
    for (const listener of this.#listeners) listener(reachable, error);
  }
}

function kindOf(status) {
  switch (status) {
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not-found';
    case 429:
      return 'rate-limited';
    default:
      return 'http';
  }
}
