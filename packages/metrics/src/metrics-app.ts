import { readFileSync } from 'node:fs';
import type { Logger } from '@anklet/core';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { mergeFamilies, PROMETHEUS_CONTENT_TYPE, renderExposition } from './exposition.js';
import { familiesFromSnapshot, staleHostFamilies } from './families.js';
import { aggregatorRecords, aggregatorRecordsByName, statusView, type FleetEntry } from './fleet.js';
import type { GoHostSnapshot } from './go-model.js';
import { jobsViewQueryOf, type JobsView, type JobViewState } from './jobs-view.js';
import type { StatusHost } from './fleet.js';

/** The `format` values the metrics endpoints take. */
export const METRICS_FORMATS = ['prometheus', 'json'] as const;

/** Readiness as the host reports it: ready once every plugin has started. */
export interface Readiness {
  readonly ready: boolean;
  /** Plugins that have not started yet (or the reason, e.g. `shutting down`). */
  readonly waiting: ReadonlyArray<string>;
}

export interface MetricsAppOptions {
  /** `host`: one host's endpoints; `aggregator`: the fleet from the store, each host labelled. */
  readonly mode: 'host' | 'aggregator';
  /** The hosts to show (the live host alone, or the store's snapshots). */
  fleet(): Promise<FleetEntry[]>;
  /** Host mode: this host's Go JSON. */
  hostSnapshot?(): Promise<GoHostSnapshot>;
  /** Host mode: readiness for `/readyz`. Without it the endpoint always answers ready. */
  readiness?(): Readiness;
  /**
   * What `/jobs.json` serves (see `jobs-view.ts`): the states and limit asked for, and the fleet's
   * hosts (to name the host of a running job). Without it `/jobs.json` answers 404.
   */
  jobs?(request: JobsRequest): Promise<JobsView>;
  readonly logger?: Logger | undefined;
}

/** What the app asks {@link MetricsAppOptions.jobs} for. */
export interface JobsRequest {
  readonly states: ReadonlyArray<JobViewState>;
  readonly limit: number;
  /** Every host of the fleet view, stale ones included. */
  readonly hosts: ReadonlyArray<StatusHost>;
}

let statusPage: string | undefined;
/** The status page is a static file shipped in the package: nothing to build, for us or for users. */
function statusPageHtml(): string {
  statusPage ??= readFileSync(new URL('../static/status.html', import.meta.url), 'utf8');
  return statusPage;
}

let favicon: Buffer | undefined;
/** A 32×32 icon (an ICO holding one PNG), so a browser's automatic `/favicon.ico` request is no 404. */
function faviconIco(): Buffer {
  favicon ??= readFileSync(new URL('../static/favicon.ico', import.meta.url));
  return favicon;
}

/** Go writes JSON with HTML-safe escaping and a trailing newline; aggregator clients may rely on both. */
function goJson(value: unknown): string {
  return `${JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')}\n`;
}

/** A request listener for `node:http`'s `createServer` (what {@link createMetricsApp} returns). */
export type MetricsApp = RequestListener;

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

function answer(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers });
  // A HEAD request gets the headers only (node:http drops the body itself).
  res.end(body);
}

