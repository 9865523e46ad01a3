import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startGitHubSim, type GitHubSim } from '../src/index.js';
import { openApiErrors, startReceiver, type Json } from './helpers.js';

const TOKEN = 'ghp_listings_test';

let sim: GitHubSim;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
beforeEach(async () => {
  receiver = await startReceiver();
  sim = await startGitHubSim({ tokens: [TOKEN], repositories: ['acme/app', 'acme/lib', 'acme/web'], hooks: [{ org: 'acme', url: receiver.url, secret: 's' }] });
});
afterEach(async () => {
  await sim.close();
  await receiver.close();
});

/** A GET with the token and, optionally, `If-None-Match`; the body is read as text (a 304 has none). */
async function get(path: string, etag?: string) {
  const headers: Record<string, string> = { accept: 'application/vnd.github+json', authorization: `token ${TOKEN}` };
  if (etag) headers['if-none-match'] = etag;
  const response = await fetch(`${sim.url}${path}`, { headers });
  const text = await response.text();
  return {
    status: response.status,
    text,
    body: (text ? JSON.parse(text) : undefined) as Json,
    etag: response.headers.get('etag') ?? undefined,
    link: response.headers.get('link') ?? '',
    used: Number(response.headers.get('x-ratelimit-used')),
    remaining: Number(response.headers.get('x-ratelimit-remaining')),
  };
}

