import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: {
      'karyon-ts/testing': fileURLToPath(new URL('./src/testing/index.ts', import.meta.url)),
      'karyon-ts': fileURLToPath(new URL('./src/index.ts', import.meta.url)),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Integration tests open real sockets; forks keep each file's servers in its own process.
    pool: 'forks',
  },
});
