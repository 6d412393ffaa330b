import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { HttpError } from '../../src/internal/http.js';
import { resolveEurekaRegistryOptions } from '../../src/registry/eureka/EurekaRegistryOptions.js';
import { loadRegistryTokens } from 'karyon-ts/testing';
import { resolveEurekaServerOptions } from '../../src/registry/server/EurekaServerOptions.js';
import { resolveRegistryAccess } from '../../src/registry/server/RegistryAccess.js';

// Owner tokens of the development Eureka server and the token of our Eureka client, without sockets.

const dir = mkdtempSync(join(tmpdir(), 'karyon-registry-tokens-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const teamA = 'team-a-0123456789abcdef';
const teamB = 'team-b-0123456789abcdef';
const reader = 'reader-0123456789abcdef';

function refusal(fn: () => void): { status: number; message: string; headers: Readonly<Record<string, string>> } | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    return { status: error.status, message: error.message, headers: error.headers };
  }
}

function thrown(fn: () => unknown): { code: unknown; message: string } {
  try {
    fn();
  } catch (error) {
    return { code: (error as { code?: unknown }).code, message: (error as Error).message };
  }
  throw new Error('expected a throw');
}

describe('RegistryAccess', () => {
  const access = resolveRegistryAccess({ ownerTokens: { greeter: teamA, Billing: teamB } });

  it('lets only the owner write its application: 401 without a token, 403 with another', () => {
    expect(refusal(() => access.authorizeWrite({ authorization: `Bearer ${teamA}` }, 'GREETER'))).toBeUndefined();
    expect(refusal(() => access.authorizeWrite({ 'x-karyon-registry-token': teamB }, 'BILLING'))).toBeUndefined();
    const missing = refusal(() => access.authorizeWrite({}, 'GREETER'));
    expect(missing).toMatchObject({ status: 401, message: expect.stringMatching(/missing registry token: send the owner token of application GREETER as Authorization: Bearer/) });
    expect(missing?.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(refusal(() => access.authorizeWrite({ authorization: `Bearer ${teamB}` }, 'GREETER'))).toMatchObject({
      status: 403,
      message: expect.stringMatching(/not the owner token of application GREETER/),
    });
    expect(refusal(() => access.authorizeWrite({ authorization: `Bearer ${teamA.slice(0, 10)}` }, 'GREETER'))?.status).toBe(403);
    // Basic credentials are someone else's (a URL's user:password), not a registry token.
    expect(refusal(() => access.authorizeWrite({ authorization: `Basic ${teamA}` }, 'GREETER'))?.status).toBe(401);
    expect(refusal(() => access.authorizeWrite({ authorization: 'Basic eDp5', 'x-karyon-registry-token': teamA }, 'GREETER'))).toBeUndefined();
  });

  it('refuses writes to an application without an owner token, unless told to let them through', () => {
    expect(refusal(() => access.authorizeWrite({ authorization: `Bearer ${teamA}` }, 'INTRUDER'))).toMatchObject({
      status: 403,
      message: expect.stringMatching(/application INTRUDER has no owner token/),
    });
    const lenient = resolveRegistryAccess({ ownerTokens: { greeter: teamA }, allowUnlistedApps: true });
    expect(refusal(() => lenient.authorizeWrite({}, 'INTRUDER'))).toBeUndefined();
    expect(refusal(() => lenient.authorizeWrite({}, 'GREETER'))?.status).toBe(401);
  });

  it('checks nothing without tokens, and reads only with a read token', () => {
    const open = resolveRegistryAccess({});
    expect([open.checksWrites, open.checksReads]).toEqual([false, false]);
    expect(refusal(() => open.authorizeWrite({}, 'ANY'))).toBeUndefined();
    expect(refusal(() => access.authorizeRead({}))).toBeUndefined();
    const guarded = resolveRegistryAccess({ ownerTokens: { greeter: teamA }, readToken: reader });
    expect(refusal(() => guarded.authorizeRead({ authorization: `Bearer ${reader}` }))).toBeUndefined();
    expect(refusal(() => guarded.authorizeRead({ authorization: `Bearer ${teamA}` }))).toBeUndefined();
    expect(refusal(() => guarded.authorizeRead({}))?.status).toBe(401);
    expect(refusal(() => guarded.authorizeRead({ authorization: `Bearer ${teamB}` }))).toMatchObject({ status: 403, message: expect.stringMatching(/neither the read token nor an owner token/) });
  });

  it('takes the token from the configured header', () => {
    const gateway = resolveRegistryAccess({ ownerTokens: { greeter: teamA }, tokenHeader: 'X-Api-Key' });
    expect(gateway.tokenHeader).toBe('x-api-key');
    expect(refusal(() => gateway.authorizeWrite({ 'x-api-key': teamA }, 'GREETER'))).toBeUndefined();
    expect(refusal(() => gateway.authorizeWrite({ 'x-karyon-registry-token': teamA }, 'GREETER'))).toBeUndefined();
    expect(refusal(() => gateway.authorizeWrite({ authorization: `Bearer ${teamA}` }, 'GREETER'))?.status).toBe(401);
    expect(refusal(() => gateway.authorizeWrite({}, 'GREETER'))?.message).toMatch(/as x-api-key: <token> or X-Karyon-Registry-Token/);
  });

  it('refuses bad settings naming the option, never showing a token', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ownerTokens: [teamA] }, /'ownerTokens' must be an object/],
      [{ ownerTokens: { 'no spaces': teamA } }, /application names/],
      [{ ownerTokens: { greeter: teamA, GREETER: teamB } }, /'ownerTokens\.GREETER' must be the only entry of its application/],
      [{ ownerTokens: { greeter: `${teamA} ` } }, /'ownerTokens\.greeter' must be printable ASCII without spaces \(got a string of 24 characters\)/],
      [{ ownerTokens: { greeter: teamA, billing: teamA } }, /repeats the token of GREETER/],
      [{ ownerTokens: { greeter: teamA }, readToken: teamA }, /'readToken' must be different from every owner token/],
      [{ readToken: 42 }, /'readToken' must be printable ASCII/],
      [{ tokenHeader: 'bad header' }, /'tokenHeader' must be an HTTP header name/],
      [{ allowUnlistedApps: 'yes' }, /'allowUnlistedApps' must be true or false/],
    ];
    for (const [options, message] of cases) {
      const error = thrown(() => resolveEurekaServerOptions(options));
      expect(error.code).toBe('ERR_INVALID_OPTION');
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain('0123456789abcdef');
    }
  });

  it('keeps digests in private fields: resolved options show no token', () => {
    const options = resolveEurekaServerOptions({ ownerTokens: { greeter: teamA }, readToken: reader });
    const shown = `${JSON.stringify(options)} ${inspect(options, { showHidden: true, depth: 6 })}`;
    expect(shown).not.toContain(teamA);
    expect(shown).not.toContain(reader);
    expect(options.access.ownedApps).toEqual(['GREETER']);
  });
});

