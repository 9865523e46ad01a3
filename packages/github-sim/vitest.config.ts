import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'github-sim',
    include: ['test/**/*.test.ts'],
    // Every test starts real HTTP servers and child processes; give them room on a busy machine.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
