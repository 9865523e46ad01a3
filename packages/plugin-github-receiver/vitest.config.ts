import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'plugin-github-receiver',
    include: ['test/**/*.test.ts'],
    // Real HTTP servers, redis-server and child processes: give them room on a busy machine.
    testTimeout: 60_000,
    hookTimeout: 240_000,
  },
});
