import { parseArgs, requirePositionals } from '../args.js';
import type { CommandHandler } from '../command.js';
import { usageError } from '../errors.js';
import { transact } from '../store.js';
import { requireVm, stopVm } from '../vm-ops.js';

/** `anka stop [-f] <vm>` or `anka stop -a`. Stopping a stopped VM is not an error. */
export const stop: CommandHandler = (ctx) => {
  const args = parseArgs(ctx.args, { flags: { '-f': 'force', '--force': 'force', '-a': 'all', '--all': 'all' } });
  const all = args.flags.has('all');
  const [name] = all ? requirePositionals(args, [], 0) : (requirePositionals(args, ['vm']) as [string]);
  if (all && name !== undefined) throw usageError('--all takes no VM argument');
  transact(ctx.paths, (state) => {
    const targets = all ? state.vms.filter((vm) => vm.status !== 'stopped') : [requireVm(state, name!)];
    for (const vm of targets) stopVm(ctx.paths, vm, args.flags.has('force'));
  });
  return { body: {}, human: all ? 'all VMs stopped' : `${name} stopped` };
};
