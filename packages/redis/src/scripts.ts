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
/** A script whose first line is this gets `_lib.lua` in front and returns the notes of what it quarantined. */
const LIB_MARK = '--! lib';
/** First element of a reply that carries quarantine notes: `[mark, notesJson, result]`. */
const NOTES_MARK = '__quarantined';

let cache: ReadonlyMap<string, LuaScript> | undefined;

/**
 * Wraps a queue script: the shared library first, the body in a function (its `return`s stay
 * returns), and the notes of records it set aside next to its result.
 */
function withLibrary(lib: string, body: string): string {
  return [
    lib,
    'local function __main()',
    body,
    'end',
    'local __result = __main()',
    `if #NOTES > 0 then return { '${NOTES_MARK}', cjson.encode(NOTES), __result } end`,
    'return __result',
  ].join('\n');
}

/** Reads every script once per process; the key count comes from the file name. */
export function loadScripts(): ReadonlyMap<string, LuaScript> {
  if (cache) return cache;
  const scripts = new Map<string, LuaScript>();
  const lib = readFileSync(`${LUA_DIR}_lib.lua`, 'utf8');
  for (const file of readdirSync(LUA_DIR)) {
    const match = /^([a-z].*)-(\d+)\.lua$/.exec(file);
    if (!match) continue;
    const [, name = '', keys = '0'] = match;
    const text = readFileSync(`${LUA_DIR}${file}`, 'utf8');
    const source = text.startsWith(LIB_MARK) ? withLibrary(lib, text) : text;
    scripts.set(name, { name, numKeys: Number(keys), source, sha: createHash('sha1').update(source).digest('hex') });
  }
  cache = scripts;
  return scripts;
}

/** A record a script set aside (see `_lib.lua`). */
export interface ScriptNote {
  readonly key: string;
  readonly jobId?: string;
  readonly reason: string;
}

/** Runs scripts by name: EVALSHA (one round trip), EVAL only when the server lost its script cache. */
export type ScriptRunner = (name: string, keys: ReadonlyArray<string>, args: ReadonlyArray<string | number | Buffer>) => Promise<unknown>;

/** `onNotes` hears of every record a script quarantined (the store logs them). */
export function createScriptRunner(client: Redis | Cluster, onNotes?: (notes: ReadonlyArray<ScriptNote>) => void): ScriptRunner {
  const scripts = loadScripts();
  const unwrap = (reply: unknown): unknown => {
    if (!Array.isArray(reply) || reply[0] !== NOTES_MARK) return reply;
    try {
      onNotes?.(JSON.parse(String(reply[1])) as ScriptNote[]);
    } catch {
      // The notes are also in the quarantine list; a broken one must not fail the call.
    }
    return reply[2] ?? null;
  };
  return async (name, keys, args) => {
    const script = scripts.get(name);
    if (!script) throw new Error(`unknown Lua script ${name}`);
    if (keys.length !== script.numKeys) throw new Error(`${name} takes ${script.numKeys} keys, got ${keys.length}`);
    try {
      return unwrap(await client.evalsha(script.sha, script.numKeys, ...keys, ...args));
    } catch (error) {
      // A restarted server or a new cluster node has an empty script cache.
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
        return unwrap(await client.eval(script.source, script.numKeys, ...keys, ...args));
      }
      throw error;
    }
  };
}
