import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'plugin-github-handler',
    include: ['test/**/*.test.ts'],
    // Real anklet processes, anka-sim, github-sim and redis-server: give them room on a busy machine.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    fileParallelism: false,
    // The e2e scenarios each have their own anka-sim host, github-sim and Redis and run concurrently
    // (describe.concurrent): mostly they wait on jobs, time-outs and back-offs, but every `anka` call
    // is a Node process, so a 2-core CI machine is kept to three at a time.
    maxConcurrency: 3,
  },
});
