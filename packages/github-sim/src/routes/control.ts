import express, { Router } from 'express';
import type { SimControl } from '../control.js';

/**
 * The HTTP control API under `/_sim`, for the CLI, the demo and tests in other languages or
 * processes. It needs no credentials: the sim only listens on 127.0.0.1.
 */
export function controlRoutes(control: SimControl): Router {
  const router = Router();
  router.use('/_sim', express.json());
  const ok = (res: express.Response, body: unknown = { ok: true }, status = 200): void => {
    res.status(status).json(body);
  };
  // Control mistakes are the caller's: answer 400 with the reason, never a stack.
  const wrap = (fn: (req: express.Request, res: express.Response) => unknown) =>
    async (req: express.Request, res: express.Response): Promise<void> => {
      try {
        const result = await fn(req, res);
        if (!res.headersSent) ok(res, result ?? { ok: true });
      } catch (error) {
        res.status(400).json({ message: (error as Error).message });
      }
    };

  router.get('/_sim/state', wrap(() => ({
    hooks: control.hooks(),
    runners: control.runners(),
    jobs: control.jobs(),
    deliveries: control.deliveries().length,
  })));
  router.post('/_sim/runs', wrap((req, res) => ok(res, control.dispatchRun(req.body), 201)));
  router.post('/_sim/jobs', wrap((req, res) => ok(res, control.dispatchJob(req.body), 201)));
  router.get('/_sim/jobs', wrap(() => control.jobs()));
  router.get('/_sim/jobs/:id', wrap((req, res) => {
    const job = control.job(Number(req.params.id));
    if (!job) return res.status(404).json({ message: 'no such job' });
    return job;
  }));
  router.post('/_sim/runs/:id/cancel', wrap((req) => control.cancelRun(Number(req.params.id))));
  router.get('/_sim/runners', wrap(() => control.runners()));
  router.get('/_sim/hooks', wrap(() => control.hooks()));
  router.post('/_sim/hooks', wrap((req, res) => ok(res, control.addHook(req.body), 201)));
  router.patch('/_sim/hooks/:id', wrap((req) => control.updateHook(Number(req.params.id), req.body)));
  router.get('/_sim/deliveries', wrap(async (req) => {
    if (req.query.settle !== undefined) await control.deliveriesSettled();
    return control.deliveries(req.query.hook_id === undefined ? undefined : Number(req.query.hook_id));
  }));
  router.post('/_sim/deliveries/:id/redeliver', wrap((req) => control.redeliver(Number(req.params.id))));
  router.post('/_sim/tokens', wrap((req) => control.addToken(String(req.body.token), req.body.login)));
  router.post('/_sim/tokens/revoke', wrap((req) => control.revokeToken(String(req.body.token))));
  router.post('/_sim/faults/requests', wrap((req) => control.failRequests(req.body)));
  router.delete('/_sim/faults/requests', wrap(() => control.clearRequestFaults()));
  router.post('/_sim/installations', wrap((req, res) => ok(res, control.addInstallation(req.body), 201)));
  router.put('/_sim/rate-limit', wrap((req) => control.setRateLimit(req.body)));
  router.post('/_sim/faults/rate-limit', wrap((req) => control.injectRateLimit(req.body)));
  router.post('/_sim/faults/deliveries', wrap((req) => control.failNextDeliveries(req.body)));
  router.post('/_sim/faults/drop-deliveries', wrap((req) => control.dropNextDeliveries(req.body)));
  router.post('/_sim/faults/registration-race', wrap((req) => control.setRegistrationRace(req.body)));
  router.put('/_sim/job-defaults', wrap((req) => control.setJobDefaults(req.body)));
  router.patch('/_sim/config', wrap((req) => control.configure(req.body)));
  router.get('/_sim/runner-releases', wrap(() => control.runnerReleaseState()));
  router.post('/_sim/runner-releases', wrap((req, res) => ok(res, control.publishRunnerRelease(req.body), 201)));
  router.post('/_sim/faults/runner-releases', wrap((req) => control.setRunnerReleaseFaults(req.body)));
  router.post('/_sim/clock', wrap((req) => control.advanceClock(Number(req.body.advanceSeconds ?? 0))));
  return router;
}
