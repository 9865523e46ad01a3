import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findFreePort, startRedisServer, type RedisServer } from '@anklet/testing';
import { installFleetPlugins } from '@anklet/fleet';
import { effectiveDatabase, loadConfig } from '../src/config/load-config.js';
import { preparePlugins } from '../src/config/prepare-plugins.js';
import { makeTmp, msg, REPO_ROOT, runCli, RunningAnklet } from './helpers.js';

/**
 * examples/docker without Docker (no daemon here, and no hadolint): the compose file and the
 * Dockerfile refer only to files that exist, the image runs as a non-root user with a health check,
 * and the configs load with the compose environment; the aggregator runs with it on a real Redis.
 */
const DIR = path.join(REPO_ROOT, 'examples', 'docker');

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
}
const compose = parse(readFileSync(path.join(DIR, 'docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };

/** `.env.example` as a map, the way compose reads it. */
const dotEnv = Object.fromEntries(
  readFileSync(path.join(DIR, '.env.example'), 'utf8')
    .split('\n')
    .filter((line) => /^[A-Z_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
);

/** A service's environment after compose's `${VAR:-default}` / `${VAR:?message}` substitution. */
function environmentOf(service: ComposeService): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(service.environment ?? {})) {
    env[key] = String(value).replace(/\$\{([A-Z_]+)(?::[-?]([^}]*))?\}/g, (_m, name: string, fallback?: string) => dotEnv[name] || (fallback !== undefined && !String(_m).includes(':?') ? fallback : ''));
  }
  return env;
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(text: string): Array<{ op: string; args: string }> {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => ({ op: line.split(/\s+/)[0]!.toUpperCase(), args: line.slice(line.indexOf(' ') + 1).trim() }));
}

describe('examples/docker', () => {
  it('compose: Redis, a receiver and an aggregator, wired to files that exist and to variables .env.example defines', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['aggregator', 'receiver', 'redis']);
    expect(compose.services.redis!.image).toMatch(/^redis:7/);
    expect(compose.services.redis!.healthcheck!.test).toEqual(['CMD', 'redis-cli', 'ping']);
    const build = compose.services.receiver!.build!;
    expect(existsSync(path.resolve(DIR, build.context, build.dockerfile))).toBe(true);
    expect(compose.services.aggregator!.image).toBe(compose.services.receiver!.image);
    for (const [name, service] of Object.entries(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('.')) expect(existsSync(path.resolve(DIR, source)), `${name}: ${source}`).toBe(true);
        else expect(compose.volumes, `${name}: named volume ${source}`).toHaveProperty(source);
      }
      for (const value of Object.values(service.environment ?? {})) {
        for (const [, variable] of String(value).matchAll(/\$\{([A-Z_]+)/g)) expect(dotEnv, `${name} uses ${variable}`).toHaveProperty(variable!);
        // A secret is never written into the compose file itself.
        expect(String(value)).not.toMatch(/^(ghp_|github_pat_)/);
      }
    }
  });

  it('Dockerfile: every COPY source exists, the package list is the public packages, runs as non-root with a /healthcheck probe', () => {
    const text = readFileSync(path.join(DIR, 'Dockerfile'), 'utf8');
    const steps = instructions(text);
    const context = path.resolve(DIR, compose.services.receiver!.build!.context);
    for (const copy of steps.filter((s) => s.op === 'COPY' && !s.args.includes('--from'))) {
      const words = copy.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      for (const source of words.slice(0, -1)) expect(existsSync(path.join(context, source)), source).toBe(true);
    }
    const packed = /for dir in ([^;]+);/.exec(text)![1]!.trim().split(/\s+/);
    for (const dir of packed) {
      const manifest = JSON.parse(readFileSync(path.join(context, dir, 'package.json'), 'utf8')) as { private?: boolean };
      expect(manifest.private, dir).toBeFalsy();
    }
    const runtime = steps.slice(steps.map((s) => s.op).lastIndexOf('FROM'));
    const users = runtime.filter((s) => s.op === 'USER').map((s) => s.args);
    expect(users.at(-1)).toBe('node');
    const health = runtime.find((s) => s.op === 'HEALTHCHECK')!.args;
    expect(health).toContain('/healthcheck');
    expect(runtime.find((s) => s.op === 'ENTRYPOINT')!.args).toBe('["anklet"]');
    const ignore = readFileSync(path.join(DIR, 'Dockerfile.dockerignore'), 'utf8');
    expect(ignore).toContain('**/node_modules');
  });

  it('the receiver config loads with the compose environment', async () => {
    // The plugin's own overrides (GITHUB_RECEIVER1_OWNER for a key the file does not hold) are
    // applied once its schema is known: check what the installed receiver plugin is given.
    const pluginsPath = path.join(makeTmp(), 'plugins');
    await installFleetPlugins(pluginsPath);
    const env = { ...environmentOf(compose.services.receiver!), ANKLET_PLUGINS_PATH: pluginsPath };
    const loaded = loadConfig({ configPath: path.join(DIR, 'config', 'receiver.yml'), env, home: makeTmp() });
    expect(loaded.issues).toEqual([]);
    expect(loaded.warnings).toEqual([]);
    const [receiver] = loaded.plugins;
    expect(receiver!.plugin).toBe('github_receiver');
    expect(loaded.raw.global_receiver_secret).toBe('change-me');
    expect(receiver!.database).toMatchObject({ url: 'redis', port: 6379 });
    const [prepared] = await preparePlugins(loaded);
    expect(loaded.issues).toEqual([]);
    expect(prepared!.config).toMatchObject({ owner: 'acme', port: 54321, skip_redeliver: true });
  }, 180_000);

  describe('the aggregator with the compose environment', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedisServer();
    }, 60_000);
    afterAll(async () => {
      await redis?.stop();
    });

    it('starts and answers the health check the image probes', async () => {
      const env = environmentOf(compose.services.aggregator!);
      expect(effectiveDatabase({}, { url: env.ANKLET_METRICS_DATABASE_URL, port: Number(env.ANKLET_METRICS_DATABASE_PORT) } as never)).toMatchObject({ url: 'redis' });
      // Same variables, pointed at this test's Redis and a free port instead of the compose network.
      const { hostname, port: redisPort } = new URL(redis.url);
      const port = await findFreePort();
      const home = makeTmp();
      const config = path.join(DIR, 'config', 'aggregator.yml');
      const aggregator = new RunningAnklet(['-c', config], {
        home,
        env: { ...env, ANKLET_METRICS_DATABASE_URL: hostname, ANKLET_METRICS_DATABASE_PORT: redisPort, ANKLET_METRICS_PORT: String(port), ANKLET_METRICS_ADDRESS: '127.0.0.1' },
      });
      try {
        await aggregator.waitFor(msg(`metrics aggregator started on port ${port}`));
        const res = await fetch(`http://127.0.0.1:${port}/healthcheck`);
        expect([res.status, await res.text()]).toEqual([200, 'ok']);
      } finally {
        aggregator.signal('SIGTERM');
      }
      expect((await aggregator.exited).code).toBe(0);
    }, 30_000);
  });

  it('the image recipe works outside Docker: the packed tarballs the Dockerfile names install, and the receiver config validates', async () => {
    const text = readFileSync(path.join(DIR, 'Dockerfile'), 'utf8');
    const work = makeTmp('anklet-image-');
    const tarballs = path.join(work, 'tarballs');
    for (const dir of /for dir in ([^;]+);/.exec(text)![1]!.trim().split(/\s+/)) {
      execFileSync('pnpm', ['pack', '--pack-destination', tarballs], { cwd: path.join(REPO_ROOT, dir), stdio: 'pipe' });
    }
    const packed = readdirSync(tarballs);
    // The Dockerfile's shell globs, each matching exactly one tarball.
    const resolve = (run: string) =>
      [...run.matchAll(/\/tmp\/tarballs\/(\S+\.tgz)/g)].map(([, glob]) => {
        const pattern = new RegExp(`^${glob!.replace(/\./g, '\\.').replace(/\*/g, '.*')}$`);
        const matches = packed.filter((file) => pattern.test(file));
        expect(matches, glob).toHaveLength(1);
        return path.join(tarballs, matches[0]!);
      });
    const runs = instructions(text).filter((s) => s.op === 'RUN' && s.args.includes('/tmp/tarballs'));
    const [hostRun, pluginRun] = runs.map((r) => resolve(r.args));
    expect(hostRun!.map((f) => path.basename(f)).sort()).toEqual(packed.filter((f) => !f.includes('plugin-github-receiver')).sort());

    const prefix = path.join(work, 'opt');
    mkdirSync(prefix);
    writeFileSync(path.join(prefix, 'package.json'), '{ "name": "anklet-image", "private": true }');
    // --prefer-offline (here only, not in the image): registry packages the cache already has are not re-checked.
    // The test HOME is empty: keep npm on the user's cache so the plugin install does not download everything again.
    const offline = { ...process.env, npm_config_prefer_offline: 'true', npm_config_cache: process.env.npm_config_cache ?? path.join(homedir(), '.npm') };
    execFileSync('npm', ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', ...hostRun!], { cwd: prefix, env: offline, stdio: 'pipe' });
    const bin = path.join(prefix, 'node_modules', '.bin', 'anklet');
    const home = path.join(work, 'home');
    const pluginsPath = path.join(home, '.config', 'anklet', 'plugins');
    execFileSync(bin, ['plugins', 'install', ...pluginRun!, '--plugins-path', pluginsPath], { env: { ...offline, HOME: home }, stdio: 'pipe' });
    const configFile = path.join(home, '.config', 'anklet', 'receiver.yml');
    writeFileSync(configFile, readFileSync(path.join(DIR, 'config', 'receiver.yml')));
    const validate = execFileSync(bin, ['config', 'validate'], { env: { ...process.env, HOME: home, ...environmentOf(compose.services.receiver!) }, encoding: 'utf8' });
    expect(validate).toContain(`config OK: ${configFile}`);
    expect(validate).toContain('GITHUB_RECEIVER1: github_receiver → @anklet/plugin-github-receiver@0.1.0 (receiver)');
    // The image's `anklet version`, from the installed tarball.
    const version = await runCli(['version'], { home });
    expect(execFileSync(bin, ['version'], { encoding: 'utf8' })).toBe(version.stdout);
  }, 180_000);
});
