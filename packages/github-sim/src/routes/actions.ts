import { Router, type Request } from 'express';
import { authorize } from '../auth.js';
import { notFound } from '../errors.js';
import { jobJson, runJson } from '../objects.js';
import type { Workflows } from '../workflows.js';
import type { Repository, World } from '../world.js';
import { sendConditional } from './conditional.js';
import { paginate } from './pagination.js';

/** Jobs and runs: read them, cancel and force-cancel runs. */
export function actionsRoutes(world: World, workflows: Workflows): Router {
  const router = Router();
  const repoOf = (req: Request, level: 'read' | 'write'): Repository => {
    const repo = world.findRepo(String(req.params.owner), String(req.params.repo));
    authorize(req, { kind: 'repo', repo }, 'actions', level);
    return repo;
  };
  const runOf = (req: Request, level: 'read' | 'write') => {
    const repo = repoOf(req, level);
    const run = world.runs.get(Number(req.params.run_id));
    if (!run || run.repo.id !== repo.id) throw notFound();
    return run;
  };

  router.get('/repos/:owner/:repo/actions/jobs/:job_id', (req, res) => {
    const repo = repoOf(req, 'read');
    const job = world.jobs.get(Number(req.params.job_id));
    if (!job || job.repo.id !== repo.id) throw notFound();
    res.json(jobJson(world, job));
  });

  // Newest first, as GitHub lists them. `status` takes a run status or a conclusion.
  router.get('/repos/:owner/:repo/actions/runs', (req, res) => {
    const repo = repoOf(req, 'read');
    const wanted = typeof req.query.status === 'string' && req.query.status !== '' ? req.query.status : undefined;
    const runs = [...world.runs.values()]
      .filter((run) => run.repo.id === repo.id)
      .filter((run) => {
        if (!wanted) return true;
        const state = world.runState(run);
        return state.status === wanted || state.conclusion === wanted;
      })
      .sort((a, b) => b.createdAt - a.createdAt || b.id - a.id);
    const page = paginate(req, res, world.apiBaseUrl, runs);
    sendConditional(req, res, { total_count: runs.length, workflow_runs: page.map((run) => runJson(world, run)) });
  });

  router.get('/repos/:owner/:repo/actions/runs/:run_id', (req, res) => {
    res.json(runJson(world, runOf(req, 'read')));
  });

  router.get('/repos/:owner/:repo/actions/runs/:run_id/jobs', (req, res) => {
    const run = runOf(req, 'read');
    const jobs = run.jobIds.map((id) => world.jobs.get(id)!);
    const page = paginate(req, res, world.apiBaseUrl, jobs);
    // `filter=latest|all` is accepted; the sim has one attempt per run, so both list the same jobs.
    sendConditional(req, res, { total_count: jobs.length, jobs: page.map((job) => jobJson(world, job)) });
  });

  // force-cancel skips `always()` steps on GitHub; the sim has no steps to skip, so both end the
  // run the same way.
  for (const verb of ['cancel', 'force-cancel']) {
    router.post(`/repos/:owner/:repo/actions/runs/:run_id/${verb}`, (req, res) => {
      workflows.cancelRun(runOf(req, 'write'));
      res.status(202).json({});
    });
  }
  return router;
}
