import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeIssues, loadConfig } from '../src/config/load-config.js';
import { preparePlugins } from '../src/config/prepare-plugins.js';
import { makeTmp, REPO_ROOT, runCli, seedFirstPartyPlugins, writeFile } from './helpers.js';

/** Loads a config with the first-party plugins installed, and prepares its plugins. */
async function prepare(yaml: string, env: Record<string, string> = {}) {
  const home = makeTmp();
  const pluginsPath = path.join(home, 'plugins');
  seedFirstPartyPlugins(pluginsPath);
  const config = loadConfig({ configPath: writeFile(path.join(home, 'config.yml'), `plugins_path: ${pluginsPath}\n${yaml}`), home, env });
  const prepared = await preparePlugins(config);
  return { config, prepared, byName: (name: string) => prepared.find((p) => p.entry.name === name)?.config as Record<string, unknown> };
}

const load = (yaml: string, env: Record<string, string> = {}) => {
  const home = makeTmp();
  return loadConfig({ configPath: writeFile(path.join(home, 'config.yml'), yaml), home, env });
};

describe('YAML scalars are read by the type of their key, as Go reads them', () => {
  it('a text key keeps the text written: 00000000, 0123, 1e3, yes, 0x1F, numeric user names and passwords', async () => {
    const { config, byName } = await prepare(`
global_database_user: 0123
global_database_password: 0001e5
global_token: 1e3
plugins:
  - name: R
    plugin: github_receiver
    port: 54321
    secret: 00000000
    owner: 0123
    repo: 0x1F
    skip_redeliver: true
  - name: H
    plugin: github
    token: 00000000
    owner: yes
    repo: 1e3
    runner_group: 0o17
`);
    expect(describeIssues(config, config.issues)).toEqual([]);
    expect(config.raw).toMatchObject({ global_database_user: '0123', global_database_password: '0001e5', global_token: '1e3' });
    expect(byName('R')).toMatchObject({ secret: '00000000', owner: '0123', repo: '0x1F', port: 54321 });
    expect(byName('H')).toMatchObject({ token: '00000000', owner: 'yes', repo: '1e3', runner_group: '0o17' });
    // Quoted, the same text.
    const quoted = await prepare(`plugins:\n  - { name: R, plugin: github_receiver, port: 1, secret: "0123", owner: 'yes', skip_redeliver: true }\n`);
    expect(quoted.byName('R')).toMatchObject({ secret: '0123', owner: 'yes' });
  });

  it('a number key takes what Go takes: decimal, 0x, 0o, 0b, leading-zero octal (with a warning), 1_000, 1e3, a sign, 10.0', () => {
    const config = load(`
global_database_database: 0x1F
global_database_max_retries: 0o17
global_database_retry_delay: 1_000
global_database_port: 1e3
global_database_retry_backoff_factor: 2.5
global_template_disk_buffer: +15
metrics:
  sleep_interval: 017
plugins:
  - { name: A, plugin: x, sleep_interval: 0b101 }
  - { name: B, plugin: x, sleep_interval: 10.0 }
`);
    expect(describeIssues(config, config.issues)).toEqual([]);
    expect(config.raw).toMatchObject({
      global_database_database: 31,
      global_database_max_retries: 15,
      global_database_retry_delay: 1000,
      global_database_port: 1000,
      global_database_retry_backoff_factor: 2.5,
      global_template_disk_buffer: 15,
      metrics: { sleep_interval: 15 },
    });
    expect(config.plugins.map((p) => p.sleepIntervalSeconds)).toEqual([5, 10]);
    expect(describeIssues(config, config.warnings)).toEqual(['metrics.sleep_interval: 017 is read as the octal number 15, as Go does; write 15 (or 0o17) to say so']);
  });

  it('refuses what is not a number for a number key, showing the value and where it is', () => {
    const config = load('global_database_port: six\nplugins:\n  - name: A\n    plugin: x\n    sleep_interval: 1.5\n');
    expect(describeIssues(config, config.issues, { locate: true })).toEqual([
      'line 1:23  global_database_port: expected a number (got "six")',
      'line 5:21  plugins[0] "A": sleep_interval: expected a whole number (got 1.5)',
    ]);
  });

  it('reads the YAML 1.1 words for a true/false key, and unset for ~, null or nothing', () => {
    const config = load('global_database_tls_enabled: on\nglobal_database_cluster_mode: No\nglobal_skip_cpu_and_memory_resource_checks: y\nglobal_token: ~\nglobal_database_user:\n');
    expect(config.issues).toEqual([]);
    expect(config.raw).toMatchObject({ global_database_tls_enabled: true, global_database_cluster_mode: false, global_skip_cpu_and_memory_resource_checks: true });
    expect(config.raw.global_token).toBeNull();
    expect(config.raw.global_database_user).toBeNull();
  });
});

