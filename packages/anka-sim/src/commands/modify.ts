import { parseArgs } from '../args.js';
import type { CommandHandler } from '../command.js';
import { AnkaSimError, usageError } from '../errors.js';
import { findVm, type VmRecord } from '../state.js';
import { transact } from '../store.js';
import { addMounts, parseMountSpec, requireVm } from '../vm-ops.js';

const UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** `8G`, `8192M`, `8589934592`. */
function parseSize(text: string | undefined, what: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]?)B?$/i.exec(text ?? '');
  if (!match) throw usageError(`invalid ${what} '${text ?? ''}': expected a size like 8G`);
  return Math.round(Number(match[1]) * UNITS[match[2]!.toUpperCase()]!);
}

function parseCount(text: string | undefined, what: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw usageError(`invalid ${what} '${text ?? ''}': expected a positive integer`);
  return value;
}

function requireStopped(vm: VmRecord): void {
  if (vm.status === 'running') throw new AnkaSimError('generic', `${vm.name}: vm is running, stop it first`);
}

/**
 * `anka modify <vm> ...`: the 3.x forms (`cpu 4`, `ram 8G`, `disk 100G`, `name new`,
 * `add port|label|mount ...`, `delete port|label|mount ...`) and the older `set ...` forms
 * (`set cpu`, `set ram`, `set hard-drive -s`, `set name`) that 3.x still accepts.
 */
export const modify: CommandHandler = (ctx) => {
  const [name, ...words] = ctx.args;
  if (name === undefined) throw usageError("Missing argument 'VM_ID'.");
  let [action, ...rest] = words;
  if (action === undefined) throw usageError("Missing command.");
  if (action === 'set') [action, ...rest] = rest;
  if (action === undefined) throw usageError("Missing command.");

  transact(ctx.paths, (state) => {
    const vm = requireVm(state, name);
    switch (action) {
      case 'cpu': {
        const parsed = parseArgs(rest, { options: { '-c': 'count', '--count': 'count', '-f': 'freq', '--frequency': 'freq' }, flags: { '--htt': 'htt', '--no-htt': 'nohtt' } });
        requireStopped(vm);
        vm.cpu_cores = parseCount(parsed.options.get('count')?.at(-1) ?? parsed.positionals[0], 'cpu count');
        return;
      }
      case 'ram': {
        const parsed = parseArgs(rest, {});
        requireStopped(vm);
        vm.ram_size = parseSize(parsed.positionals[0], 'ram size');
        return;
      }
      case 'disk':
      case 'hard-drive': {
        const parsed = parseArgs(rest, { options: { '-s': 'size', '--size': 'size' } });
        requireStopped(vm);
        const size = parseSize(parsed.options.get('size')?.at(-1) ?? parsed.positionals[0], 'disk size');
        if (size < vm.hard_drive) throw new AnkaSimError('generic', `${vm.name}: disk can only grow`);
        vm.hard_drive = size;
        return;
      }
      case 'name': {
        const [newName] = parseArgs(rest, {}).positionals;
        if (!newName) throw usageError("Missing argument 'NAME'.");
        requireStopped(vm);
        if (findVm(state, newName)) throw new AnkaSimError('alreadyExists', `${newName}: already exists`);
        vm.name = newName;
        return;
      }
      case 'add':
      case 'delete': {
        const [what, ...values] = rest;
        const parsed = parseArgs(values, { options: { '--guest-port': 'guest', '--host-port': 'host', '--protocol': 'protocol' } });
        const [value, second] = parsed.positionals;
        if (!what || value === undefined) throw usageError(`Missing argument for '${action}'.`);
        if (what === 'mount') {
          if (action === 'add') addMounts(ctx.paths, vm, [parseMountSpec(value)]);
          else vm.mounts = vm.mounts.filter((m) => m.guest !== value && m.host !== value);
        } else if (what === 'label') {
          vm.labels = vm.labels.filter((l) => l !== value);
          if (action === 'add') vm.labels.push(value);
        } else if (what === 'port') {
          vm.port_forwarding = vm.port_forwarding.filter((p) => p.name !== value);
          if (action === 'add') {
            const guestPort = parseCount(parsed.options.get('guest')?.at(-1) ?? second, 'guest port');
            const hostPort = parsed.options.get('host')?.at(-1);
            vm.port_forwarding.push({
              name: value,
              protocol: parsed.options.get('protocol')?.at(-1) ?? 'tcp',
              guest_port: guestPort,
              ...(hostPort === undefined ? {} : { host_port: parseCount(hostPort, 'host port') }),
            });
          }
        } else {
          throw usageError(`No such command '${what}'.`);
        }
        return;
      }
      default:
        throw usageError(`No such command '${action}'.`);
    }
  });
  return { body: {}, human: '' };
};
