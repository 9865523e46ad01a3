import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { definePlugin } from '@anklet/core';
import { z } from 'zod';

/**
 * The config block this plugin accepts, besides the keys every entry has (`name`, `plugin`,
 * `sleep_interval`, ...). zod fills the defaults; anklet reports every problem with its path.
 */
const configSchema = z.object({
  greeting: z.string().default('hello'),
  /** Fail in `run` after this many runs (0 = never); shows the host's `on_failure` policy. */
  fail_after_runs: z.number().int().min(0).default(0),
  /** How long `stop` takes, to show that the host awaits clean-up. */
  stop_delay_ms: z.number().int().min(0).default(0),
});

/**
 * A handler plugin that says hello on every run and keeps a journal in its data folder.
 * It uses only what the host injects: logger, config, metrics, paths, host state and the signal.
 */
export default definePlugin({
  name: 'anklet-plugin-hello',
  kind: 'handler',
  description: 'Says hello every sleep_interval; a template for your own plugin',
  configSchema,
  create(ctx) {
    const journal = path.join(ctx.paths.dataDir, 'journal.log');
    const note = (line: string) => appendFileSync(journal, `${new Date().toISOString()} ${line}\n`);
    let runs = 0;
    return {
      async start() {
        note('start');
        ctx.logger.info('hello plugin ready', { journal });
      },
      async run() {
        runs += 1;
        if (ctx.host.isDraining()) {
          ctx.logger.warn('drain file present; not saying hello');
          return;
        }
        if (ctx.config.fail_after_runs > 0 && runs > ctx.config.fail_after_runs) {
          throw new Error(`failing on purpose after ${ctx.config.fail_after_runs} runs`);
        }
        ctx.metrics.count('hello_runs');
        ctx.logger.info(`${ctx.config.greeting} from ${ctx.name}`, { runs });
        note(`run ${runs}`);
      },
      async stop() {
        // Clean-up is awaited by the host, even after SIGINT: never skip it.
        if (ctx.config.stop_delay_ms > 0) await new Promise((resolve) => setTimeout(resolve, ctx.config.stop_delay_ms));
        note('stop');
        ctx.logger.info('hello plugin stopped', { runs });
      },
    };
  },
});
