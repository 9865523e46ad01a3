import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'plugin-github-handler',
    include: ['test/**/*.test.ts'],
    // Real anklet processes, anka-sim, github-sim and redis-server: give them room on a busy machine.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // One anka-sim home per file; the e2e scenarios share it, so they run one after another.
    fileParallelism: false,
  },
});
