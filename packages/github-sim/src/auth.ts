import type { NextFunction, Request, Response } from 'express';
import { GitHubApiError, badCredentials, notAccessibleByIntegration } from './errors.js';
import { looksLikeJwt, verifyAppJwt } from './jwt.js';
import type { Account, Installation, Scope, World } from './world.js';

/** Who made a request, as resolved from its `Authorization` header. */
export type Caller =
  | { kind: 'anonymous' }
  | { kind: 'pat'; token: string; login: string }
  | { kind: 'installation'; token: string; installation: Installation }
  | { kind: 'app' };

// Per-request facts kept beside the request object, so the sim adds nothing to express's types.
const callers = new WeakMap<Request, Caller>();
const requestIds = new WeakMap<Request, string>();

export function callerOf(req: Request): Caller {
  return callers.get(req) ?? { kind: 'anonymous' };
}

export function requestIdOf(req: Request): string {
  return requestIds.get(req) ?? '0000:0000:000000:0000000:00000000';
}

export function setRequestId(req: Request, id: string): void {
  requestIds.set(req, id);
}

/** Reads `token X`, `bearer X` and `Bearer X`, as GitHub accepts all of them. */
function readCredential(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const match = /^(?:token|bearer)\s+(\S+)$/i.exec(header.trim());
  return match ? match[1] : header.trim();
}

const authFailures = new WeakMap<Request, GitHubApiError>();

/**
 * Resolves the caller. A credential that is present but wrong makes the request anonymous and
 * is answered with a 401 by `rejectBadCredentials`, after the rate limiter has set its headers
 * (GitHub counts such requests against the unauthenticated budget).
 */
export function authenticate(world: World) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const credential = readCredential(req);
    const fail = (error: GitHubApiError): void => {
      authFailures.set(req, error);
      next();
    };
    if (credential === undefined) return next();
    if (looksLikeJwt(credential)) {
      if (!world.app) return fail(new GitHubApiError(401, 'A JSON web token could not be decoded'));
      try {
        verifyAppJwt(credential, world.app, world.now());
      } catch (error) {
        return fail(error as GitHubApiError);
      }
      callers.set(req, { kind: 'app' });
      return next();
    }
    const known = world.credentials.get(credential);
    if (!known || (known.expiresAt !== undefined && known.expiresAt <= world.now())) return fail(badCredentials());
    if (known.kind === 'pat') {
      callers.set(req, { kind: 'pat', token: credential, login: known.login ?? 'anklet-bot' });
    } else {
      const installation = world.installations.get(known.installationId!);
      if (!installation) return fail(badCredentials());
      callers.set(req, { kind: 'installation', token: credential, installation });
    }
    next();
  };
}

export function rejectBadCredentials(req: Request, _res: Response, next: NextFunction): void {
  next(authFailures.get(req));
}

/** Routes under `/app` take only the App JWT. */
export function requireApp(req: Request): void {
  if (callerOf(req).kind === 'app') return;
  if (callerOf(req).kind === 'anonymous') throw new GitHubApiError(401, 'Requires authentication');
  throw new GitHubApiError(401, 'A JSON web token could not be decoded');
}

function ownerOf(scope: Scope): Account | { login: string; enterprise: true } {
  if (scope.kind === 'repo') return scope.repo.owner;
  if (scope.kind === 'org') return scope.account;
  return { login: scope.enterprise.slug, enterprise: true };
}

/**
 * Checks that the caller may act on a repository, organization or enterprise. PATs may do
 * anything (the sim does not model classic scopes); an installation token must belong to the
 * owning account and carry the App permission at the given level; a JWT alone is refused, as
 * on GitHub.
 */
export function authorize(req: Request, scope: Scope, permission: string, level: 'read' | 'write'): void {
  const caller = callerOf(req);
  if (caller.kind === 'anonymous') throw new GitHubApiError(401, 'Requires authentication');
  if (caller.kind === 'pat') return;
  if (caller.kind === 'app') {
    throw new GitHubApiError(401, 'A JSON web token could not be decoded');
  }
  const owner = ownerOf(scope);
  const account = caller.installation.account;
  const accountName = 'login' in account ? account.login : account.slug;
  if (accountName.toLowerCase() !== owner.login.toLowerCase()) throw notAccessibleByIntegration();
  if ('enterprise' in owner) return;
  const granted = caller.installation.permissions[permission];
  if (!granted || (level === 'write' && granted !== 'write')) throw notAccessibleByIntegration();
}
