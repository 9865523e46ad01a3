import { cpSync, existsSync } from 'node:fs';
import { optionValue, parseArgs } from '../args.js';
import type { CommandContext, CommandHandler, CommandResult } from '../command.js';
import { AnkaSimError, usageError } from '../errors.js';
import { ensureGuestRoot } from '../guest.js';
import { sleepSync } from '../lock.js';
import { printEnvelopeLine, writeStdout } from '../output.js';
import { guestRoot, registryTagRoot } from '../paths.js';
import {
  availableBytes,
  findRegistryTemplate,
  findVm,
  nowIso,
  type RegistryTag,
  type RegistryTemplate,
  type SimState,
} from '../state.js';
import { readState, transact } from '../store.js';
import { macFor } from '../vm-ops.js';

/** The registry named by `--remote` (a configured name or URL, or any URL), failing when it is down. */
export function requireRegistry(state: SimState, remote: string | undefined): void {
  if (remote !== undefined) {
    const known = state.registry.repos.some((r) => r.name === remote || r.url === remote);
    if (!known && !/^https?:\/\//.test(remote)) throw new AnkaSimError('registry', `${remote}: no such registry`);
  }
  if (!state.registry.online) {
    const url = remote ?? state.registry.repos.find((r) => r.default)?.url ?? 'registry';
    throw new AnkaSimError('registry', `${url}: failed to connect to registry: connection refused`);
  }
}

/** A template and tag in the registry (the newest tag when none is asked for), or code 3. */
export function resolveRegistryTag(state: SimState, nameOrUuid: string, tag: string | undefined): { template: RegistryTemplate; tag: RegistryTag } {
  const template = findRegistryTemplate(state, nameOrUuid);
  if (!template) throw new AnkaSimError('notFound', `${nameOrUuid}: not found`);
  const found = tag === undefined ? template.tags.at(-1) : template.tags.find((t) => t.tag === tag);
  if (!found) throw new AnkaSimError('notFound', `${nameOrUuid}: tag ${tag ?? '(latest)'} not found`);
  return { template, tag: found };
}

function hasLocalTag(state: SimState, uuid: string, tag: string): boolean {
  const local = findVm(state, uuid);
  return local?.uuid === uuid && local.local_tags !== undefined && tag in local.local_tags;
}

function diskFull(name: string, need: number, available: number): AnkaSimError {
  return new AnkaSimError('diskFull', `${name}: not enough free disk space: need ${need} bytes, ${available} available`);
}

export interface PullOptions {
  template: string;
  tag?: string | undefined;
  remote?: string | undefined;
  shrink: boolean;
  local: boolean;
}

/**
 * A pull in three steps so other `anka` calls are not blocked while it "downloads": check and
 * plan under the lock, print progress lines while sleeping, then install the tag under the lock.
 */
export async function pullTemplate(ctx: CommandContext, options: PullOptions): Promise<CommandResult> {
  const plan = transact(ctx.paths, (state) => {
    if (!options.local) requireRegistry(state, options.remote);
    const { template, tag } = resolveRegistryTag(state, options.template, options.tag);
    const local = hasLocalTag(state, template.uuid, tag.tag);
    if (options.local && !local) throw new AnkaSimError('notFound', `${options.template}: tag ${tag.tag} not found locally`);
    if (!local && availableBytes(state) < tag.image_size) throw diskFull(template.name, tag.image_size, availableBytes(state));
    return { template, tag, local, durationMs: state.registry.pull_duration_ms, lines: state.registry.pull_progress_lines };
  });

  if (!plan.local) {
    const steps = Math.max(0, plan.lines);
    for (let i = 1; i <= steps; i++) {
      if (plan.durationMs > 0) sleepSync(plan.durationMs / steps);
      const percent = Math.round((i / steps) * 100);
      const downloaded = Math.round((plan.tag.image_size * i) / steps);
      if (ctx.json) {
        printEnvelopeLine({ status: 'OK', code: 0, body: { progress: percent, downloaded, total: plan.tag.image_size }, message: 'downloading' });
      } else {
        const bar = '#'.repeat(Math.round(percent / 5)).padEnd(20, ' ');
        writeStdout(`Downloading files [${bar}] ${percent}%\n`);
      }
    }
    if (steps === 0 && plan.durationMs > 0) sleepSync(plan.durationMs);
  }

  transact(ctx.paths, (state) => {
    const { template, tag } = plan;
    let vm = state.vms.find((v) => v.uuid === template.uuid);
    // Another pull may have used the disk meanwhile.
    if (!hasLocalTag(state, template.uuid, tag.tag) && availableBytes(state) < tag.image_size) {
      throw diskFull(template.name, tag.image_size, availableBytes(state));
    }
    const sizes = { cpu_cores: tag.cpu_cores, ram_size: tag.ram_size, hard_drive: tag.hard_drive, image_size: tag.image_size };
    const now = nowIso();
    if (!vm) {
      const clash = findVm(state, template.name);
      if (clash) throw new AnkaSimError('alreadyExists', `${template.name}: already exists`);
      state.serial += 1;
      vm = {
        uuid: template.uuid,
        name: template.name,
        status: 'stopped',
        ...sizes,
        local_tags: {},
        creation_date: now,
        access_date: now,
        mac: macFor(state.serial),
        mounts: [],
        labels: [],
        port_forwarding: [],
      };
      state.vms.push(vm);
    }
    vm.local_tags = options.shrink ? { [tag.tag]: sizes } : { ...vm.local_tags, [tag.tag]: sizes };
    vm.version = tag.tag;
    Object.assign(vm, sizes);
    vm.access_date = now;
    const files = registryTagRoot(ctx.paths, template.uuid, tag.tag);
    if (existsSync(files)) cpSync(files, guestRoot(ctx.paths, template.uuid), { recursive: true, force: true, verbatimSymlinks: true });
    ensureGuestRoot(ctx.paths, template.uuid);
  });
  return {
    body: { uuid: plan.template.uuid },
    message: 'vm pulled successfully',
    human: `VM pulled successfully with uuid: ${plan.template.uuid}`,
  };
}

/** `anka pull <template> --check-download-size [--tag t] [registry]`: how much a pull would download. */
function checkDownloadSize(ctx: CommandContext, template: string, tag: string | undefined, remote: string | undefined): CommandResult {
  const state = readState(ctx.paths);
  requireRegistry(state, remote);
  const found = resolveRegistryTag(state, template, tag);
  if (hasLocalTag(state, found.template.uuid, found.tag.tag)) {
    return { body: {}, message: `${found.tag.tag}: available locally`, human: `${found.tag.tag}: available locally` };
  }
  const body = { size: found.tag.image_size, cached: 0, available: availableBytes(state) };
  return { body, human: `size: ${body.size}, cached: ${body.cached}, available: ${body.available}` };
}

/** The top-level `anka pull` (3.x), also used for the size check. */
export const pull: CommandHandler = (ctx) => {
  const args = parseArgs(ctx.args, {
    flags: { '-s': 'shrink', '--shrink': 'shrink', '-l': 'local', '--local': 'local', '--check-download-size': 'check' },
    options: { '-t': 'tag', '--tag': 'tag', '-r': 'remote', '--remote': 'remote' },
  });
  const [template, remoteArg, extra] = args.positionals;
  if (template === undefined) throw usageError("Missing argument 'TEMPLATE'.");
  if (extra !== undefined) throw usageError(`Got unexpected extra argument (${extra})`);
  const remote = optionValue(args, 'remote') ?? remoteArg;
  const tag = optionValue(args, 'tag');
  if (args.flags.has('check')) return checkDownloadSize(ctx, template, tag, remote);
  return pullTemplate(ctx, { template, tag, remote, shrink: args.flags.has('shrink'), local: args.flags.has('local') });
};
