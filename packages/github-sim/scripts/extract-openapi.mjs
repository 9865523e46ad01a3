#!/usr/bin/env node
// Writes test/fixtures/openapi-subset.json: the response schemas of the GitHub REST operations
// github-sim implements, taken from GitHub's official OpenAPI description (@octokit/openapi).
// The full package is ~385 MB unpacked, so we vendor only what the tests need.
//
//   node scripts/extract-openapi.mjs                # downloads the tarball with `npm pack`
//   node scripts/extract-openapi.mjs <dir>          # <dir> holds api.github.com.json and ghec.json
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const VERSION = '23.0.2';
const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'test', 'fixtures', 'openapi-subset.json');

// [spec, method, path, statuses]. Enterprise endpoints only exist in ghec.json.
const OPERATIONS = [
  ['dotcom', 'post', '/repos/{owner}/{repo}/actions/runners/registration-token', ['201']],
  ['dotcom', 'post', '/orgs/{org}/actions/runners/registration-token', ['201']],
  ['ghec', 'post', '/enterprises/{enterprise}/actions/runners/registration-token', ['201']],
  ['dotcom', 'post', '/repos/{owner}/{repo}/actions/runners/remove-token', ['201']],
  ['dotcom', 'post', '/orgs/{org}/actions/runners/remove-token', ['201']],
  ['dotcom', 'post', '/repos/{owner}/{repo}/actions/runners/generate-jitconfig', ['201', '404', '409', '422']],
  ['dotcom', 'post', '/orgs/{org}/actions/runners/generate-jitconfig', ['201', '409', '422']],
  ['ghec', 'post', '/enterprises/{enterprise}/actions/runners/generate-jitconfig', ['201']],
  ['dotcom', 'get', '/repos/{owner}/{repo}/actions/runners', ['200']],
  ['dotcom', 'get', '/orgs/{org}/actions/runners', ['200']],
  ['ghec', 'get', '/enterprises/{enterprise}/actions/runners', ['200']],
  ['dotcom', 'get', '/repos/{owner}/{repo}/actions/runners/{runner_id}', ['200']],
  ['dotcom', 'get', '/orgs/{org}/actions/runners/{runner_id}', ['200']],
  ['dotcom', 'delete', '/repos/{owner}/{repo}/actions/runners/{runner_id}', ['422']],
  ['dotcom', 'delete', '/orgs/{org}/actions/runners/{runner_id}', ['422']],
  ['dotcom', 'get', '/orgs/{org}/actions/runner-groups', ['200']],
  ['dotcom', 'get', '/orgs/{org}/actions/runner-groups/{runner_group_id}', ['200']],
  ['ghec', 'get', '/enterprises/{enterprise}/actions/runner-groups', ['200']],
  ['dotcom', 'get', '/repos/{owner}/{repo}/actions/jobs/{job_id}', ['200']],
  ['dotcom', 'get', '/repos/{owner}/{repo}/actions/runs', ['200']],
  ['dotcom', 'get', '/repos/{owner}/{repo}/actions/runs/{run_id}', ['200']],
  ['dotcom', 'get', '/repos/{owner}/{repo}/actions/runs/{run_id}/jobs', ['200']],
  ['dotcom', 'post', '/repos/{owner}/{repo}/actions/runs/{run_id}/cancel', ['202', '409']],
  ['dotcom', 'post', '/repos/{owner}/{repo}/actions/runs/{run_id}/force-cancel', ['202', '409']],
  ['dotcom', 'get', '/repos/{owner}/{repo}/hooks', ['200']],
  ['dotcom', 'get', '/repos/{owner}/{repo}/hooks/{hook_id}', ['200']],
  ['dotcom', 'get', '/orgs/{org}/hooks', ['200']],
  ['dotcom', 'get', '/orgs/{org}/hooks/{hook_id}', ['200']],
  ['dotcom', 'get', '/repos/{owner}/{repo}/hooks/{hook_id}/deliveries', ['200']],
  ['dotcom', 'get', '/repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}', ['200']],
  ['dotcom', 'post', '/repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts', ['202']],
  ['dotcom', 'get', '/orgs/{org}/hooks/{hook_id}/deliveries', ['200']],
  ['dotcom', 'get', '/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}', ['200']],
  ['dotcom', 'post', '/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts', ['202']],
  ['dotcom', 'get', '/app/hook/deliveries', ['200']],
  ['dotcom', 'get', '/app/hook/deliveries/{delivery_id}', ['200']],
  ['dotcom', 'get', '/repos/{owner}/{repo}/releases', ['200']],
  ['dotcom', 'get', '/repos/{owner}/{repo}/releases/latest', ['200']],
  ['dotcom', 'get', '/app', ['200']],
  ['dotcom', 'get', '/app/installations', ['200']],
  ['dotcom', 'get', '/app/installations/{installation_id}', ['200']],
  ['dotcom', 'post', '/app/installations/{installation_id}/access_tokens', ['201']],
  ['dotcom', 'get', '/orgs/{org}/installation', ['200']],
  ['dotcom', 'get', '/repos/{owner}/{repo}/installation', ['200']],
  ['ghec', 'get', '/enterprises/{enterprise}/installation', ['200']],
  ['dotcom', 'get', '/orgs/{org}/repos', ['200']],
  ['dotcom', 'get', '/users/{username}/repos', ['200']],
  ['dotcom', 'get', '/rate_limit', ['200']],
  ['dotcom', 'get', '/user', ['200']],
];

