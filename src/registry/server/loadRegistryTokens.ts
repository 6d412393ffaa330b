import { readFileSync } from 'node:fs';
import { KaryonError } from '../../common/KaryonError.js';

/** Where {@link loadRegistryTokens} looks for the development Eureka server's tokens. */
export interface RegistryTokenSources {
  /** A JSON file of owner tokens by application: `{ "GREETER": "token", "BILLING": "token" }`. */
  readonly ownerTokensFile?: string;
  /** A file holding the read token (surrounding white space is ignored). */
  readonly readTokenFile?: string;
  /**
   * The environment to read when a file is not given: `KARYON_REGISTRY_TOKENS_FILE` (a file as above) or
   * `KARYON_REGISTRY_TOKENS` (the JSON itself); `KARYON_REGISTRY_READ_TOKEN_FILE` or `KARYON_REGISTRY_READ_TOKEN`.
   * Pass `process.env` explicitly: the library reads no environment of its own accord.
   * @default {}
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Tokens for `new EurekaServer({ ...tokens })`. */
export interface RegistryTokens {
  /** Owner tokens by application, when a source gave some. */
  readonly ownerTokens?: Readonly<Record<string, string>>;
  /** The read token, when a source gave one. */
  readonly readToken?: string;
}

/**
 * Reads the development Eureka server's owner tokens and read token from files or the environment. Absent
 * sources give absent fields; the server checks the values when it is made.
 *
 * @throws KaryonError `ERR_INVALID_CONFIG` naming the file or variable that cannot be read or is not a JSON object
 * of strings (the message never shows a token).
 * @example
 * ```ts
 * const eureka = new EurekaServer({ port: 8761, ...loadRegistryTokens({ env: process.env }) });
 * ```
 */
export function loadRegistryTokens(sources: RegistryTokenSources = {}): RegistryTokens {
  const env = sources.env ?? {};
  const ownersFile = sources.ownerTokensFile ?? nonEmpty(env.KARYON_REGISTRY_TOKENS_FILE);
  const readFile = sources.readTokenFile ?? nonEmpty(env.KARYON_REGISTRY_READ_TOKEN_FILE);
  let ownerTokens: Record<string, string> | undefined;
  if (ownersFile !== undefined) {
    ownerTokens = parseOwners(read(ownersFile, 'owner token file'), `owner token file ${ownersFile}`);
  } else if (nonEmpty(env.KARYON_REGISTRY_TOKENS) !== undefined) {
    ownerTokens = parseOwners(env.KARYON_REGISTRY_TOKENS as string, 'KARYON_REGISTRY_TOKENS');
  }
  let readToken: string | undefined;
  if (readFile !== undefined) {
    readToken = read(readFile, 'read token file').trim();
    if (readToken === '') throw new KaryonError('ERR_INVALID_CONFIG', `read token file ${readFile} is empty`);
  } else {
    readToken = nonEmpty(env.KARYON_REGISTRY_READ_TOKEN)?.trim();
  }
  return {
    ...(ownerTokens === undefined ? {} : { ownerTokens: Object.freeze(ownerTokens) }),
    ...(readToken === undefined ? {} : { readToken }),
  };
}

function read(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new KaryonError('ERR_INVALID_CONFIG', `${what} ${file} could not be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      cause: error,
    });
  }
}

function parseOwners(text: string, source: string): Record<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    // V8's message quotes the text around the mistake, which could be part of a token: tell the position only.
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    throw new KaryonError('ERR_INVALID_CONFIG', `${source} is not valid JSON${position === undefined ? '' : ` (at character ${position})`}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new KaryonError('ERR_INVALID_CONFIG', `${source} must hold a JSON object of application name to token, as {"GREETER": "..."}`);
  }
  const owners: Record<string, string> = {};
  for (const [app, token] of Object.entries(value)) {
    if (typeof token !== 'string') throw new KaryonError('ERR_INVALID_CONFIG', `${source}: the token of ${app} must be a string (got ${typeof token})`);
    owners[app] = token;
  }
  return owners;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
