import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Property tests run thousands of cases; on a loaded 2-core machine that takes tens of seconds.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
