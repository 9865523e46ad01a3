/**
 * `@anklet/plugin-github-handler`: the anklet handler for GitHub Actions jobs (`plugin: github`).
 * Each job gets a fresh Anka VM with one ephemeral runner, registered by JIT config (default) or
 * by registration token, and everything is cleaned up after the job.
 *
 * @packageDocumentation
 */
import { definePlugin } from '@anklet/core';
import { handlerConfigSchema } from './config.js';
import { createHandler } from './handler.js';

export { handlerConfigSchema, type HandlerConfig } from './config.js';
export { createHandler } from './handler.js';
export { GitHubApi, registrationUrlOf, runnerPathOf } from './github-api.js';
export { installRunnerScripts, runnerScriptsDir, RUNNER_SCRIPTS } from './runner-scripts.js';
export type { Outcome } from './job-run.js';

export default definePlugin({
  name: '@anklet/plugin-github-handler',
  kind: 'handler',
  description: 'GitHub Actions jobs from the queue, each in a fresh Anka VM with an ephemeral runner',
  configSchema: handlerConfigSchema,
  create: (ctx) => createHandler(ctx),
});
