#!/usr/bin/env node
/**
 * `pnpm demo`: a whole anklet fleet on this machine. Packs the plugins, installs them with
 * `anklet plugins install`, starts github-sim, anka-sim and the real `anklet` host(s), dispatches a
 * handful of jobs, shows them move live, prints a summary, stops everything and exits 0 when every
 * job ended as expected and nothing was left behind. `--redis`: two handler hosts and a receiver
 * host on a shared Redis.
 */
import { startFleet, type Fleet, type FleetJobSpec } from '@anklet/fleet';
import { renderDetours, renderLive, renderSummary, describeEvent } from './render.js';

const redisMode = process.argv.includes('--redis');
const started = Date.now();
const say = (text: string) => process.stdout.write(`${text}\n`);
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;

const jobs: FleetJobSpec[] = redisMode
  ? [
      { name: 'build', conclusion: 'success', durationMs: 2500 },
      { name: 'unit-tests', conclusion: 'success', durationMs: 2000 },
      { name: 'ui-tests', conclusion: 'failure', durationMs: 1500 },
      { name: 'lint', conclusion: 'success', durationMs: 1000 },
      { name: 'package', conclusion: 'success', durationMs: 1500 },
      { name: 'notarize', conclusion: 'success', durationMs: 1000 },
      { name: 'old-xcode', template: 'missing' },
    ]
  : [
      { name: 'build', conclusion: 'success', durationMs: 2500 },
      { name: 'unit-tests', conclusion: 'success', durationMs: 1500 },
      { name: 'ui-tests', conclusion: 'failure', durationMs: 1500 },
      { name: 'lint', conclusion: 'success', durationMs: 1000 },
      { name: 'old-xcode', template: 'missing' },
    ];

let fleet: Fleet | undefined;
let stopping: Promise<unknown> | undefined;

// Ctrl-C: stop the hosts and remove everything, then exit; a second Ctrl-C exits at once (the
// exit hooks still kill the hosts and remove the temp folders).
let interrupts = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (++interrupts > 1) process.exit(130);
    say(`\n${signal}: stopping the fleet...`);
    stopping ??= (fleet ? fleet.stop() : Promise.resolve()).finally(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  say(`anklet demo (${redisMode ? 'Redis: a receiver host and two handler hosts with two handlers each' : 'embedded store: one host, a receiver and two handlers'})`);
  say('packing the plugins and installing them with `anklet plugins install`; starting github-sim, anka-sim' + (redisMode ? ', redis-server' : '') + ' and anklet...');
  // Templates are pulled before anklet starts, so that no handler hands a job back while the
  // other one pulls (one pull per host); clone and start get a little latency to watch.
  fleet = await startFleet({ store: redisMode ? 'redis' : 'embedded', prePull: true, ankaLatency: { cloneMs: 200, startMs: 300 } });
  if (stopping) return 130;
  say(`fleet ready after ${elapsed()} in ${fleet.dir}`);
  for (const host of fleet.hosts) {
    const parts = [host.receiver ? 'receiver' : '', host.handlers.length ? `${host.handlers.length} handlers` : ''].filter(Boolean).join(' + ');
    say(`  ${host.name.padEnd(9)} ${parts.padEnd(24)} pid ${String(host.process?.child.pid)}  metrics ${host.metricsUrl}metrics`);
  }
  say('');

  const dispatched = fleet.dispatch(jobs);
  const tty = Boolean(process.stdout.isTTY);
  let drawn = 0;
  const draw = () => {
    const text = renderLive(fleet!, started);
    // Redraw in place: move up over the last frame and clear it.
    process.stdout.write((drawn ? `\x1b[${drawn}A\x1b[J` : '') + text);
    drawn = text.split('\n').length - 1;
  };
  const off = tty ? undefined : fleet.onEvent((event) => say(describeEvent(event, started)));
  const timer = tty ? setInterval(draw, 200) : undefined;
  try {
    await fleet.waitForAll({ timeoutMs: 90_000 });
  } finally {
    if (timer) clearInterval(timer);
    off?.();
  }
  if (tty) draw();
  say('');
  say(renderSummary(dispatched));

  const wrong = dispatched.filter((j) => j.expected !== undefined && j.conclusion !== j.expected);
  const twice = dispatched.filter((j) => j.starts > 1);
  say('');
  say('metrics (Prometheus text; `/` is the status page):');
  for (const host of fleet.hosts) {
    const text = await fetch(`${host.metricsUrl}metrics`).then((r) => r.text(), () => '');
    const claimed = text.split('\n').filter((l) => l.startsWith('anklet_jobs_claimed_total')).length;
    say(`  ${host.name.padEnd(9)} ${host.metricsUrl}metrics  (${claimed} anklet_jobs_claimed_total series)`);
  }
  if (fleet.redis) {
    // Each host writes its snapshot to Redis as soon as a plugin's status changes (and every 10 s).
    const status = await fleet.status();
    say('');
    say('`anklet status` (reads the fleet from Redis):');
    say(status.stdout.trimEnd().replace(/^/gm, '  '));
  } else {
    say('`anklet status` needs Redis (`pnpm demo --redis`); a single host shows its own status page at its metrics URL.');
  }

  say('');
  say('stopping the fleet (SIGTERM to every anklet)...');
  // The hosts first: the embedded store is the host's own database, readable once it stopped.
  await Promise.all(fleet.hosts.map((h) => fleet!.stopHost(h.name)));
  const timelines = await fleet.timelines();
  say('');
  say('why jobs were handed back, retried or cancelled (from each job\'s timeline in the store):');
  say(timelines ? renderDetours(dispatched, timelines).replace(/^/gm, '  ') : '  (the store could not be read)');
  say('');
  const left = await fleet.stop();
  fleet = undefined;
  const leftBehind = left.vms.length + left.runners.length + (left.claimed ?? 0);
  say(`left behind: ${left.vms.length} VMs, ${left.runners.length} runners, ${left.claimed ?? 0} claimed jobs; ${left.queued ?? 0} queued`);
  if (wrong.length) say(`WRONG: ${wrong.map((j) => `${j.name} ended ${j.conclusion}, expected ${j.expected}`).join('; ')}`);
  if (twice.length) say(`RAN TWICE: ${twice.map((j) => j.name).join(', ')}`);
  const ok = wrong.length === 0 && twice.length === 0 && leftBehind === 0;
  say(`${ok ? 'demo passed' : 'demo FAILED'}: ${dispatched.length} jobs in ${elapsed()}`);
  return ok ? 0 : 1;
}

main().then(
  (code) => {
    if (!stopping) process.exit(code);
  },
  async (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    await fleet?.stop().catch(() => undefined);
    process.exit(1);
  },
);
