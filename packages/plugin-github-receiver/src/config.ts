import { addGitHubConfigIssues, configField, githubConnectionFields } from '@anklet/github';
import { z } from 'zod';

const { int, bool, list } = configField;

/**
 * The receiver's config block. Go keys and defaults; keys the Go receiver did not have are marked
 * "anklet only" in the README. Host keys (`name`, `plugin`, `database`, ...) are the host's business.
 */
export const receiverConfigSchema = z
  .object({
    port: int().pipe(z.number().min(1, 'expected a TCP port').max(65535, 'expected a TCP port')),
    /** Address to listen on. Go listened on every interface; keep that unless a proxy sits in front. */
    listen_address: z.string().default('0.0.0.0'),
    secret: z.string({ error: 'secret is not set (set secret here or global_receiver_secret)' }).min(1, 'secret is not set (set secret here or global_receiver_secret)'),
    /** Also accept the legacy SHA-1 `X-Hub-Signature` when `X-Hub-Signature-256` is absent (anklet only). */
    allow_sha1_signature: bool().default(false),
    ...githubConnectionFields(),
    hook_id: int().default(0),
    skip_redeliver: bool().default(false),
    /** Look-back window for redelivery; 0 means the default 24 (GitHub keeps deliveries 3 days). */
    redeliver_hours: int()
      .default(24)
      .pipe(z.number().min(0).max(72, 'GitHub keeps deliveries for 72 hours at most'))
      .transform((h) => (h === 0 ? 24 : h)),
    /** Seconds between two redelivery passes by the fleet leader (anklet only). */
    redeliver_interval_seconds: int().default(300).pipe(z.number().min(5)),
    /** GitHub API calls one redelivery pass may make (anklet only). */
    redeliver_max_api_calls: int().default(200).pipe(z.number().min(2)),
    /** Largest accepted webhook body, in bytes (anklet only; workflow_job payloads are a few KB). */
    body_limit_bytes: int().default(5 * 1024 * 1024).pipe(z.number().min(1024)),
    /** The store write must finish within this, or the webhook gets a 503 (GitHub gives up at 10 s). */
    store_timeout_ms: int().default(8000).pipe(z.number().min(100).max(9500)),
    /**
     * A job whose labels look like anka labels but do not parse (`anka-template`, `my-anka-template:x`,
     * two templates, an empty tag): `cancel` stores it, logs an ERROR and cancels its workflow run;
     * `ignore` leaves it alone (it waits on GitHub for a runner that never comes). Anklet only.
     */
    on_bad_labels: z
      .enum(['cancel', 'ignore'], { error: 'expected cancel or ignore' })
      .default('cancel')
      .describe(
        'Receivers: a job whose labels look like anka labels but do not parse (anka-template without ":", my-anka-template:x, two templates, an empty tag): cancel (store it, log an ERROR, cancel its workflow run) or ignore',
      ),
    /** Only jobs of these workflows (by name); empty = all. */
    workflows: z
      .object({ include: list(), exclude: list() })
      .nullish()
      .transform((w) => ({ include: w?.include ?? [], exclude: w?.exclude ?? [] })),
  })
  .superRefine((config, issues) => {
    addGitHubConfigIssues(config, issues);
    // Credentials and the hook id are only needed to redeliver (Go asked for credentials always).
    if (!config.enterprise && !config.skip_redeliver) {
      if (!config.token && !config.private_key) {
        issues.addIssue({
          code: 'custom',
          path: ['token'],
          message: 'token or private_key are not set at global level or in the plugin (needed for redelivery; or set skip_redeliver: true)',
        });
      }
      if (config.hook_id <= 0) issues.addIssue({ code: 'custom', path: ['hook_id'], message: 'hook_id is required for redelivery (or set skip_redeliver: true)' });
    }
  });

export type ReceiverConfig = z.output<typeof receiverConfigSchema>;
