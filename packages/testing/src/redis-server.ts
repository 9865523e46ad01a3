import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { findFreePort } from './free-port.js';

/** A Redis server for one test run. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>` (or `REDIS_URL`). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** A key prefix unique to this server handle; use it (plus your own suffix) for every key. */
  readonly prefix: string;
  /** True when `REDIS_URL` pointed at a server this harness did not start: `stop`/`restart` only clean keys. */
  readonly external: boolean;
  /** Stops the server (SIGTERM, data flushed to its AOF) and removes its directory; for `REDIS_URL`, deletes this handle's keys. */
  stop(): Promise<void>;
  /** Stops the server process but keeps its data directory, so {@link RedisServer.start} brings the data back. */
  kill(): Promise<void>;
  /** Starts a server stopped by {@link RedisServer.kill} on the same port with the same data. */
  start(): Promise<void>;
  /** `kill()`, wait `downMs`, `start()`. */
  restart(downMs?: number): Promise<void>;
  /**
   * `kill()`, delete the server's data files, wait `downMs`, `start()`: the same port, an empty
   * database, as after a disk loss or a server replaced without persistence.
   */
  restartEmpty(downMs?: number): Promise<void>;
}

/** Options for {@link startRedisServer}. */
export interface StartRedisServerOptions {
  /** Use `REDIS_URL` when it is set (default true). Tests that restart the server pass false. */
  readonly allowExternal?: boolean;
  /** Extra `redis-server` arguments, e.g. `['--cluster-enabled', 'yes']`. */
  readonly args?: ReadonlyArray<string>;
  /** Port to use (default: a free one). */
  readonly port?: number;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A child redis-server must not outlive the test process, even when a test forgets `stop()`. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/** A unique prefix for keys of one test: `anklet-test:<label>:<random>`. */
export function uniquePrefix(label = 't'): string {
  return `anklet-test:${label}:${randomBytes(6).toString('hex')}`;
}

/** One PING over a raw socket: any reply (`+PONG`, or `-NOAUTH` from a password-protected server) means it is up. */
function pingOnce(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (up: boolean): void => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => finish(/^[+-]/.test(data.toString())));
  });
}

/** Resolves once `PING` answers on host:port, or throws after `timeoutMs`. */
export async function waitForRedis(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pingOnce(host, port)) return;
    await sleep(25);
  }
  throw new Error(`redis-server on ${host}:${port} did not answer PING within ${timeoutMs} ms`);
}

/** Deletes every key starting with `prefix` (SCAN, never KEYS or FLUSHDB). */
export async function deleteKeysWithPrefix(url: string, prefix: string): Promise<void> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

function spawnRedis(port: number, dir: string, args: ReadonlyArray<string>): ChildProcess {
  const child = spawn(
    'redis-server',
    [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      '--save', '',
      // The AOF keeps the data across kill()/start() (SIGTERM flushes it) so restart tests see their jobs again.
      '--appendonly', 'yes',
      '--appendfsync', 'everysec',
      '--protected-mode', 'no',
      '--loglevel', 'warning',
      ...args,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts `redis-server` on a free port with its own temporary directory, or uses `REDIS_URL`
 * (then with a unique key prefix, and `stop()` deletes only that prefix's keys).
 *
 * @example
 * ```ts
 * const server = await startRedisServer();
 * try { ... new Redis(server.url) ... } finally { await server.stop(); }
 * ```
 */
export async function startRedisServer(options: StartRedisServerOptions = {}): Promise<RedisServer> {
  const external = process.env['REDIS_URL'];
  if (external && (options.allowExternal ?? true)) {
    const parsed = new URL(external);
    const prefix = uniquePrefix('ext');
    const port = Number(parsed.port || 6379);
    const unsupported = (): Promise<void> => Promise.reject(new Error('cannot stop or restart the REDIS_URL server'));
    return {
      url: external,
      host: parsed.hostname,
      port,
      prefix,
      external: true,
      stop: () => deleteKeysWithPrefix(external, prefix),
      kill: unsupported,
      start: unsupported,
      restart: unsupported,
      restartEmpty: unsupported,
    };
  }

  installExitHook();
  const port = options.port ?? (await findFreePort());
  const dir = await mkdtemp(join(tmpdir(), 'anklet-redis-'));
  const args = options.args ?? [];
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) return;
    child = spawnRedis(port, dir, args);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const failed = new Promise<never>((_, reject) => {
      child?.once('error', (error) => reject(new Error(`could not start redis-server (is it installed? apt-get install redis-server): ${error.message}`)));
      child?.once('exit', (code) => reject(new Error(`redis-server exited with code ${String(code)}: ${stderr.trim()}`)));
    });
    failed.catch(() => undefined);
    await Promise.race([waitForRedis('127.0.0.1', port), failed]);
  };
  const kill = async (): Promise<void> => {
    await stopChild(child);
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    prefix: uniquePrefix('srv'),
    external: false,
    start,
    kill,
    async restart(downMs = 0) {
      await kill();
      if (downMs > 0) await sleep(downMs);
      await start();
    },
    async restartEmpty(downMs = 0) {
      await kill();
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      if (downMs > 0) await sleep(downMs);
      await start();
    },
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
