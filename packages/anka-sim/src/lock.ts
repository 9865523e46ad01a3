import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { AnkaSimError } from './errors.js';

// A synchronous sleep: the CLI is a short-lived process with nothing else to do while it waits.
const sleeper = new Int32Array(new SharedArrayBuffer(4));
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM means the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes a lock whose holder died (for example killed while holding it). Renaming first means
 * that of several processes noticing the same stale lock only one deletes it.
 */
function breakStaleLock(lockPath: string, holder: number): void {
  const aside = `${lockPath}.stale.${process.pid}`;
  try {
    renameSync(lockPath, aside);
  } catch {
    return;
  }
  let now = NaN;
  try {
    now = Number(readFileSync(aside, 'utf8'));
  } catch {
    // unreadable: treat as the stale one
  }
  if (Number.isFinite(now) && now !== holder && isAlive(now)) {
    // We raced with a fresh holder and moved its lock; give it back.
    renameSync(aside, lockPath);
    return;
  }
  unlinkSync(aside);
}

/**
 * Runs `fn` while holding an exclusive lock file (created with O_EXCL). Every state change of
 * every concurrent `anka` process goes through here, so read-modify-write cycles never interleave.
 */
export function withLock<T>(lockPath: string, fn: () => T, timeoutMs = 20_000): T {
  const deadline = Date.now() + timeoutMs;
  let fd: number | undefined;
  let delay = 1;
  while (fd === undefined) {
    try {
      fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let holder = NaN;
      try {
        holder = Number(readFileSync(lockPath, 'utf8'));
      } catch {
        // the holder released it between our open and read
      }
      // An empty file means the holder is between open and write; only a dead pid is stale.
      if (Number.isFinite(holder) && holder > 0 && !isAlive(holder)) breakStaleLock(lockPath, holder);
      if (Date.now() > deadline) {
        throw new AnkaSimError('generic', `timed out waiting for the simulator lock ${lockPath}`);
      }
      sleepSync(delay + Math.random() * delay);
      delay = Math.min(delay * 2, 20);
    }
  }
  try {
    return fn();
  } finally {
    closeSync(fd);
    unlinkSync(lockPath);
  }
}
