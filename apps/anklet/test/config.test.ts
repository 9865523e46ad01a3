import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dumpConfig } from '../src/config/dump-config.js';
import { envPrefixOf } from '../src/config/env-overrides.js';
import handlerPlugin from '@anklet/plugin-github-handler';
import receiverPlugin from '@anklet/plugin-github-receiver';
import { configReferenceOf } from '../src/config/reference.js';
import { describeIssues, loadConfig } from '../src/config/load-config.js';
import { applyKindGlobals, preparePlugins } from '../src/config/prepare-plugins.js';
import { timelineHistoryOf } from '../src/host/stores.js';
import { FIXTURE_CONFIGS, makeTmp, seedFirstPartyPlugins, seedPlugins, writeFile } from './helpers.js';

function load(yaml: string, env: Record<string, string> = {}) {
  const home = makeTmp();
  const file = writeFile(path.join(home, 'config.yml'), yaml);
  return loadConfig({ configPath: file, env, home });
}

const problems = (config: ReturnType<typeof load>) => describeIssues(config, config.issues);

describe('job_history', () => {
  it('bounds the stores\' timelines of finished jobs from YAML or the environment; unset or 0 is the store default', () => {
    const yaml = load('job_history:\n  max_age_hours: 2\n  max_jobs: 50\nplugins: []\n');
    expect(yaml.issues).toEqual([]);
    expect(timelineHistoryOf(yaml.raw)).toEqual({ maxAgeMs: 2 * 3_600_000, maxJobs: 50 });
    const env = load('job_history:\n  max_age_hours: 2\nplugins: []\n', { ANKLET_JOB_HISTORY_MAX_AGE_HOURS: '6', ANKLET_JOB_HISTORY_MAX_JOBS: '10' });
    expect(timelineHistoryOf(env.raw)).toEqual({ maxAgeMs: 6 * 3_600_000, maxJobs: 10 });
    expect(timelineHistoryOf(load('plugins: []\n').raw)).toEqual({ maxAgeMs: undefined, maxJobs: undefined });
    expect(timelineHistoryOf(load('job_history:\n  max_jobs: 0\nplugins: []\n').raw)).toEqual({ maxAgeMs: undefined, maxJobs: undefined });
    expect(problems(load('job_history:\n  max_jobs: -1\nplugins: []\n')).join('\n')).toMatch(/max_jobs/);
  });
});

describe('config file location', () => {
  it('reads ~/.config/anklet/config.yml by default and ANKLET_CONFIG_FILE_NAME in that folder', () => {
    const home = makeTmp();
    writeFile(path.join(home, '.config/anklet/config.yml'), 'plugins:\n');
    writeFile(path.join(home, '.config/anklet/receiver.yml'), 'pid_file_dir: /tmp/x\n');
    expect(loadConfig({ home, env: {} }).file).toBe(path.join(home, '.config/anklet/config.yml'));
    const other = loadConfig({ home, env: { ANKLET_CONFIG_FILE_NAME: 'receiver.yml' } });
    expect(other.pidFileDir).toBe('/tmp/x');
  });

  it('explains a missing file, an empty file and bad YAML', () => {
    const home = makeTmp();
    expect(() => loadConfig({ configPath: path.join(home, 'nope.yml'), home, env: {} })).toThrow(/no config file at .*nope\.yml/);
    const empty = writeFile(path.join(home, 'empty.yml'), '');
    expect(() => loadConfig({ configPath: empty, home, env: {} })).toThrow(/is empty/);
    const bad = writeFile(path.join(home, 'bad.yml'), 'plugins:\n  - name: [unclosed\n');
    expect(() => loadConfig({ configPath: bad, home, env: {} })).toThrow(/not valid YAML/);
  });

  it('takes `---` alone or `plugins:` alone as an empty, valid config', () => {
    expect(load('---\n').issues).toEqual([]);
    expect(load('plugins:\n').plugins).toEqual([]);
  });
});

