import { defineConfig } from 'vitest/config';

// Native modules (the Temporal core bridge) and worker threads do not mix: use forks.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    exclude: ['test/resilience/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // One Temporal dev server for the whole run; tests reach it via test/helpers/temporal.ts.
    globalSetup: ['test/global-setup.ts'],
  },
});
