import { verify, type KeyObject } from 'node:crypto';
import { GitHubApiError } from './errors.js';

const JWT_DOCS = 'https://docs.github.com/rest';

/** True when a bearer credential looks like a JWT (three base64url parts, a JSON header). */
export function looksLikeJwt(credential: string): boolean {
  const parts = credential.split('.');
  if (parts.length !== 3) return false;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as unknown;
    return typeof header === 'object' && header !== null && 'alg' in header;
  } catch {
    return false;
  }
}

/**
 * Checks a GitHub App JWT the way GitHub does: RS256 signature against the App's public key,
 * `iss` = the App id (or client id), `iat` not in the future (60 s of skew allowed), `exp` in
 * the future and at most 10 minutes away. Throws GitHub's 401 answers otherwise.
 */
export function verifyAppJwt(token: string, app: { id: number; clientId: string; publicKey: KeyObject }, nowMs: number): void {
  const undecodable = new GitHubApiError(401, 'A JSON web token could not be decoded', JWT_DOCS);
  const [rawHeader, rawPayload, rawSignature] = token.split('.');
  if (!rawHeader || !rawPayload || rawSignature === undefined) throw undecodable;
  let header: { alg?: unknown };
  let payload: { iat?: unknown; exp?: unknown; iss?: unknown };
  try {
    header = JSON.parse(Buffer.from(rawHeader, 'base64url').toString('utf8')) as typeof header;
    payload = JSON.parse(Buffer.from(rawPayload, 'base64url').toString('utf8')) as typeof payload;
  } catch {
    throw undecodable;
  }
  if (header.alg !== 'RS256') throw undecodable;
  const signed = verify('RSA-SHA256', Buffer.from(`${rawHeader}.${rawPayload}`), app.publicKey, Buffer.from(rawSignature, 'base64url'));
  if (!signed) throw undecodable;
  if (String(payload.iss) !== String(app.id) && payload.iss !== app.clientId) {
    throw new GitHubApiError(401, "'Issuer' claim ('iss') must be an Integer", JWT_DOCS);
  }
  const now = Math.floor(nowMs / 1000);
  if (typeof payload.iat !== 'number' || !Number.isInteger(payload.iat) || payload.iat > now + 60) {
    throw new GitHubApiError(401, "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued.", JWT_DOCS);
  }
  if (typeof payload.exp !== 'number' || payload.exp <= now) {
    throw new GitHubApiError(401, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires.", JWT_DOCS);
  }
  if (payload.exp - payload.iat > 600 + 60 || payload.exp > now + 600 + 60) {
    throw new GitHubApiError(401, "'Expiration time' claim ('exp') is too far in the future.", JWT_DOCS);
  }
}
