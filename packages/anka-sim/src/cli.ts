import { appendFileSync } from 'node:fs';
import type { CommandContext, CommandHandler, CommandResult } from './command.js';
import { clone } from './commands/clone.js';
import { cp } from './commands/cp.js';
import { del } from './commands/delete.js';
import { license } from './commands/license.js';
import { list } from './commands/list.js';
import { modify } from './commands/modify.js';
import { mount } from './commands/mount.js';
import { pull } from './commands/pull.js';
import { registry, splitRegistryArgs } from './commands/registry.js';
import { run } from './commands/run.js';
import { show } from './commands/show.js';
import { start } from './commands/start.js';
import { stop } from './commands/stop.js';
import { version } from './commands/version.js';
import { AnkaSimError, usageError } from './errors.js';
import { takeFault, type Fault } from './faults.js';
import { sleepSync } from './lock.js';
import { errorEnvelope, okEnvelope, printFinalEnvelope, writeStderr, writeStdout } from './output.js';
import { homeFromEnv, simPaths, type SimPaths } from './paths.js';
import { readState } from './store.js';
import { versionAtLeast } from './version-compare.js';

const COMMANDS: Record<string, { handler: CommandHandler; summary: string }> = {
  version: { handler: version, summary: 'show the Anka version' },
  list: { handler: list, summary: 'list VMs and templates' },
  show: { handler: show, summary: 'show a VM (also: network, tag)' },
  clone: { handler: clone, summary: 'clone a VM or template' },
  start: { handler: start, summary: 'start a VM' },
  stop: { handler: stop, summary: 'stop a VM' },
  delete: { handler: del, summary: 'delete a VM, a template or a local tag' },
  run: { handler: run, summary: 'run a command in a VM' },
  cp: { handler: cp, summary: 'copy files between the host and a VM' },
  mount: { handler: mount, summary: 'mount a host folder into a running VM (3.9+)' },
  modify: { handler: modify, summary: 'change a VM (cpu, ram, disk, name, ports, labels, mounts)' },
  registry: { handler: registry, summary: 'work with the template registry' },
  pull: { handler: pull, summary: 'pull a template, or --check-download-size' },
  license: { handler: license, summary: 'show the licence' },
};

