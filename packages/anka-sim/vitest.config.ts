import { defineProject } from 'vitest/config';

export default defineProject({
  test: {
    name: 'anka-sim',
    include: ['test/**/*.test.ts'],
    // Every test spawns real `anka` processes; a loaded CI box can make a burst of them slow.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
