import { defineConfig } from 'vitest/config';

// One vitest run over every workspace package that has a vitest.config.ts, so `pnpm test`
// ends with a single summary. The extra reporter prints the plain "N passed, N failed" line.
export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'apps/*/vitest.config.ts', 'examples/*/vitest.config.ts'],
    reporters: ['default', './scripts/summary-reporter.ts'],
    // Vitest's default is one worker fewer than the CPUs: a single worker on a 2-core CI machine.
    // Most suites wait on child processes (anklet hosts, simulators, redis-server), so two files
    // at a time keep both cores busy. (Three were tried: no faster, since the cores are saturated,
    // and timing-sensitive fleet tests failed.)
    maxWorkers: 2,
  },
});
