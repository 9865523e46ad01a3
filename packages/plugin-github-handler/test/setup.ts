import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { installFleetPlugins } from '../../../apps/anklet/test/helpers.js';

/** The template the end-to-end worlds run their jobs on (the Go suite's "anklet" template). */
export const TEMPLATE = '84266873-da90-4e0d-903b-ed0233471f9f';
export const GiB = 2 ** 30;

/**
 * A temporary folder for one test file, with the first-party plugins installed in its `plugins`
 * (packed with `pnpm pack` and installed by `anklet plugins install`, once per build, then copied),
 * removed after the file.
 */
export function withInstalledPlugins(prefix: string): { shared: string; pluginsPath: string } {
  const shared = mkdtempSync(path.join(tmpdir(), prefix));
  const pluginsPath = path.join(shared, 'plugins');
  beforeAll(() => installFleetPlugins(pluginsPath), 300_000);
  afterAll(() => rmSync(shared, { recursive: true, force: true }));
  return { shared, pluginsPath };
}
