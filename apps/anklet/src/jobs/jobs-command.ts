import { JOB_VIEW_STATES, JOBS_VIEW_MAX_LIMIT, type JobViewState } from '@anklet/metrics';
import { describeIssues, loadConfig } from '../config/load-config.js';
import { ExitCode } from '../host/exit-codes.js';
import { HostStores, timelineHistoryOf } from '../host/stores.js';
import { createLogger } from '../logging/create-logger.js';
import { SecretRegistry } from '../logging/redact.js';
import { describeDatabase, statusDatabaseOf } from '../status/fleet-status.js';
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
  const loaded = loadConfig({ configPath: opts.configPath });
  if (loaded.issues.length > 0) {
    err(`${loaded.file}: ${loaded.issues.length} problem${loaded.issues.length === 1 ? '' : 's'} (see: anklet config validate)`);
    for (const line of describeIssues(loaded, loaded.issues)) err(`  ${line}`);
    return ExitCode.Config;
  }
  // Connection warnings go to stderr and only when they stop us, so --json stays clean.
  const logger = createLogger({ mode: { level: 'error', pretty: false }, secrets: new SecretRegistry(), stream: process.stderr });
  const stores = new HostStores(loaded.workDir ?? loaded.configDir, logger, timelineHistoryOf(loaded.raw));
  const database = statusDatabaseOf(loaded);
  try {
    const store = await stores.open(database, 'jobs', { checkPersistence: false });
    const view = await readFleetJobs(store, loaded, { states: state ? [state as JobViewState] : undefined, limit, queues: opts.queue });
    if (opts.json) out(JSON.stringify(view, null, 2));
    else for (const line of renderFleetJobs(view, describeDatabase(database))) out(line);
    return ExitCode.Ok;
  } finally {
    await stores.close();
    await logger.close();
  }
}
