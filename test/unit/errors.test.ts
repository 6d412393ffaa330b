import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KaryonError, errorCodes, isKaryonError } from '../../src/index.js';

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
});
