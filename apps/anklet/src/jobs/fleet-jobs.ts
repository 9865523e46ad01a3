import { readFleet, readJobsView, statusView, type JobsView, type JobsViewStore, type JobViewState } from '@anklet/metrics';
import type { JobStore } from '@anklet/core';
import type { LoadedConfig } from '../config/load-config.js';
import { fleetReadOptionsOf } from '../host/metrics.js';
import { formatAge, queuesToCount, renderTable } from '../status/fleet-status.js';

/** What `anklet jobs` reads: the fleet's hosts (to name a running job's host) and the jobs view. */
export async function readFleetJobs(
  store: JobsViewStore & Pick<JobStore, 'listHostSnapshots'>,
  config: LoadedConfig,
  options: { states?: ReadonlyArray<JobViewState>; limit?: number; queues?: ReadonlyArray<string>; now?: Date } = {},
): Promise<JobsView> {
  const now = options.now ?? new Date();
  const view = statusView(await readFleet(store, undefined, { ...fleetReadOptionsOf(config), now }), now);
  return readJobsView(store, {
    queues: queuesToCount(config, { ...view, hosts: [...view.hosts, ...view.stale_hosts] }, options.queues ?? []),
    states: options.states,
    limit: options.limit,
    hosts: [...view.hosts, ...view.stale_hosts],
    now,
  });
}

const dash = (value: string | null | undefined) => (value === null || value === undefined || value === '' ? '-' : value);
const ageOf = (seconds: number | null) => formatAge(seconds === null ? null : Math.round(seconds));
const templateOf = (job: { template: string | null; tag: string | null }) => (job.template ? `${job.template}${job.tag ? `:${job.tag}` : ''}` : '-');

/** The terminal form: one table per state read, each with a line saying how many there are in all. */
export function renderFleetJobs(view: JobsView, source: string): string[] {
  const out = [`jobs from ${source}: ${view.totals.queued} waiting, ${view.totals.running} running (queues: ${view.queues.join(', ') || 'none known'})`];
  if (view.states.includes('queued')) {
    out.push('', `QUEUED (oldest first, at most ${view.limit})`);
    if (view.queued.length === 0) out.push('no job waits');
    else
      out.push(
        ...renderTable(
          ['JOB', 'QUEUE', 'NAME', 'TEMPLATE', 'AGE', 'STATE', 'ATTEMPTS', 'WHY'],
          view.queued.map((j) => [j.id, j.queue, dash(j.name), templateOf(j), ageOf(j.age_seconds), j.waiting, String(j.attempts), j.why]),
        ),
      );
  }
  if (view.states.includes('running')) {
    out.push('', `RUNNING (at most ${view.limit})`);
    if (view.running.length === 0) out.push('no job runs');
    else
      out.push(
        ...renderTable(
          ['JOB', 'QUEUE', 'NAME', 'HOST', 'HANDLER', 'VM', 'PHASE', 'FOR', 'LAST EVENT'],
          view.running.map((j) => [j.id, j.queue, dash(j.name), dash(j.host), j.handler, dash(j.vm), j.phase, ageOf(j.running_seconds), dash(j.last_event)]),
        ),
      );
  }
  if (view.states.includes('finished')) {
    out.push('', `FINISHED (newest first, at most ${view.limit})`);
    if (view.finished.length === 0) out.push('no finished job is kept');
    else {
      const now = Date.parse(view.generated_at);
      const p = (s: number | null) => (s === null ? '-' : `${s}s`);
      out.push(
        ...renderTable(
          ['JOB', 'QUEUE', 'CONCLUSION', 'ENDED', 'ATTEMPTS', 'WAIT', 'PULL', 'VM', 'PICKUP', 'RUN', 'CLEANUP', 'TOTAL', 'REASONS'],
          view.finished.map((j) => [
            j.id,
            j.queue,
            j.conclusion === j.outcome ? j.conclusion : `${j.conclusion} (${j.outcome})`,
            `${ageOf(Math.max(0, (now - Date.parse(j.finished_at)) / 1000))} ago`,
            String(j.attempts),
            p(j.phases.waiting),
            p(j.phases.pull),
            p(j.phases.vm),
            p(j.phases.pickup),
            p(j.phases.run),
            p(j.phases.cleanup),
            p(j.phases.total),
            [...j.reasons, ...(j.diagnostics ? [`runner logs kept in ${j.diagnostics}`] : [])].join('; ') || '-',
          ]),
        ),
      );
    }
  }
  return out;
}
