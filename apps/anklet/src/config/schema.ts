import { z } from 'zod';

/*
 * The host's keys of config.yml: every top-level key of the Go anklet and the keys of a `plugins:`
 * entry the host itself reads (`name`, `plugin`, `sleep_interval`, `database`, `on_failure`). Each
 * plugin owns the rest of its entry (its zod schema, exported beside the plugin); the docs and the
 * JSON Schema are generated from both (scripts/gen-config-reference.ts).
 *
 * Values arrive typed by these schemas (yaml-values.ts): a text key holds the scalar's text as Go
 * keeps it, a number key a number read with Go's rules. A key with no value is unset. Unknown keys
 * are not rejected here: the loader warns about them and suggests the closest known key.
 */

const goString = () => z.string({ error: 'expected text' }).nullish();
/** A whole number, optionally in [min, max]: the bounds sit on the schema itself so that the JSON Schema has them too. */
const goInt = (min?: number, max?: number, range?: string) => {
  let schema = z.number({ error: 'expected a number' }).int({ error: 'expected a whole number' });
  if (min !== undefined) schema = schema.min(min, range ?? (max === undefined ? `expected ${min} or more` : `expected ${min}-${max}`));
  if (max !== undefined) schema = schema.max(max, range ?? (min === undefined ? `expected ${max} or less` : `expected ${min}-${max}`));
  return schema.nullish();
};
const goFloat = (min?: number, max?: number, range?: string) => {
  let schema = z.number({ error: 'expected a number' });
  if (min !== undefined) schema = schema.min(min, range ?? (max === undefined ? `expected ${min} or more` : `expected ${min}-${max}`));
  if (max !== undefined) schema = schema.max(max, range ?? (min === undefined ? `expected ${max} or less` : `expected ${min}-${max}`));
  return schema.nullish();
};
const goBool = () => z.boolean({ error: 'expected true or false' }).nullish();
const goList = () => z.array(z.string({ error: 'expected text' }), { error: 'expected a list' }).nullish();
/** A TCP port written as text (Go's `metrics.port` is a string): 1-65535, or empty for "choose one". */
export const PORT_PATTERN = /^(?:[1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d{2}|655[0-2]\d|6553[0-5])$/;
const goPort = () => z.string({ error: 'expected a TCP port (1-65535)' }).regex(PORT_PATTERN, 'expected a TCP port (1-65535)').nullish();
const dbPort = () => goInt(0, 65535, 'expected a TCP port (1-65535; 0 = unset)');

/** The `database:` block of a plugin and of `metrics`. */
export const databaseSchema = z
  .object(
    {
      enabled: goBool().describe('Accepted for Go configs and unused: Redis is on whenever a url is set'),
      url: goString().describe('Redis host name or IP (not a redis:// URL)'),
      port: dbPort().describe('Redis port'),
      user: goString().describe('Redis ACL user'),
      password: goString().describe('Redis password'),
      database: goInt(0).describe('Redis database index (ignored in cluster mode)'),
      max_retries: goInt(0).describe('Retries of a failed Redis operation (default 5)'),
      retry_delay: goInt(0).describe('Base delay between retries in milliseconds (default 1000)'),
      retry_backoff_factor: goFloat(0).describe('Backoff factor between retries (default 2.0)'),
      cluster_mode: goBool().describe('Connect to a Redis Cluster'),
      tls_enabled: goBool().describe('Connect with TLS'),
      tls_insecure: goBool().describe('Skip TLS certificate checks'),
    },
    { error: 'expected a map' },
  )
  .nullish();

/** What the host does when a plugin fails to start or fails while running. */
export const failurePolicies = ['shutdown', 'isolate', 'restart'] as const;
export type FailurePolicy = (typeof failurePolicies)[number];

/** Go's texts for a missing name, kept so that existing alerts and greps keep working. */
export const NAME_REQUIRED = 'name is required for plugins';
export const NAME_SPACES = 'plugin name cannot contain spaces';
export const PLUGIN_REQUIRED = 'plugin is not set (use github, github_receiver or an npm package name)';

/** The keys of a `plugins:` entry that belong to the host. Everything else is the plugin's. */
export const pluginEntrySchema = z.looseObject(
  {
    name: z
      .string({ error: (issue) => (issue.input === undefined || issue.input === null ? NAME_REQUIRED : 'expected text') })
      .min(1, NAME_REQUIRED)
      .regex(/^[^ ]+$/, NAME_SPACES)
      .describe('Unique name of this plugin instance; also the prefix of its environment overrides. No spaces.'),
    plugin: z
      .string({ error: (issue) => (issue.input === undefined || issue.input === null ? PLUGIN_REQUIRED : 'expected text') })
      .min(1, PLUGIN_REQUIRED)
      .describe('Short id (github, github_receiver) or npm package name of the plugin'),
    sleep_interval: goInt(0, undefined, 'must be 0 or more seconds')
      .describe('Seconds between two runs of this plugin (0 = at once)'),
    database: databaseSchema.describe('Redis for this plugin; each global_database_* that is set wins over the same key here'),
    on_failure: z
      .enum(failurePolicies, { error: `expected one of ${failurePolicies.join(', ')}` })
      .nullish()
      .describe('What the host does when this plugin fails: shutdown (default), isolate or restart'),
  },
  { error: 'expected a map' },
);

/** The keys of a plugin entry the host reads; a plugin's schema need not (and should not) declare them. */
export const HOST_ENTRY_KEYS: ReadonlySet<string> = new Set(Object.keys(pluginEntrySchema.shape));

/** The whole config file. */
export const hostConfigSchema = z.object(
  {
    plugins: z.array(pluginEntrySchema, { error: 'expected a list of plugins' }).nullish(),
    log: z
      .object(
        {
          file_dir: goString().describe('Folder for per-plugin log files; must exist'),
          split_by_plugin: goBool().describe('Write each plugin to <file_dir>/anklet-<name>.log'),
        },
        { error: 'expected a map' },
      )
      .nullish(),
    pid_file_dir: goString().describe('Folder for anklet.pid'),
    log_file_dir: goString().describe('Legacy; use log.file_dir'),
    work_dir: goString().describe('Folder for plugin state (default ~/.config/anklet)'),
    metrics: z
      .object(
        {
          aggregator: goBool().describe('Serve the whole fleet from the database instead of running plugins'),
          port: goPort().describe('Metrics port; unset: the first free port from 8080'),
          address: goString().describe('Interface the metrics server listens on (default: all, as in Go)'),
          host_name: goString().describe(
            "This host's name in the fleet view: its metrics key anklet/metrics/<host_name>, the aggregator's host label and the status page (default: the machine's host name). Each anklet process of a fleet needs its own",
          ),
          metrics_urls: goList().describe('Accepted and unused, as in Go'),
          sleep_interval: goInt(0).describe('Accepted for Go configs; the TypeScript host exports every 10 s'),
          stale_after_seconds: goInt(0).describe('Aggregator and anklet status: a host silent this long is marked stale, listed apart and left out of totals (default 60)'),
          drop_after_seconds: goInt(0).describe('Aggregator and anklet status: a host silent this long leaves the fleet view (default 600; 0 keeps every host)'),
          include_unindexed_hosts: goBool().describe('Aggregator and anklet status: also show Go anklet hosts, found by a SCAN of the whole keyspace at most once a minute (default false)'),
          database: databaseSchema,
        },
        { error: 'expected a map' },
      )
      .nullish(),
    job_history: z
      .object(
        {
          max_age_hours: goInt(0).describe('Hours the timeline of a finished job is kept in the job store (default 24; 0: the default)'),
          max_jobs: goInt(0).describe('Finished jobs per queue whose timeline is kept in the job store, the newest (default 1000; 0: the default)'),
        },
        { error: 'expected a map' },
      )
      .nullish()
      .describe('How long the job store keeps the timelines of finished jobs: whichever bound is reached first'),
    global_private_key: goString().describe('GitHub App private key (file path or PEM text) for plugins that set none'),
    global_token: goString().describe('GitHub token for plugins that set none'),
    plugins_path: goString().describe('npm prefix the plugins are installed into (default ~/.config/anklet/plugins)'),
    global_database_url: goString().describe('Redis host for every plugin; with none, a single host uses the embedded store'),
    global_database_port: dbPort().describe('Redis port (default 6379)'),
    global_database_user: goString().describe('Redis ACL user'),
    global_database_password: goString().describe('Redis password'),
    global_database_database: goInt(0).describe('Redis database index (ignored in cluster mode)'),
    global_database_max_retries: goInt(0).describe('Retries of a failed Redis operation (default 5)'),
    global_database_retry_delay: goInt(0).describe('Base delay between retries in milliseconds (default 1000)'),
    global_database_retry_backoff_factor: goFloat(0).describe('Backoff factor between retries (default 2.0)'),
    global_database_cluster_mode: goBool().describe('Connect to a Redis Cluster'),
    global_database_tls_enabled: goBool().describe('Connect with TLS'),
    global_database_tls_insecure: goBool().describe('Skip TLS certificate checks'),
    global_receiver_secret: goString().describe('Webhook secret that replaces every receiver\'s secret'),
    global_template_disk_buffer: goFloat(0, 100, 'expected a percentage (0-100)').describe('Handlers: disk buffer percent when a handler sets none'),
    global_skip_cpu_and_memory_resource_checks: goBool().describe('Handlers: true turns the CPU and memory check off for all'),
    global_host_to_guest_folder_mounts: goList().describe('Handlers: folders mounted into every VM, before each handler\'s own'),
  },
  { error: 'expected a map' },
);

export type RawHostConfig = z.infer<typeof hostConfigSchema>;
export type RawPluginEntry = z.infer<typeof pluginEntrySchema>;
export type RawDatabase = NonNullable<z.infer<typeof databaseSchema>>;

/** The kind of value an environment override is parsed into. */
export type EnvValueType = 'string' | 'int' | 'float' | 'bool' | 'list' | 'map';

/** Reads the Go type of a key from its zod field, so the env parser and the schema never disagree. */
export function valueTypeOf(field: z.ZodType): EnvValueType {
  let inner: z.ZodType = field;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodNullable) inner = inner.unwrap() as z.ZodType;
  if (inner instanceof z.ZodBoolean) return 'bool';
  if (inner instanceof z.ZodArray) return 'list';
  if (inner instanceof z.ZodObject) return 'map';
  if (inner instanceof z.ZodNumber) return inner.format === 'safeint' || inner.isInt ? 'int' : 'float';
  return 'string';
}

/** The keys of an object schema (unwrapping optional/nullable), or undefined for non-objects. */
export function objectShape(field: z.ZodType): Record<string, z.ZodType> | undefined {
  let inner: z.ZodType = field;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodNullable) inner = inner.unwrap() as z.ZodType;
  return inner instanceof z.ZodObject ? (inner.shape as Record<string, z.ZodType>) : undefined;
}
