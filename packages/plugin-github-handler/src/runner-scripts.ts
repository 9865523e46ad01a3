import { chmodSync, copyFileSync, existsSync, mkdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '@anklet/core';

/** The scripts copied into every VM, in the order they run. */
export const RUNNER_SCRIPTS = ['install-runner.bash', 'register-runner.bash', 'start-runner.bash'] as const;

/** Where the Go anklet (and we) look for the runner scripts: `<plugins_path>/handlers/github/`. */
export function runnerScriptsDir(pluginsPath: string): string {
  return path.join(pluginsPath, 'handlers', 'github');
}

/**
 * Copies the scripts shipped in this package to `<plugins_path>/handlers/github/`, leaving alone any
 * file the user already put there (their copy wins). Returns the scripts' resolved paths.
 */
export function installRunnerScripts(packageDir: string, pluginsPath: string, logger: Logger): string[] {
  const target = runnerScriptsDir(pluginsPath);
  mkdirSync(target, { recursive: true });
  return RUNNER_SCRIPTS.map((name) => {
    const destination = path.join(target, name);
    if (existsSync(destination)) {
      logger.debug('using existing runner script', { script: destination });
    } else {
      copyFileSync(path.join(packageDir, 'scripts', name), destination);
      chmodSync(destination, 0o755);
      logger.info('installed runner script', { script: destination });
    }
    // `anka cp` copies a symlink as a link; the Go handler resolved them too.
    return realpathSync(destination);
  });
}
