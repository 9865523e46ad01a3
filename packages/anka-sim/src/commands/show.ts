import { parseArgs, requirePositionals } from '../args.js';
import type { CommandHandler } from '../command.js';
import { AnkaSimError, usageError } from '../errors.js';
import { formatObject, formatTable } from '../output.js';
import { readState } from '../store.js';
import { requireVm } from '../vm-ops.js';
import { showBody } from '../vm-view.js';

/** `anka show <vm> [network|tag]`, and `--tag <t>` to look at a local tag of a template. */
export const show: CommandHandler = (ctx) => {
  const args = parseArgs(ctx.args, { options: { '-t': 'tag', '--tag': 'tag' } });
  const [name, section] = requirePositionals(args, ['vm', 'section'], 1);
  const vm = requireVm(readState(ctx.paths), name!);
  const tag = args.options.get('tag')?.at(-1);
  if (tag !== undefined && !(vm.local_tags && tag in vm.local_tags)) throw new AnkaSimError('notFound', `${name}: tag ${tag} not found`);
  switch (section) {
    case undefined: {
      const body = showBody(vm);
      if (tag !== undefined) Object.assign(body, vm.local_tags![tag], { version: tag });
      return { body, human: formatObject(body) };
    }
    case 'network': {
      const body = {
        mode: 'shared',
        controller: 'virtio-net',
        port_forwarding_rules: vm.port_forwarding.map(({ name: ruleName, protocol, guest_port, host_port }) => ({
          name: ruleName,
          protocol,
          guest_port,
          ...(host_port === undefined ? {} : { host_port }),
        })),
      };
      return { body, human: formatObject(body) };
    }
    case 'tag': {
      // The current tag first: anklet reads `body[0].tag`.
      const tags = Object.keys(vm.local_tags ?? {}).sort((a, b) => (a === vm.version ? -1 : b === vm.version ? 1 : 0));
      const body = tags.map((t) => ({ tag: t, ...(t === vm.version ? { current: true } : {}) }));
      return { body, human: formatTable(body, ['tag']) };
    }
    default:
      throw usageError(`No such command '${section}'.`);
  }
};