describe('listings with ETags and 304 Not Modified', () => {
  it('lists a repository\'s runs newest first, filtered by status, paged with Link headers', async () => {
    const jobs = [0, 1, 2].map((i) => sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', `l${i}`], name: `j${i}` }));
    const done = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted'], name: 'cancelled' });
    sim.control.cancelRun(done.run_id);
    sim.control.dispatchJob({ repository: 'acme/lib', labels: ['self-hosted'], name: 'elsewhere' });

    const all = await get('/repos/acme/app/actions/runs');
    expect(all.status).toBe(200);
    expect(openApiErrors('GET /repos/{owner}/{repo}/actions/runs', 200, all.body)).toEqual([]);
    expect(all.body.total_count).toBe(4);
    expect(all.body.workflow_runs.map((r: Json) => r.id)).toEqual([done.run_id, ...jobs.map((j) => j.run_id).reverse()]);

    const queued = await get('/repos/acme/app/actions/runs?status=queued&per_page=2');
    expect(queued.body.total_count).toBe(3);
    expect(queued.body.workflow_runs.map((r: Json) => r.id)).toEqual([jobs[2]!.run_id, jobs[1]!.run_id]);
    expect(queued.link).toMatch(/[?&]page=2[^>]*>; rel="next"/);
    const second = await get('/repos/acme/app/actions/runs?status=queued&per_page=2&page=2');
    expect(second.body.workflow_runs.map((r: Json) => r.id)).toEqual([jobs[0]!.run_id]);
    expect(second.link).not.toContain('rel="next"');
    expect((await get('/repos/acme/app/actions/runs?status=cancelled')).body.workflow_runs.map((r: Json) => r.id)).toEqual([done.run_id]);
    expect((await get('/repos/acme/app/actions/runs?status=in_progress')).body.total_count).toBe(0);
  });

  it('answers 304 with no body to a matching If-None-Match, free of the rate limit, until the list changes', async () => {
    const first = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', 'x'], name: 'first' });
    const path = '/repos/acme/app/actions/runs?status=queued&per_page=100';
    const fresh = await get(path);
    expect(fresh.status).toBe(200);
    expect(fresh.etag).toMatch(/^W\/"[0-9a-f]+"$/);

    const again = await get(path, fresh.etag);
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    expect(again.etag).toBe(fresh.etag);
    // Neither conditional request used the budget: `used` stays where the 200 left it.
    expect(again.used).toBe(fresh.used);
    const third = await get(path, fresh.etag);
    expect(third.status).toBe(304);
    expect(third.used).toBe(fresh.used);
    expect(third.remaining).toBe(fresh.remaining);

    // A new queued run changes the list: 200, a new ETag, and the request counts.
    const second = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', 'x'], name: 'second' });
    const changed = await get(path, fresh.etag);
    expect(changed.status).toBe(200);
    expect(changed.etag).not.toBe(fresh.etag);
    expect(changed.used).toBe(fresh.used + 1);
    expect(changed.body.workflow_runs.map((r: Json) => r.id)).toEqual([second.run_id, first.run_id]);

    // Its jobs' list too: unchanged → 304; the run cancelled → 200 with the jobs completed.
    const jobsPath = `/repos/acme/app/actions/runs/${first.run_id}/jobs?filter=latest&per_page=100`;
    const jobs = await get(jobsPath);
    expect(jobs.status).toBe(200);
    expect(openApiErrors('GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', 200, jobs.body)).toEqual([]);
    expect((await get(jobsPath, jobs.etag)).status).toBe(304);
    sim.control.cancelRun(first.run_id);
    const after = await get(jobsPath, jobs.etag);
    expect(after.status).toBe(200);
    expect(after.body.jobs[0]).toMatchObject({ id: first.id, status: 'completed', conclusion: 'cancelled' });
    // An ETag of another URL does not match.
    expect((await get(path.replace('status=queued', 'status=completed'), changed.etag)).status).toBe(200);
  });

  it('lists an organization\'s (and a user\'s) repositories, paged, with ETags', async () => {
    const orgs = await get('/orgs/acme/repos?per_page=2');
    expect(orgs.status).toBe(200);
    expect(openApiErrors('GET /orgs/{org}/repos', 200, orgs.body)).toEqual([]);
    expect(orgs.body.map((r: Json) => r.full_name)).toEqual(['acme/web', 'acme/lib']);
    expect(orgs.link).toContain('rel="next"');
    const rest = await get('/orgs/acme/repos?per_page=2&page=2');
    expect(rest.body.map((r: Json) => r.name)).toEqual(['app']);
    expect((await get('/orgs/acme/repos?per_page=2', orgs.etag)).status).toBe(304);
    // A new repository moves every page: the first one is no longer the same.
    sim.control.dispatchJob({ repository: 'acme/new', labels: ['self-hosted'] });
    const moved = await get('/orgs/acme/repos?per_page=2', orgs.etag);
    expect(moved.status).toBe(200);
    expect(moved.body[0].name).toBe('new');

    sim.world.ensureAccount('octocat', 'User');
    sim.control.dispatchJob({ repository: 'octocat/hello', labels: ['self-hosted'] });
    expect((await get('/orgs/octocat/repos')).status).toBe(404);
    const user = await get('/users/octocat/repos');
    expect(user.status).toBe(200);
    expect(openApiErrors('GET /users/{username}/repos', 200, user.body)).toEqual([]);
    expect(user.body.map((r: Json) => r.full_name)).toEqual(['octocat/hello']);
  });
});

describe('deliveries GitHub never sends', () => {
  it('drops the next deliveries of one action: nothing reaches the receiver and nothing is recorded', async () => {
    sim.control.dropNextDeliveries({ count: 1, action: 'queued' });
    const lost = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', 'drop'], name: 'lost' });
    const kept = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', 'drop'], name: 'kept' });
    await sim.control.deliveriesSettled();
    const ids = receiver.received.map((r) => (JSON.parse(r.body) as Json).workflow_job.id);
    expect(ids).toEqual([kept.id]);
    expect(sim.control.deliveries().map((d) => (d.request as Json).payload.workflow_job.id)).toEqual([kept.id]);
    expect(sim.control.droppedDeliveries()).toBe(1);
    // The REST API still knows the job: only a sweep of the API can find it.
    expect((await get(`/repos/acme/app/actions/jobs/${lost.id}`)).body.status).toBe('queued');
    // Later actions of the same job are sent as usual.
    sim.control.cancelRun(lost.run_id);
    await sim.control.deliveriesSettled();
    expect(sim.control.deliveries().filter((d) => (d.request as Json).payload.workflow_job.id === lost.id).map((d) => d.action)).toEqual(['completed']);
    // Over HTTP too.
    const response = await fetch(`${sim.url}/_sim/faults/drop-deliveries`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ count: 1 }) });
    expect(await response.json()).toEqual({ dropped: 1 });
  });
});
