import { spawnSync } from 'node:child_process';

/**
 * Runs `promtool check metrics` (Prometheus' own strict parser plus its naming lint) on an
 * exposition. `ok` is true only when promtool has nothing to say. Needs the Debian package
 * `prometheus`; `.ci/run` installs it.
 */
export function promtoolCheck(text: string): { ok: boolean; output: string } {
  const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (result.error) throw new Error(`promtool is not installed (Debian package "prometheus"): ${result.error.message}`);
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}
