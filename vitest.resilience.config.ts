import { defineConfig } from 'vitest/config';

// `npm run test:resilience`: whole-stack chaos tests (test/resilience). Each test starts its own
// Temporal dev server, simulator, Prometheus and worker process (bench/lib/stack.ts), so there is
// no global setup, and files run one after the other: two stacks at once would starve 2 cores.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/resilience/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 12 * 60_000,
    hookTimeout: 3 * 60_000,
  },
});
