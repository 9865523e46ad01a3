import type { Response } from 'express';

/** Where GitHub's error bodies point; the sim keeps the same shape (`basic-error`). */
export const DOCS = 'https://docs.github.com/rest';

/**
 * An error the simulated API answers with. `status` and `message` follow what GitHub sends
 * for the same situation; `errors` is only set for validation failures.
 */
export class GitHubApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly documentationUrl: string = DOCS,
    readonly headers: Record<string, string> = {},
    readonly errors?: string[],
  ) {
    super(message);
    this.name = 'GitHubApiError';
  }
}

export const notFound = (): GitHubApiError => new GitHubApiError(404, 'Not Found');
export const badCredentials = (): GitHubApiError => new GitHubApiError(401, 'Bad credentials');
export const notAccessibleByIntegration = (): GitHubApiError =>
  new GitHubApiError(403, 'Resource not accessible by integration');

/** GitHub's wording for a request body that fails its JSON schema. */
export function invalidRequest(detail: string, documentationUrl = DOCS): GitHubApiError {
  return new GitHubApiError(422, `Invalid request.\n\n${detail}`, documentationUrl);
}

export function sendError(res: Response, error: GitHubApiError): void {
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  const body: Record<string, unknown> = {
    message: error.message,
    documentation_url: error.documentationUrl,
    status: String(error.status),
  };
  if (error.errors) body.errors = error.errors;
  res.status(error.status).json(body);
}
