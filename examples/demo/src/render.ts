import type { Fleet, FleetEvent, FleetJob, JobState, JobTimeline, TimelineEvent } from '@anklet/fleet';

const ORDER: JobState[] = ['queued', 'claimed', 'vm', 'running', 'completed', 'done'];
const LABEL: Record<JobState, string> = { queued: 'queued', claimed: 'claimed', vm: 'VM up', running: 'running', completed: 'finished', done: 'done' };

const secs = (from: number | undefined, to: number | undefined) => (from !== undefined && to !== undefined ? `${((to - from) / 1000).toFixed(1)}s` : '-');

/** Fixed-width table; the first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/** The live frame: one line per job with its progress, then the VM slots of every host. */
export function renderLive(fleet: Fleet, started: number): string {
  const rows = [['JOB', 'PROGRESS', 'STATE', 'HOST', 'HANDLER', 'VM']];
  for (const job of fleet.jobs()) {
    const step = ORDER.indexOf(job.state);
    const bar = ORDER.map((_, i) => (i <= step ? '█' : '·')).join('');
    rows.push([job.name, bar, job.state === 'done' || job.state === 'completed' ? `${LABEL[job.state]} (${job.conclusion})` : LABEL[job.state], job.host ?? '', job.handler ?? '', job.vmName ?? '']);
  }
  const slots = fleet.slots().map((h) => {
    const cells = Array.from({ length: h.limit }, (_, i) => {
      const vm = h.vms[i];
      return vm ? `[■ ${vm.name} ${vm.status}]` : '[□ free]';
    });
    return `  ${h.host.padEnd(9)} ${cells.join(' ')}`;
  });
  return `${table(rows)}\n\nVM slots (${((Date.now() - started) / 1000).toFixed(1)}s)\n${slots.join('\n')}\n`;
}

/** One plain line per event, for a terminal that is not a TTY (CI logs, pipes). */
export function describeEvent(event: FleetEvent, started: number): string {
  const job = event.job;
  const at = `${((event.at - started) / 1000).toFixed(1)}s`.padStart(6);
  const where = [job.host, job.handler, job.vmName].filter(Boolean).join(' ');
  const what =
    event.state === 'completed' || event.state === 'done'
      ? `${LABEL[event.state]} (${job.conclusion})`
      : event.state === 'queued' && job.claims > 0
        ? 'handed back'
        : LABEL[event.state];
  return `${at}  ${job.name.padEnd(12)} ${what.padEnd(20)} ${where}`;
}

/** The final table: expected and actual conclusion, where it ran, and how long each step took. */
export function renderSummary(jobs: FleetJob[]): string {
  const rows = [['JOB', 'EXPECTED', 'CONCLUSION', 'OK', 'HOST', 'HANDLER', 'VM', 'PICK-UP', 'VM+RUNNER', 'RUN', 'TOTAL']];
  for (const j of jobs) {
    const t = j.times;
    rows.push([
      j.name,
      j.expected ?? '-',
      j.conclusion ?? '-',
      j.expected === undefined || j.expected === j.conclusion ? 'yes' : 'NO',
      j.host ?? '-',
      j.handler ?? '-',
      j.vmName ?? '-',
      secs(t.dispatched, t.claimed),
      secs(t.claimed, t.running),
      secs(t.running, t.completed),
      secs(t.dispatched, t.done),
    ]);
  }
  return table(rows);
}

/** The timeline events that explain a detour: a job given back to the queue, retried or given up. */
const DETOURS: Partial<Record<TimelineEvent['type'], string>> = { handed_back: 'handed back', retried: 'retried', cancelled: 'cancelled' };

/**
 * One line per hand-back, retry and cancel of every job, with the reason the store recorded in the
 * job's timeline (`handed_back` comes with how: `requeue`, `hand_off` or `reap`).
 */
export function renderDetours(jobs: FleetJob[], timelines: ReadonlyMap<number, JobTimeline>): string {
  const rows = [['JOB', 'EVENT', 'BY', 'REASON']];
  for (const job of jobs) {
    for (const event of timelines.get(job.id)?.events ?? []) {
      const what = DETOURS[event.type];
      if (!what) continue;
      const how = event.type === 'handed_back' && event.detail ? ` (${event.detail})` : '';
      const detail = event.type !== 'handed_back' && event.detail ? ` (${event.detail})` : '';
      rows.push([job.name, what + how, event.by ?? '-', (event.reason ?? 'no reason recorded') + detail]);
    }
  }
  return rows.length === 1 ? 'no job was handed back, retried or cancelled' : table(rows);
}
