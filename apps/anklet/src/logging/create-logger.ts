import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { LogFields, Logger } from '@anklet/core';
import winston from 'winston';
import Transport from 'winston-transport';
import { formatClock, formatLocalTime } from './format-time.js';
import type { SecretRegistry } from './redact.js';

/** How lines are written, from `LOG_LEVEL` (case-insensitive) as in the Go anklet. */
export interface LogMode {
  readonly level: 'debug' | 'info' | 'error';
  readonly pretty: boolean;
}

/** unset/INFO/anything else → INFO JSON; DEBUG → DEBUG JSON; ERROR → ERROR JSON; DEV or DEBUG-PRETTY → coloured text at DEBUG. */
export function logModeFromEnv(value: string | undefined = process.env.LOG_LEVEL): LogMode {
  switch ((value ?? '').toUpperCase()) {
    case 'DEBUG':
      return { level: 'debug', pretty: false };
    case 'ERROR':
      return { level: 'error', pretty: false };
    case 'DEV':
    case 'DEBUG-PRETTY':
      return { level: 'debug', pretty: true };
    default:
      return { level: 'info', pretty: false };
  }
}

const MESSAGE = Symbol.for('message');
const LEVELS = { error: 0, warn: 1, info: 2, debug: 3 } as const;
type Level = keyof typeof LEVELS;

interface Entry {
  level: Level;
  message: string;
  fields?: LogFields | undefined;
  /** The logger's context fields, already redacted. */
  context: LogFields;
  [MESSAGE]?: string;
}

/** Turns a line into the object we write: time, level, msg, the call's fields, then the context's. */
function lineObject(entry: Entry, secrets: SecretRegistry): Record<string, unknown> {
  const body = secrets.redact({ ...entry.fields }) as Record<string, unknown>;
  const context = entry.context;
  const merged: Record<string, unknown> = {
    time: formatLocalTime(new Date()),
    level: entry.level.toUpperCase(),
    msg: secrets.redactString(entry.message),
  };
  // Call fields first, then context fields; a key present in both keeps the call's value (no duplicate keys).
  for (const [key, value] of Object.entries(body)) merged[key] = value;
  for (const [key, value] of Object.entries(context)) if (!(key in merged)) merged[key] = value;
  return merged;
}

const COLOURS: Record<Level, number> = { debug: 37, info: 36, warn: 93, error: 91 };
const paint = (code: number, text: string) => `\u001b[${code}m${text}\u001b[0m`;

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value as Record<string, unknown>)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}

function formatFor(pretty: boolean, secrets: SecretRegistry) {
  return winston.format((info) => {
    const entry = info as unknown as Entry;
    const line = lineObject(entry, secrets);
    if (!pretty) {
      entry[MESSAGE] = JSON.stringify(line);
      return info;
    }
    const { time: _time, level: _level, msg, ...rest } = line;
    const colour = COLOURS[entry.level];
    const attributes = Object.keys(rest).length > 0 ? ` ${paint(colour, JSON.stringify(sortKeys(rest), null, 2))}` : '';
    entry[MESSAGE] = `${paint(37, `[${formatClock(new Date())}]`)} ${paint(colour, `${entry.level.toUpperCase()}:`)} ${paint(97, String(msg))}${attributes}`;
    return info;
  })();
}

/**
 * A winston transport that writes the lines of one event-loop round with one `write` (a webhook
 * burst is one write(2) instead of one per line: ~7 µs a line saved on the intake's path). Lines
 * keep their order; a round's lines go out before the next round starts, at `close`, and, for
 * synchronous destinations (stdout and stderr on a file or pipe), when the process exits.
 */
class RoundBufferedStream extends Transport {
  /** Every open one, flushed by one `exit` listener. */
  static readonly #open = new Set<RoundBufferedStream>();
  static #exitHook = false;

  #lines: string[] = [];
  #scheduled = false;
  readonly #out: Writable;

