import { startRedisServer } from '@anklet/testing';
import { readFileSync } from 'node:fs';
import Redis from 'ioredis';
const server = await startRedisServer();
const r = new Redis({ port: server.port });
const lib = readFileSync('../packages/redis/lua/_lib.lua', 'utf8');
const withLib = [lib, 'local function __main()', 'return 1', 'end', 'return __main()'].join('\n');
const bare = 'return 1';
for (const [name, src] of [['bare', bare], ['withLib', withLib]]) {
  const sha = await r.script('LOAD', src);
  await r.config('RESETSTAT');
  const N = 20000; let next = 0;
  await Promise.all(Array.from({ length: 50 }, async () => { while (next < N) { next++; await r.evalsha(sha, 1, 'k', 'anklet:jobs:{q}', '1000', ...Array.from({length: 12}, () => 'x'.repeat(63))); } }));
  console.log(name, (await r.info('commandstats')).split('\n').filter((l) => /evalsha/.test(l)).join(''));
}
r.disconnect(); await server.stop();
