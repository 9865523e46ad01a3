import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { anka, ankaJson, registryHome } from './helpers.js';

/** Alive and not a zombie (a killed orphan may wait for a reaper in a container). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

function home() {
  return registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }], guestEnv: { GITHUB_SIM_URL: 'http://127.0.0.1:1234' } });
}

describe('anka run', () => {
  it('executes for real in the guest home, starting the VM if needed', async () => {
    const h = home();
    await ankaJson(h, ['clone', 'anklet', 'vm1']);
    const result = await anka(h, ['-j', 'run', 'vm1', 'bash', '-c', 'echo "$USER at $PWD"; echo to-stderr >&2']);
    expect(result.exitCode).toBe(0);
    const vm = h.readState().vms.find((v) => v.name === 'vm1')!;
    expect(vm.status).toBe('running');
    expect(result.stdout).toBe(`anka at ${h.dir}/vms/${vm.uuid}/root/Users/anka\n`);
    expect(result.stderr).toBe('to-stderr\n');
  });

  it('passes the exit code through and is never wrapped in JSON', async () => {
    const h = home();
    const result = await anka(h, ['-j', 'run', 'anklet', 'bash', '-c', 'echo out; exit 7']);
    expect(result.exitCode).toBe(7);
    expect(result.stdout).toBe('out\n');
  });

  it('passes stdin through (how secrets reach the guest)', async () => {
    const result = await anka(home(), ['-j', 'run', 'anklet', 'bash', '-c', 'read token; echo "got ${#token} chars"'], { input: 's3cr3t\n' });
    expect(result.stdout).toBe('got 6 chars\n');
  });

  it('gives the guest a clean environment plus guest_env, -e and -w', async () => {
    const h = home();
    const result = await anka(
      h,
      ['run', '-e', 'FOO=bar', '-w', '/tmp', 'anklet', 'bash', '-c', 'echo "$FOO $GITHUB_SIM_URL ${ANKA_SIM_HOME:-unset} $(basename "$PWD")"'],
      { env: { FOO: 'host' } },
    );
    expect(result.stdout).toBe('bar http://127.0.0.1:1234 unset tmp\n');
  });

  it('an unknown guest command exits 127; a missing VM is a code-3 envelope', async () => {
    const h = home();
    expect((await anka(h, ['-j', 'run', 'anklet', 'no-such-binary-anywhere'])).exitCode).toBe(127);
    const missing = await ankaJson(h, ['run', 'ghost', 'true']);
    expect(missing.envelope).toMatchObject({ status: 'ERROR', code: 3, message: 'ghost: not found' });
  });

  it('stopping or deleting the VM kills what its commands left running', async () => {
    const h = home();
    await ankaJson(h, ['clone', 'anklet', 'vm1']);
    const started = await anka(h, ['run', 'vm1', 'bash', '-c', '(sleep 60 & echo $! > daemon.pid)']);
    expect(started.exitCode).toBe(0);
    const probe = await anka(h, ['run', 'vm1', 'bash', '-c', 'kill -0 "$(cat daemon.pid)" && cat daemon.pid']);
    const pid = Number(probe.stdout.trim());
    expect(pid).toBeGreaterThan(0);
    await ankaJson(h, ['delete', '--yes', 'vm1']);
    await vi.waitFor(() => expect(isRunning(pid)).toBe(false), { timeout: 5_000, interval: 20 });
  });

  it('forwards SIGTERM to the guest command', async () => {
    const h = home();
    const { spawn } = await import('node:child_process');
    const child = spawn('anka', ['-j', 'run', 'anklet', 'bash', '-c', 'trap "echo got-term; exit 3" TERM; echo trapped; sleep 30 & wait'], {
      env: { ...process.env, ...h.env },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    // Signal once the guest has set its trap (a fixed wait loses the race on a busy machine).
    await vi.waitFor(() => expect(out).toBe('trapped\n'), { timeout: 15_000, interval: 20 });
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(out).toBe('trapped\ngot-term\n');
    expect(code).toBe(3);
  });
});