describe('validation', () => {
  it('reports every problem at once, each with its path', () => {
    const config = load(`
metrics:
  port: [1]
plugins:
  - name: RUNNER1
    plugin: github
    sleep_interval: soon
  - name: RUNNER2
    plugin: github
    app_id: abc
    database:
      port: 99999
  - plugin: github
  - name: RUNNER1
    plugin: github
  - name: has space
  - name: X
    plugin: github
    on_failure: explode
`);
    expect(problems(config)).toEqual([
      'metrics.port: expected a TCP port (1-65535)',
      'plugins[0] "RUNNER1": sleep_interval: expected a number',
      'plugins[1] "RUNNER2": database.port: expected a TCP port (1-65535; 0 = unset)',
      'plugins[2]: name: name is required for plugins',
      'plugins[3] "RUNNER1": name: duplicate plugin name "RUNNER1" (also plugins[0]); names must be unique',
      'plugins[4] "has space": name: plugin name cannot contain spaces',
      'plugins[4] "has space": plugin: plugin is not set (use github, github_receiver or an npm package name)',
      'plugins[5] "X": on_failure: expected one of shutdown, isolate, restart',
    ]);
  });

  it('checks that log.file_dir exists', () => {
    const config = load('log:\n  file_dir: /tmp/anklet-surely-missing-dir\n');
    expect(problems(config)).toEqual(['log.file_dir: log directory does not exist: /tmp/anklet-surely-missing-dir (create it, or remove log.file_dir)']);
  });

  it('warns about unknown keys instead of failing', () => {
    const config = load('surprise: 1\nmetrics:\n  colour: red\nplugins:\n  - name: A\n    plugin: github\n    future_key: x\n');
    expect(config.issues).toEqual([]);
    expect(describeIssues(config, config.warnings)).toEqual(['surprise: unknown key (ignored)', 'metrics.colour: unknown key (ignored)']);
  });

  it('accepts YAML 1.1 booleans and numbers for string keys, as Go does', () => {
    const config = load('global_database_tls_enabled: yes\nmetrics:\n  port: 8080\nplugins:\n  - name: R\n    plugin: github_receiver\n    port: 54321\n    skip_redeliver: on\n');
    expect(config.issues).toEqual([]);
    expect(config.raw.global_database_tls_enabled).toBe(true);
    expect(config.plugins[0]!.block.skip_redeliver).toBe(true);
    const dump = dumpConfig(config.document) as { Metrics: { Port: string }; Plugins: Array<{ Port: string }> };
    expect(dump.Metrics.Port).toBe('8080');
    expect(dump.Plugins[0]!.Port).toBe('54321');
  });

  it('loads the Go anklet README-style configs unchanged', () => {
    for (const name of ['go-handlers-and-receiver.yml', 'go-aggregator.yml', 'go-enterprise.yml']) {
      const config = loadConfig({ configPath: path.join(FIXTURE_CONFIGS, name), home: makeTmp(), env: {} });
      expect(describeIssues(config, config.issues), name).toEqual([]);
      expect(config.warnings, name).toEqual([]);
    }
  });
});

