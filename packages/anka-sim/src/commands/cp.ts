import { cpSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from '../args.js';
import type { CommandHandler } from '../command.js';
import { AnkaSimError, usageError } from '../errors.js';
import { ensureGuestRoot, guestToHost } from '../guest.js';
import { findVm } from '../state.js';
import { readState } from '../store.js';
import { requireVm } from '../vm-ops.js';

interface Endpoint {
  /** The path on this machine (a guest path is mapped into the VM's guest root). */
  path: string;
  label: string;
}

/**
 * `anka cp [-R -L -H -P -f -n -p -a -v] <src>... <dst>`, where one side is `<vm>:<path>`
 * (`<vm>:` alone is the guest user's home). Follows cp(1): copying onto an existing directory
 * puts the source inside it, and directories need `-R` or `-a`.
 */
export const cp: CommandHandler = (ctx) => {
  const flagNames = ['-R', '-L', '-H', '-P', '-f', '-n', '-p', '-a', '-v'];
  const args = parseArgs(ctx.args, { flags: Object.fromEntries(flagNames.map((f) => [f, f.slice(1)])) });
  if (args.positionals.length < 2) throw usageError("Missing argument 'DST'.");
  const state = readState(ctx.paths);

  // `name:path` is a guest path only when `name` is a VM; host paths may contain colons too.
  const resolve = (spec: string): Endpoint & { guest: boolean } => {
    const colon = spec.indexOf(':');
    if (colon > 0) {
      const vm = findVm(state, spec.slice(0, colon));
      if (vm) {
        ensureGuestRoot(ctx.paths, vm.uuid);
        return { path: guestToHost(ctx.paths, vm.uuid, spec.slice(colon + 1)), label: spec, guest: true };
      }
      if (!spec.startsWith('/') && !spec.startsWith('.')) requireVm(state, spec.slice(0, colon));
    }
    return { path: spec, label: spec, guest: false };
  };
  const sources = args.positionals.slice(0, -1).map(resolve);
  const target = resolve(args.positionals.at(-1)!);
  if (!target.guest && sources.every((s) => !s.guest)) throw usageError('one side of cp must be <vm>:<path>');

  const recursive = args.flags.has('R') || args.flags.has('a');
  const targetIsDir = existsSync(target.path) && statSync(target.path).isDirectory();
  if (sources.length > 1 && !targetIsDir) throw new AnkaSimError('generic', `${target.label}: Not a directory`);
  for (const source of sources) {
    if (!existsSync(source.path)) throw new AnkaSimError('generic', `${source.label}: No such file or directory`);
    if (statSync(source.path).isDirectory() && !recursive) {
      throw new AnkaSimError('generic', `${source.label}: is a directory (not copied)`);
    }
    const destination = targetIsDir ? join(target.path, basename(source.path)) : target.path;
    if (args.flags.has('n') && existsSync(destination)) continue;
    mkdirSync(dirname(destination), { recursive: true });
    cpSync(source.path, destination, {
      recursive: true,
      force: true,
      dereference: args.flags.has('L'),
      preserveTimestamps: args.flags.has('p') || args.flags.has('a'),
      verbatimSymlinks: !args.flags.has('L'),
    });
  }
  return { body: {}, human: '' };
};
