import { usageError } from './errors.js';

/** What one command accepts: boolean flags and options that take a value, each with aliases. */
export interface ArgSpec {
  flags?: Record<string, string>;
  options?: Record<string, string>;
  /** Stop at the first positional beyond this many (the command of `anka run <vm> <cmd...>`). */
  stopAfterPositionals?: number;
}

export interface ParsedArgs {
  flags: Set<string>;
  options: Map<string, string[]>;
  positionals: string[];
  /** Whatever followed the point where parsing stopped (see `stopAfterPositionals`). */
  rest: string[];
}

/**
 * A small click-like parser: `-x`, `--long`, `--long=value`, `-o value`, `--` ends options.
 * Unknown options are usage errors, worded the way click-based CLIs word them.
 */
export function parseArgs(argv: ReadonlyArray<string>, spec: ArgSpec): ParsedArgs {
  const flags = new Set<string>();
  const options = new Map<string, string[]>();
  const positionals: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (spec.stopAfterPositionals !== undefined && positionals.length >= spec.stopAfterPositionals && !arg.startsWith('-')) break;
    if (arg === '--') {
      i++;
      break;
    }
    if (arg.startsWith('-') && arg !== '-') {
      const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
      const name = eq > 0 ? arg.slice(0, eq) : arg;
      const flag = spec.flags?.[name];
      const option = spec.options?.[name];
      if (flag !== undefined && eq < 0) {
        flags.add(flag);
      } else if (option !== undefined) {
        let value: string | undefined;
        if (eq > 0) value = arg.slice(eq + 1);
        else value = argv[++i];
        if (value === undefined) throw usageError(`Option '${name}' requires an argument.`);
        options.set(option, [...(options.get(option) ?? []), value]);
      } else {
        throw usageError(`No such option: ${name}`);
      }
      continue;
    }
    positionals.push(arg);
  }
  return { flags, options, positionals, rest: argv.slice(i) };
}

/** The last value of an option, or undefined. */
export function optionValue(args: ParsedArgs, name: string): string | undefined {
  const values = args.options.get(name);
  return values?.[values.length - 1];
}

/** Exactly `count` positionals, named for the error message. */
export function requirePositionals(args: ParsedArgs, names: ReadonlyArray<string>, optional = 0): string[] {
  const required = names.length - optional;
  if (args.positionals.length < required) throw usageError(`Missing argument '${names[args.positionals.length]!.toUpperCase()}'.`);
  if (args.positionals.length > names.length) throw usageError(`Got unexpected extra argument (${args.positionals[names.length]})`);
  return args.positionals;
}
