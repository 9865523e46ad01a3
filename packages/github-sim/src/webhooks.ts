import { createHmac } from 'node:crypto';
import type { Delivery, Hook, Job, World } from './world.js';
import { accountJson, enterpriseJson, jobJson, organizationJson, repositoryJson } from './objects.js';

/** Failures the control API queues for the next deliveries. */
export interface DeliveryFault {
  count: number;
  /** Only deliveries to this hook; any hook when unset. */
  hookId?: number;
  /**
   * 0 (default): the sim records "failed to connect" and sends nothing, as when the receiver
   * is down. Any other code is recorded as that answer, without sending.
   */
  statusCode?: number;
  /** Only deliveries of this `workflow_job` action (`queued`, `in_progress`, `completed`); any when unset. */
  action?: string;
  /**
   * The delivery is never made and never recorded: GitHub simply did not send it, so there is no
   * failed delivery to find and redeliver (only the REST API still knows the job).
   */
  drop?: boolean;
}

/** `sha256=<hex>` over the exact body, as in `X-Hub-Signature-256`. */
export function signBody(secret: string, body: string, algorithm: 'sha256' | 'sha1' = 'sha256'): string {
  return `${algorithm}=${createHmac(algorithm, secret).update(body, 'utf8').digest('hex')}`;
}

interface Outgoing {
  guid: string;
  event: string;
  action: string | null;
  body: string;
  installationId: number | null;
  repositoryId: number | null;
  redelivery: boolean;
}

/**
 * Sends webhooks the way GitHub's Hookshot does: one POST per subscribed hook, with the real
 * headers and HMAC signatures, recorded as a delivery whether it succeeded or not. Deliveries to
 * one hook go out in order; nothing is retried automatically (GitHub does not either).
 */
export class WebhookSender {
  readonly faults: DeliveryFault[] = [];
  /** Deliveries dropped by a `drop` fault so far. */
  dropped = 0;
  private readonly chains = new Map<number, Promise<void>>();
  private readonly hookshot: string;

  constructor(private readonly world: World, private readonly log: (line: string) => void) {
    this.hookshot = `GitHub-Hookshot/${world.random.hex(7)}`;
  }

  /** Hooks that receive events of this repository. */
  private hooksFor(job: Job, event: string): Hook[] {
    const owner = job.repo.owner;
    return [...this.world.hooks.values()].filter((hook) => {
      if (!hook.active || !(hook.events.includes(event) || hook.events.includes('*'))) return false;
      if (hook.scope.kind === 'repo') return hook.scope.repo.id === job.repo.id;
      if (hook.scope.kind === 'org') return hook.scope.account.id === owner.id;
      return this.world.installationFor(owner.login) !== undefined;
    });
  }

  /** Builds the `workflow_job` payload of one action and delivers it to every subscribed hook. */
  workflowJob(job: Job, action: 'queued' | 'in_progress' | 'completed'): void {
    const world = this.world;
    const owner = job.repo.owner;
    const payload: Record<string, unknown> = {
      action,
      workflow_job: jobJson(world, job),
      repository: repositoryJson(world, job.repo),
    };
    if (owner.type === 'Organization') payload.organization = organizationJson(world, owner);
    if (owner.enterprise) payload.enterprise = enterpriseJson(world, world.ensureEnterprise(owner.enterprise));
    payload.sender = accountJson(world, world.ensureAccount('anklet-sim-user', 'User'));
    const guid = world.random.uuid();
    for (const hook of this.hooksFor(job, 'workflow_job')) {
      let installationId: number | null = null;
      let body = payload;
      if (hook.scope.kind === 'app') {
        const installation = world.installationFor(owner.login)!;
        installationId = installation.id;
        body = { ...payload, installation: { id: installation.id, node_id: `MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u${installation.id}` } };
      }
      this.enqueue(hook, {
        guid, event: 'workflow_job', action, body: JSON.stringify(body), installationId, repositoryId: job.repo.id, redelivery: false,
      });
    }
  }

  /** The `ping` GitHub sends when a hook is created. */
  ping(hook: Hook): void {
    const world = this.world;
    const payload: Record<string, unknown> = {
      zen: 'Keep it logically awesome.',
      hook_id: hook.id,
      hook: {
        type: hook.scope.kind === 'org' ? 'Organization' : hook.scope.kind === 'app' ? 'App' : 'Repository',
        id: hook.id,
        name: 'web',
        active: hook.active,
        events: hook.events,
        config: { content_type: 'json', insecure_ssl: '0', url: hook.url },
      },
    };
    if (hook.scope.kind === 'repo') payload.repository = repositoryJson(world, hook.scope.repo);
    if (hook.scope.kind === 'org') payload.organization = organizationJson(world, hook.scope.account);
    payload.sender = accountJson(world, world.ensureAccount('anklet-sim-user', 'User'));
    this.enqueue(hook, {
      guid: world.random.uuid(), event: 'ping', action: null, body: JSON.stringify(payload), installationId: null,
      repositoryId: hook.scope.kind === 'repo' ? hook.scope.repo.id : null, redelivery: false,
    });
  }

  /** Sends a recorded delivery again: same GUID and body, a new delivery id, `redelivery: true`. */
  redeliver(delivery: Delivery): void {
    const hook = this.world.hooks.get(delivery.hookId);
    if (!hook) return;
    this.enqueue(hook, {
      guid: delivery.guid, event: delivery.event, action: delivery.action, body: delivery.body,
      installationId: delivery.installationId, repositoryId: delivery.repositoryId, redelivery: true,
    });
  }

