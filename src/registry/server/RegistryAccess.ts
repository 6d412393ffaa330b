import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { KaryonError } from '../../common/KaryonError.js';
import { HttpError } from '../../internal/http.js';

/** The header every token-checking registry accepts, besides the configured one. */
export const registryTokenHeader = 'x-karyon-registry-token';

/** What {@link RegistryAccess} is built from (the token options of the development Eureka server). */
export interface RegistryAccessSettings {
  /** Owner token by application name (any case). */
  readonly ownerTokens: Readonly<Record<string, string>> | undefined;
  /** The token reads need, or undefined for open reads. */
  readonly readToken: string | undefined;
  /** The header carrying the token (lower case); `authorization` carries `Bearer <token>`. */
  readonly tokenHeader: string;
  /** Whether applications without an owner token may be written by anyone. */
  readonly allowUnlistedApps: boolean;
}

/**
 * Who may write and read the development Eureka server. With owner tokens, a write to an application
 * (register, renew, status, metadata, cancel) needs that application's token; reads need the read token or any
 * owner token when a read token is set. Tokens are held as SHA-256 digests in private fields and compared in
 * constant time; refusals are HTTP errors with a reason that never shows a token.
 */
export class RegistryAccess {
  readonly #owners: ReadonlyMap<string, Buffer>;
  readonly #read: Buffer | undefined;
  readonly #header: string;
  readonly #allowUnlisted: boolean;

  /**
   * @param settings - checked settings (the server's resolved options)
   */
  constructor(settings: RegistryAccessSettings) {
    this.#owners = new Map(Object.entries(settings.ownerTokens ?? {}).map(([app, token]) => [app.toUpperCase(), digest(token)]));
    this.#read = settings.readToken === undefined ? undefined : digest(settings.readToken);
    this.#header = settings.tokenHeader;
    this.#allowUnlisted = settings.allowUnlistedApps;
  }

  /** True when writes are checked (owner tokens are configured). */
  get checksWrites(): boolean {
    return this.#owners.size > 0;
  }

  /** True when reads are checked (a read token is configured). */
  get checksReads(): boolean {
    return this.#read !== undefined;
  }