describe('loadRegistryTokens', () => {
  it('reads owner tokens and the read token from files or the environment', () => {
    const owners = join(dir, 'owners.json');
    const read = join(dir, 'read-token');
    writeFileSync(owners, JSON.stringify({ GREETER: teamA, BILLING: teamB }));
    writeFileSync(read, `${reader}\n`);
    expect(loadRegistryTokens({ ownerTokensFile: owners, readTokenFile: read })).toEqual({ ownerTokens: { GREETER: teamA, BILLING: teamB }, readToken: reader });
    expect(loadRegistryTokens({ env: { KARYON_REGISTRY_TOKENS_FILE: owners, KARYON_REGISTRY_READ_TOKEN_FILE: read } })).toEqual({
      ownerTokens: { GREETER: teamA, BILLING: teamB },
      readToken: reader,
    });
    expect(loadRegistryTokens({ env: { KARYON_REGISTRY_TOKENS: JSON.stringify({ GREETER: teamA }), KARYON_REGISTRY_READ_TOKEN: reader } })).toEqual({
      ownerTokens: { GREETER: teamA },
      readToken: reader,
    });
    expect(loadRegistryTokens({ env: {} })).toEqual({});
  });

  it('fails with ERR_INVALID_CONFIG naming the source, never quoting a token', () => {
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, `{"GREETER": "${teamA}",}`);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    const cases: [() => unknown, RegExp][] = [
      [() => loadRegistryTokens({ ownerTokensFile: broken }), /owner token file .*broken\.json is not valid JSON/],
      [() => loadRegistryTokens({ ownerTokensFile: join(dir, 'absent') }), /could not be read: ENOENT/],
      [() => loadRegistryTokens({ env: { KARYON_REGISTRY_TOKENS: `["${teamA}"]` } }), /KARYON_REGISTRY_TOKENS must hold a JSON object/],
      [() => loadRegistryTokens({ env: { KARYON_REGISTRY_TOKENS: '{"GREETER": 7}' } }), /the token of GREETER must be a string/],
      [() => loadRegistryTokens({ readTokenFile: empty }), /read token file .* is empty/],
    ];
    for (const [load, message] of cases) {
      const error = thrown(load);
      expect(error.code).toBe('ERR_INVALID_CONFIG');
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain('0123456789abcdef');
    }
  });
});

describe('the Eureka client token option', () => {
  const serviceUrls = ['http://eureka:8761/eureka'];

  it('sends the token as a bearer token, or alone in another header', () => {
    expect(resolveEurekaRegistryOptions({ serviceUrls, token: teamA }).headers).toEqual({ authorization: `Bearer ${teamA}` });
    expect(resolveEurekaRegistryOptions({ serviceUrls, token: teamA, tokenHeader: 'X-Karyon-Registry-Token', headers: { 'x-team': 'a' } }).headers).toEqual({
      'x-team': 'a',
      'x-karyon-registry-token': teamA,
    });
    expect(resolveEurekaRegistryOptions({ serviceUrls: ['http://u:p@eureka/eureka'], token: teamA, tokenHeader: 'x-api-key' }).headers).toEqual({ 'x-api-key': teamA });
  });

  it('refuses a token that clashes with a header or URL credentials, never showing it', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ serviceUrls, tokenHeader: 'x-api-key' }, /'tokenHeader' must be given only with a token/],
      [{ serviceUrls, token: `${teamA} x` }, /'token' must be printable ASCII without spaces/],
      [{ serviceUrls, token: teamA, tokenHeader: 'content-type' }, /a header the protocol does not set itself/],
      [{ serviceUrls, token: teamA, headers: { Authorization: 'Bearer other' } }, /'headers\.authorization' must be absent when tokenHeader names the same header/],
      [{ serviceUrls: ['http://u:p@eureka/eureka'], token: teamA }, /another header than 'authorization' when a service URL carries credentials/],
    ];
    for (const [options, message] of cases) {
      const error = thrown(() => resolveEurekaRegistryOptions(options as never));
      expect(error.code).toBe('ERR_INVALID_OPTION');
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain('0123456789abcdef');
    }
  });
});
