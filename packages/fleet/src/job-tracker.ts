import type { GitHubSim } from '@anklet/github-sim';
import type { LogLine } from './anklet-process.js';

/** Where a job is, as a person watching the fleet would say it. */
export type JobState = 'queued' | 'claimed' | 'vm' | 'running' | 'completed' | 'done';

/** A job dispatched through the fleet, followed through GitHub (github-sim) and the hosts' logs. */
export interface FleetJob {
  readonly id: number;
  readonly runId: number;
  readonly name: string;
  /** The conclusion the dispatcher expects, if it said. */
  readonly expected: string | undefined;
  state: JobState;
  /** GitHub's conclusion once completed. */
  conclusion: string | undefined;
  /** Host and handler that last claimed it. */
  host: string | undefined;
  handler: string | undefined;
  vmName: string | undefined;
  /** How many times a handler claimed it (more than one means a retry or a recovery). */
  claims: number;
  /** How many times a handler saw its runner take it (an adopting restart may see the same runner again). */
  starts: number;
  /** The VM (= runner name) of each start, in order; two different names would mean it ran twice. */
  readonly startedIn: string[];
  /** `Date.now()` at each step; the last claim's times when it was claimed again. */
  readonly times: { dispatched: number; claimed?: number; vm?: number; running?: number; completed?: number; done?: number };
}

/** A change of one job's state. */
export interface FleetEvent {
  readonly at: number;
  readonly job: FleetJob;
  readonly state: JobState;
  readonly host: string | undefined;
}

/**
 * Follows jobs: host log lines move them through claimed → vm → running → done; github-sim says when
 * they completed and with what conclusion.
 */
export class JobTracker {
  readonly #jobs = new Map<number, FleetJob>();
  #listeners: Array<(event: FleetEvent) => void> = [];
  /** Handlers whose `cleanup | finished` came before GitHub's completion was seen. */
  readonly #cleaned = new Set<number>();

  constructor(private readonly sim: GitHubSim) {}

  add(job: FleetJob): void {
    this.#jobs.set(job.id, job);
    this.#emit(job);
  }

  all(): FleetJob[] {
    return [...this.#jobs.values()];
  }

  get(id: number): FleetJob | undefined {
    return this.#jobs.get(id);
  }

  onEvent(listener: (event: FleetEvent) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  /** Feeds one JSON log line of host `host`. */
  line(host: string, line: LogLine): void {
    const id = Number(line.workflowJobID);
    const job = Number.isFinite(id) ? this.#jobs.get(id) : undefined;
    if (!job) return;
    const handler = (line.attributes as { name?: string } | undefined)?.name;
    const now = Date.now();
    switch (line.msg) {
      case 'queued job found':
        job.claims++;
        job.host = host;
        job.handler = handler;
        job.times.claimed = now;
        this.#cleaned.delete(id);
        this.#set(job, 'claimed');
        break;
      case 'vm started':
        job.vmName = typeof line.vmName === 'string' ? line.vmName : job.vmName;
        job.times.vm = now;
        this.#set(job, 'vm');
        break;
      case 'job found registered runner and is now in progress':
        job.starts++;
        job.startedIn.push(typeof line.vmName === 'string' ? line.vmName : String(job.vmName));
        job.times.running = now;
        this.#set(job, 'running');
        break;
      case 'pushing job back to the queue for another attempt':
      case 'handing job back to the queue':
        this.#set(job, 'queued');
        break;
      case 'cleanup | finished':
        this.#cleaned.add(id);
        this.poll();
        break;
    }
  }

  /** Reads GitHub's side of every unfinished job. */
  poll(): void {
    for (const job of this.#jobs.values()) {
      if (job.state === 'done') continue;
      const gh = this.sim.control.job(job.id);
      if (!gh) continue;
      if (gh.status !== 'completed') continue;
      if (job.state !== 'completed') {
        job.conclusion = String(gh.conclusion);
        job.times.completed = Date.now();
        this.#set(job, 'completed');
      }
      // Done once its handler cleaned up, or at once for a job no handler ever took.
      if (this.#cleaned.has(job.id) || job.claims === 0) {
        job.times.done = Date.now();
        this.#set(job, 'done');
      }
    }
  }

  #set(job: FleetJob, state: JobState): void {
    if (job.state === state || job.state === 'done') return;
    // A late log line never moves a completed job backwards.
    if (job.state === 'completed' && state !== 'done') return;
    job.state = state;
    this.#emit(job);
  }

  #emit(job: FleetJob): void {
    const event: FleetEvent = { at: Date.now(), job, state: job.state, host: job.host };
    for (const listener of [...this.#listeners]) listener(event);
  }
}
