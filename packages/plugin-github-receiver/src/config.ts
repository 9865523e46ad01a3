import { z } from 'zod';

/** An integer that may arrive as a string (environment overrides, quoted YAML). */
const int = () =>
  z.union([z.number().int(), z.string().trim().regex(/^-?\d+$/, 'expected a whole number').transform(Number)], { error: 'expected a whole number' });
/** A boolean that may arrive as a string; as in Go, only `true` is true. */
const bool = () => z.union([z.boolean(), z.string().transform((s) => s.trim() === 'true')], { error: 'expected true or false' });
const text = () => z.string().nullish().transform((s) => (s ? s : undefined));
const list = () =>
  z
    .union([z.array(z.string()), z.string().transform((s) => s.split(',').map((v) => v.trim()).filter(Boolean))])
    .nullish()
    .transform((v) => v ?? []);

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
    owner: text(),
    repo: text(),
    enterprise: text(),
    queue_name: text(),
    token: text(),
    private_key: text(),
    app_id: int().nullish(),
    installation_id: int().nullish(),
    /** GitHub REST base URL (anklet only): GHES `https://host/api/v3`, or the simulator. */
    github_base_url: z.url().default('https://api.github.com'),
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
    /** Only jobs of these workflows (by name); empty = all. */
    workflows: z
      .object({ include: list(), exclude: list() })
      .nullish()
      .transform((w) => ({ include: w?.include ?? [], exclude: w?.exclude ?? [] })),
  })
  .superRefine((config, issues) => {
    // The Go scope rules and texts (without the "invalid github scope in <file>:plugins:<name>" head,
    // which the host's issue path already gives).
    if (config.enterprise && (config.owner || config.repo)) {
      issues.addIssue({ code: 'custom', path: ['enterprise'], message: 'invalid github scope: enterprise cannot be combined with owner or repo; pick one scope level' });
    } else if (config.repo && !config.owner) {
      issues.addIssue({ code: 'custom', path: ['owner'], message: 'invalid github scope: repo requires owner to be set' });
    } else if (!config.enterprise && !config.owner) {
      issues.addIssue({ code: 'custom', path: ['owner'], message: 'invalid github scope: enterprise or owner must be set' });
    }
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
    if (config.private_key && !config.app_id) issues.addIssue({ code: 'custom', path: ['app_id'], message: 'app_id is required when private_key is set' });
  });

export type ReceiverConfig = z.output<typeof receiverConfigSchema>;
