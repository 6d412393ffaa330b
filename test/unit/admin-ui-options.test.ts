import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isKaryonError } from 'karyon-ts';
import { resolveAdminUiOptions } from '../../src/admin/uiRoutes.js';

describe("the admin web UI's options", () => {
  it('resolveAdminUiOptions takes a path or a file: URL and refuses anything else', () => {
    expect(resolveAdminUiOptions().directory).toBe(fileURLToPath(new URL('../../src/admin/ui/', import.meta.url)));
    expect(resolveAdminUiOptions({ directory: '/srv/ui' }).directory).toBe('/srv/ui');
    expect(resolveAdminUiOptions({ directory: new URL('file:///srv/ui/') }).directory).toBe('/srv/ui/');
    for (const bad of [new URL('https://cdn.example/ui/'), '', 42]) {
      let caught: unknown;
      try {
        resolveAdminUiOptions({ directory: bad as string });
      } catch (error) {
        caught = error;
      }
      expect(isKaryonError(caught, 'ERR_INVALID_OPTION')).toBe(true);
      expect((caught as Error).message).toContain('adminUi.directory');
    }
  });
});
