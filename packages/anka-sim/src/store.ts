import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { AnkaSimError } from './errors.js';
import { withLock } from './lock.js';
import type { SimPaths } from './paths.js';
import type { SimState } from './state.js';

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, path);
}

function readStateText(paths: SimPaths): string {
  try {
    return readFileSync(paths.state, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new AnkaSimError('generic', `no simulator state in ${paths.home}: create it with createAnkaSimHome()`);
    }
    throw error;
  }
}

function parseState(paths: SimPaths, text: string): SimState {
  try {
    return JSON.parse(text) as SimState;
  } catch {
    throw new AnkaSimError('generic', `${paths.state}: not valid JSON`);
  }
}

/** A snapshot of the state without taking the lock (writes are atomic renames). */
export function readState(paths: SimPaths): SimState {
  return parseState(paths, readStateText(paths));
}

/**
 * Reads the state under the lock, lets `fn` change it, and writes it back if it changed. An
 * error thrown by `fn` leaves the state as it was.
 */
export function transact<T>(paths: SimPaths, fn: (state: SimState) => T): T {
  return withLock(paths.lock, () => {
    const before = readStateText(paths);
    const state = parseState(paths, before);
    const result = fn(state);
    if (`${JSON.stringify(state, null, 2)}\n` !== before) writeJsonAtomic(paths.state, state);
    return result;
  });
}
