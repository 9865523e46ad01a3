import { parseArgs, requirePositionals } from '../args.js';
import type { CommandHandler } from '../command.js';
import { GUEST_MOUNTS } from '../paths.js';
import { transact } from '../store.js';
import { addMounts, parseMountSpec, requireVm } from '../vm-ops.js';

/**
 * `anka mount <vm> <host_path>[:<guest_name>]` (Anka 3.9+; the CLI hides the command on older
 * simulated versions). The folder appears in the guest under `/Volumes/My Shared Files/<name>`.
 */
export const mount: CommandHandler = (ctx) => {
  const [name, spec] = requirePositionals(parseArgs(ctx.args, {}), ['vm', 'mount']) as [string, string];
  const record = parseMountSpec(spec);
  transact(ctx.paths, (state) => addMounts(ctx.paths, requireVm(state, name), [record]));
  const guestPath = `${GUEST_MOUNTS}/${record.guest}`;
  return { body: { path: guestPath }, human: guestPath };
};
