import { addGitHubConfigIssues, configField, githubConnectionFields } from '@anklet/github';
import { z } from 'zod';

const { int, float, bool, text, list } = configField;

/**
 * The handler's config block: every Go handler key with its Go default, plus the keys marked
 * "anklet only" in the README. Host keys (`name`, `plugin`, `sleep_interval`, `database`,
 * `on_failure`) are the host's business and are not repeated here. The Anka keys (`registry_url`,
 * `skip_pull`, `template_disk_buffer`, `skip_cpu_and_memory_resource_checks`,
 * `host_to_guest_folder_mounts`) are applied by the host's Anka client (`ctx.anka`); they are
 * declared here so that they are validated and documented in one place.
 */
export const handlerConfigSchema = z
  .object({
    ...githubConnectionFields(),
    /** Runner group name; empty = the scope's default group (id 1). */
    runner_group: text(),
    /** `jit` (default, anklet only): one-runner config from generate-jitconfig; `token`: the Go registration token + config.sh. */
    registration_method: z.enum(['jit', 'token'], { error: 'expected jit or token' }).default('jit'),
    registry_url: text(),
    skip_pull: bool().default(false),
    /** Go: 0 or less means 80. */
    registration_timeout_seconds: int()
      .default(80)
      .transform((s) => (s <= 0 ? 80 : s)),
    /** Percent of the disk kept free after a pull. Go: 0 means 10 (the host applies `global_template_disk_buffer` first). */
    template_disk_buffer: float()
      .default(10)
      .pipe(z.number().min(0).max(100, 'expected a percentage (0-100)'))
      .transform((p) => (p === 0 ? 10 : p)),
    /** Go: 0 means 5; `ANKLET_JOB_RETRY_ATTEMPTS` overrides it for every plugin. */
    job_retry_attempts: int()
      .default(5)
      .transform((n) => {
        const env = process.env.ANKLET_JOB_RETRY_ATTEMPTS?.trim();
        if (env && /^\d+$/.test(env)) return Number(env);
        return n <= 0 ? 5 : n;
      }),
    skip_cpu_and_memory_resource_checks: bool().default(false),
    host_to_guest_folder_mounts: list(),
    /** How long a claimed job's lease lasts; renewed every third of it (anklet only). */
    lease_seconds: int().default(120).pipe(z.number().min(10)),
    /** Seconds without any webhook before the job's status is asked from the API (anklet only). */
    status_check_interval_seconds: int().default(60).pipe(z.number().min(5)),
    /** Time limit of one `anka run` of a runner script, in seconds (Go: 60 for register). */
    runner_script_timeout_seconds: int().default(600).pipe(z.number().min(10)),
    /** A job running longer than this is given up and its run cancelled (Go: 6 h). */
    job_timeout_hours: float().default(6).pipe(z.number().positive()),
    /** Back-off before a retried job may be claimed again: about this long after the first failed attempt, doubling after each (anklet only). */
    retry_backoff_seconds: float().default(5).pipe(z.number().min(0)),
    /** Longest back-off between two attempts at a job (anklet only). */
    retry_backoff_max_seconds: float().default(300).pipe(z.number().min(0)),
  })
  .superRefine((config, issues) => {
    addGitHubConfigIssues(config, issues);
    if (config.enterprise && (!config.token || !config.private_key)) {
      issues.addIssue({
        code: 'custom',
        path: ['token'],
        message: 'enterprise scope needs both a classic token (manage_runners:enterprise) and GitHub App credentials (private_key and app_id)',
      });
    }
    if (!config.token && !config.private_key) {
      issues.addIssue({ code: 'custom', path: ['token'], message: 'token or private_key are not set at global level or in the plugin' });
    }
  });

export type HandlerConfig = z.output<typeof handlerConfigSchema>;
