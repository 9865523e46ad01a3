import { randomUUID } from 'node:crypto';
import { cpSync, existsSync } from 'node:fs';
import { optionValue, parseArgs, requirePositionals } from '../args.js';
import type { CommandHandler } from '../command.js';
import { AnkaSimError } from '../errors.js';
import { ensureGuestRoot } from '../guest.js';
import { guestRoot } from '../paths.js';
import { availableBytes, findVm, nowIso } from '../state.js';
import { transact } from '../store.js';
import { macFor, requireVm } from '../vm-ops.js';

/**
 * `anka clone [-c] [-t tag] <source> <name>`. The new VM gets the source's sizes and a copy of its
 * guest files (so files baked into a template are in every clone). Linked clones cost no disk.
 */
export const clone: CommandHandler = (ctx) => {
  const args = parseArgs(ctx.args, { flags: { '-c': 'copy', '--copy': 'copy' }, options: { '-t': 'tag', '--tag': 'tag' } });
  const [sourceName, name] = requirePositionals(args, ['source', 'name']) as [string, string];
  const tag = optionValue(args, 'tag');
  const created = transact(ctx.paths, (state) => {
    const source = requireVm(state, sourceName);
    if (findVm(state, name)) throw new AnkaSimError('alreadyExists', `${name}: already exists`);
    const sizes = tag === undefined ? source : source.local_tags?.[tag];
    if (!sizes) throw new AnkaSimError('notFound', `${sourceName}: tag ${tag} not found`);
    const copy = args.flags.has('copy');
    if (copy && availableBytes(state) < sizes.image_size) {
      throw new AnkaSimError('diskFull', `${name}: not enough free disk space (need ${sizes.image_size} bytes, ${availableBytes(state)} available)`);
    }
    state.serial += 1;
    const now = nowIso();
    const uuid = randomUUID();
    state.vms.push({
      uuid,
      name,
      status: 'stopped',
      cpu_cores: sizes.cpu_cores,
      ram_size: sizes.ram_size,
      hard_drive: sizes.hard_drive,
      image_size: sizes.image_size,
      cloned_from: source.uuid,
      full_copy: copy || undefined,
      creation_date: now,
      access_date: now,
      mac: macFor(state.serial),
      mounts: [...source.mounts],
      labels: [...source.labels],
      port_forwarding: [...source.port_forwarding],
    });
    source.access_date = now;
    const from = guestRoot(ctx.paths, source.uuid);
    if (existsSync(from)) cpSync(from, guestRoot(ctx.paths, uuid), { recursive: true, verbatimSymlinks: true });
    ensureGuestRoot(ctx.paths, uuid);
    return uuid;
  });
  return { body: { uuid: created }, human: `VM created successfully with uuid: ${created}` };
};
