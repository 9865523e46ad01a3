import { parseArgs, requirePositionals } from '../args.js';
import type { CommandHandler } from '../command.js';
import { notFoundError } from '../errors.js';
import { formatTable } from '../output.js';
import { findVm } from '../state.js';
import { readState } from '../store.js';
import { listFields, listItem } from '../vm-view.js';

/**
 * `anka list [-r|-s] [-a] [-f field ...] [vm]`. With a VM argument the body is still an array
 * (of one), and a missing VM is `<vm>: not found`, which is how anklet tests for a template.
 */
export const list: CommandHandler = (ctx) => {
  const args = parseArgs(ctx.args, {
    flags: { '-r': 'running', '--running': 'running', '-s': 'stopped', '--stopped': 'stopped', '-a': 'all', '--all': 'all' },
    options: { '-f': 'field', '--field': 'field' },
  });
  const [wanted] = requirePositionals(args, ['vm'], 1);
  const state = readState(ctx.paths);
  let vms = state.vms;
  if (wanted !== undefined) {
    const vm = findVm(state, wanted);
    if (!vm) throw notFoundError(wanted);
    vms = [vm];
  }
  if (args.flags.has('running')) vms = vms.filter((vm) => vm.status === 'running');
  if (args.flags.has('stopped')) vms = vms.filter((vm) => vm.status === 'stopped' || vm.status === 'suspended');
  // `-f a -f b` and (3.7+) `-f a,b` both work.
  const fields = (args.options.get('field') ?? []).flatMap((f) => f.split(',')).map((f) => f.trim()).filter(Boolean);
  const body = vms.map((vm) => {
    if (fields.length === 0) return listItem(vm);
    const all = listFields(vm);
    return Object.fromEntries(fields.filter((f) => all[f] !== undefined).map((f) => [f, all[f]]));
  });
  const columns = fields.length > 0 ? fields : ['name', 'uuid', 'creation_date', 'status'];
  return { body, human: formatTable(body, columns) };
};
