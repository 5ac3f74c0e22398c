// GitLab's offset pagination (lib/gitlab/pagination/offset_pagination.rb, offset_header_builder.rb; doc
// api/rest/_index.md#pagination): `page` (default 1) and `per_page` (default 20, at most 100), answered with
// X-Page, X-Per-Page, X-Next-Page, X-Prev-Page (empty when none), X-Total, X-Total-Pages (at least 1) and Link
// (prev, next, first, last: the request's URL with page and per_page replaced).
export interface PageRequest {
  page: number;
  perPage: number;
}

export type ParamError = { error: string };

/**
 * Reads page/per_page. Not an integer: Grape's 400 `{"error":"per_page is invalid"}`. A page below 1 is page 1
 * (Kaminari); per_page above the maximum is the maximum, unless `strictMaxPerPage` (the events API declares
 * `values: 1..20`: 400 `does not have a valid value`).
 */
export function parsePagination(query: URLSearchParams, opts: { strictMaxPerPage?: number } = {}): PageRequest | ParamError {
  const int = (name: string, fallback: number): number | ParamError => {
    const raw = query.get(name);
    if (raw === null || raw === '') return fallback;
    if (!/^-?\d+$/.test(raw.trim())) return { error: `${name} is invalid` };
    return Number(raw.trim());
  };
  const page = int('page', 1);
  if (typeof page !== 'number') return page;
  const perPage = int('per_page', 20);
  if (typeof perPage !== 'number') return perPage;
  if (opts.strictMaxPerPage !== undefined && (perPage < 1 || perPage > opts.strictMaxPerPage)) {
    return { error: 'per_page does not have a valid value' };
  }
  return { page: Math.max(1, page), perPage: perPage < 1 ? 20 : Math.min(perPage, 100) };
}

export function paginate<T>(items: readonly T[], req: PageRequest, requestURL: URL): { items: T[]; headers: Record<string, string> } {
  const totalPages = Math.max(1, Math.ceil(items.length / req.perPage));
  const nextPage = req.page < totalPages ? req.page + 1 : undefined;
  const prevPage = req.page > 1 ? req.page - 1 : undefined;
  const href = (page: number) => {
    const u = new URL(requestURL.href);
    u.searchParams.set('page', String(page));
    u.searchParams.set('per_page', String(req.perPage));
    return u.href;
  };
  const links = [
    ...(prevPage !== undefined ? [`<${href(prevPage)}>; rel="prev"`] : []),
    ...(nextPage !== undefined ? [`<${href(nextPage)}>; rel="next"`] : []),
    `<${href(1)}>; rel="first"`,
    `<${href(totalPages)}>; rel="last"`,
  ];
  return {
    items: items.slice((req.page - 1) * req.perPage, req.page * req.perPage),
    headers: {
      'X-Per-Page': String(req.perPage),
      'X-Page': String(req.page),
      'X-Next-Page': nextPage === undefined ? '' : String(nextPage),
      'X-Prev-Page': prevPage === undefined ? '' : String(prevPage),
      Link: links.join(', '),
      'X-Total': String(items.length),
      'X-Total-Pages': String(totalPages),
    },
  };
}