function usage(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  return [
    'Usage: anka [OPTIONS] COMMAND [ARGS]...',
    '',
    '  Simulated Anka CLI (anklet anka-sim). State lives in $ANKA_SIM_HOME.',
    '',
    'Options:',
    '  -j, --machine-readable  JSON output',
    '  --debug                 debug output on stderr',
    '  -h, --help              show this message and exit',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n]!.summary}`),
    '',
  ].join('\n');
}

/** The name fault rules match on: `start`, `registry pull`, `license show`, ... */
function commandKey(word: string, args: ReadonlyArray<string>): string {
  if (word === 'registry') {
    const { sub } = splitRegistryArgs(args);
    return sub === undefined ? word : `${word} ${sub}`;
  }
  if (word === 'license' && args[0] !== undefined) return `${word} ${args[0]}`;
  return word;
}

function logCall(paths: SimPaths, argv: ReadonlyArray<string>): void {
  try {
    // One short O_APPEND write per call, so concurrent processes never interleave a line.
    appendFileSync(paths.calls, `${JSON.stringify({ time: new Date().toISOString(), pid: process.pid, argv })}\n`);
    // Benchmarks subtract the time spent inside the simulator: from the process start (what the
    // caller waits for, Node's start-up included) to its exit.
    process.once('exit', (code) => {
      const record = { pid: process.pid, argv, start: new Date(performance.timeOrigin).toISOString(), end: new Date().toISOString(), exitCode: code };
      try {
        appendFileSync(paths.timings, `${JSON.stringify(record)}\n`);
      } catch {
        // as above
      }
    });
  } catch {
    // The log is a convenience; a missing directory shows up as a state error right after.
  }
}

/** Applies a fault rule. Returns an exit status when the fault replaces the command. */
async function applyFault(fault: Fault, args: ReadonlyArray<string>): Promise<number | undefined> {
  if (fault.delayMs !== undefined && fault.delayMs > 0) sleepSync(fault.delayMs);
  if (fault.hang) {
    // Stay alive until killed, like a wedged CLI; nothing is locked meanwhile.
    await new Promise<never>(() => setInterval(() => undefined, 1 << 30));
  }
  if (fault.error) {
    const target = args.find((a) => !a.startsWith('-')) ?? '';
    throw new AnkaSimError('generic', fault.error.message.replaceAll('{vm}', target), {
      code: fault.error.code ?? 1,
      exceptionType: fault.error.exceptionType ?? 'AnkaException',
      exitCode: fault.error.exitCode ?? 1,
    });
  }
  if (fault.exitCode !== undefined || fault.stdout !== undefined || fault.stderr !== undefined) {
    if (fault.stdout) writeStdout(fault.stdout);
    if (fault.stderr) writeStderr(fault.stderr);
    return fault.exitCode ?? 0;
  }
  return undefined;
}

function printResult(json: boolean, result: CommandResult): number {
  if (result.printed) return result.printed.exitCode;
  if (json) printFinalEnvelope(okEnvelope(result.body ?? {}, result.message ?? ''));
  else if (result.human) writeStdout(`${result.human}\n`);
  return 0;
}

function printError(json: boolean, error: AnkaSimError): number {
  if (json) printFinalEnvelope(errorEnvelope(error));
  else if (error.exceptionType === 'UsageError') writeStderr(`Usage: anka [OPTIONS] COMMAND [ARGS]...\nTry 'anka --help' for help.\n\nError: ${error.message}\n`);
  else writeStderr(`anka: ${error.message}\n`);
  return error.exitCode;
}

/** Runs one `anka` invocation. Never throws: every failure becomes the CLI's error output. */
export async function main(argv: ReadonlyArray<string>): Promise<void> {
  let json = false;
  let exitCode: number;
  try {
    let i = 0;
    let debug = false;
    for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
      const option = argv[i]!;
      if (option === '-j' || option === '--machine-readable') json = true;
      else if (option === '--debug' || option === '-d') debug = true;
      else if (option === '-h' || option === '--help') {
        writeStdout(usage());
        return;
      } else throw usageError(`No such option: ${option}`);
    }
    const [word, ...args] = argv.slice(i);
    if (word === undefined) {
      // Bare `anka` prints help and succeeds: anklet uses it as its "is anka installed" check.
      writeStdout(usage());
      return;
    }
    const entry = COMMANDS[word];
    if (!entry) throw usageError(`No such command '${word}'.`);
    if (args[0] === '--help' || (args[0] === '-h' && word !== 'run')) {
      writeStdout(`Usage: anka ${word} [OPTIONS] [ARGS]...\n\n  ${entry.summary}\n`);
      return;
    }
    const paths = simPaths(homeFromEnv());
    logCall(paths, argv);
    const state = readState(paths);
    if (word === 'mount' && !versionAtLeast(state.anka.version, '3.9.0')) throw usageError(`No such command '${word}'.`);
    debug ||= state.host.debug_noise;
    const key = commandKey(word, args);
    if (debug) writeStderr(`[anka-sim] ${new Date().toISOString()} DEBUG executing ${key} ${JSON.stringify(args)}\n`);
    const fault = takeFault(paths, key, args);
    const faultExit = fault ? await applyFault(fault, args) : undefined;
    if (faultExit !== undefined) {
      exitCode = faultExit;
    } else {
      const ctx: CommandContext = { paths, json, debug, args };
      exitCode = printResult(json, await entry.handler(ctx));
    }
  } catch (error) {
    if (error instanceof AnkaSimError) {
      exitCode = printError(json, error);
    } else {
      // A bug or an unexpected system error: still the CLI's error shape, the stack only on request.
      if (process.env.ANKA_SIM_TRACE) writeStderr(`${(error as Error).stack ?? String(error)}\n`);
      exitCode = printError(json, new AnkaSimError('generic', (error as Error).message ?? String(error)));
    }
  }
  process.exitCode = exitCode;
}
