import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KaryonError } from '../common/KaryonError.js';

/** The admin roles, weakest first: each role can do what the roles before it can. */
export const adminRoles = ['read', 'operate'] as const;

/**
 * What a token lets its holder do on the admin port. `read`: every read route (masked values stay masked);
 * `operate`: reads, and the mutations (status, breakers, configuration overrides, reloads).
 */
export type AdminRole = (typeof adminRoles)[number];

/** One named admin token. */
export interface AdminTokenOptions {
  /** Who holds the token, as the audit log names them: letters, digits, `.`, `_`, `-` (not `loopback` or `anonymous`). */
  readonly name: string;
  /** The secret, sent as `Authorization: Bearer <token>`: printable ASCII without spaces. */
  readonly token: string;
  /** What the token may do. */
  readonly role: AdminRole;
}

/** A request's identity once its credentials were checked. */
export interface AdminPrincipal {
  /** The token's name, `loopback` (no tokens configured, loopback caller) or `anonymous`. */
  readonly actor: string;
  /** The role the request acts with; undefined for `anonymous`. */
  readonly role: AdminRole | undefined;
}

/**
 * What {@link AdminTokenSet.identify} made of an `Authorization` header: none, not a bearer token, a token that
 * matches none, or the principal of the token that matched.
 */
export type AdminTokenCheck =
  | {
      /** No credentials at all. */
      readonly kind: 'missing';
    }
  | {
      /** Credentials, but not `Bearer <token>`. */
      readonly kind: 'malformed';
    }
  | {
      /** A bearer token that matches no configured token. */
      readonly kind: 'wrong';
    }
  | {
      /** A configured token. */
      readonly kind: 'valid';
      /** Its name and role. */
      readonly principal: AdminPrincipal;
    };

/** A token's holder as it may be shown: its name and role, never the token. */
export interface AdminTokenHolder {
  /** The token's name. */
  readonly name: string;
  /** The token's role. */
  readonly role: AdminRole;
}

/** Names the audit log uses for callers without a token; a token may not take them. */
const reservedNames = new Set(['loopback', 'anonymous']);
const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** RFC 6750 allows more, but printable ASCII without spaces is what survives every header parser intact. */
const tokenPattern = /^[\x21-\x7e]+$/;

interface Entry {
  readonly name: string;
  readonly role: AdminRole;
  readonly digest: Buffer;
}

/**
 * The configured admin tokens, kept only as SHA-256 digests in private fields (so neither `JSON.stringify` nor
 * `util.inspect` shows them: a digest of a weak token can be guessed offline). A presented token is hashed and compared with every
 * digest in constant time (no early exit), so neither the length nor the prefix of a token, nor which one
 * matched, shows in the answer time.
 */
export class AdminTokenSet {
  readonly #entries: readonly Entry[];

  /**
   * @param tokens - checked tokens (use {@link resolveAdminTokens} to check them)
   */
  constructor(tokens: readonly AdminTokenOptions[]) {
    this.#entries = Object.freeze(tokens.map(({ name, role, token }) => Object.freeze({ name, role, digest: digest(token) })));
  }

  /** How many tokens are configured. */
  get size(): number {
    return this.#entries.length;
  }

  /** The name and role of each token (never the token). */
  get holders(): readonly AdminTokenHolder[] {
    return this.#entries.map(({ name, role }) => ({ name, role }));
  }

  /** Checks an `Authorization` header value. */
  identify(authorization: string | undefined): AdminTokenCheck {
    if (authorization === undefined || authorization.trim() === '') return { kind: 'missing' };
    const match = /^Bearer\s+(.+)$/i.exec(authorization);
    if (match?.[1] === undefined) return { kind: 'malformed' };
    const presented = digest(match[1].trim());
    let found: Entry | undefined;
    for (const entry of this.#entries) {
      // Every digest is compared, whatever matched before.
      if (timingSafeEqual(presented, entry.digest) && found === undefined) found = entry;
    }
    return found === undefined ? { kind: 'wrong' } : { kind: 'valid', principal: { actor: found.name, role: found.role } };
  }
}

/**
 * Checks admin tokens: names unique and well formed, tokens unique and sendable in a header, roles known.
 * Messages name the option and never show a token.
 * @throws KaryonError `ERR_INVALID_OPTION` naming what was wrong.
 */
