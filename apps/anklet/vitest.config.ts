import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'anklet',
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/anka-sim-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
