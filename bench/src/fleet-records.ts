/**
 * Reading what a fleet run left: anklet's log lines, anka-sim's call records and github-sim's
 * deliveries, on one clock. Shared by the runs of bench:fleet.
 */
import type { Fleet, FleetHost, LogLine } from '@anklet/fleet';
import type { Interval } from './fleet-stats.js';

/** Epoch ms of an anklet JSON log line (`time` is RFC 3339 with milliseconds). */
export const timeOf = (line: LogLine) => Date.parse(String(line.time));

/** Every log line of every process a host had, with a given `msg`. */
export function linesOf(host: FleetHost, text: string): LogLine[] {
  return host.runs.flatMap((run) => run.lines.filter((l) => l.msg === text));
}

/** A host's anka calls as intervals (process start → exit), with the VM they name, if any. */
export function ankaCalls(host: FleetHost): Array<Interval & { command: string; vm: string | undefined }> {
  return host.anka.timings().map((t) => {
    const args = t.argv.filter((a) => !a.startsWith('-'));
    return { start: Date.parse(t.start), end: Date.parse(t.end), command: args[0] ?? '', vm: t.argv.find((a) => a.startsWith('anklet-vm-')) };
  });
}

/** `queued` / `in_progress` / `completed` deliveries of a job: when github-sim started sending each. */
export function deliveriesOf(fleet: Fleet, jobId: number): Map<string, number> {
  const found = new Map<string, number>();
  for (const d of fleet.sim.world.deliveries) {
    if (d.event !== 'workflow_job' || d.redelivery || found.has(d.action ?? '')) continue;
    const body = JSON.parse(d.body) as { workflow_job?: { id?: number } };
    if (body.workflow_job?.id === jobId) found.set(d.action ?? '', d.deliveredAt);
  }
  return found;
}
