import { describe, expect, it } from 'vitest';
import { ankaJson, registryHome } from './helpers.js';

describe('concurrent anka processes', () => {
  it('many parallel clones all land in the state', async () => {
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    const names = Array.from({ length: 16 }, (_, i) => `anklet-vm-${i}`);
    const results = await Promise.all(names.map((name) => ankaJson(home, ['clone', 'anklet', name])));
    expect(results.map((r) => r.envelope.status)).toEqual(names.map(() => 'OK'));
    const state = home.readState();
    expect(state.vms.map((v) => v.name).sort()).toEqual(['anklet', ...names].sort());
    expect(new Set(state.vms.map((v) => v.uuid)).size).toBe(state.vms.length);
  });

  it('racing clones onto one name: exactly one wins, the rest get code 18', async () => {
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    const results = await Promise.all(Array.from({ length: 10 }, () => ankaJson(home, ['clone', 'anklet', 'same'])));
    const codes = results.map((r) => r.envelope.code).sort((a, b) => a - b);
    expect(codes).toEqual([0, ...Array(9).fill(18)]);
    expect(home.readState().vms.filter((v) => v.name === 'same')).toHaveLength(1);
  });

  it('racing starts never get past the 2-VM limit', async () => {
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    const names = Array.from({ length: 8 }, (_, i) => `vm-${i}`);
    for (const name of names) await ankaJson(home, ['clone', 'anklet', name]);
    const results = await Promise.all(names.map((name) => ankaJson(home, ['start', name])));
    const ok = results.filter((r) => r.envelope.status === 'OK');
    const refused = results.filter((r) => r.envelope.message.endsWith('maximum number of running instances exceeded'));
    expect(ok).toHaveLength(2);
    expect(refused).toHaveLength(6);
    expect(home.readState().vms.filter((v) => v.status === 'running')).toHaveLength(2);
  });

  it('a lock left by a killed process is broken, not waited on forever', async () => {
    const home = registryHome({ templates: [{ name: 'anklet', tag: '6c14r' }] });
    const { writeFileSync } = await import('node:fs');
    // A pid far above any real one stands for a holder that died.
    writeFileSync(home.paths.lock, '4194000');
    expect((await ankaJson(home, ['clone', 'anklet', 'vm1'])).envelope.status).toBe('OK');
  });
});
