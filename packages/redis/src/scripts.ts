import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Cluster, Redis } from 'ioredis';

/** One Lua script of `lua/`, named `<verb>-<numKeys>.lua`. */
export interface LuaScript {
  readonly name: string;
  readonly numKeys: number;
  readonly source: string;
  readonly sha: string;
}

// `lua/` sits next to `src/` and `dist/`, so one relative URL serves tests (src) and the package (dist).
const LUA_DIR = fileURLToPath(new URL('../lua/', import.meta.url));

let cache: ReadonlyMap<string, LuaScript> | undefined;

/** Reads every script once per process; the key count comes from the file name. */
export function loadScripts(): ReadonlyMap<string, LuaScript> {
  if (cache) return cache;
  const scripts = new Map<string, LuaScript>();
  for (const file of readdirSync(LUA_DIR)) {
    const match = /^(.+)-(\d+)\.lua$/.exec(file);
    if (!match) continue;
    const [, name = '', keys = '0'] = match;
    const source = readFileSync(`${LUA_DIR}${file}`, 'utf8');
    scripts.set(name, { name, numKeys: Number(keys), source, sha: createHash('sha1').update(source).digest('hex') });
  }
  cache = scripts;
  return scripts;
}

/** Runs scripts by name: EVALSHA (one round trip), EVAL only when the server lost its script cache. */
export type ScriptRunner = (name: string, keys: ReadonlyArray<string>, args: ReadonlyArray<string | number>) => Promise<unknown>;

export function createScriptRunner(client: Redis | Cluster): ScriptRunner {
  const scripts = loadScripts();
  return async (name, keys, args) => {
    const script = scripts.get(name);
    if (!script) throw new Error(`unknown Lua script ${name}`);
    if (keys.length !== script.numKeys) throw new Error(`${name} takes ${script.numKeys} keys, got ${keys.length}`);
    try {
      return await client.evalsha(script.sha, script.numKeys, ...keys, ...args);
    } catch (error) {
      // A restarted server or a new cluster node has an empty script cache.
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
        return client.eval(script.source, script.numKeys, ...keys, ...args);
      }
      throw error;
    }
  };
}
