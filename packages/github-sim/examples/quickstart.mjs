import { createServer } from 'node:http';
import { startGitHubSim, runSimulatedRunner } from '@anklet/github-sim';

// A stand-in for anklet's receiver: print each webhook's event and action.
const receiver = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    console.log(`webhook ${req.headers['x-github-event']}.${JSON.parse(body).action}`);
    res.end('ok');
  });
});
await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));

const sim = await startGitHubSim({
  tokens: ['ghp_demo'],
  hooks: [{ org: 'acme', url: `http://127.0.0.1:${receiver.address().port}/jobs/v1/receiver`, secret: 'demo-secret' }],
});

// A workflow asks for a self-hosted macOS runner...
const job = sim.control.dispatchJob({ repository: 'acme/app', labels: ['self-hosted', 'anka-template:demo'], durationMs: 200 });

// ...the handler registers a JIT runner for it, as anklet does...
const response = await fetch(`${sim.url}/orgs/acme/actions/runners/generate-jitconfig`, {
  method: 'POST',
  headers: { authorization: 'token ghp_demo', 'content-type': 'application/json' },
  body: JSON.stringify({ name: 'vm-1', runner_group_id: 1, labels: ['self-hosted', 'anka-template:demo'] }),
});
const { encoded_jit_config } = await response.json();

// ...and the "VM" runs the simulated runner with it.
const result = await runSimulatedRunner({ jitConfig: encoded_jit_config });
console.log(`runner ${result.outcome}: job ${result.jobId === job.id ? 'matches' : 'differs'}, ${result.conclusion}`);

await sim.control.deliveriesSettled();
console.log(sim.control.deliveries().map((d) => `${d.action}=${d.status_code}`).join(' '));
await sim.close();
receiver.close();
