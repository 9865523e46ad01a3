import { createHmac, timingSafeEqual } from 'node:crypto';

const FORMS = { sha256: 64, sha1: 40 } as const;

function matches(algorithm: keyof typeof FORMS, secret: string, body: Buffer, header: string): boolean {
  const prefix = `${algorithm}=`;
  if (!header.startsWith(prefix)) return false;
  const hex = header.slice(prefix.length);
  if (hex.length !== FORMS[algorithm] || !/^[0-9a-fA-F]+$/.test(hex)) return false;
  const expected = createHmac(algorithm, secret).update(body).digest();
  // Same length by construction, so timingSafeEqual never throws.
  return timingSafeEqual(expected, Buffer.from(hex, 'hex'));
}

/**
 * Verifies a webhook over its raw body: `X-Hub-Signature-256` (HMAC-SHA256), compared in constant
 * time. The legacy SHA-1 `X-Hub-Signature` counts only when `allowSha1` and the SHA-256 header is absent.
 */
export function verifySignature(options: {
  secret: string;
  body: Buffer;
  sha256?: string | undefined;
  sha1?: string | undefined;
  allowSha1?: boolean | undefined;
}): boolean {
  if (options.sha256 !== undefined) return matches('sha256', options.secret, options.body, options.sha256.trim());
  if (options.allowSha1 && options.sha1 !== undefined) return matches('sha1', options.secret, options.body, options.sha1.trim());
  return false;
}
