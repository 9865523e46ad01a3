import path from 'node:path';
import { ErrorCodes, isAnkletError } from '@anklet/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPlugin } from '../src/plugins/load-plugin.js';
import { expandInstallSpec, packageNameOf } from '../src/plugins/short-ids.js';
import { seedPlugins } from './helpers.js';

async function loadError(plugin: string, pluginsPath: string) {
  try {
    await loadPlugin({ plugin, pluginsPath, entryRef: 'plugins[0] "RUNNER1"' });
  } catch (err) {
    if (isAnkletError(err)) return err;
    throw err;
  }
  throw new Error(`${plugin} loaded but should not have`);
}

describe('plugin loader', () => {
  // One folder for the whole suite; every case reads a different fixture package from it.
  const root = mkdtempSync(path.join(tmpdir(), 'anklet-loader-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const pluginsPath = path.join(root, 'plugins');
  seedPlugins(pluginsPath, [
    'good-plugin',
    'not-a-plugin',
    'wrong-api',
    'no-keyword',
    'bad-core-range',
    'missing-dep',
    'throws-on-import',
    'plain-default-export',
    'kind-mismatch',
  ]);

  it('maps the Go short ids to the first-party packages and keeps full names', () => {
    expect(packageNameOf('github')).toBe('@anklet/plugin-github-handler');
    expect(packageNameOf('github_receiver')).toBe('@anklet/plugin-github-receiver');
    expect(packageNameOf('@acme/anklet-plugin-gitlab')).toBe('@acme/anklet-plugin-gitlab');
    expect(expandInstallSpec('github@^1.2.0')).toBe('@anklet/plugin-github-handler@^1.2.0');
    expect(expandInstallSpec('@acme/x@1')).toBe('@acme/x@1');
  });

  it('loads a good plugin from plugins_path, checked by brand', async () => {
    const loaded = await loadPlugin({ plugin: 'good-plugin', pluginsPath });
    expect(loaded.kind).toBe('receiver');
    expect(loaded.manifest.version).toBe('1.0.0');
    expect(loaded.plugin.name).toBe('good-plugin');
  });

  it('not installed: names the entry and the install command', async () => {
    const err = await loadError('github', pluginsPath);
    expect(err.code).toBe(ErrorCodes.PLUGIN_NOT_INSTALLED);
    expect(err.message).toBe(`plugins[0] "RUNNER1": plugin "github" (@anklet/plugin-github-handler) is not installed in ${pluginsPath}`);
    expect(err.hint).toBe('fix: anklet plugins install @anklet/plugin-github-handler');
  });

  it('broken: a dependency is missing', async () => {
    const err = await loadError('missing-dep', pluginsPath);
    expect(err.code).toBe(ErrorCodes.PLUGIN_BROKEN);
    expect(err.message).toContain('its dependency "anklet-fixture-absent-dependency" is missing');
    expect(err.hint).toBe('fix: anklet plugins install missing-dep');
  });

  it('broken: it throws on import', async () => {
    const err = await loadError('throws-on-import', pluginsPath);
    expect(err.code).toBe(ErrorCodes.PLUGIN_BROKEN);
    expect(err.message).toContain('threw on import: boom at import time');
    expect(err.hint).toContain('anklet plugins remove throws-on-import && anklet plugins install throws-on-import');
  });

  it.each([
    ['not-a-plugin', 'is not an anklet plugin (its package.json has no "anklet" field)'],
    ['wrong-api', 'was built for plugin API 99; this anklet speaks plugin API 1'],
    ['no-keyword', 'lacks the "anklet-plugin" keyword'],
    ['bad-core-range', 'needs @anklet/core ^9.0.0; this anklet provides 0.1.0'],
    ['plain-default-export', 'is not an anklet plugin (make it with definePlugin from @anklet/core)'],
    ['kind-mismatch', 'does not match its package.json'],
  ])('incompatible: %s', async (name, text) => {
    // wrong-api, no-keyword and bad-core-range throw if imported: the manifest is read first.
    const err = await loadError(name, pluginsPath);
    expect(err.code).toBe(ErrorCodes.PLUGIN_INCOMPATIBLE);
    expect(err.message).toContain(text);
    expect(err.message.startsWith('plugins[0] "RUNNER1": ')).toBe(true);
    expect(err.hint).toMatch(/^fix: anklet plugins (install|remove) /);
  });
});

