import { spawn } from 'node:child_process';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from '../args.js';
import type { CommandHandler } from '../command.js';
import { AnkaSimError, usageError } from '../errors.js';
import { guestToHost, recordGuestProcess } from '../guest.js';
import { GUEST_HOME, guestRoot } from '../paths.js';
import { okEnvelope, printFinalEnvelope, writeStderr, writeStdout } from '../output.js';
import { transact } from '../store.js';
import { requireVm, startVm } from '../vm-ops.js';

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

function parseEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new AnkaSimError('generic', `${path}: No such file or directory`);
  }
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const eq = trimmed.indexOf('=');
    if (eq > 0) env[trimmed.slice(0, eq)] = trimmed.slice(eq + 1);
  }
  return env;
}

function parseEnvPairs(pairs: ReadonlyArray<string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usageError(`invalid environment variable '${pair}': expected KEY=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/**
 * `anka run [-w dir] [-E] [-e K=V]... [-f file] [-b] <vm> <command...>`: runs the command for
 * real, with the VM's guest root standing in for the guest. Like the real CLI it starts the VM
 * if needed, its output is the guest command's raw output (never an envelope), stdin passes
 * through, and its exit status is the command's.
 */
export const run: CommandHandler = async (ctx) => {
  const args = parseArgs(ctx.args, {
    flags: { '-E': 'inherit-env', '--inherit-env': 'inherit-env', '-q': 'quiet', '--quiet': 'quiet', '-b': 'background', '--background': 'background' },
    options: { '-w': 'workdir', '--workdir': 'workdir', '-e': 'env', '--env': 'env', '-f': 'env-file', '--env-file': 'env-file' },
    stopAfterPositionals: 1,
  });
  const [name] = args.positionals;
  if (name === undefined) throw usageError("Missing argument 'VM_ID'.");
  const command = args.rest;
  if (command.length === 0) throw usageError("Missing argument 'COMMAND'.");

  const { uuid, vmName, guestEnv } = transact(ctx.paths, (state) => {
    const vm = requireVm(state, name);
    startVm(state, ctx.paths, vm);
    return { uuid: vm.uuid, vmName: vm.name, guestEnv: state.guest_env };
  });

  const root = guestRoot(ctx.paths, uuid);
  const home = join(root, GUEST_HOME);
  const workdirOption = args.options.get('workdir')?.at(-1);
  const cwd = workdirOption === undefined ? home : guestToHost(ctx.paths, uuid, workdirOption);
  try {
    if (!statSync(cwd).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new AnkaSimError('generic', `${workdirOption}: No such file or directory`);
  }

  // A guest starts from a clean environment (the real CLI does not read profile files either);
  // PATH is the host's so the sandboxed commands can find their tools.
  const env: Record<string, string | undefined> = {
    ...(args.flags.has('inherit-env') ? process.env : {}),
    PATH: process.env.PATH,
    LANG: process.env.LANG ?? 'en_US.UTF-8',
    HOME: home,
    USER: 'anka',
    LOGNAME: 'anka',
    TMPDIR: join(root, 'tmp'),
    ANKA_SIM_GUEST_ROOT: root,
    ANKA_SIM_VM_NAME: vmName,
    ANKA_SIM_VM_UUID: uuid,
    ...guestEnv,
    ...Object.assign({}, ...(args.options.get('env-file') ?? []).map(parseEnvFile)),
    ...parseEnvPairs(args.options.get('env') ?? []),
  };

  const background = args.flags.has('background');
  // Its own process group, so stopping or deleting the VM can kill everything it started.
  // Output goes through pipes rather than inherited descriptors: a daemon the command leaves
  // behind (a runner service) would otherwise hold our caller's stdout open, and the caller
  // would wait for EOF long after `anka run` ended. On a real host it lives in the guest.
  const child = spawn(command[0]!, command.slice(1), {
    cwd,
    env,
    stdio: background ? 'ignore' : ['inherit', 'pipe', 'pipe'],
    detached: true,
  });
  const spawned = await new Promise<boolean>((resolve) => {
    child.once('spawn', () => resolve(true));
    child.once('error', () => resolve(false));
  });
  if (!spawned || child.pid === undefined) {
    writeStderr(`${command[0]}: command not found\n`);
    return { printed: { exitCode: 127 } };
  }
  const pgid = child.pid;
  const record = recordGuestProcess(ctx.paths, uuid, pgid);
  if (background) {
    child.unref();
    if (ctx.json) printFinalEnvelope(okEnvelope({ pid: pgid }));
    return { printed: { exitCode: 0 } };
  }

  // Whoever runs `anka run` (anklet on cancel) signals this process; pass it on to the guest.
  const forward = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pgid, signal);
    } catch {
      // already gone
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, forward);

  const streamsDone = Promise.all(
    [child.stdout, child.stderr].map((stream, i) => {
      if (!stream) return Promise.resolve();
      stream.on('data', (chunk: Buffer) => (i === 0 ? writeStdout : writeStderr)(chunk.toString('utf8')));
      return new Promise<void>((resolve) => stream.once('close', () => resolve()));
    }),
  );
  const exitCode = await new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? 128 + (SIGNAL_NUMBERS[signal ?? ''] ?? 1)));
  });
  // Drain what the command wrote before it exited; stop waiting if a leftover process keeps the pipe.
  await Promise.race([streamsDone, new Promise((resolve) => setTimeout(resolve, 100))]);
  child.stdout?.destroy();
  child.stderr?.destroy();
  try {
    // Background processes the command left behind keep the group alive; keep the record for them.
    process.kill(-pgid, 0);
  } catch {
    rmSync(record, { force: true });
  }
  return { printed: { exitCode } };
};
