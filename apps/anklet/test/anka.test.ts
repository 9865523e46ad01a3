import path from 'node:path';
import { createAnkaSimHome } from '@anklet/anka-sim';
import { describe, expect, it } from 'vitest';
import { makeTmp, msg, RunningAnklet, runCli, seedPlugins, writeFile } from './helpers.js';

const UUID = '84266873-da90-4e0d-903b-ed0233471f9f';

function probeConfig(home: string): string {
  const pluginsPath = path.join(home, 'plugins');
  seedPlugins(pluginsPath, ['anka-probe']);
  return writeFile(
    path.join(home, 'c.yml'),
    `plugins_path: ${pluginsPath}\nplugins:\n  - { name: PROBE, plugin: anka-probe, template: ${UUID}, tag: 6c14r, template_disk_buffer: 5, sleep_interval: 1 }\n`,
  );
}

describe('the Anka client the host injects', () => {
  it('gives a handler plugin a working ctx.anka', async () => {
    const sim = createAnkaSimHome({ registry: { templates: [{ name: 'anklet', uuid: UUID, tags: [{ tag: '6c14r' }] }] } });
    try {
      const home = makeTmp();
      const anklet = new RunningAnklet(['-c', probeConfig(home)], { home, env: { ANKA_SIM_HOME: sim.dir } });
      await anklet.waitFor(msg('anka probe done'));
      const done = anklet.lines.find(msg('anka probe done'));
      anklet.signal('SIGINT');
      expect((await anklet.exited).code).toBe(0);
      expect(anklet.lines.find(msg('anka cli ready'))).toMatchObject({ ankaVersion: '3.9.1' });
      expect(done).toMatchObject({
        version: '3.9.1',
        template: { status: 'ready', uuid: UUID, name: 'anklet', tag: '6c14r', pulled: true },
        stdout: 'len=11\n',
      });
      expect((done as { own: string[] }).own).toEqual([(done as { vm: string }).vm]);
      expect(sim.readState().vms.map((v) => v.name)).toEqual(['anklet']);
      expect(JSON.stringify(sim.calls())).not.toContain('not-on-argv');
      expect(sim.calls().map((c) => c.argv)).toContainEqual(['-j', 'registry', 'pull', '--shrink', UUID, '--tag', '6c14r']);
    } finally {
      sim.remove();
    }
  });

  it('stops start-up when anka is missing or its licence is invalid', async () => {
    const home = makeTmp();
    const config = probeConfig(home);
    const missing = await runCli(['-c', config], { home, env: { PATH: path.dirname(process.execPath) } });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('"msg":"unable to create anka cli"');
    expect(missing.stdout).toContain('command not found');
    expect(missing.stdout).not.toContain('starting anklet');

    const sim = createAnkaSimHome({ license: { status: 'expired' } });
    try {
      const invalid = await runCli(['-c', config], { home, env: { ANKA_SIM_HOME: sim.dir } });
      expect(invalid.code).toBe(1);
      expect(invalid.stdout).toContain('"msg":"unable to create anka cli"');
      expect(invalid.stdout).toContain('anka license is invalid');
    } finally {
      sim.remove();
    }
  });
});
