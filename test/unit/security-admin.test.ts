import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { AdminTokenSet } from '../../src/admin/AdminTokens.js';
import { AuditLog } from '../../src/admin/AuditLog.js';
import { loadAdminTokens } from 'karyon-ts';
import { resolveAdminOptions } from '../../src/admin/AdminOptions.js';
import type { AuditDraft } from 'karyon-ts/extend';
import { RateLimiter } from '../../src/admin/RateLimiter.js';
import { ManualClock } from 'karyon-ts/testing';
import { memoryLogger } from '../support/logger.js';

// Roles, tokens, the rate limiter and the audit log of the admin port, without sockets.

const dir = mkdtempSync(join(tmpdir(), 'karyon-admin-tokens-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const readToken = 'r3ad-T0ken-abcdef';
const operateToken = 'op3rate-T0ken-abcdef';
const tokens = [
  { name: 'viewer', token: readToken, role: 'read' },
  { name: 'ops', token: operateToken, role: 'operate' },
] as const;

/** The message of what `fn` throws, failing the test when it does not throw. */
function thrown(fn: () => unknown): { code: unknown; message: string } {
  try {
    fn();
  } catch (error) {
    return { code: (error as { code?: unknown }).code, message: (error as Error).message };
  }
  throw new Error('expected a throw');
}

describe('resolveAdminOptions', () => {
  it('fills the defaults: no token, open reads, rate limits on, a bounded audit log', () => {
    const resolved = resolveAdminOptions({});
    expect(resolved.tokens.size).toBe(0);
    expect(resolved.protectReads).toBe(false);
    expect(resolved.rateLimit).toEqual({ mutationsPerMinute: 60, mutationBurst: 30, failedAuthPerMinute: 10, failedAuthBurst: 10 });
    expect(resolved.audit).toEqual({ capacity: 1000, deniedCapacity: 200, maxValueBytes: 4096 });
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(resolveAdminOptions({ rateLimit: false }).rateLimit).toBeUndefined();
  });

  it("keeps the single 'token' as an operate token named 'admin'", () => {
    const resolved = resolveAdminOptions({ token: 'let-me-in' });
    expect(resolved.tokens.holders).toEqual([{ name: 'admin', role: 'operate' }]);
    expect(resolved.tokens.identify('Bearer let-me-in')).toEqual({ kind: 'valid', principal: { actor: 'admin', role: 'operate' } });
    expect(resolved.protectReads).toBe(false);
  });

  it('protects reads by default once a read token exists, and lets the option say otherwise', () => {
    expect(resolveAdminOptions({ tokens }).protectReads).toBe(true);
    expect(resolveAdminOptions({ tokens: [tokens[1]] }).protectReads).toBe(false);
    expect(resolveAdminOptions({ tokens, protectReads: false }).protectReads).toBe(false);
    expect(resolveAdminOptions({ protectReads: true }).protectReads).toBe(true);
  });

  it('refuses bad tokens with a message naming the option, never showing a token', () => {
    const cases: [unknown, RegExp][] = [
      [{ tokens: 'x' }, /'admin\.tokens' must be an array/],
      [{ tokens: [{ name: 'a b', token: 'secret-one', role: 'read' }] }, /'admin\.tokens\[0\]\.name' must be letters/],
      [{ tokens: [{ name: 'loopback', token: 'secret-one', role: 'read' }] }, /'admin\.tokens\[0\]\.name' must be a name other than/],
      [{ tokens: [{ name: 'a', token: 'secret one', role: 'read' }] }, /'admin\.tokens\[0\]\.token' must be printable ASCII without spaces \(got a string of 10 characters\)/],
      [{ tokens: [{ name: 'a', token: 'secret-one', role: 'admin' }] }, /'admin\.tokens\[0\]\.role' must be 'read' or 'operate'/],
      [{ tokens: [{ name: 'a', token: 'secret-one', role: 'read', extra: 1 }] }, /only name, token and role/],
      [{ tokens: [{ name: 'a', token: 'secret-one', role: 'read' }, { name: 'a', token: 'secret-two', role: 'read' }] }, /unique among the tokens/],
      [{ tokens: [{ name: 'a', token: 'secret-one', role: 'read' }, { name: 'b', token: 'secret-one', role: 'operate' }] }, /two names share this token/],
      [{ token: 'secret-one', tokens: [{ name: 'admin', token: 'secret-two', role: 'read' }] }, /named 'admin'/],
      [{ token: 'secret-one', tokens: [{ name: 'b', token: 'secret-one', role: 'read' }] }, /must differ/],
      [{ protectReads: 'yes' }, /'admin\.protectReads' must be true or false/],
      [{ rateLimit: { mutationsPerMinute: 0 } }, /'admin\.rateLimit\.mutationsPerMinute' must be a positive number/],
      [{ audit: { capacity: 0 } }, /'admin\.audit\.capacity' must be a positive integer/],
    ];
    for (const [options, message] of cases) {
      const error = thrown(() => resolveAdminOptions(options as never));
      expect(error.code).toBe('ERR_INVALID_OPTION');
      expect(error.message).toMatch(message);
      expect(error.message).not.toMatch(/secret/);
    }
  });
});

describe('AdminTokenSet', () => {
  const set = new AdminTokenSet(tokens);

  it('tells a missing, malformed, wrong and valid bearer token apart', () => {
    expect(set.identify(undefined)).toEqual({ kind: 'missing' });
    expect(set.identify('  ')).toEqual({ kind: 'missing' });
    expect(set.identify(`Basic ${Buffer.from(`x:${operateToken}`).toString('base64')}`)).toEqual({ kind: 'malformed' });
    expect(set.identify(operateToken)).toEqual({ kind: 'malformed' });
    expect(set.identify('Bearer nope')).toEqual({ kind: 'wrong' });
    expect(set.identify(`Bearer ${operateToken.slice(0, -1)}`)).toEqual({ kind: 'wrong' });
    expect(set.identify(`Bearer ${operateToken}x`)).toEqual({ kind: 'wrong' });
    expect(set.identify(`Bearer ${readToken}`)).toEqual({ kind: 'valid', principal: { actor: 'viewer', role: 'read' } });
    expect(set.identify(`bearer   ${operateToken}  `)).toEqual({ kind: 'valid', principal: { actor: 'ops', role: 'operate' } });
  });

  it('shows names and roles, never tokens or their digests', () => {
    const shown = `${JSON.stringify(set)} ${inspect(set, { showHidden: true, depth: 5 })} ${JSON.stringify(resolveAdminOptions({ tokens }))}`;
    expect(shown).not.toContain(readToken);
    expect(shown).not.toContain(operateToken);
    expect(set.holders).toEqual([
      { name: 'viewer', role: 'read' },
      { name: 'ops', role: 'operate' },
    ]);
  });
});

describe('loadAdminTokens', () => {
  it('reads a JSON file, the file named in the environment, or the JSON in the environment', () => {
    const file = join(dir, 'tokens.json');
    writeFileSync(file, JSON.stringify(tokens));
    expect(loadAdminTokens({ file })).toEqual(tokens);
    expect(loadAdminTokens({ env: { KARYON_ADMIN_TOKENS_FILE: file, KARYON_ADMIN_TOKENS: '[]' } })).toEqual(tokens);
    expect(loadAdminTokens({ env: { KARYON_ADMIN_TOKENS: JSON.stringify([tokens[0]]) } })).toEqual([tokens[0]]);
    expect(loadAdminTokens({ env: { KARYON_ADMIN_TOKENS: ' ' } })).toEqual([]);
    expect(loadAdminTokens()).toEqual([]);
  });

  it('fails with ERR_INVALID_CONFIG naming the source, without quoting the text (it holds tokens)', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, `[{"name":"ops","token":"${operateToken}","role":"operate"},]`);
    const cases: [() => unknown, RegExp][] = [
      [() => loadAdminTokens({ file: bad }), /admin token file .*bad\.json is not valid JSON/],
      [() => loadAdminTokens({ file: join(dir, 'absent.json') }), /could not be read: ENOENT/],
      [() => loadAdminTokens({ env: { KARYON_ADMIN_TOKENS: `{"token":"${operateToken}"` } }), /KARYON_ADMIN_TOKENS is not valid JSON/],
      [() => loadAdminTokens({ env: { KARYON_ADMIN_TOKENS: `[{"name":"ops","token":"${operateToken}","role":"root"}]` } }), /KARYON_ADMIN_TOKENS\[0\]\.role' must be 'read' or 'operate'/],
    ];
    for (const [load, message] of cases) {
      const error = thrown(load);
      expect(error.code).toBe('ERR_INVALID_CONFIG');
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain(operateToken);
      expect(error.message).not.toContain('op3rate');
    }
  });
});

describe('RateLimiter', () => {
  it('lets a burst through, then one per refill interval, per key', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ clock, burst: 3, perMinute: 6 }); // one unit every 10 s
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 0]);
    expect(limiter.take('a')).toBe(10_000);
    expect(limiter.take('b')).toBe(0); // another key has its own bucket
    clock.advance(4_000);
    expect(limiter.check('a')).toBe(6_000);
    expect(limiter.check('a')).toBe(6_000); // check() spends nothing
    clock.advance(6_000);
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(10_000);
  });

  it('forgets full buckets and keeps at most maxKeys, dropping the idlest', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ clock, burst: 1, perMinute: 60, maxKeys: 2 });
    limiter.take('a');
    limiter.take('b');
    limiter.take('c'); // 'a' was idle longest: dropped, as if full
    expect(limiter.size).toBe(2);
    expect(limiter.check('a')).toBe(0);
    expect(limiter.check('c')).toBe(1000);
    clock.advance(1000);
    expect(limiter.check('b')).toBe(0);
    expect(limiter.check('c')).toBe(0);
    expect(limiter.size).toBe(0);
  });

  it('does not take units away when the clock goes back', () => {
    let now = 1_000_000;
    const clock = { now: () => now, setTimeout: () => ({ clear: () => undefined, unref() { return this; } }) };
    const limiter = new RateLimiter({ clock, burst: 2, perMinute: 60 });
    limiter.take('a');
    now -= 60_000;
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(1000);
  });
});

