import type { Request, Response } from 'express';

/** Reads `per_page` (default 30, max 100) and `page` (default 1) as GitHub does. */
export function pageParams(req: Request): { perPage: number; page: number } {
  const perPage = Math.min(100, Math.max(1, Number.parseInt(String(req.query.per_page ?? '30'), 10) || 30));
  const page = Math.max(1, Number.parseInt(String(req.query.page ?? '1'), 10) || 1);
  return { perPage, page };
}

/** The absolute URL of this request with some query parameters replaced. */
export function selfUrl(req: Request, baseUrl: string, changes: Record<string, string | undefined>): string {
  const url = new URL(req.originalUrl, baseUrl);
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) url.searchParams.delete(key);
    else url.searchParams.set(key, value);
  }
  return url.toString();
}

/** Slices `items` for page-numbered endpoints and sets GitHub's `Link` header. */
export function paginate<T>(req: Request, res: Response, baseUrl: string, items: T[]): T[] {
  const { perPage, page } = pageParams(req);
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const links: string[] = [];
  const link = (p: number, rel: string): void => {
    links.push(`<${selfUrl(req, baseUrl, { page: String(p), per_page: String(perPage) })}>; rel="${rel}"`);
  };
  if (page > 1) link(page - 1, 'prev');
  if (page < last) link(page + 1, 'next');
  if (page < last) link(last, 'last');
  if (page > 1) link(1, 'first');
  if (links.length > 0) res.setHeader('link', links.join(', '));
  return items.slice((page - 1) * perPage, page * perPage);
}
