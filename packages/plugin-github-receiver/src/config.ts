import { addGitHubConfigIssues, ALWAYS, configField, githubConnectionFields } from '@anklet/github';
import { z } from 'zod';

const { int, bool, list } = configField;
const SECRET_MISSING = 'secret is not set (set secret here or global_receiver_secret)';

/**
 * The receiver's config block. Go keys and defaults; keys the Go receiver did not have are marked
 * "anklet only". This schema is the one source of the receiver's keys: the host reads YAML values
 * and environment overrides by its types, and the docs and JSON Schema are generated from it. Host
 * keys (`name`, `plugin`, `database`, ...) are the host's.
 */
export const receiverConfigSchema = z
  .object({
    port: int(1, 65535, 'expected a TCP port (1-65535)').describe('TCP port the webhook server listens on'),
    listen_address: z.string({ error: 'expected text' }).default('0.0.0.0').describe('Address to listen on (anklet only); Go listened on every interface'),
    secret: z
      .string({ error: SECRET_MISSING })
      .min(1, SECRET_MISSING)
      .describe('Webhook secret (replaced by global_receiver_secret when that is set)'),
    allow_sha1_signature: bool().default(false).describe('Also accept the legacy SHA-1 X-Hub-Signature when X-Hub-Signature-256 is absent (anklet only)'),
    ...githubConnectionFields(),
    hook_id: int(0).default(0).describe('Id of the webhook whose failed deliveries are redelivered (with token or private_key)'),
    skip_redeliver: bool().default(false).describe('Never ask GitHub to redeliver failed deliveries'),
    redeliver_hours: int(0, 72, 'GitHub keeps deliveries for 72 hours at most (0-72)')
      .default(24)
      .transform((h) => (h === 0 ? 24 : h))
      .describe('How far back failed deliveries are redelivered, in hours (0 = 24)'),
    redeliver_interval_seconds: int(5).default(300).describe('Seconds between two redelivery passes by the fleet leader (anklet only)'),
    redeliver_max_api_calls: int(2).default(200).describe('GitHub API calls one redelivery pass may make (anklet only)'),
    body_limit_bytes: int(1024).default(5 * 1024 * 1024).describe('Largest accepted webhook body, in bytes (anklet only)'),
    store_timeout_ms: int(100, 9500)
      .default(8000)
      .describe('The store write must finish within this, or the webhook gets a 503 so GitHub records a failed delivery (anklet only)'),
    on_bad_labels: z
      .enum(['cancel', 'ignore'], { error: 'expected cancel or ignore' })
      .default('cancel')
      .describe(
        'A job whose labels look like anka labels but do not parse (anka-template without ":", my-anka-template:x, two templates, an empty tag): cancel stores it, logs an ERROR and cancels its workflow run; ignore leaves it waiting on GitHub (anklet only)',
      ),
    workflows: z
      .object({ include: list().describe('Only jobs of these workflows'), exclude: list().describe('Never jobs of these workflows') }, { error: 'expected a map' })
      .nullish()
      .transform((w) => ({ include: w?.include ?? [], exclude: w?.exclude ?? [] }))
      .describe('Only (include) or never (exclude) jobs of these workflow names; empty = all'),
  })
  .superRefine((config, issues) => {
    addGitHubConfigIssues(config, issues);
    // Redelivery needs credentials and the hook id (Go asked for credentials always). With neither,
    // the receiver runs without redelivery and says so at start; with one of the two, the other is missing.
    if (!config.enterprise && config.skip_redeliver !== true) {
      const credentials = Boolean(config.token || config.private_key);
      const hook = typeof config.hook_id === 'number' && config.hook_id > 0;
      if (hook && !credentials) {
        issues.addIssue({
          code: 'custom',
          path: ['token'],
          message: 'token or private_key are not set at global level or in the plugin (needed for redelivery with hook_id; or set skip_redeliver: true)',
        });
      }
      if (credentials && !hook) {
        issues.addIssue({ code: 'custom', path: ['hook_id'], message: 'hook_id is required for redelivery (the id of the webhook; or set skip_redeliver: true)' });
      }
    }
  }, ALWAYS);

/** True when the receiver would redeliver: not enterprise, not skipped, and both a hook id and credentials. */
export function redeliveryConfigured(config: ReceiverConfig): boolean {
  return !config.enterprise && !config.skip_redeliver && config.hook_id > 0 && Boolean(config.token || config.private_key);
}

export type ReceiverConfig = z.output<typeof receiverConfigSchema>;