  /** Resolves when every delivery queued so far has been attempted and recorded. */
  async idle(): Promise<void> {
    while (true) {
      const pending = [...this.chains.values()];
      await Promise.all(pending);
      if ([...this.chains.values()].every((chain, i) => chain === pending[i]) && this.chains.size === pending.length) return;
    }
  }

  private enqueue(hook: Hook, outgoing: Outgoing): void {
    const previous = this.chains.get(hook.id) ?? Promise.resolve();
    const next = previous.then(() => this.send(hook, outgoing)).catch((error: unknown) => {
      this.log(`github-sim: delivery to hook ${hook.id} crashed: ${String(error)}`);
    });
    this.chains.set(hook.id, next);
  }

  /** The bytes on the wire: the JSON itself, or for a `form` hook the JSON in a `payload` field. */
  private wireBody(hook: Hook, outgoing: Outgoing): string {
    return hook.contentType === 'form' ? new URLSearchParams({ payload: outgoing.body }).toString() : outgoing.body;
  }

  private headersFor(hook: Hook, outgoing: Outgoing, body: string): Record<string, string> {
    const headers: Record<string, string> = {
      Accept: '*/*',
      'Content-Type': hook.contentType === 'form' ? 'application/x-www-form-urlencoded' : 'application/json',
      'User-Agent': this.hookshot,
      'X-GitHub-Delivery': outgoing.guid,
      'X-GitHub-Event': outgoing.event,
      'X-GitHub-Hook-ID': String(hook.id),
    };
    if (hook.scope.kind === 'repo') {
      headers['X-GitHub-Hook-Installation-Target-ID'] = String(hook.scope.repo.id);
      headers['X-GitHub-Hook-Installation-Target-Type'] = 'repository';
    } else if (hook.scope.kind === 'org') {
      headers['X-GitHub-Hook-Installation-Target-ID'] = String(hook.scope.account.id);
      headers['X-GitHub-Hook-Installation-Target-Type'] = 'organization';
    } else {
      headers['X-GitHub-Hook-Installation-Target-ID'] = String(this.world.app?.id ?? 0);
      headers['X-GitHub-Hook-Installation-Target-Type'] = 'integration';
    }
    // The signature covers the body as sent, form encoding included.
    if (hook.secret) {
      headers['X-Hub-Signature'] = signBody(hook.secret, body, 'sha1');
      headers['X-Hub-Signature-256'] = signBody(hook.secret, body, 'sha256');
    }
    return headers;
  }

  private takeFault(hook: Hook, outgoing: Outgoing): DeliveryFault | undefined {
    const index = this.faults.findIndex(
      (f) =>
        f.count > 0 &&
        (f.hookId === undefined || f.hookId === hook.id) &&
        (f.action === undefined || f.action === outgoing.action) &&
        // A redelivery is asked for on purpose: GitHub does not drop it silently.
        !(f.drop && outgoing.redelivery),
    );
    if (index < 0) return undefined;
    const fault = this.faults[index]!;
    fault.count--;
    if (fault.count === 0) this.faults.splice(index, 1);
    return fault;
  }

  private async send(hook: Hook, outgoing: Outgoing): Promise<void> {
    const world = this.world;
    const body = this.wireBody(hook, outgoing);
    const headers = this.headersFor(hook, outgoing, body);
    const started = performance.now();
    const deliveredAt = world.now();
    let statusCode = 0;
    let status = 'failed to connect to host';
    let responseHeaders: Record<string, string> = {};
    let responseBody = '';
    const fault = this.takeFault(hook, outgoing);
    if (fault?.drop) {
      this.log(`github-sim: delivery ${outgoing.event}.${outgoing.action ?? '-'} hook=${hook.id} dropped (never sent, never recorded)`);
      this.dropped += 1;
      return;
    }
    if (fault) {
      statusCode = fault.statusCode ?? 0;
      if (statusCode !== 0) status = `Invalid HTTP Response: ${statusCode}`;
    } else {
      try {
        const response = await fetch(hook.url, {
          method: 'POST',
          headers,
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(world.settings.deliveryTimeoutMs),
        });
        statusCode = response.status;
        responseHeaders = Object.fromEntries(response.headers.entries());
        responseBody = (await response.text()).slice(0, 1024);
        status = statusCode >= 200 && statusCode < 300 ? 'OK' : `Invalid HTTP Response: ${statusCode}`;
      } catch (error) {
        const name = (error as { name?: string }).name;
        status = name === 'TimeoutError' ? 'timed out' : 'failed to connect to host';
      }
    }
    const delivery: Delivery = {
      id: world.id('delivery'),
      guid: outgoing.guid,
      hookId: hook.id,
      deliveredAt,
      redelivery: outgoing.redelivery,
      duration: Math.round((performance.now() - started) / 10) / 100,
      status,
      statusCode,
      event: outgoing.event,
      action: outgoing.action,
      installationId: outgoing.installationId,
      repositoryId: outgoing.repositoryId,
      url: hook.url,
      requestHeaders: headers,
      body: outgoing.body,
      responseHeaders,
      responseBody,
      success: statusCode >= 200 && statusCode < 300,
    };
    world.deliveries.push(delivery);
    this.log(`github-sim: delivery ${delivery.id} ${outgoing.event}.${outgoing.action ?? '-'} hook=${hook.id} -> ${statusCode} ${status}${outgoing.redelivery ? ' (redelivery)' : ''}`);
    world.emit('delivery', delivery);
  }
}
