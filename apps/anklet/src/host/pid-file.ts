import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { AnkletError, ErrorCodes } from '@anklet/core';
import { isProcessAlive } from './process-alive.js';


/**
 * Writes `<dir>/anklet.pid`. Refuses when a live anklet already holds it; replaces a stale one.
 * Returns the function that removes it (only if it still holds our pid).
 */
export function writePidFile(dir: string, pid: number = process.pid): { file: string; remove: () => void } {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'anklet.pid');
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, `${pid}\n`);
      closeSync(fd);
      return {
        file,
        remove: () => {
          try {
            if (readFileSync(file, 'utf8').trim() === String(pid)) rmSync(file, { force: true });
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const other = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
      if (Number.isInteger(other) && other > 0 && other !== pid && isProcessAlive(other)) {
        throw new AnkletError(ErrorCodes.ALREADY_RUNNING, `another anklet (pid ${other}) holds ${file}`, {
          operator: true,
          hint: `stop it first (kill -TERM ${other}), or give this instance its own pid_file_dir`,
        });
      }
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new AnkletError(ErrorCodes.HOST_RESOURCE, `cannot write ${file}`, { operator: true });
}
