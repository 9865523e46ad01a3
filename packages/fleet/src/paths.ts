import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The repository root (this file is `packages/fleet/{src,dist}/paths.*`). */
export const REPO_ROOT = path.resolve(here, '../../..');

/** The built `anklet` CLI. Not a dependency of this package: the host depends on us in its tests. */
export const CLI = path.join(REPO_ROOT, 'apps/anklet/dist/cli.js');

/** github-sim's simulated actions runner, which the template's `run.sh` starts inside each VM. */
export const RUNNER_CLI = path.join(REPO_ROOT, 'packages/github-sim/dist/runner-cli.js');

/** The module that gives a host its simulated CPU count and memory (`node --import`); always the built one. */
export const HARDWARE_PRELOAD = path.join(REPO_ROOT, 'packages/fleet/dist/hardware-preload.js');
