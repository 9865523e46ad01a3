import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, realpathSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { AnkletError, ErrorCodes } from '@anklet/core';

/**
 * Every change to a plugins folder is made on a copy beside it and swapped in only once npm
 * succeeded and every plugin passed validation: a failed install, update or removal leaves
 * `plugins_path` exactly as it was (files, links and node_modules alike).
 *
 * The copy is a sibling (same parent folder) so the relative `file:` link npm records for the
 * host's `@anklet/core` stays valid after the swap, and the final renames stay on one filesystem.
 */
export async function withStagedCopy<T>(pluginsPath: string, change: (staging: string) => Promise<T>): Promise<T> {
  const target = existsSync(pluginsPath) ? realpathSync(pluginsPath) : path.resolve(pluginsPath);
  const parent = path.dirname(target);
  const tag = randomBytes(4).toString('hex');
  const staging = path.join(parent, `.${path.basename(target)}.staging-${tag}`);
  try {
    mkdirSync(parent, { recursive: true });
    if (existsSync(target)) cpSync(target, staging, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    else mkdirSync(staging);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw new AnkletError(ErrorCodes.PLUGIN_INSTALL_FAILED, `cannot prepare a copy of ${target} in ${parent}: ${(err as Error).message}`, {
      operator: true,
      cause: err,
      hint: `fix: the user running anklet needs write access to ${parent} (plugins are changed on a copy there, then swapped in)`,
    });
  }
  let result: T;
  try {
    result = await change(staging);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  const old = path.join(parent, `.${path.basename(target)}.old-${tag}`);
  const had = existsSync(target);
  if (had) renameSync(target, old);
  try {
    renameSync(staging, target);
  } catch (err) {
    if (had) renameSync(old, target);
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  rmSync(old, { recursive: true, force: true });
  return result;
}
