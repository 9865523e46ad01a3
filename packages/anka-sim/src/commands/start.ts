import { parseArgs, requirePositionals } from '../args.js';
import type { CommandHandler } from '../command.js';
import { transact } from '../store.js';
import { addMounts, parseMountSpec, requireVm, startVm } from '../vm-ops.js';

/** `anka start [-f] [-q] [-v] [-u] [--mount host[:name]]... <vm>`. */
export const start: CommandHandler = (ctx) => {
  const args = parseArgs(ctx.args, {
    flags: {
      '-f': 'force', '--force': 'force', '-q': 'quiet', '--quiet': 'quiet', '-v': 'view', '--view': 'view',
      '-u': 'update-addons', '--update-addons': 'update-addons', '--disable-auto-mount': 'no-auto-mount',
    },
    options: { '--mount': 'mount' },
  });
  const [name] = requirePositionals(args, ['vm']) as [string];
  const mounts = (args.options.get('mount') ?? []).map(parseMountSpec);
  const uuid = transact(ctx.paths, (state) => {
    const vm = requireVm(state, name);
    startVm(state, ctx.paths, vm);
    if (mounts.length > 0) addMounts(ctx.paths, vm, mounts);
    return vm.uuid;
  });
  return { body: {}, human: `${name} (${uuid}) is running` };
};
