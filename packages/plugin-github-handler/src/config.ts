import { addGitHubConfigIssues, ALWAYS, configField, githubConnectionFields } from '@anklet/github';
import { z } from 'zod';

const { int, float, bool, text, list } = configField;

/**
 * The handler's config block: every Go handler key with its Go default, plus the keys marked
 * "anklet only". This schema is the one source of the handler's keys: the host reads YAML values
 * and environment overrides by its types, and `docs/configuration.md` and `config.schema.json` are
 * generated from it (descriptions included). Host keys (`name`, `plugin`, `sleep_interval`,
 * `database`, `on_failure`) are the host's. The Anka keys (`registry_url`, `skip_pull`,
 * `template_disk_buffer`, `skip_cpu_and_memory_resource_checks`, `host_to_guest_folder_mounts`)
 * are applied by the host's Anka client (`ctx.anka`); they are declared here so that they are
 * validated and documented in one place.
 */
export const handlerConfigSchema = z
  .object({
    ...githubConnectionFields(),
    runner_group: text().describe('Runner group the ephemeral runners join; unset: the scope\'s default group'),
    registration_method: z
      .enum(['jit', 'token'], { error: 'expected jit or token' })
      .default('jit')
      .describe('jit (anklet only): one single-use runner config from the JIT API; token: the Go registration token and config.sh'),
    registration: text().describe('Accepted for Go configs (repo, org) and unused: the scope comes from owner, repo and enterprise'),
    registry_url: text().describe('Anka registry to pull templates from; unset: Anka\'s default registry'),
    skip_pull: bool().default(false).describe('Never pull; use the templates already on the host'),
    registration_timeout_seconds: int(0)
      .default(80)
      .transform((s) => (s === 0 ? 80 : s))
      .describe('Seconds a runner may take to pick up its job before the VM is replaced (0 = 80)'),
    template_disk_buffer: float(0, 100, 'expected a percentage (0-100)')
      .default(10)
      .transform((p) => (p === 0 ? 10 : p))
      .describe('Percent of the disk kept free after a pull (0 = 10; the host applies global_template_disk_buffer first)'),
    job_retry_attempts: int(0)
      .default(5)
      .transform((n) => (n === 0 ? 5 : n))
      .describe('New VMs tried for one job before it is given up (0 = 5; ANKLET_JOB_RETRY_ATTEMPTS sets it for every plugin)'),
    skip_cpu_and_memory_resource_checks: bool().default(false).describe('Start VMs without checking host CPU and memory'),
    host_to_guest_folder_mounts: list().describe('Host folders mounted into every VM (after global_host_to_guest_folder_mounts)'),
    lease_seconds: int(10).default(120).describe('How long a claimed job\'s lease lasts; renewed every third of it (anklet only)'),
    status_check_interval_seconds: int(5).default(60).describe('Seconds without a webhook before the job\'s status is asked from the API (anklet only)'),
    runner_script_timeout_seconds: int(10).default(600).describe('Time limit of one `anka run` of a runner script, in seconds (Go: 60 for register)'),
    runner_cache: bool()
      .default(true)
      .describe('Keep the actions runner in a host cache (<work_dir>/runner-cache/, checked against its SHA-256) and copy it into VMs whose template has no runner or one GitHub refuses; false: install-runner.bash downloads it inside every VM, as in Go (anklet only)'),
    runner_cache_check_interval_seconds: int(1)
      .default(3600)
      .describe('Seconds between two looks at GitHub\'s runner releases (answers 304 Not Modified cost nothing; anklet only)'),
    job_timeout_hours: z
      .number({ error: 'expected a number' })
      .positive('expected more than 0 hours')
      .default(6)
      .describe('A job running longer than this is given up and its run cancelled (Go: 6 h)'),
    retry_backoff_seconds: float(0).default(5).describe('Back-off before a retried job may be claimed again, doubling after each attempt (anklet only)'),
    retry_backoff_max_seconds: float(0).default(300).describe('Longest back-off between two attempts at a job (anklet only)'),
    runner_diagnostics_max_mb: float(0)
      .default(5)
      .describe("Megabytes of the runner's own logs (_diag, anklet-runner.log) copied out of the VM of a failed attempt and kept per job, secrets scrubbed (0 = off; anklet only)"),
    runner_diagnostics_keep_hours: float(0)
      .default(168)
      .describe('Hours kept runner logs stay under <work_dir>/diagnostics before they are removed (0 = never removed; anklet only)'),
    template_affinity_grace_seconds: float(0, 300, 'expected seconds (0-300)')
      .default(3)
      .describe('A host without a job\'s template leaves the job this long to a host that holds it and has a free VM slot, then takes it if still queued; 0 turns template affinity off (anklet only)'),
    reconcile: bool()
      .default(true)
      .describe('Sweep GitHub for anka jobs queued there but unknown to the store (lost webhooks, a store that lost its data) and for stored jobs GitHub already finished; one handler per queue and scope in the fleet sweeps (anklet only)'),
    reconcile_interval_seconds: int(1).default(120).describe('Seconds between two sweeps of GitHub (anklet only)'),
    reconcile_budget_percent: float(0.1, 100, 'expected a percentage (0.1-100)')
      .default(5)
      .describe("Most of the credential's hourly GitHub rate limit the sweeps may spend, in percent; answers 304 Not Modified do not count (anklet only)"),
    reconcile_organizations: list().describe('Enterprise scope: the organizations to sweep; unset: every organization the GitHub App is installed on (anklet only)'),
    reconcile_workflows: z
      .object(
        {
          include: list().describe('The sweep stores only jobs of these workflows (give the receiver\'s workflows.include)'),
          exclude: list().describe('The sweep never stores jobs of these workflows (give the receiver\'s workflows.exclude)'),
        },
        { error: 'expected a map' },
      )
      .nullish()
      .transform((w) => ({ include: w?.include ?? [], exclude: w?.exclude ?? [] }))
      .describe('The receiver\'s workflows lists, for the sweep: jobs the receiver ignores are not stored by the sweep either (anklet only)'),
  })
  .superRefine((config, issues) => {
    addGitHubConfigIssues(config, issues);
    const token = typeof config.token === 'string' && config.token !== '';
    const privateKey = typeof config.private_key === 'string' && config.private_key !== '';
    if (config.enterprise && (!token || !privateKey)) {
      issues.addIssue({
        code: 'custom',
        path: ['token'],
        message: 'enterprise scope needs both a classic token (manage_runners:enterprise) and GitHub App credentials (private_key and app_id)',
      });
    }
    if (!token && !privateKey) {
      issues.addIssue({ code: 'custom', path: ['token'], message: 'token or private_key are not set at global level or in the plugin (set token, or private_key with app_id)' });
    }
  }, ALWAYS);

export type HandlerConfig = z.output<typeof handlerConfigSchema>;