describe('environment precedence, through the host', () => {
  const yaml = `
plugins:
  - { name: RUNNER1, plugin: github, owner: o, token: t, job_retry_attempts: 3, registry_url: http://file }
  - { name: RUNNER2, plugin: github, owner: o, token: t, job_retry_attempts: 3 }
`;
  it('<PLUGIN_NAME>_<KEY> beats ANKLET_<KEY> beats the file; the plugin never reads the environment', async () => {
    const file = await prepare(yaml);
    expect([file.byName('RUNNER1')?.job_retry_attempts, file.byName('RUNNER2')?.job_retry_attempts]).toEqual([3, 3]);
    const both = await prepare(yaml, { ANKLET_JOB_RETRY_ATTEMPTS: '7', RUNNER1_JOB_RETRY_ATTEMPTS: '9', RUNNER1_REGISTRY_URL: 'http://env' });
    expect(describeIssues(both.config, both.config.issues)).toEqual([]);
    expect([both.byName('RUNNER1')?.job_retry_attempts, both.byName('RUNNER2')?.job_retry_attempts]).toEqual([9, 7]);
    expect(both.byName('RUNNER1')?.registry_url).toBe('http://env');
    // The plugin's schema types the variable: a text key keeps the text, a number key must parse.
    const text = await prepare(yaml, { RUNNER1_TOKEN: '00000000' });
    expect(text.byName('RUNNER1')?.token).toBe('00000000');
    // A variable that does not parse stops the load, as in Go, naming the variable and never its value.
    await expect(prepare(yaml, { RUNNER1_JOB_RETRY_ATTEMPTS: 'many' })).rejects.toThrow('RUNNER1_JOB_RETRY_ATTEMPTS: expected a whole number');
    const bad = await prepare(yaml, { RUNNER2_LEASE_SECONDS: 'long' });
    expect(describeIssues(bad.config, bad.config.issues)).toEqual([
      'plugins[1] "RUNNER2": name: RUNNER2_LEASE_SECONDS: expected a whole number (fix or unset the environment variable RUNNER2_LEASE_SECONDS)',
    ]);
  });

  it('no plugin source reads process.env', () => {
    for (const pkg of ['plugin-github-handler', 'plugin-github-receiver']) {
      const dir = path.join(REPO_ROOT, 'packages', pkg, 'src');
      for (const file of readdirSync(dir)) expect(readFileSync(path.join(dir, file), 'utf8'), `${pkg}/src/${file}`).not.toMatch(/process\.env/);
    }
  });
});

describe('config validate', () => {
  it('reports the host\'s and every plugin\'s problems in one pass, with lines, values and the closest key', async () => {
    const home = makeTmp();
    const pluginsPath = path.join(home, 'plugins');
    seedFirstPartyPlugins(pluginsPath);
    const file = writeFile(
      path.join(home, 'config.yml'),
      `plugins_path: ${pluginsPath}
global_databse_url: localhost
metrics:
  port: abc
plugins:
  - name: RUNNER 1
    plugin: github
    owner: acme
    token: t
    job_retry_attempts: -1
    sleep_interval: -5
  - name: RUNNER2
    plugin: github
    owner: acme
    app_id: 1
    private_key: ./missing.pem
    registraton_method: jit
  - plugin: github_receiver
    port: 99999
    repo: r
    secret: s
    skip_redeliver: true
`,
    );
    const before = statSync(file).mtimeMs;
    const run = await runCli(['-c', file, 'config', 'validate'], { home });
    expect(run.code).toBe(1);
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack
    const lines = run.stderr.split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        'warning: line 2:1  global_databse_url: unknown key (ignored); did you mean global_database_url?',
        `warning: line 17:5  plugins[1] "RUNNER2": registraton_method: unknown key for plugin @anklet/plugin-github-handler (ignored); did you mean registration_method?`,
        `${file}: 8 problems`,
        '  line 4:9  metrics.port: expected a TCP port (1-65535) (got "abc")',
        '  line 6:11  plugins[0] "RUNNER 1": name: plugin name cannot contain spaces (got "RUNNER 1")',
        '  line 10:25  plugins[0] "RUNNER 1": job_retry_attempts: expected 0 or more (got -1)',
        '  line 11:21  plugins[0] "RUNNER 1": sleep_interval: must be 0 or more seconds (got -5)',
        `  line 16:18  plugins[1] "RUNNER2": private_key: no key file at ${path.join(home, 'missing.pem')} (give the path of the GitHub App's .pem file, or its PEM text)`,
        '  line 18:5  plugins[2]: name: name is required for plugins',
        '  line 19:11  plugins[2]: port: expected a TCP port (1-65535) (got 99999)',
        '  line 18:5  plugins[2]: owner: invalid github scope: repo requires owner to be set',
      ]),
    );
    expect(statSync(file).mtimeMs).toBe(before); // nothing changed on disk
  });

  it('shows the line and column of a YAML error', async () => {
    const home = makeTmp();
    const file = writeFile(path.join(home, 'config.yml'), 'plugins:\n  - name: A\n    plugin: [github\n');
    const run = await runCli(['-c', file, 'config', 'validate'], { home });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^anklet: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: not valid YAML: `));
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