function loadSpecs(dir) {
  return {
    dotcom: JSON.parse(readFileSync(join(dir, 'api.github.com.json'), 'utf8')),
    ghec: JSON.parse(readFileSync(join(dir, 'ghec.json'), 'utf8')),
  };
}

function download() {
  const tmp = mkdtempSync(join(tmpdir(), 'openapi-'));
  execFileSync('npm', ['pack', `@octokit/openapi@${VERSION}`, '--pack-destination', tmp], { stdio: 'inherit' });
  execFileSync('tar', ['-xzf', join(tmp, `octokit-openapi-${VERSION}.tgz`), '-C', tmp,
    'package/generated/api.github.com.json', 'package/generated/ghec.json']);
  return { dir: join(tmp, 'package', 'generated'), cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}

function resolvePointer(spec, ref) {
  return ref.slice(2).split('/').reduce((node, key) => node[key], spec);
}

const arg = process.argv[2];
const source = arg ? { dir: arg, cleanup: () => {} } : download();
const specs = loadSpecs(source.dir);
const schemas = {};

// Copies a schema, pulling every referenced component schema into `schemas`. Both specs use the
// same component names; where they differ the dotcom one wins, since it is loaded first.
function collect(spec, node) {
  if (Array.isArray(node)) return node.map((item) => collect(spec, item));
  if (!node || typeof node !== 'object') return node;
  const copy = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'example' || key === 'examples') continue;
    if (key === '$ref' && typeof value === 'string' && value.startsWith('#/components/schemas/')) {
      const name = value.slice('#/components/schemas/'.length);
      if (!(name in schemas)) {
        schemas[name] = true; // placeholder against cycles
        schemas[name] = collect(spec, resolvePointer(spec, value));
      }
      copy.$ref = value;
      continue;
    }
    copy[key] = collect(spec, value);
  }
  return copy;
}

const operations = {};
for (const [which, method, path, statuses] of OPERATIONS) {
  const spec = specs[which];
  const op = spec.paths[path]?.[method];
  if (!op) throw new Error(`${which}: no ${method.toUpperCase()} ${path}`);
  const entry = { operationId: op.operationId, responses: {} };
  for (const status of statuses) {
    let response = op.responses[status];
    if (!response) throw new Error(`${which}: ${method.toUpperCase()} ${path} has no ${status} response`);
    if (response.$ref) response = resolvePointer(spec, response.$ref);
    const schema = response.content?.['application/json']?.schema;
    entry.responses[status] = schema ? collect(spec, schema) : null;
  }
  operations[`${method.toUpperCase()} ${path}`] = entry;
}

writeFileSync(out, JSON.stringify({
  source: `@octokit/openapi@${VERSION} generated/api.github.com.json + generated/ghec.json`,
  generatedBy: 'packages/github-sim/scripts/extract-openapi.mjs',
  operations,
  components: { schemas },
}, null, 1) + '\n');
source.cleanup();
console.log(`wrote ${Object.keys(operations).length} operations, ${Object.keys(schemas).length} schemas to ${out}`);
