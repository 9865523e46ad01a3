import { readFileSync } from 'node:fs';
import type { Logger } from '@anklet/core';
import express, { type Express, type Request, type Response } from 'express';
import { mergeFamilies, PROMETHEUS_CONTENT_TYPE, renderExposition } from './exposition.js';
import { familiesFromSnapshot } from './families.js';
import { aggregatorRecords, aggregatorRecordsByName, statusView, type FleetEntry } from './fleet.js';
import type { GoHostSnapshot } from './go-model.js';

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
  readonly logger?: Logger | undefined;
}

let statusPage: string | undefined;
/** The status page is a static file shipped in the package: nothing to build, for us or for users. */
function statusPageHtml(): string {
  statusPage ??= readFileSync(new URL('../static/status.html', import.meta.url), 'utf8');
  return statusPage;
}

/** Go writes JSON with HTML-safe escaping and a trailing newline; aggregator clients may rely on both. */
function goJson(value: unknown): string {
  return `${JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026')}\n`;
}

/**
 * The metrics HTTP endpoints (same routes in both modes, any method, as in Go):
 *
 * | path | answer |
 * |---|---|
 * | `/metrics`, `/metrics/v1`, `/metrics/v2` | `?format=prometheus` (default) or `?format=json`; another format is a 400 listing the valid ones |
 * | `/healthcheck` | 200 `ok` |
 * | `/readyz` | 200 when every plugin has started, else 503 with the ones still starting |
 * | `/` | the status page; `/status.json` is what it shows |
 */
export function createMetricsApp(options: MetricsAppOptions): Express {
  const app = express();
  app.disable('x-powered-by');

  const prometheus = async (): Promise<string> => {
    const fleet = await options.fleet();
    // One host serves its own series unlabelled; the aggregator tells hosts apart with `host`.
    const label = options.mode === 'aggregator';
    return renderExposition(mergeFamilies(fleet.map((e) => familiesFromSnapshot(e.snapshot, label ? { host: e.key } : {}))));
  };

  const json = async (version: 'none' | 'v1' | 'v2'): Promise<unknown> => {
    if (options.mode === 'host' && version !== 'v2' && options.hostSnapshot) return options.hostSnapshot();
    const fleet = await options.fleet();
    return version === 'v1' ? aggregatorRecordsByName(fleet) : aggregatorRecords(fleet);
  };

  const serveMetrics = (version: 'none' | 'v1' | 'v2') => async (req: Request, res: Response) => {
    const format = req.query.format ?? 'prometheus';
    if (typeof format !== 'string' || !(METRICS_FORMATS as readonly string[]).includes(format)) {
      const given = typeof format === 'string' ? format.slice(0, 40) : String(format).slice(0, 40);
      res
        .status(400)
        .type('text/plain; charset=utf-8')
        .send(`unsupported format "${given}", please use one of: ${METRICS_FORMATS.map((f) => `?format=${f}`).join(', ')}\n`);
      return;
    }
    try {
      if (format === 'json') res.status(200).type('application/json').send(goJson(await json(version)));
      else res.status(200).set('Content-Type', PROMETHEUS_CONTENT_TYPE).send(await prometheus());
    } catch (error) {
      options.logger?.error('error serving metrics', { error: (error as Error).message });
      res.status(503).type('text/plain; charset=utf-8').send('metrics are unavailable right now\n');
    }
  };

  app.all('/metrics', serveMetrics('none'));
  app.all('/metrics/v1', serveMetrics('v1'));
  app.all('/metrics/v2', serveMetrics('v2'));
  app.all('/healthcheck', (_req, res) => {
    res.status(200).type('text/plain; charset=utf-8').send('ok');
  });
  app.get('/readyz', (_req, res) => {
    const readiness = options.readiness?.() ?? { ready: true, waiting: [] };
    res.status(readiness.ready ? 200 : 503).json(readiness);
  });
  app.get('/status.json', async (_req, res) => {
    try {
      res.set('Cache-Control', 'no-store').json({ mode: options.mode, ...statusView(await options.fleet()) });
    } catch (error) {
      options.logger?.error('error serving status', { error: (error as Error).message });
      res.status(503).json({ error: 'status unavailable' });
    }
  });
  app.get('/', (_req, res) => {
    res.type('html').set('Cache-Control', 'no-store').send(statusPageHtml());
  });
  return app;
}
