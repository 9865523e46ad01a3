import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

/** One webhook request as our test receiver saw it, raw body included. */
export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real HTTP receiver on 127.0.0.1 that records every request and answers `status()`. */
export async function startReceiver(status: () => number = () => 200): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.statusCode = status();
      res.end('ok\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jobs/v1/receiver`,
    received,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** Response bodies in tests are arbitrary JSON; the assertions are what check their shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

/** A plain fetch against the sim with a token; no client library in between. */
export async function api<T = Json>(baseUrl: string, method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { accept: 'application/vnd.github+json' };
  if (options.token) headers.authorization = `token ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const init: RequestInit = { method, headers };
  if (options.body !== undefined) init.body = JSON.stringify(options.body);
  const response = await fetch(`${baseUrl}${path}`, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : undefined) as T };
}

interface OpenApiSubset {
  operations: Record<string, { operationId: string; responses: Record<string, unknown> }>;
  components: { schemas: Record<string, unknown> };
}

/**
 * OpenAPI 3.0 marks nullable values with `nullable: true`, which JSON Schema does not know:
 * turn each into "this schema or null" so ajv checks what GitHub means.
 */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'nullable' || key === 'discriminator') continue;
    out[key] = key === '$ref' ? String(value).replace(/^#\//, 'openapi.json#/') : toJsonSchema(value);
  }
  if ((node as { nullable?: boolean }).nullable) return { anyOf: [out, { type: 'null' }] };
  return out;
}

const fixture = JSON.parse(readFileSync(fileURLToPath(new URL('./fixtures/openapi-subset.json', import.meta.url)), 'utf8')) as OpenApiSubset;
const ajv = new Ajv({ strict: false, allErrors: true });
(addFormatsModule as unknown as (a: Ajv) => void)(ajv);
ajv.addSchema({ $id: 'openapi.json', components: toJsonSchema(fixture.components) });
const compiled = new Map<string, ValidateFunction>();

/**
 * Checks a response body against GitHub's OpenAPI description of `operation` (e.g.
 * `GET /orgs/{org}/actions/runners`) for its status; returns ajv's errors, empty when valid.
 */
export function openApiErrors(operation: string, status: number, body: unknown): string[] {
  const key = `${operation} ${status}`;
  let validate = compiled.get(key);
  if (!validate) {
    const op = fixture.operations[operation];
    if (!op) throw new Error(`operation ${operation} is not in the fixture; add it to scripts/extract-openapi.mjs`);
    const schema = op.responses[String(status)];
    if (schema === undefined) throw new Error(`${operation} has no ${status} response in the fixture`);
    validate = ajv.compile((toJsonSchema(schema) ?? {}) as object);
    compiled.set(key, validate);
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

/** Polls until `check` returns a value (for state changed by other processes). */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
