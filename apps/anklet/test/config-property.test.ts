import path from 'node:path';
import handlerPlugin from '@anklet/plugin-github-handler';
import receiverPlugin from '@anklet/plugin-github-receiver';
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { describeIssues, loadConfig } from '../src/config/load-config.js';
import { preparePlugins } from '../src/config/prepare-plugins.js';
import { configReferenceOf } from '../src/config/reference.js';
import { makeTmp, seedFirstPartyPlugins, writeFile } from './helpers.js';

/**
 * Configs generated from the schema, valid and with one key broken, are judged alike by the
 * published JSON Schema (ajv) and by `config validate` (the loader and the plugins' schemas). The
 * generator keeps the rules across keys that JSON Schema cannot state (scope, credentials, unique
 * names): those are `config validate`'s alone and are tested in config-values.test.ts.
 */
const { schema } = configReferenceOf([handlerPlugin, receiverPlugin]);
const ajv = new Ajv2020({ strict: false, allErrors: true });
const validateSchema = ajv.compile(schema);

/** Text as people write it, including what YAML would read as a number or a boolean. */
const text = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9_-]{0,11}$/), fc.constantFrom('00000000', '0123', '1e3', 'yes', '0x1F', 'on', '12345678'));
const port = fc.integer({ min: 1, max: 65535 });

const handler = fc.record(
  {
    plugin: fc.constant('github'),
    owner: text,
    token: text,
    sleep_interval: fc.integer({ min: 0, max: 60 }),
    job_retry_attempts: fc.integer({ min: 0, max: 10 }),
    lease_seconds: fc.integer({ min: 10, max: 600 }),
    registration_timeout_seconds: fc.integer({ min: 0, max: 600 }),
    template_disk_buffer: fc.double({ min: 0, max: 100, noNaN: true }),
    skip_pull: fc.boolean(),
    registration_method: fc.constantFrom('jit', 'token'),
    runner_group: text,
  },
  { requiredKeys: ['plugin', 'owner', 'token'] },
);
const receiver = fc.record(
  {
    plugin: fc.constant('github_receiver'),
    owner: text,
    port,
    secret: text,
    skip_redeliver: fc.constant(true),
    redeliver_hours: fc.integer({ min: 0, max: 72 }),
    store_timeout_ms: fc.integer({ min: 100, max: 9500 }),
  },
  { requiredKeys: ['plugin', 'owner', 'port', 'secret', 'skip_redeliver'] },
);
const config = fc.record(
  {
    global_database_database: fc.integer({ min: 0, max: 15 }),
    global_template_disk_buffer: fc.integer({ min: 0, max: 100 }),
    metrics: fc.record({ port: port.map(String), sleep_interval: fc.integer({ min: 0, max: 60 }) }, { requiredKeys: [] }),
    plugins: fc.array(fc.oneof(handler, receiver), { maxLength: 3 }).map((list) => list.map((entry, i) => ({ name: `P${i}_${String(entry.plugin)}`, ...entry }))),
  },
  { requiredKeys: ['plugins'] },
);

type Config = { plugins: Array<Record<string, unknown>>; metrics?: Record<string, unknown> } & Record<string, unknown>;

/** One key broken the way people break it. */
const mutations: Array<(c: Config) => void> = [
  (c) => c.plugins[0] && (c.plugins[0].sleep_interval = -1),
  (c) => c.plugins[0] && (c.plugins[0].name = `has space ${String(c.plugins[0].name)}`),
  (c) => c.plugins[0] && delete c.plugins[0].name,
  (c) => c.plugins[0] && (c.plugins[0].name = ''),
  (c) => c.plugins[0] && (c.plugins[0].sleep_interval = 1.5),
  (c) => c.plugins[0] && (c.plugins[0].plugin === 'github' ? (c.plugins[0].job_retry_attempts = -1) : (c.plugins[0].port = 99999)),
  (c) => c.plugins[0] && (c.plugins[0].plugin === 'github' ? (c.plugins[0].skip_pull = 'maybe') : (c.plugins[0].redeliver_hours = 100)),
  (c) => c.plugins[0] && (c.plugins[0].plugin === 'github' ? (c.plugins[0].lease_seconds = 5) : (c.plugins[0].store_timeout_ms = 50)),
  (c) => c.plugins[0] && (c.plugins[0].plugin === 'github' ? (c.plugins[0].registration_method = 'pat') : (c.plugins[0].port = 0)),
  (c) => (c.metrics = { ...c.metrics, port: 'abc' }),
  (c) => (c.metrics = { ...c.metrics, port: '99999' }),
  (c) => (c.global_database_database = -1),
  (c) => (c.global_template_disk_buffer = 101),
  (c) => (c.global_database_port = 70000),
];

describe('the JSON Schema and config validate agree', () => {
  it('the JSON Schema refuses what the runtime refuses: negative sleep_interval, a name with spaces, no name, port 99999, a numeric token', () => {
    const entry = { name: 'R1', plugin: 'github', owner: 'acme', token: 't' };
    expect(validateSchema({ plugins: [entry] })).toBe(true);
    for (const bad of [
      { ...entry, sleep_interval: -1 },
      { ...entry, name: 'RUNNER 1' },
      { plugin: 'github', owner: 'acme', token: 't' },
      { name: 'R', plugin: 'github_receiver', owner: 'acme', secret: 's', port: 99999 },
      { ...entry, token: 12345 },
    ]) {
      expect(validateSchema({ plugins: [bad] }), JSON.stringify(bad)).toBe(false);
    }
    expect(validateSchema({ metrics: { port: 'abc' } })).toBe(false);
  });

  it('on generated configs, valid and with one key broken', async () => {
    const home = makeTmp();
    const pluginsPath = path.join(home, 'plugins');
    seedFirstPartyPlugins(pluginsPath);
    const file = path.join(home, 'config.yml');
    let invalid = 0;
    await fc.assert(
      fc.asyncProperty(config, fc.option(fc.nat(mutations.length - 1), { freq: 2 }), async (generated, mutation) => {
        const doc = structuredClone(generated) as Config;
        if (mutation !== null) mutations[mutation]!(doc);
        doc.plugins_path = pluginsPath;
        const bySchema = validateSchema(doc);
        writeFile(file, stringify(doc));
        const loaded = loadConfig({ configPath: file, home, env: {} });
        await preparePlugins(loaded);
        const problems = describeIssues(loaded, loaded.issues);
        if (!bySchema) invalid += 1;
        expect(problems.length === 0, `schema: ${bySchema ? 'valid' : ajv.errorsText(validateSchema.errors)}\nvalidate: ${problems.join('; ')}\n${stringify(doc)}`).toBe(bySchema);
      }),
      { numRuns: 150, seed: 20261204 },
    );
    // The run must have judged both kinds.
    expect(invalid).toBeGreaterThan(20);
  }, 120_000);
});
