import { parseArgs, requirePositionals } from '../args.js';
import type { CommandHandler } from '../command.js';
import { AnkaSimError, usageError } from '../errors.js';
import { removeVmFiles } from '../guest.js';
import { transact } from '../store.js';
import { requireVm } from '../vm-ops.js';

/**
 * `anka delete --yes <vm>`, `-a` for all, `-t <tag>` to drop one local tag of a template,
 * `--cache` to purge caches (nothing to purge here). Deleting a running VM powers it off first.
 */
export const del: CommandHandler = (ctx) => {
  const args = parseArgs(ctx.args, {
    flags: { '-y': 'yes', '--yes': 'yes', '-a': 'all', '--all': 'all', '--cache': 'cache' },
    options: { '-t': 'tag', '--tag': 'tag' },
  });
  const all = args.flags.has('all');
  const cacheOnly = args.flags.has('cache') && args.positionals.length === 0 && !all;
  const [name] = all || cacheOnly ? requirePositionals(args, [], 0) : (requirePositionals(args, ['vm']) as [string]);
  // Without --yes the real CLI asks on the terminal; with no one to answer it aborts.
  if (!args.flags.has('yes')) throw new AnkaSimError('generic', 'Aborted!');
  if (cacheOnly) return { body: {}, human: 'cache purged' };
  const tag = args.options.get('tag')?.at(-1);
  if (all && tag !== undefined) throw usageError('--tag cannot be used with --all');
  transact(ctx.paths, (state) => {
    if (tag !== undefined) {
      const vm = requireVm(state, name!);
      if (!vm.local_tags || !(tag in vm.local_tags)) throw new AnkaSimError('notFound', `${name}: tag ${tag} not found`);
      delete vm.local_tags[tag];
      if (vm.version === tag) vm.version = Object.keys(vm.local_tags).at(-1);
      return;
    }
    const targets = all ? [...state.vms] : [requireVm(state, name!)];
    for (const vm of targets) removeVmFiles(ctx.paths, vm.uuid);
    const gone = new Set(targets.map((vm) => vm.uuid));
    state.vms = state.vms.filter((vm) => !gone.has(vm.uuid));
  });
  return { body: {}, human: all ? 'all VMs deleted' : `${name} deleted` };
};
