import { JOB_VIEW_STATES, JOBS_VIEW_MAX_LIMIT, type JobViewState } from '@anklet/metrics';
import { ExitCode } from '../host/exit-codes.js';
import { describeDatabase } from '../status/fleet-status.js';
import { loadFleetConfig, withFleetStore } from '../status/fleet-store.js';
import { readFleetJobs, renderFleetJobs } from './fleet-jobs.js';

/** `anklet jobs`: reads the fleet's Redis like `anklet status` and prints the jobs view. Returns the exit code. */
export async function runJobsCommand(
  opts: { state?: string; limit: string; json?: boolean; queue?: string[]; configPath?: string },
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> {
  const state = opts.state?.trim().toLowerCase();
  if (state !== undefined && !(JOB_VIEW_STATES as readonly string[]).includes(state)) {
    err(`anklet: --state must be one of: ${JOB_VIEW_STATES.join(', ')} (got "${opts.state}")`);
    return ExitCode.Config;
  }
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > JOBS_VIEW_MAX_LIMIT) {
    err(`anklet: --limit must be a whole number from 1 to ${JOBS_VIEW_MAX_LIMIT} (got "${opts.limit}")`);
    return ExitCode.Config;
  }
  const loaded = loadFleetConfig(opts.configPath, err);
  if (!loaded) return ExitCode.Config;
  return withFleetStore(loaded, 'jobs', async (store, database) => {
    const view = await readFleetJobs(store, loaded, { states: state ? [state as JobViewState] : undefined, limit, queues: opts.queue });
    if (opts.json) out(JSON.stringify(view, null, 2));
    else for (const line of renderFleetJobs(view, describeDatabase(database))) out(line);
    return ExitCode.Ok;
  });
}