  constructor(out: Writable) {
    super();
    this.#out = out;
    RoundBufferedStream.#open.add(this);
    if (!RoundBufferedStream.#exitHook) {
      RoundBufferedStream.#exitHook = true;
      process.once('exit', () => {
        for (const transport of RoundBufferedStream.#open) transport.flush();
      });
    }
  }

  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    this.#lines.push(String(info[MESSAGE]));
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
    next();
  }

  /** Writes what is buffered now. */
  flush(): void {
    this.#scheduled = false;
    if (this.#lines.length === 0) return;
    const text = `${this.#lines.join('\n')}\n`;
    this.#lines = [];
    this.#out.write(text);
  }

  override close(): void {
    this.flush();
    RoundBufferedStream.#open.delete(this);
  }
}

/** Our {@link Logger} over one winston logger; children share it and add context fields. */
class WinstonLogger implements Logger {
  /** The context redacted once per set of known secrets, not once per line (a webhook is one line). */
  #redacted: { version: number; context: LogFields } | undefined;

  constructor(
    private readonly sink: winston.Logger,
    private readonly secrets: SecretRegistry,
    private readonly context: LogFields,
  ) {}

  private redactedContext(): LogFields {
    const version = this.secrets.version;
    if (this.#redacted?.version !== version) this.#redacted = { version, context: this.secrets.redact(this.context) as LogFields };
    return this.#redacted.context;
  }

  private write(level: Level, msg: string, fields?: LogFields): void {
    this.sink.log({ level, message: msg, fields, context: this.redactedContext() } as never);
  }

  debug(msg: string, fields?: LogFields): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write('error', msg, fields);
  }
  child(fields: LogFields): Logger {
    return new WinstonLogger(this.sink, this.secrets, { ...this.context, ...fields });
  }
  addSecret(value: string): void {
    this.secrets.add(value);
  }
}

/** A logger that can be closed: the host's root logger and per-plugin file loggers. */
export interface HostLogger extends Logger {
  /** Adds fields to every later line of this logger and its future children. */
  extend(fields: LogFields): HostLogger;
  /** Flushes and closes the destination. */
  close(): Promise<void>;
}

export interface CreateLoggerOptions {
  readonly mode: LogMode;
  readonly secrets: SecretRegistry;
  /** Where lines go (default: stdout). */
  readonly stream?: Writable;
  /** Write to this file (append) instead; always JSON at DEBUG, as the Go per-plugin files are. */
  readonly file?: string;
  readonly context?: LogFields;
}

/** Makes a root logger: JSON lines on stdout (or a file), or the pretty form for `LOG_LEVEL=DEV`. */
export function createLogger(options: CreateLoggerOptions): HostLogger {
  const { secrets } = options;
  const fileStream = options.file ? createWriteStream(options.file, { flags: 'a', mode: 0o644 }) : undefined;
  const stream = fileStream ?? options.stream ?? process.stdout;
  const pretty = fileStream ? false : options.mode.pretty;
  const transport = new RoundBufferedStream(stream);
  const sink = winston.createLogger({
    levels: LEVELS,
    level: fileStream ? 'debug' : options.mode.level,
    format: formatFor(pretty, secrets),
    transports: [transport],
    exitOnError: false,
  });
  const build = (context: LogFields): HostLogger => {
    const base = new WinstonLogger(sink, secrets, context);
    return Object.assign(base, {
      extend: (fields: LogFields) => build({ ...context, ...fields }),
      close: () => closeSink(sink, transport, fileStream),
    }) as unknown as HostLogger;
  };
  return build(options.context ?? {});
}

async function closeSink(sink: winston.Logger, transport: RoundBufferedStream, fileStream: Writable | undefined): Promise<void> {
  transport.close();
  if (!sink.writable) return;
  await new Promise<void>((resolve) => {
    sink.once('finish', () => resolve());
    sink.end();
  });
  if (fileStream) await new Promise<void>((resolve) => fileStream.end(() => resolve()));
}
