import { parseArgs, requirePositionals } from '../args.js';
import type { CommandHandler } from '../command.js';
import { readState } from '../store.js';

/** `anka version`: body `{product, version, build}`. */
export const version: CommandHandler = (ctx) => {
  requirePositionals(parseArgs(ctx.args, {}), []);
  const { anka } = readState(ctx.paths);
  return {
    body: { product: anka.product, version: anka.version, build: anka.build },
    human: `${anka.product} version ${anka.version} (build ${anka.build})`,
  };
};
