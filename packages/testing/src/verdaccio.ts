import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findFreePort } from './free-port.js';

const require = createRequire(import.meta.url);

/** A private npm registry (verdaccio) for one test run, with its own storage and config. */
export interface LocalRegistry {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  /** The registry's throwaway folder (config, storage, users). */
  readonly dir: string;
  /**
   * An npm user config file (`.npmrc`) that points at this registry and holds a publish token.
   * Hand it to npm or pnpm as `npm_config_userconfig`: the token never appears on a command line
   * or in an environment variable.
   */
  readonly userconfig: string;
  /** The registry third-party packages come from (the uplink). */
  readonly uplink: string;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
}

export interface StartLocalRegistryOptions {
  /**
   * Package patterns served only from this registry, never looked up upstream (so a name that is
   * taken on the public registry cannot shadow the package under test). Default: none.
   */
  readonly localOnly?: ReadonlyArray<string>;
  /** Upstream registry for everything else. Default: the registry of the npm configuration in effect. */
  readonly uplink?: string;
}

/** The registry npm would use here: `.npmrc` files and `npm_config_registry` included. */
export function configuredRegistry(): string {
  const registry = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  return registry.endsWith('/') ? registry : `${registry}/`;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function configText(dir: string, uplink: string, localOnly: ReadonlyArray<string>): string {
  const quoted = (s: string) => JSON.stringify(s);
  const local = localOnly.map((pattern) => `  ${quoted(pattern)}:\n    access: $all\n    publish: $authenticated\n    unpublish: $authenticated\n`).join('');
  return [
    `storage: ${quoted(path.join(dir, 'storage'))}`,
    'auth:',
    '  htpasswd:',
    `    file: ${quoted(path.join(dir, 'htpasswd'))}`,
    '    max_users: 10',
    'uplinks:',
    '  upstream:',
    `    url: ${quoted(uplink)}`,
    '    timeout: 60s',
    '    maxage: 30m',
    'packages:',
    local.trimEnd(),
    '  "**":',
    '    access: $all',
    '    publish: $authenticated',
    '    proxy: upstream',
    'web:',
    '  enable: false',
    'log: { type: stdout, format: json, level: error }',
    // Big enough for the anklet tarballs with their source maps.
    'max_body_size: 200mb',
    '',
  ]
    .filter((line) => line !== '')
    .join('\n');
}

async function waitUntilUp(url: string, child: ChildProcess, output: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited with ${child.exitCode}:\n${output()}`);
    try {
      const res = await fetch(`${url}-/ping`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`verdaccio did not answer on ${url} within ${timeoutMs} ms:\n${output()}`);
}

/** Creates a user and returns its token (verdaccio's htpasswd plugin signs one up on first PUT). */
async function addUser(url: string): Promise<string> {
  const name = `test-${randomBytes(4).toString('hex')}`;
  const password = randomBytes(16).toString('hex');
  const res = await fetch(`${url}-/user/org.couchdb.user:${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password, type: 'user', roles: [], date: new Date().toISOString() }),
  });
  const body = (await res.json()) as { token?: string; error?: string };
  if (!res.ok || !body.token) throw new Error(`verdaccio refused to add a user: ${res.status} ${body.error ?? ''}`);
  return body.token;
}

/**
 * Starts verdaccio on a free loopback port with a throwaway storage. Packages matching
 * `localOnly` are served from this registry alone; everything else comes through the uplink.
 */
export async function startLocalRegistry(options: StartLocalRegistryOptions = {}): Promise<LocalRegistry> {
  const uplink = options.uplink ?? configuredRegistry();
  const dir = mkdtempSync(path.join(tmpdir(), 'anklet-registry-'));
  const configFile = path.join(dir, 'config.yaml');
  writeFileSync(configFile, configText(dir, uplink, options.localOnly ?? []));
  const port = await findFreePort();
  const url = `http://127.0.0.1:${port}/`;
  const bin = path.join(path.dirname(require.resolve('verdaccio/package.json')), 'bin', 'verdaccio');
  const child = spawn(process.execPath, [bin, '--config', configFile, '--listen', `127.0.0.1:${port}`], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOME: dir },
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  running.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    running.delete(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Generous: verdaccio loads a few hundred modules, slow on a busy 2-core machine.
    await waitUntilUp(url, child, () => output, 120_000);
    const token = await addUser(url);
    const userconfig = path.join(dir, 'npmrc');
    const hostPath = url.replace(/^https?:/, '');
    writeFileSync(userconfig, `registry=${url}\n${hostPath}:_authToken=${token}\n`, { mode: 0o600 });
    return { url, dir, userconfig, uplink, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
