import { parseArgs, requirePositionals } from '../args.js';
import type { CommandHandler } from '../command.js';
import { usageError } from '../errors.js';
import { formatObject } from '../output.js';
import { readState } from '../store.js';

/** `anka license show`. Only `show` is simulated; activation needs Veertu's licence server. */
export const license: CommandHandler = (ctx) => {
  const args = parseArgs(ctx.args, {});
  const [sub] = requirePositionals(args, ['command']);
  if (sub !== 'show') throw usageError(`No such command '${sub}'.`);
  const { license_type, status, expires, max_number_of_cores, fulfillment, product } = readState(ctx.paths).license;
  const body = { license_type, status, expires, max_number_of_cores, fulfillment, product };
  return { body, human: formatObject(body) };
};