  /** The applications that have an owner token, upper case, sorted (never their tokens). */
  get ownedApps(): readonly string[] {
    return [...this.#owners.keys()].sort();
  }

  /** The configured token header, lower case. */
  get tokenHeader(): string {
    return this.#header;
  }

  /**
   * Checks that a request may write `app` (upper case).
   * @throws HttpError 401 without a token, 403 with a token that does not own `app` or for an unlisted app.
   */
  authorizeWrite(headers: IncomingHttpHeaders, app: string): void {
    if (this.#owners.size === 0) return;
    const owner = this.#owners.get(app);
    if (owner === undefined) {
      if (this.#allowUnlisted) return;
      throw new HttpError(403, `application ${app} has no owner token on this registry, so no one may write it: ask the registry's operator to add one`);
    }
    const presented = this.#presented(headers);
    if (presented === undefined) throw this.#missing(`the owner token of application ${app}`);
    if (!timingSafeEqual(presented, owner)) {
      throw new HttpError(403, `the token presented is not the owner token of application ${app}: only ${app}'s owner may register, renew, change or cancel its instances`);
    }
  }

  /**
   * Checks that a request may read the registry: always, unless a read token is set; then the read token or
   * any owner token.
   * @throws HttpError 401 without a token, 403 with a token that is neither.
   */
  authorizeRead(headers: IncomingHttpHeaders): void {
    if (this.#read === undefined) return;
    const presented = this.#presented(headers);
    if (presented === undefined) throw this.#missing('the read token or an owner token');
    let ok = timingSafeEqual(presented, this.#read);
    // Every digest is compared, whatever matched: the time says nothing of which token this is.
    for (const owner of this.#owners.values()) ok = timingSafeEqual(presented, owner) || ok;
    if (!ok) throw new HttpError(403, 'the token presented is neither the read token nor an owner token of this registry');
  }

  /** The digest of the token a request carries: the configured header first, then X-Karyon-Registry-Token. */
  #presented(headers: IncomingHttpHeaders): Buffer | undefined {
    const token = tokenIn(headers[this.#header], this.#header === 'authorization') ?? tokenIn(headers[registryTokenHeader], false);
    return token === undefined ? undefined : digest(token);
  }

  #missing(what: string): HttpError {
    const how = this.#header === 'authorization' ? 'Authorization: Bearer <token>' : `${this.#header}: <token>`;
    return new HttpError(401, `missing registry token: send ${what} as ${how} or X-Karyon-Registry-Token: <token>`, {
      'www-authenticate': 'Bearer realm="karyon-registry"',
    });
  }
}

/** The token of a header value; for `authorization`, only a Bearer credential counts (Basic is someone else's). */
function tokenIn(value: string | string[] | undefined, bearer: boolean): string | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || text === '') return undefined;
  if (!bearer) return text;
  const match = /^Bearer\s+(.+)$/i.exec(text);
  return match?.[1]?.trim();
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

const headerName = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
/** Printable ASCII without spaces: what survives every header parser intact. */
const tokenPattern = /^[\x21-\x7e]+$/;

/**
 * Checks the token settings of the development Eureka server. Messages name the option and never show a token.
 * @throws KaryonError `ERR_INVALID_OPTION`
 */
export function resolveRegistryAccess(options: {
  readonly ownerTokens?: unknown;
  readonly readToken?: unknown;
  readonly tokenHeader?: unknown;
  readonly allowUnlistedApps?: unknown;
}): RegistryAccess {
  let ownerTokens: Record<string, string> | undefined;
  if (options.ownerTokens !== undefined) {
    const value = options.ownerTokens;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw invalid('ownerTokens', 'an object of application name to token', Array.isArray(value) ? 'an array' : typeof value);
    }
    ownerTokens = {};
    const digests = new Map<string, string>();
    for (const [app, token] of Object.entries(value)) {
      const name = app.toUpperCase();
      if (!/^[A-Z0-9][A-Z0-9._-]*$/.test(name)) throw invalid('ownerTokens', "application names of letters, digits, '.', '_' or '-'", JSON.stringify(app));
      if (name in ownerTokens) throw invalid(`ownerTokens.${app}`, 'the only entry of its application (names are case-insensitive)', `a second entry for ${name}`);
      checkToken(`ownerTokens.${app}`, token);
      const hex = digest(token as string).toString('hex');
      const other = digests.get(hex);
      if (other !== undefined) throw invalid(`ownerTokens.${app}`, `a token of its own (it repeats the token of ${other})`, 'a repeated token');
      digests.set(hex, name);
      ownerTokens[name] = token as string;
    }
  }
  if (options.readToken !== undefined) {
    checkToken('readToken', options.readToken);
    const hex = digest(options.readToken as string).toString('hex');
    if (Object.values(ownerTokens ?? {}).some((token) => digest(token).toString('hex') === hex)) {
      throw invalid('readToken', 'different from every owner token', 'a repeated token');
    }
  }
  const tokenHeader = options.tokenHeader ?? 'authorization';
  if (typeof tokenHeader !== 'string' || !headerName.test(tokenHeader.toLowerCase())) {
    throw invalid('tokenHeader', 'an HTTP header name', typeof tokenHeader === 'string' ? JSON.stringify(tokenHeader) : typeof tokenHeader);
  }
  const allow = options.allowUnlistedApps ?? false;
  if (typeof allow !== 'boolean') throw invalid('allowUnlistedApps', 'true or false', typeof allow);
  return new RegistryAccess({
    ownerTokens,
    readToken: options.readToken as string | undefined,
    tokenHeader: tokenHeader.toLowerCase(),
    allowUnlistedApps: allow,
  });
}

function checkToken(name: string, token: unknown): void {
  if (typeof token !== 'string' || !tokenPattern.test(token)) {
    // Never echo a token: its length is enough to find the mistake.
    throw invalid(name, 'printable ASCII without spaces', typeof token === 'string' ? `a string of ${token.length} characters` : typeof token);
  }
}

function invalid(name: string, expected: string, given: string): KaryonError {
  return new KaryonError('ERR_INVALID_OPTION', `option '${name}' must be ${expected} (got ${given})`);
}
