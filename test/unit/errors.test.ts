import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { CommandError, KaryonError, errorCodes, isKaryonError } from 'karyon-ts';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const rows = [...doc.matchAll(/^\| `(ERR_[A-Z_]+)` \| (yes|no) \|/gm)].map((m) => ({ code: m[1]!, retryable: m[2] === 'yes' }));

describe('error codes', () => {
  it('docs/errors.md lists exactly the codes in errorCodes', () => {
    expect(rows.map((r) => r.code).sort()).toEqual(Object.keys(errorCodes).sort());
  });

  it('docs/errors.md gives each code the retryable default of the code', () => {
    for (const { code, retryable } of rows) {
      expect({ code, retryable }).toEqual({ code, retryable: errorCodes[code as keyof typeof errorCodes].retryable });
    }
  });

  it('KaryonError carries its code, cause and structured fields', () => {
    const cause = new Error('low level');
    const error = new KaryonError('ERR_HOOK_TIMEOUT', 'too slow', { cause, service: 'greeter', status: 'STARTING' });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'KaryonError', code: 'ERR_HOOK_TIMEOUT', retryable: true, service: 'greeter', status: 'STARTING' });
    expect(error.cause).toBe(cause);
    expect(isKaryonError(error, 'ERR_HOOK_TIMEOUT')).toBe(true);
    expect(isKaryonError(error, 'ERR_LISTEN')).toBe(false);
    expect(new KaryonError('ERR_LISTEN', 'x', { retryable: false }).retryable).toBe(false);
  });

  it('recognises errors made by a second copy of the package, as with two installed versions', async () => {
    // A fresh module registry loads every source module again: classes distinct from the ones imported above,
    // as a second installed copy of the package would have.
    vi.resetModules();
    const other = await import('../../src/index.js');
    expect(other.KaryonError).not.toBe(KaryonError);
    const foreign = new other.KaryonError('ERR_NO_INSTANCES', 'none up');
    const foreignCommand = new other.CommandError('ERR_BREAKER_OPEN', 'open', 'getUser', 'users');
    expect(isKaryonError(foreign, 'ERR_NO_INSTANCES')).toBe(true);
    expect(isKaryonError(foreign, 'ERR_LISTEN')).toBe(false);
    expect(foreign instanceof KaryonError).toBe(true);
    expect(foreignCommand instanceof CommandError).toBe(true);
    expect(foreignCommand instanceof KaryonError).toBe(true);
    expect(other.isKaryonError(new KaryonError('ERR_LISTEN', 'x'), 'ERR_LISTEN')).toBe(true);
    // A plain KaryonError is no CommandError, and look-alikes without the mark are not errors of the package.
    expect(foreign instanceof CommandError).toBe(false);
    expect(new KaryonError('ERR_BREAKER_OPEN', 'x') instanceof CommandError).toBe(false);
    expect(isKaryonError({ name: 'KaryonError', code: 'ERR_LISTEN', message: 'x' })).toBe(false);
    expect(isKaryonError(null)).toBe(false);
    expect(isKaryonError(new Error('x'))).toBe(false);
  });
});
