import path from 'node:path';
import { startRedisServer } from '@anklet/testing';
import { describe, expect, it } from 'vitest';
import { makeTmp, msg, runCli, RunningAnklet, seedPlugins, writeFile } from './helpers.js';

function probeConfig(home: string, extra = ''): string {
  const pluginsPath = path.join(home, 'plugins');
  seedPlugins(pluginsPath, ['store-probe']);
  return writeFile(
    path.join(home, 'c.yml'),
    `plugins_path: ${pluginsPath}\n${extra}plugins:\n  - { name: PRODUCER, plugin: store-probe, role: producer, job_id: 101 }\n  - { name: CONSUMER, plugin: store-probe, role: consumer, sleep_interval: 1 }\n`,
  );
}

describe('the job store the host injects', () => {
  it('is an embedded store shared by the plugins of a host when no database is configured, persisted under the work dir', async () => {
    const home = makeTmp();
    const anklet = new RunningAnklet(['-c', probeConfig(home, `work_dir: ${home}/work\n`)], { home });
    await anklet.waitFor(msg('probe claimed'));
    anklet.signal('SIGINT');
    expect((await anklet.exited).code).toBe(0);
    expect(anklet.lines.find(msg('probe enqueued'))).toMatchObject({ result: 'enqueued', jobId: '101' });
    // A host on the embedded store does not even load the Redis client.
    expect(anklet.lines.find(msg('probe claimed'))).toMatchObject({ jobId: '101', from: 'PRODUCER', redisClientLoaded: false });
    // A restart re-enqueues job 101: the persisted store remembers it was finished and refuses it.
    const again = new RunningAnklet(['-c', path.join(home, 'c.yml')], { home });
    await again.waitFor(msg('probe enqueued'));
    again.signal('SIGINT');
    await again.exited;
    expect(again.lines.find(msg('probe enqueued'))?.result).not.toBe('enqueued');
  });

  it('is Redis when global_database_* names one, and a Redis that does not answer stops start-up', async () => {
    const redis = await startRedisServer();
    try {
      const home = makeTmp();
      const config = probeConfig(home, `global_database_url: ${redis.host}\nglobal_database_port: ${redis.port}\nglobal_database_password: ""\n`);
      const anklet = new RunningAnklet(['-c', config], { home });
      await anklet.waitFor(msg('probe claimed'));
      anklet.signal('SIGTERM');
      expect((await anklet.exited).code).toBe(0);
      expect(anklet.lines.find(msg('probe claimed'))).toMatchObject({ jobId: '101', redisClientLoaded: true });
      // The harness's server runs with AOF: start-up says so once, and warns of nothing.
      expect(anklet.lines.filter(msg('redis persistence'))).toEqual([expect.objectContaining({ level: 'INFO', persistence: 'aof' })]);
    } finally {
      await redis.stop();
    }
    const home = makeTmp();
    const down = probeConfig(home, `global_database_url: 127.0.0.1\nglobal_database_port: ${redis.port}\nglobal_database_max_retries: 1\nglobal_database_retry_delay: 50\n`);
    const run = await runCli(['-c', down], { home, timeoutMs: 30_000 });
    // 4, not 1: Redis may come up later, so a service manager tries again (exit-codes.ts).
    expect(run.code).toBe(4);
    expect(run.stdout).toContain('"msg":"unable to access database"');
    expect(run.stdout).not.toContain('starting anklet');
  });

  it('warns at start when Redis keeps no AOF and no RDB save rule, and says what to run', async () => {
    const redis = await startRedisServer({ allowExternal: false, args: ['--appendonly', 'no', '--save', ''] });
    try {
      const home = makeTmp();
      const anklet = new RunningAnklet(['-c', probeConfig(home, `global_database_url: ${redis.host}\nglobal_database_port: ${redis.port}\n`)], { home });
      await anklet.waitFor(msg('probe claimed'));
      anklet.signal('SIGTERM');
      expect((await anklet.exited).code).toBe(0);
      const warning = anklet.lines.find(msg('redis does not persist its data: queued jobs would not survive a restart of redis'));
      expect(warning).toMatchObject({ level: 'WARN', persistence: 'none', target: `127.0.0.1:${redis.port}` });
      expect(String(warning?.hint)).toContain('appendfsync everysec');
    } finally {
      await redis.stop();
    }
  });
});
