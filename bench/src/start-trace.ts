/**
 * `anklet start` timeline: starts one host (receiver + 2 handlers, embedded store) on the fleet
 * harness, restarts it a few times and prints every log line and anka call of the last start,
 * in ms since the spawn. A tool for finding what the start waits for; it asserts nothing.
 *
 *   pnpm --filter @anklet/bench start-trace      # START_TRACE_STARTS (default 3)
 *   START_TRACE_NODE_OPTIONS='--cpu-prof --cpu-prof-dir=/tmp/prof' pnpm --filter @anklet/bench start-trace
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { installFleetPlugins, simulatedTemplate, startFleet } from '@anklet/fleet';
import { readyz } from './fleet-stats.js';

const STARTS = Number(process.env.START_TRACE_STARTS ?? 3);

const work = mkdtempSync(path.join(os.tmpdir(), 'anklet-start-trace-'));
const pluginsPath = path.join(work, 'plugins');
await installFleetPlugins(pluginsPath);
const fleet = await startFleet({
  hosts: [{ name: 'host', receiver: true, handlers: 2, sleepInterval: 10 }],
  prePull: true,
  templates: [simulatedTemplate()],
  pluginsPath,
});
try {
  const host = fleet.host('host');
  for (let i = 0; i < STARTS; i++) {
    await fleet.stopHost('host');
    await sleep(500);
    let done = false;
    const spawnedAt = Date.now();
    const probing = readyz(host.metricsUrl, () => done);
    // START_TRACE_NODE_OPTIONS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) goes to the last start only.
    const nodeOptions = i === STARTS - 1 ? process.env.START_TRACE_NODE_OPTIONS : undefined;
    const run = await fleet.startHost('host', nodeOptions ? { env: { NODE_OPTIONS: nodeOptions } } : undefined);
    const readyAt = await Promise.race([probing, sleep(5_000).then(() => undefined)]);
    done = true;
    console.log(`start ${i + 1}: /readyz ${readyAt === undefined ? '-' : readyAt - spawnedAt} ms`);
    if (i < STARTS - 1) continue;
    // A profiler started through NODE_OPTIONS gets time to write its file before the stop.
    if (nodeOptions) await sleep(2_000);
    const events: Array<[number, string]> = [];
    for (const line of run.lines) events.push([Date.parse(String(line.time)) - spawnedAt, `log  ${String(line.msg)}${line.name ? ` [${String(line.name)}]` : ''}`]);
    for (const t of host.anka.timings()) {
      const start = Date.parse(t.start) - spawnedAt;
      if (start < 0) continue;
      events.push([start, `anka ${t.argv.join(' ')} (${Date.parse(t.end) - Date.parse(t.start)} ms)`]);
    }
    if (readyAt !== undefined) events.push([readyAt - spawnedAt, '/readyz 200']);
    events.sort((a, b) => a[0] - b[0]);
    for (const [at, what] of events) console.log(`${String(at).padStart(6)} ms  ${what}`);
  }
} finally {
  await fleet.stop();
  rmSync(work, { recursive: true, force: true });
}