/** Route paths as Go's mux and the old router saw them: case-insensitive, one trailing slash ignored. */
function routeOf(req: IncomingMessage): { path: string; query: URLSearchParams } {
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  let path = (q < 0 ? raw : raw.slice(0, q)).toLowerCase();
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return { path, query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

/**
 * The metrics HTTP endpoints (same routes in both modes, any method, as in Go):
 *
 * | path | answer |
 * |---|---|
 * | `/metrics`, `/metrics/v1`, `/metrics/v2` | `?format=prometheus` (default) or `?format=json`; another format is a 400 listing the valid ones. The aggregator adds the hosts' histograms with `&histograms=1` |
 * | `/healthcheck` | 200 `ok` |
 * | `/readyz` | 200 when every plugin has started, else 503 with the ones still starting (GET, HEAD) |
 * | `/` | the status page; `/status.json` is what it shows (GET, HEAD) |
 * | `/favicon.ico` | the page's icon (GET, HEAD) |
 * | `/jobs.json` | the jobs view (`?state=queued,running,finished`, `?limit=1..1000`; a bad value is a 400) (GET, HEAD) |
 *
 * Anything else is a 404 (`405` for a method a known path does not take). Plain `node:http`: a
 * handful of routes do not need a router, and the host then loads no web framework at start.
 */
export function createMetricsApp(options: MetricsAppOptions): MetricsApp {
  const prometheus = async (histograms: boolean): Promise<string> => {
    const fleet = await options.fleet();
    // One host serves its own series unlabelled; the aggregator tells hosts apart with `host`, and
    // of a stale host it serves only the stale mark and the last update time.
    if (options.mode !== 'aggregator') return renderExposition(mergeFamilies(fleet.map((e) => familiesFromSnapshot(e.snapshot))));
    return renderExposition(
      mergeFamilies(
        fleet.map((e) => {
          const host = { host: e.key };
          const stale = staleHostFamilies(e.snapshot, e.stale === true, host);
          if (e.stale) return stale;
          // Per-host histograms are most of the text (16 lines per series: ~100 KB for a host with
          // jobs on 20 templates), so the fleet's scrape carries them only when asked.
          return [...familiesFromSnapshot(e.snapshot, host, histograms ? undefined : (_name, type) => type !== 'histogram'), ...stale];
        }),
      ),
    );
  };

  const json = async (version: 'none' | 'v1' | 'v2'): Promise<unknown> => {
    if (options.mode === 'host' && version !== 'v2' && options.hostSnapshot) return options.hostSnapshot();
    const fleet = await options.fleet();
    return version === 'v1' ? aggregatorRecordsByName(fleet) : aggregatorRecords(fleet);
  };

  const serveMetrics = async (version: 'none' | 'v1' | 'v2', query: URLSearchParams, res: ServerResponse) => {
    const formats = query.getAll('format');
    const format = formats.length === 0 ? 'prometheus' : formats.length === 1 ? formats[0]! : formats.join(',');
    if (!(METRICS_FORMATS as readonly string[]).includes(format)) {
      answer(res, 400, TEXT, `unsupported format "${format.slice(0, 40)}", please use one of: ${METRICS_FORMATS.map((f) => `?format=${f}`).join(', ')}\n`);
      return;
    }
    try {
      if (format === 'json') answer(res, 200, JSON_TYPE, goJson(await json(version)));
      else answer(res, 200, PROMETHEUS_CONTENT_TYPE, await prometheus(/^(1|true|yes)$/i.test(query.get('histograms') ?? '')));
    } catch (error) {
      options.logger?.error('error serving metrics', { error: (error as Error).message });
      answer(res, 503, TEXT, 'metrics are unavailable right now\n');
    }
  };

  const serveStatus = async (res: ServerResponse) => {
    try {
      answer(res, 200, JSON_TYPE, JSON.stringify({ mode: options.mode, ...statusView(await options.fleet()) }), { 'Cache-Control': 'no-store' });
    } catch (error) {
      options.logger?.error('error serving status', { error: (error as Error).message });
      answer(res, 503, JSON_TYPE, JSON.stringify({ error: 'status unavailable' }));
    }
  };

  const serveJobs = async (query: URLSearchParams, res: ServerResponse) => {
    const asked = jobsViewQueryOf(query);
    if ('error' in asked) return answer(res, 400, TEXT, `${asked.error}\n`);
    if (!options.jobs) return answer(res, 404, TEXT, '404 page not found\n');
    try {
      const view = statusView(await options.fleet());
      const jobs = await options.jobs({ ...asked, hosts: [...view.hosts, ...view.stale_hosts] });
      answer(res, 200, JSON_TYPE, JSON.stringify(jobs), { 'Cache-Control': 'no-store' });
    } catch (error) {
      options.logger?.error('error serving jobs', { error: (error as Error).message });
      answer(res, 503, JSON_TYPE, JSON.stringify({ error: 'jobs unavailable' }));
    }
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const { path, query } = routeOf(req);
    switch (path) {
      case '/metrics':
        return serveMetrics('none', query, res);
      case '/metrics/v1':
        return serveMetrics('v1', query, res);
      case '/metrics/v2':
        return serveMetrics('v2', query, res);
      case '/healthcheck':
        return answer(res, 200, TEXT, 'ok');
    }
    const readOnly = req.method === 'GET' || req.method === 'HEAD';
    if (path === '/readyz' || path === '/status.json' || path === '/jobs.json' || path === '/' || path === '/favicon.ico') {
      if (!readOnly) return answer(res, 405, TEXT, 'method not allowed\n', { Allow: 'GET, HEAD' });
      if (path === '/readyz') {
        const readiness = options.readiness?.() ?? { ready: true, waiting: [] };
        return answer(res, readiness.ready ? 200 : 503, JSON_TYPE, JSON.stringify(readiness));
      }
      if (path === '/status.json') return serveStatus(res);
      if (path === '/jobs.json') return serveJobs(query, res);
      if (path === '/favicon.ico') return answer(res, 200, 'image/x-icon', faviconIco(), { 'Cache-Control': 'max-age=86400' });
      return answer(res, 200, 'text/html; charset=utf-8', statusPageHtml(), { 'Cache-Control': 'no-store' });
    }
    answer(res, 404, TEXT, '404 page not found\n');
  };

  return (req, res) => {
    // Bodies are never read; drain them so a keep-alive connection stays usable.
    req.resume();
    route(req, res).catch((error: unknown) => {
      options.logger?.error('error serving a metrics request', { error: (error as Error).message });
      if (!res.headersSent) answer(res, 500, TEXT, 'internal error\n');
      else res.destroy();
    });
  };
}