describe('AuditLog', () => {
  const draft = (over: Partial<AuditDraft> = {}): AuditDraft => ({
    actor: 'ops',
    role: 'operate',
    remote: '127.0.0.1',
    method: 'PUT',
    path: '/status',
    action: 'status.set',
    before: { status: 'UP' },
    after: { status: 'OUT_OF_SERVICE' },
    outcome: 'ok',
    status: 200,
    ...over,
  });

  it('stamps, keeps, logs and counts each entry', () => {
    const clock = new ManualClock();
    const logger = memoryLogger();
    const counted: string[][] = [];
    const log = new AuditLog({ capacity: 10, deniedCapacity: 10, maxValueBytes: 1000 }, { clock, logger, metrics: { mutation: (...args) => void counted.push(args) } });
    const entry = log.append(draft());
    clock.advance(5);
    log.append(draft({ actor: 'anonymous', outcome: 'denied', status: 401, reason: 'missing bearer token', before: undefined, after: undefined }));
    expect(entry).toEqual({ at: clock.now() - 5, ...draft() });
    expect(log.entries().map((e) => [e.actor, e.outcome, e.before, e.after])).toEqual([
      ['ops', 'ok', { status: 'UP' }, { status: 'OUT_OF_SERVICE' }],
      ['anonymous', 'denied', null, null],
    ]);
    expect(logger.lines).toEqual(['info admin audit: ops status.set ok (200)', 'warn admin audit: anonymous status.set denied (401)']);
    expect(counted).toEqual([
      ['status.set', 'ok', 'ops'],
      ['status.set', 'denied', 'anonymous'],
    ]);
  });

  it('keeps denied entries apart, so a flood of refusals cannot push real changes out', () => {
    const log = new AuditLog({ capacity: 3, deniedCapacity: 2, maxValueBytes: 1000 }, { clock: new ManualClock(), logger: memoryLogger() });
    log.append(draft({ action: 'first' }));
    for (let i = 0; i < 50; i++) log.append(draft({ action: `denied-${i}`, outcome: 'denied', status: 401 }));
    log.append(draft({ action: 'second' }));
    log.append(draft({ action: 'third', outcome: 'failed', status: 400 }));
    log.append(draft({ action: 'fourth' }));
    // 'first' is gone (three ran after it); of fifty refusals the last two are kept, in the order things happened.
    expect(log.entries().map((e) => e.action)).toEqual(['denied-48', 'denied-49', 'second', 'third', 'fourth']);
    expect(log.entries(2).map((e) => e.action)).toEqual(['third', 'fourth']);
    expect(log.size).toBe(5);
  });

  it('keeps detached, frozen copies of values, and a marker for one too large', () => {
    const log = new AuditLog({ capacity: 5, deniedCapacity: 5, maxValueBytes: 64 }, { clock: new ManualClock(), logger: memoryLogger() });
    const before = { nested: { list: [1, 2] } };
    const entry = log.append(draft({ before, after: { blob: 'x'.repeat(100) } }));
    before.nested.list.push(3);
    expect(entry.before).toEqual({ nested: { list: [1, 2] } });
    expect(Object.isFrozen((entry.before as typeof before).nested.list)).toBe(true);
    expect(entry.after).toEqual({ truncated: true, bytes: 111 });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(log.append(draft({ before: circular })).before).toBe('[not serializable]');
  });
});
