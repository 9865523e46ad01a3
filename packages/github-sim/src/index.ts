export { startGitHubSim, type GitHubSim } from './server.js';
export { SimControl, type DeliveryRecord, type DispatchResult } from './control.js';
export type {
  GitHubSimOptions,
  HookOptions,
  TokenOptions,
  AppOptions,
  InstallationOptions,
  RunnerGroupOptions,
  RateLimitOptions,
  JobConclusion,
  JobOutcomeRule,
} from './options.js';
export type { DispatchJobInput, DispatchRunInput, JobPlan } from './workflows.js';
export type { RateLimitFault } from './rate-limit.js';
export type { DeliveryFault } from './webhooks.js';
export type { RequestFault } from './request-faults.js';
export { signBody } from './webhooks.js';
export { decodeJitConfig, type DecodedJitConfig } from './jit-config.js';
export { runSimulatedRunner, type SimulatedRunnerOptions, type SimulatedRunnerResult } from './runner.js';
export type { World } from './world.js';
export { RUNNER_PLATFORMS, RunnerReleases, type RunnerReleaseFaults, type RunnerReleaseSeed } from './runner-releases.js';
export { CONFIG_SH, RUN_SH, SIM_RUNNER_VERSION, configSh, runnerRootFiles, templateRunnerFiles, type RunnerFile } from './runner-files.js';
