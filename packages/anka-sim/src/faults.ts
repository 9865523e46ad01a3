import { existsSync, readFileSync } from 'node:fs';
import { AnkaSimError } from './errors.js';
import { withLock } from './lock.js';
import type { SimPaths } from './paths.js';
import { writeJsonAtomic } from './store.js';

/**
 * One rule of the control file. A call matches when its command matches `command` and, if `vm`
 * is set, one of its arguments equals `vm`. The first matching rule applies; `times` counts down
 * and the rule is dropped when it reaches 0 (no `times`: applies to every call).
 */
export interface Fault {
  /** `start`, `registry pull`, `license show`; a first word (`registry`) matches all its sub-commands; `*` matches all. */
  command: string;
  /** Only calls that name this VM, template or uuid (as an argument, or as `<vm>:<path>` in `cp`). */
  vm?: string;
  times?: number;
  /** Sleep this long before doing anything (the command then runs normally unless `error`/`hang`/`exitCode`). */
  delayMs?: number;
  /** Never finish: sleep until killed, as a wedged `anka` does. */
  hang?: boolean;
  /** Fail with this error envelope. `{vm}` in the message becomes the first argument. */
  error?: { message: string; code?: number; exceptionType?: string; exitCode?: number };
  /** Print raw text and exit with this status (e.g. `run` failing with 125). */
  exitCode?: number;
  stdout?: string;
  stderr?: string;
}

export interface ControlFile {
  faults: Fault[];
}

function matches(fault: Fault, command: string, args: ReadonlyArray<string>): boolean {
  const wanted = fault.command.trim();
  const commandMatches = wanted === '*' || wanted === command || command.startsWith(`${wanted} `);
  // `cp` names a VM in `<vm>:<path>`.
  return commandMatches && (fault.vm === undefined || args.some((arg) => arg === fault.vm || arg.startsWith(`${fault.vm}:`)));
}

/**
 * Finds and consumes the fault for this call, under the state lock so that "fail the next 2
 * calls" means exactly two even when many `anka` processes run at once.
 */
export function takeFault(paths: SimPaths, command: string, args: ReadonlyArray<string>): Fault | undefined {
  // Most calls have no control file; skip the lock for them.
  if (!existsSync(paths.control)) return undefined;
  return withLock(paths.lock, () => {
    let control: ControlFile;
    try {
      control = JSON.parse(readFileSync(paths.control, 'utf8')) as ControlFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new AnkaSimError('generic', `${paths.control}: not valid JSON`);
    }
    const faults = Array.isArray(control.faults) ? control.faults : [];
    const index = faults.findIndex((f) => matches(f, command, args) && (f.times === undefined || f.times > 0));
    if (index < 0) return undefined;
    const fault = { ...faults[index]! };
    if (fault.times !== undefined) {
      const left = fault.times - 1;
      if (left <= 0) faults.splice(index, 1);
      else faults[index] = { ...faults[index]!, times: left };
      writeJsonAtomic(paths.control, { ...control, faults });
    }
    return fault;
  });
}
