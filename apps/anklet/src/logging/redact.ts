/** The text that replaces a secret in logs and error messages. */
export const REDACTED = '[REDACTED]';

/** Field names whose values are always secrets, whatever they hold. */
const SECRET_FIELD = /(token|secret|passw(or)?d|private_?key|authorization|jit_?config|credential)/i;

/**
 * The secret values this process knows (tokens, keys, webhook secrets from the config, and any a
 * plugin registers at run time). Every log line passes through {@link SecretRegistry.redact}.
 */
export class SecretRegistry {
  readonly #values = new Set<string>();
  #version = 0;

  /** Registers a value; values shorter than 4 characters are ignored (they would mask ordinary text). */
  add(value: unknown): void {
    if (typeof value !== 'string') return;
    const trimmed = value.trim();
    const before = this.#values.size;
    if (trimmed.length >= 4) this.#values.add(trimmed);
    // A PEM key is also matched line by line, in case a library logs a fragment of it.
    if (trimmed.includes('\n')) for (const line of trimmed.split('\n')) if (line.trim().length >= 16) this.#values.add(line.trim());
    if (this.#values.size !== before) this.#version += 1;
  }

  /** Changes whenever a new secret is registered (what was redacted before may need it again). */
  get version(): number {
    return this.#version;
  }

  get size(): number {
    return this.#values.size;
  }

  /** Replaces every known secret inside a string. */
  redactString(text: string): string {
    let out = text;
    for (const secret of this.#values) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    return out;
  }

  /** A deep copy of `value` with secret fields and known secret values replaced. */
  redact(value: unknown, depth = 0): unknown {
    if (typeof value === 'string') return this.redactString(value);
    if (value instanceof Error) return this.redactString(value.message);
    if (value === null || typeof value !== 'object' || depth > 8) return value;
    if (Array.isArray(value)) return value.map((item) => this.redact(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      out[key] = isSecretField(key, child) ? REDACTED : this.redact(child, depth + 1);
    }
    return out;
  }
}

function isSecretField(key: string, value: unknown): boolean {
  if (!SECRET_FIELD.test(key)) return false;
  // Keep empty values and flags visible: `"Token":""` tells an operator the token is unset.
  return !(value === '' || value === null || value === undefined || typeof value === 'boolean' || typeof value === 'number');
}
