/**
 * `@anklet/github`: what anklet's GitHub plugins share. An Octokit factory (PAT or GitHub App,
 * retry, throttling, a rate-limit pause that sets `limit_paused`), the `workflow_job` types, the
 * anka label grammar, queue naming and scope validation.
 *
 * @packageDocumentation
 */
export { createGitHubClient, listAppInstallationAccounts, AnkletOctokit, primaryRateLimitReset, reportRateLimit, type GitHubClient, type GitHubClientOptions } from './client.js';
export { pauseUntilReset, sleep, type PauseReporting } from './rate-limit-pause.js';
export { checkPrivateKey, loadPrivateKey } from './private-key.js';
export { parseAnkaLabels, TEMPLATE_LABEL_PREFIX, TEMPLATE_TAG_LABEL_PREFIX, type AnkaLabels, type LabelNearMiss } from './labels.js';
export { resolveScope, queueNameOf, hookPathOf, scopeErrorMessage, ScopeError, type GitHubScope, type ScopeConfig } from './scope.js';
export { toQueueJob, repositoryOwnerLogin } from './queue-job.js';
export { ALWAYS, configField, githubConnectionFields, addGitHubConfigIssues, connectionOptionsOf, type GitHubConnectionOptions } from './config-fields.js';
export type { WorkflowJob, WorkflowJobAction, WorkflowJobEvent, WebhookRepository, QueueJob, HookDelivery, HookDeliveryDetail } from './types.js';
export { RUNNER_UPDATE_GRACE_DAYS, compareRunnerVersions, runnerChecksumsOf, runnerVersionVerdict, type RunnerReleaseInfo, type RunnerVersionVerdict } from './runner-releases.js';