describe('environment overrides', () => {
  it('normalises plugin names into env prefixes as Go does', () => {
    expect(envPrefixOf('GITHUB_HANDLER1')).toBe('GITHUB_HANDLER1');
    expect(envPrefixOf('github_handler1')).toBe('GITHUB_HANDLER1');
    expect(envPrefixOf('github-handler-1')).toBe('GITHUB_HANDLER_1');
    expect(envPrefixOf('github.handler.1')).toBe('GITHUB_HANDLER_1');
    expect(envPrefixOf('github handler 1')).toBe('GITHUB_HANDLER_1');
    expect(envPrefixOf('handler@org#1')).toBe('HANDLER_ORG_1');
  });

  it('applies ANKLET_* globals, per-plugin keys, database keys, lists and bools', async () => {
    const home = makeTmp();
    const pluginsPath = path.join(home, 'plugins');
    seedFirstPartyPlugins(pluginsPath);
    const config = loadConfig({ configPath: writeFile(path.join(home, 'config.yml'),
      `plugins_path: ${pluginsPath}
global_database_url: yaml-host
plugins:
  - name: github-handler-1
    plugin: github
    sleep_interval: 1
    owner: from-yaml
  - name: RECEIVER
    plugin: github_receiver
    secret: yaml-secret
    port: 1
    owner: o
    skip_redeliver: true
`), home, env:
      {
        ANKLET_GLOBAL_DATABASE_URL: 'env-host',
        ANKLET_GLOBAL_DATABASE_PORT: '6380',
        ANKLET_GLOBAL_DATABASE_CLUSTER_MODE: 'TRUE', // only the exact string "true" is true
        ANKLET_GLOBAL_DATABASE_TLS_ENABLED: 'true',
        ANKLET_GLOBAL_HOST_TO_GUEST_FOLDER_MOUNTS: ' /a , ,/b:guest ',
        ANKLET_METRICS_PORT: '9090',
        ANKLET_METRICS_DATABASE_DATABASE: '3',
        ANKLET_JOB_RETRY_ATTEMPTS: '7',
        ANKLET_GLOBAL_TOKEN: 'ghp_from_env_1234',
        GITHUB_HANDLER_1_SLEEP_INTERVAL: '5',
        GITHUB_HANDLER_1_OWNER: '', // empty: does not wipe the YAML value
        GITHUB_HANDLER_1_SKIP_PULL: 'true',
        GITHUB_HANDLER_1_HOST_TO_GUEST_FOLDER_MOUNTS: '/x,/y',
        GITHUB_HANDLER_1_DATABASE_USER: 'alice',
        GITHUB_HANDLER_1_DATABASE_PORT: '', // empty number: unset rather than fatal
        GITHUB_HANDLER_1_UNKNOWN_KEY: 'ignored',
        RECEIVER_SECRET: 'env-secret',
      },
    });
    expect(config.issues).toEqual([]);
    const prepared = await preparePlugins(config);
    expect(describeIssues(config, config.issues)).toEqual([]);
    expect(config.raw.global_database_url).toBe('env-host');
    expect(config.raw.global_database_port).toBe(6380);
    expect(config.raw.global_database_cluster_mode).toBe(false);
    expect(config.raw.global_host_to_guest_folder_mounts).toEqual(['/a', '/b:guest']);
    expect(config.raw.metrics?.port).toBe('9090');
    expect(config.raw.metrics?.database?.database).toBe(3);
    const [handler, receiver] = prepared.map((p) => p.entry);
    expect(handler!.sleepIntervalSeconds).toBe(5);
    expect(handler!.block).toMatchObject({
      owner: 'from-yaml',
      skip_pull: true,
      host_to_guest_folder_mounts: ['/a', '/b:guest', '/x', '/y'], // the global mounts first
      job_retry_attempts: 7,
      token: 'ghp_from_env_1234', // empty plugin token falls back to the global
      database: { user: 'alice' },
    });
    expect(handler!.block).not.toHaveProperty('unknown_key');
    expect(receiver!.block.secret).toBe('env-secret');
    expect(handler!.database).toMatchObject({ url: 'env-host', port: 6380, user: 'alice', tls_enabled: true });
  });

  it('sends a variable to the longest matching plugin name only', () => {
    const config = load('plugins:\n  - name: A\n    plugin: x\n    owner: a\n  - name: A_B\n    plugin: x\n    owner: b\n', { A_B_OWNER: 'for-a-b' });
    expect(config.plugins[0]!.block.owner).toBe('a');
    expect(config.plugins[1]!.block.owner).toBe('for-a-b');
  });

  it('fails with the variable name (not its value) when a number does not parse', () => {
    expect(() => load('plugins:\n', { ANKLET_GLOBAL_DATABASE_PORT: 'sixty' })).toThrow('ANKLET_GLOBAL_DATABASE_PORT: expected a whole number');
    expect(() => load('plugins:\n  - name: R1\n    plugin: x\n', { R1_SLEEP_INTERVAL: '12ab' })).toThrow('R1_SLEEP_INTERVAL: expected a whole number');
  });
});

describe('global precedence', () => {
  it('gives each database field from the globals first, then the plugin', () => {
    const config = load(`
global_database_port: 7000
global_database_password: global-pass
plugins:
  - name: A
    plugin: x
    database: { url: own-host, port: 6379, user: own-user, database: 2, retry_delay: 50 }
  - name: B
    plugin: x
`);
    expect(config.plugins[0]!.database).toMatchObject({ url: 'own-host', port: 7000, user: 'own-user', password: 'global-pass', database: 2, retry_delay: 50 });
    expect(config.plugins[1]!.database).toBeNull(); // no url anywhere: no Redis for B
  });

  it('applies the kind-specific globals: receiver secret, resource checks, mounts and disk buffer', () => {
    const config = load(`
global_receiver_secret: global-secret
global_skip_cpu_and_memory_resource_checks: true
global_host_to_guest_folder_mounts: [/g]
global_template_disk_buffer: 20
plugins:
  - { name: R, plugin: x, secret: own }
  - { name: H, plugin: y, host_to_guest_folder_mounts: [/own] }
`);
    expect(applyKindGlobals(config, 'receiver', config.plugins[0]!.block).secret).toBe('global-secret');
    expect(applyKindGlobals(config, 'handler', config.plugins[1]!.block)).toMatchObject({
      skip_cpu_and_memory_resource_checks: true,
      host_to_guest_folder_mounts: ['/g', '/own'],
      template_disk_buffer: 20,
    });
  });
});

