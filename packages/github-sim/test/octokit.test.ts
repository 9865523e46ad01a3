import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Octokit } from '@octokit/core';
import { createAppAuth } from '@octokit/auth-app';
import { startGitHubSim, type GitHubSim } from '../src/index.js';

const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

describe('Octokit talks to github-sim through baseUrl', () => {
  let sim: GitHubSim;
  beforeAll(async () => {
    sim = await startGitHubSim({
      tokens: ['ghp_octokit'],
      repositories: ['acme/app'],
      app: { id: 808, privateKey, installations: [{ id: 9001, account: 'acme' }] },
    });
  });
  afterAll(() => sim.close());

  it('with a personal access token', async () => {
    const octokit = new Octokit({ baseUrl: sim.url, auth: 'ghp_octokit' });
    const created = await octokit.request('POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig', {
      owner: 'acme', repo: 'app', name: 'octo-vm', runner_group_id: 1, labels: ['self-hosted', 'anka'],
    });
    expect(created.status).toBe(201);
    expect(created.data.runner.name).toBe('octo-vm');
    const list = await octokit.request('GET /repos/{owner}/{repo}/actions/runners', { owner: 'acme', repo: 'app', name: 'octo-vm' });
    expect(list.data.total_count).toBe(1);
    const error = await octokit
      .request('POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig', { owner: 'acme', repo: 'app', name: 'octo-vm', runner_group_id: 1, labels: ['x'] })
      .catch((e: { status: number; message: string }) => e);
    expect(error).toMatchObject({ status: 409 });
    expect((error as { message: string }).message).toContain('Already exists');
    await octokit.request('DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}', { owner: 'acme', repo: 'app', runner_id: created.data.runner.id });
  });

  it('as a GitHub App: JWT, installation lookup, installation token', async () => {
    const appOctokit = new Octokit({ baseUrl: sim.url, authStrategy: createAppAuth, auth: { appId: 808, privateKey } });
    const installation = await appOctokit.request('GET /orgs/{org}/installation', { org: 'acme' });
    expect(installation.data.id).toBe(9001);
    const octokit = new Octokit({ baseUrl: sim.url, authStrategy: createAppAuth, auth: { appId: 808, privateKey, installationId: 9001 } });
    const token = await octokit.request('POST /orgs/{org}/actions/runners/registration-token', { org: 'acme' });
    expect(token.status).toBe(201);
    expect(token.data.token).toMatch(/^[A-Z0-9]{29}$/);
    const minted = [...sim.world.credentials.values()].filter((c) => c.kind === 'installation');
    expect(minted).toHaveLength(1);
    expect(minted[0]!.installationId).toBe(9001);
  });
});
