/** The JSON envelope `anka -j` prints: `{status, code, body, message, exception_type?}`. */
export interface AnkaEnvelope {
  readonly status: string;
  readonly code: number | undefined;
  readonly body: unknown;
  readonly message: string;
  readonly exceptionType: string | undefined;
}

/** Parses one line as an envelope, or returns null when it is not one. */
export function parseEnvelopeLine(line: string): AnkaEnvelope | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const raw = value as Record<string, unknown>;
  if (typeof raw.status !== 'string') return null;
  return {
    status: raw.status,
    code: typeof raw.code === 'number' ? raw.code : undefined,
    body: raw.body,
    message: typeof raw.message === 'string' ? raw.message : '',
    exceptionType: typeof raw.exception_type === 'string' ? raw.exception_type : undefined,
  };
}

/**
 * The envelope of a whole output. Pulls print progress objects one per line before the result, and
 * the result may come without a trailing newline, so the last non-empty line is the one that counts.
 */
export function parseEnvelope(stdout: string): AnkaEnvelope | null {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const last = lines.at(-1);
  return last === undefined ? null : parseEnvelopeLine(last.trim());
}

/** Reads a numeric field that Anka may print as a number or a numeric string. */
export function numberField(body: unknown, key: string): number | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const value = (body as Record<string, unknown>)[key];
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  return undefined;
}

export function stringField(body: unknown, key: string): string | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const value = (body as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : undefined;
}