describe('plugin schemas', () => {
  it('validates each block with its plugin schema after the host keys, and names missing plugins', async () => {
    const home = makeTmp();
    const pluginsPath = path.join(home, 'plugins');
    seedPlugins(pluginsPath, ['good-plugin']);
    const config = loadConfig({
      configPath: writeFile(
        path.join(home, 'c.yml'),
        `plugins_path: ${pluginsPath}\nplugins:\n  - { name: OK, plugin: good-plugin, port: 1 }\n  - { name: BAD, plugin: good-plugin, port: nope }\n  - { name: GONE, plugin: github2 }\n`,
      ),
      home,
      env: {},
    });
    const prepared = await preparePlugins(config);
    expect(prepared.map((p) => p.entry.name)).toEqual(['OK']);
    expect(Object.isFrozen(prepared[0]!.config)).toBe(true);
    expect(problems(config)).toEqual([
      'plugins[1] "BAD": port: expected a number',
      `plugins[2] "GONE": plugin: plugin "github2" is not installed in ${pluginsPath} (short ids: github, github_receiver); fix: anklet plugins install github2`,
    ]);
  });
});

describe('config dump and JSON Schema', () => {
  it('dumps the config like Go (field names, order, zero values) with secrets redacted', () => {
    const config = load('global_token: ghp_abcdef123456\nplugins:\n  - name: RUNNER2\n    plugin: github\n    sleep_interval: 10\n    secret: hush-hush\n');
    const text = JSON.stringify(dumpConfig(config.document));
    expect(text.startsWith('{"Plugins":[{"SleepInterval":10,"Name":"RUNNER2","Plugin":"github","Token":"[REDACTED]"')).toBe(true);
    expect(text).toContain('"GlobalToken":"[REDACTED]"');
    expect(text).toContain('"Secret":"[REDACTED]"');
    expect(text).not.toContain('ghp_abcdef123456');
    expect(text).not.toContain('hush-hush');
    expect(JSON.stringify(dumpConfig(load('plugins:\n').document))).toMatch(/^\{"Plugins":null,"Log":\{"FileDir":"","SplitByPlugin":false\}/);
  });

  it('keeps config.schema.json and docs/configuration.md in sync with the host and plugin schemas (regenerate: pnpm --filter anklet gen:config)', () => {
    const { schema, markdown } = configReferenceOf([handlerPlugin, receiverPlugin]);
    const committed = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../config.schema.json'), 'utf8'));
    expect(committed).toEqual(schema);
    expect(readFileSync(path.resolve(import.meta.dirname, '../../../docs/configuration.md'), 'utf8')).toBe(markdown);
  });

  it('documents every config key the code reads', () => {
    // A key "read" is a snake_case property read off a config object (`config.lease_seconds`,
    // `raw.global_token`, `block.registry_url`, `raw.metrics?.port`...), or any property read off a
    // plugin's `ctx.config`, in the host and the first-party plugins.
    const { schema } = configReferenceOf([handlerPlugin, receiverPlugin]);
    const documented = new Set<string>();
    const collect = (node: unknown): void => {
      if (node === null || typeof node !== 'object') return;
      const properties = (node as { properties?: Record<string, unknown> }).properties;
      if (properties) for (const key of Object.keys(properties)) documented.add(key);
      for (const child of Object.values(node as Record<string, unknown>)) collect(child);
    };
    collect(schema);
    const docs = readFileSync(path.resolve(import.meta.dirname, '../../../docs/configuration.md'), 'utf8');
    const root = path.resolve(import.meta.dirname, '../../..');
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const at = path.join(dir, name);
        if (statSync(at).isDirectory()) walk(at);
        else if (at.endsWith('.ts')) files.push(at);
      }
    };
    for (const dir of ['apps/anklet/src', 'packages/plugin-github-handler/src', 'packages/plugin-github-receiver/src', 'packages/github/src']) walk(path.join(root, dir));
    const snake = /(?<![.\w])(?:config|raw|block|top|entry\.block)(?:\??\.(?:metrics|log|database))?\??\.([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\b/g;
    const pluginConfig = /\bctx\.config\??\.([a-z][a-z0-9_]*)\b/g;
    const read = new Map<string, string>();
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const match of [...text.matchAll(snake), ...text.matchAll(pluginConfig)]) if (!read.has(match[1]!)) read.set(match[1]!, path.relative(root, file));
    }
    expect(read.size).toBeGreaterThan(30);
    const missing = [...read].filter(([key]) => !documented.has(key) || !docs.includes(`\`${key}\``));
    expect(missing, 'keys read in the code but missing from config.schema.json or docs/configuration.md').toEqual([]);
  });
});