export function resolveAdminTokens(option: string, value: unknown): AdminTokenOptions[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid(option, 'an array of { name, token, role }', describeShape(value));
  const names = new Set<string>();
  const digests = new Set<string>();
  return (value as unknown[]).map((raw, index) => {
    const at = `${option}[${index}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid(at, 'an object { name, token, role }', describeShape(raw));
    const { name, token, role, ...rest } = raw as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) throw invalid(at, 'an object with only name, token and role', `a field ${JSON.stringify(extra)}`);
    if (typeof name !== 'string' || !namePattern.test(name)) {
      throw invalid(`${at}.name`, "letters, digits, '.', '_' or '-' (up to 64)", typeof name === 'string' ? JSON.stringify(name) : describeShape(name));
    }
    if (reservedNames.has(name.toLowerCase())) throw invalid(`${at}.name`, `a name other than ${[...reservedNames].map((n) => `'${n}'`).join(' and ')}`, JSON.stringify(name));
    if (names.has(name)) throw invalid(`${at}.name`, 'unique among the tokens', `a second ${JSON.stringify(name)}`);
    if (typeof token !== 'string' || !tokenPattern.test(token)) {
      // Never echo the token: its length says enough to find the mistake.
      throw invalid(`${at}.token`, 'printable ASCII without spaces', typeof token === 'string' ? `a string of ${token.length} characters` : describeShape(token));
    }
    const hex = digest(token).toString('hex');
    if (digests.has(hex)) throw invalid(`${at}.token`, 'unique: two names share this token, so the audit log could not tell them apart', 'a repeated token');
    if (role !== 'read' && role !== 'operate') throw invalid(`${at}.role`, "'read' or 'operate'", typeof role === 'string' ? JSON.stringify(role) : describeShape(role));
    names.add(name);
    digests.add(hex);
    return Object.freeze({ name, token, role });
  });
}

/** Where {@link loadAdminTokens} looks for tokens. */
export interface AdminTokenSources {
  /** A JSON file holding `[{ "name": ..., "token": ..., "role": "read" | "operate" }, ...]`; read first when given. */
  readonly file?: string;
  /**
   * The environment to read `KARYON_ADMIN_TOKENS_FILE` (a file as above) or `KARYON_ADMIN_TOKENS` (the JSON
   * itself) from, when `file` is not given. Pass `process.env` explicitly: the library reads no environment of
   * its own accord.
   * @default {}
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Reads admin tokens from a file or the environment, for `createService({ admin: { tokens } })`. Returns an
 * empty array when no source is set.
 *
 * @throws KaryonError `ERR_INVALID_CONFIG` naming the file or variable when it cannot be read or is not a valid
 * token list (the message never shows a token).
 * @example
 * ```ts
 * const tokens = loadAdminTokens({ env: process.env }); // KARYON_ADMIN_TOKENS_FILE=/run/secrets/admin-tokens.json
 * createService({ name: 'greeter', admin: { port: 8077, tokens } });
 * ```
 */
export function loadAdminTokens(sources: AdminTokenSources = {}): AdminTokenOptions[] {
  const env = sources.env ?? {};
  const file = sources.file ?? nonEmpty(env.KARYON_ADMIN_TOKENS_FILE);
  let text: string;
  let source: string;
  if (file !== undefined) {
    source = `admin token file ${file}`;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new KaryonError('ERR_INVALID_CONFIG', `${source} could not be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
    }
  } else {
    const inline = nonEmpty(env.KARYON_ADMIN_TOKENS);
    if (inline === undefined) return [];
    source = 'KARYON_ADMIN_TOKENS';
    text = inline;
  }
  const parsed = parseSecretJson(text, source);
  try {
    return resolveAdminTokens(source, parsed);
  } catch (error) {
    throw new KaryonError('ERR_INVALID_CONFIG', (error as Error).message.replace(/^option /, ''), { cause: error });
  }
}

/**
 * Parses JSON that holds secrets. V8's own message quotes the text around the mistake, which could be part of a
 * token, so only the position is told.
 */
function parseSecretJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new KaryonError('ERR_INVALID_CONFIG', `${source} is not valid JSON${position === undefined ? '' : ` (at character ${position})`}`);
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function invalid(name: string, expected: string, given: string): KaryonError {
  return new KaryonError('ERR_INVALID_OPTION', `option '${name}' must be ${expected} (got ${given})`);
}

/** The kind of a value, never the value itself (it may be a secret). */
function describeShape(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  return typeof value === 'object' ? 'an object' : typeof value;
}
