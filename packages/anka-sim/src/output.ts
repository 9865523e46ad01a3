import { writeSync } from 'node:fs';
import type { AnkaSimError } from './errors.js';

/** The machine-readable envelope, keys in the order Anka 3.x prints them. */
export interface Envelope {
  status: 'OK' | 'ERROR';
  code: number;
  body: unknown;
  message: string;
  exception_type?: string;
}

export function okEnvelope(body: unknown = {}, message = ''): Envelope {
  return { status: 'OK', code: 0, body, message };
}

export function errorEnvelope(error: AnkaSimError): Envelope {
  return { status: 'ERROR', code: error.code, body: {}, message: error.message, exception_type: error.exceptionType };
}

// Synchronous writes: the process may exit right after, and a pipe write through
// process.stdout can otherwise be lost.
function write(fd: number, text: string): void {
  let buffer = Buffer.from(text);
  while (buffer.length > 0) {
    try {
      const written = writeSync(fd, buffer);
      buffer = buffer.subarray(written);
    } catch (error) {
      // A non-blocking pipe that is full: try again.
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
  }
}

export function writeStdout(text: string): void {
  write(1, text);
}

export function writeStderr(text: string): void {
  write(2, text);
}

/**
 * The last JSON object of a command. Written without a trailing newline: tools that take the
 * text after the last newline as the envelope (the packer plugin) depend on it.
 */
export function printFinalEnvelope(envelope: Envelope): void {
  writeStdout(JSON.stringify(envelope));
}

/** An intermediate JSON line (pull progress); always newline-terminated. */
export function printEnvelopeLine(envelope: Envelope): void {
  writeStdout(`${JSON.stringify(envelope)}\n`);
}

/** A human-mode table with the columns in the given order. */
export function formatTable(rows: ReadonlyArray<Record<string, unknown>>, columns: ReadonlyArray<string>): string {
  const cells = rows.map((row) => columns.map((c) => (row[c] === undefined ? '' : String(row[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const render = (values: ReadonlyArray<string>) => `| ${values.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [line, render(columns), line, ...cells.map(render), line].join('\n');
}

/** A human-mode two-column table for one object. */
export function formatObject(body: Record<string, unknown>): string {
  return formatTable(
    Object.entries(body).map(([key, value]) => ({ key, value: typeof value === 'object' ? JSON.stringify(value) : value })),
    ['key', 'value'],
  ).split('\n').filter((_, i) => i !== 1 && i !== 2).join('\n');
}
