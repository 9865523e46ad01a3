import { optionValue, parseArgs, requirePositionals, type ParsedArgs } from '../args.js';
import type { CommandContext, CommandHandler, CommandResult } from '../command.js';
import { usageError } from '../errors.js';
import { formatObject, formatTable } from '../output.js';
import { readState } from '../store.js';
import { versionAtLeast } from '../version-compare.js';
import { pullTemplate, requireRegistry, resolveRegistryTag } from './pull.js';

/** Options `anka registry` takes before its sub-command. */
const REGISTRY_SPEC = {
  flags: { '--insecure': 'insecure', '--default': 'default', '--list': 'list' },
  options: {
    '-r': 'remote', '--remote': 'remote', '--cert': 'cert', '--key': 'key', '--cacert': 'cacert',
    '--api-key-id': 'api-key-id', '--api-key': 'api-key', '-o': 'oci-version', '--oci-version': 'oci-version',
    '-u': 'user', '-p': 'prefix',
  },
  stopAfterPositionals: 0,
};

/** Splits `anka registry [opts] <sub> [args]`; the CLI uses it to name the call for fault rules. */
export function splitRegistryArgs(argv: ReadonlyArray<string>): { globals: ParsedArgs; sub: string | undefined; rest: string[] } {
  const globals = parseArgs(argv, REGISTRY_SPEC);
  const [sub, ...rest] = globals.rest;
  return { globals, sub: sub ?? (globals.flags.has('list') ? '--list' : undefined), rest };
}

function listRepos(ctx: CommandContext): CommandResult {
  const { repos } = readState(ctx.paths).registry;
  const body = repos.map(({ name, url, default: isDefault }) => ({ name, url, default: isDefault }));
  return { body, human: formatTable(body, ['name', 'url', 'default']) };
}

/**
 * `anka registry ...`: `list`, `show`, `describe` (2.x), `pull`, and the configured-registry
 * listing, which is `list-repos` before Anka 3.9 and `--list` from 3.9 on.
 */
export const registry: CommandHandler = (ctx) => {
  const { globals, sub, rest } = splitRegistryArgs(ctx.args);
  const remote = optionValue(globals, 'remote');
  const newListing = versionAtLeast(readState(ctx.paths).anka.version, '3.9.0');
  if (sub === '--list') {
    if (!newListing) throw usageError('No such option: --list');
    return listRepos(ctx);
  }
  switch (sub) {
    case undefined:
      throw usageError('Missing command.');
    case 'list-repos':
      if (newListing) throw usageError("No such command 'list-repos'.");
      requirePositionals(parseArgs(rest, {}), []);
      return listRepos(ctx);
    case 'list': {
      requirePositionals(parseArgs(rest, {}), []);
      const state = readState(ctx.paths);
      requireRegistry(state, remote);
      const body = state.registry.templates.map((t) => ({ name: t.name, uuid: t.uuid, latest: t.tags.at(-1)?.tag }));
      return { body, human: formatTable(body, ['name', 'uuid', 'latest']) };
    }
    case 'show': {
      const args = parseArgs(rest, { options: { '-t': 'tag', '--tag': 'tag' } });
      const [name] = requirePositionals(args, ['template']) as [string];
      const state = readState(ctx.paths);
      requireRegistry(state, remote);
      const { template, tag } = resolveRegistryTag(state, name, optionValue(args, 'tag'));
      const body = {
        name: template.name,
        uuid: template.uuid,
        tag: tag.tag,
        cpu_cores: tag.cpu_cores,
        ram_size: tag.ram_size,
        hard_drive: tag.hard_drive,
        image_size: tag.image_size,
      };
      return { body, human: formatObject(body) };
    }
    case 'describe': {
      const [name] = requirePositionals(parseArgs(rest, {}), ['template']) as [string];
      const state = readState(ctx.paths);
      requireRegistry(state, remote);
      const { template } = resolveRegistryTag(state, name, undefined);
      const body = { name: template.name, uuid: template.uuid, versions: template.tags.map((t) => ({ ...t })) };
      return { body, human: formatTable(body.versions, ['tag', 'cpu_cores', 'ram_size', 'image_size']) };
    }
    case 'pull': {
      const args = parseArgs(rest, {
        flags: { '-s': 'shrink', '--shrink': 'shrink', '-l': 'local', '--local': 'local' },
        options: { '-t': 'tag', '--tag': 'tag' },
      });
      const [template] = requirePositionals(args, ['template']) as [string];
      return pullTemplate(ctx, { template, tag: optionValue(args, 'tag'), remote, shrink: args.flags.has('shrink'), local: args.flags.has('local') });
    }
    default:
      throw usageError(`No such command '${sub}'.`);
  }
};
