import { z } from 'zod';

/*
 * The host's view of config.yml: every key of the Go anklet, with the Go types.
 *
 * Go decodes YAML leniently: a key with no value is the zero value, and a string field accepts an
 * unquoted number (`port: 8080`). So every field is nullish, and string fields accept numbers; the
 * loader normalises both. Unknown keys are not rejected here: the loader warns about them.
 */

/** A Go `string` field: a string, or a number YAML decoded from an unquoted scalar. */
const goString = () => z.union([z.string(), z.number()], { error: 'expected a string' }).nullish();
const goInt = () => z.number({ error: 'expected a number' }).int({ error: 'expected a whole number' }).nullish();
const goFloat = () => z.number({ error: 'expected a number' }).nullish();
const goBool = () => z.boolean({ error: 'expected true or false' }).nullish();
const goList = () => z.array(z.string({ error: 'expected a string' }), { error: 'expected a list' }).nullish();

/** The `database:` block of a plugin and of `metrics`. */
export const databaseSchema = z
  .object(
    {
      url: goString().describe('Redis host name or IP (not a redis:// URL)'),
      port: goInt().describe('Redis port'),
      user: goString().describe('Redis ACL user'),
      password: goString().describe('Redis password'),
      database: goInt().describe('Redis database index (ignored in cluster mode)'),
      max_retries: goInt().describe('Retries of a failed Redis operation (default 5)'),
      retry_delay: goInt().describe('Base delay between retries in milliseconds (default 1000)'),
      retry_backoff_factor: goFloat().describe('Backoff factor between retries (default 2.0)'),
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

/** One entry of `plugins:`. The host checks these Go keys; the plugin's own schema checks its block. */
export const pluginEntrySchema = z.looseObject(
  {
    sleep_interval: goInt().describe('Seconds between two runs of this plugin (0 = at once)'),
    name: goString().describe('Unique name of this plugin instance; also the prefix of its environment overrides'),
    plugin: goString().describe('Short id (github, github_receiver) or npm package name of the plugin'),
    token: goString().describe('GitHub personal access token (falls back to global_token)'),
    repo: goString().describe('Repository name: with owner, the plugin serves one repository'),
    owner: goString().describe('GitHub organisation or user; the default queue name'),
    enterprise: goString().describe('GitHub Enterprise slug (instead of owner); the default queue name'),
    queue_name: goString().describe('Queue namespace shared by several owners'),
    database: databaseSchema,
    registry_url: goString().describe('Handlers: Anka registry to pull templates from'),
    skip_pull: goBool().describe('Handlers: never pull; use the templates already on the host'),
    private_key: goString().describe('GitHub App private key: a file path or the PEM text (falls back to global_private_key)'),
    app_id: goInt().describe('GitHub App id (with private_key)'),
    installation_id: goInt().describe('GitHub App installation id'),
    workflows: z
      .object({ include: goList(), exclude: goList() }, { error: 'expected a map' })
      .nullish()
      .describe('Only (include) or never (exclude) jobs of these workflow names'),
    port: goString().describe('Receivers: TCP port the webhook server listens on'),
    secret: goString().describe('Webhook secret (overridden by global_receiver_secret)'),
    hook_id: goInt().describe('Receivers: id of the webhook whose failed deliveries are redelivered'),
    skip_redeliver: goBool().describe('Receivers: never ask GitHub to redeliver'),
    runner_group: goString().describe('Handlers: runner group the ephemeral runners join'),
    redeliver_hours: goInt().describe('Receivers: how far back failed deliveries are redelivered, in hours (default 24)'),
    registration_timeout_seconds: goInt().describe('Handlers: seconds a runner may take to pick up its job before the VM is replaced'),
    template_disk_buffer: goFloat().describe('Handlers: percent of the disk kept free when pulling templates (default: global_template_disk_buffer, else 10)'),
    job_retry_attempts: goInt().describe('Handlers: new VMs tried for one job before it is given up'),
    skip_cpu_and_memory_resource_checks: goBool().describe('Handlers: start VMs without checking host CPU and memory'),
    host_to_guest_folder_mounts: goList().describe('Handlers: host folders mounted into every VM'),
    on_failure: z
      .enum(failurePolicies, { error: `expected one of ${failurePolicies.join(', ')}` })
      .nullish()
      .describe('What the host does when this plugin fails: shutdown (default), isolate or restart'),
  },
  { error: 'expected a map' },
);

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
          port: goString().describe('Metrics port; unset: the first free port from 8080'),
          address: goString().describe('Interface the metrics server listens on (default: all, as in Go)'),
          metrics_urls: goList().describe('Accepted and unused, as in Go'),
          sleep_interval: goInt().describe('Accepted for Go configs; the TypeScript host exports every 10 s'),
          stale_after_seconds: goInt().describe('Aggregator and anklet status: a host silent this long is marked stale, listed apart and left out of totals (default 60)'),
          drop_after_seconds: goInt().describe('Aggregator and anklet status: a host silent this long leaves the fleet view (default 600; 0 keeps every host)'),
          include_unindexed_hosts: goBool().describe('Aggregator and anklet status: also show Go anklet hosts, found by a SCAN of the whole keyspace at most once a minute (default false)'),
          database: databaseSchema,
        },
        { error: 'expected a map' },
      )
      .nullish(),
    global_private_key: goString().describe('GitHub App private key (file path or PEM text) for plugins that set none'),
    global_token: goString().describe('GitHub token for plugins that set none'),
    plugins_path: goString().describe('npm prefix the plugins are installed into (default ~/.config/anklet/plugins)'),
    global_database_url: goString().describe('Redis host for every plugin; with none, a single host uses the embedded store'),
    global_database_port: goInt().describe('Redis port (default 6379)'),
    global_database_user: goString().describe('Redis ACL user'),
    global_database_password: goString().describe('Redis password'),
    global_database_database: goInt().describe('Redis database index (ignored in cluster mode)'),
    global_database_max_retries: goInt().describe('Retries of a failed Redis operation (default 5)'),
    global_database_retry_delay: goInt().describe('Base delay between retries in milliseconds (default 1000)'),
    global_database_retry_backoff_factor: goFloat().describe('Backoff factor between retries (default 2.0)'),
    global_database_cluster_mode: goBool().describe('Connect to a Redis Cluster'),
    global_database_tls_enabled: goBool().describe('Connect with TLS'),
    global_database_tls_insecure: goBool().describe('Skip TLS certificate checks'),
    global_receiver_secret: goString().describe('Webhook secret that replaces every receiver\'s secret'),
    global_template_disk_buffer: goFloat().describe('Handlers: disk buffer percent when a handler sets none'),
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
