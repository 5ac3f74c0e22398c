// Pure decisions of the GitLab API client: where the next page is, how long GitLab asks us to wait, and how long
// this link's request budget makes the next request wait. No I/O and no clock: the client passes `now` in.

/**
 * The next page of a paginated GitLab list, from its response headers: the `Link` header's rel="next" URL, else
 * `X-Next-Page`. GitLab sets both for offset pagination and omits `X-Next-Page`'s value (empty) on the last page
 * (lib/api/helpers/pagination.rb → Gitlab::Pagination::OffsetHeaderBuilder; docs: api/rest/index.md "Pagination
 * link header"). For lists over 10,000 items GitLab omits `X-Total` and `X-Total-Pages`, never the next page, so the
 * next page is all we rely on. Returns a page number, or undefined on the last page.
 */
export function nextPage(headers: { link?: string | undefined; xNextPage?: string | undefined }): number | undefined {
  for (const part of (headers.link ?? '').split(',')) {
    const m = /<([^>]*)>\s*;\s*rel="?next"?/i.exec(part.trim());
    if (!m) continue;
    try {
      const page = Number(new URL(m[1]!, 'http://gitlab.invalid').searchParams.get('page'));
      if (Number.isInteger(page) && page > 0) return page;
    } catch {
      // a Link header that is not a URL: fall back to X-Next-Page
    }
  }
  const next = Number((headers.xNextPage ?? '').trim());
  return (headers.xNextPage ?? '').trim() !== '' && Number.isInteger(next) && next > 0 ? next : undefined;
}

/**
 * How long `Retry-After` asks to wait, in ms: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). GitLab sends
 * seconds with its 429s (lib/gitlab/rack_attack.rb, RateLimit-* and Retry-After headers). Undefined when absent
 * or unreadable; never negative.
 */
export function retryAfterMs(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^[0-9]+$/.test(v)) return Number(v) * 1000;
  if (!/[A-Za-z]/.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

export const BUDGET_WINDOW_MS = 60_000;

/**
 * How long the next request must wait so that at most `perMinute` requests start in any 60-second window, given
 * the start times of the requests already made (oldest first; only the last `perMinute` matter). 0 when it may go.
 */
export function budgetWaitMs(starts: readonly number[], nowMs: number, perMinute: number): number {
  if (starts.length < perMinute) return 0;
  const oldestInWindow = starts[starts.length - perMinute]!;
  return Math.max(0, oldestInWindow + BUDGET_WINDOW_MS - nowMs);
}

/**
 * A link's request budget: the start times of its recent requests. Kept by the controller per link, across
 * clients (a rotated token makes a new client, not a new budget).
 */
export class RequestBudget {
  private readonly starts: number[] = [];

  constructor(public perMinute: number) {}

  /** How long to wait before the next request may start. */
  waitMs(nowMs: number): number {
    return budgetWaitMs(this.starts, nowMs, this.perMinute);
  }

  /** A request started at `nowMs`. */
  record(nowMs: number): void {
    this.starts.push(nowMs);
    const keep = Math.max(this.perMinute, 1);
    if (this.starts.length > keep) this.starts.splice(0, this.starts.length - keep);
  }
}

/**
 * A token out of any text (an error from GitLab or from the network may echo what was sent), plus the service
 * paths meta/redact.ts removes everywhere. The client never puts the token in a message; this is the net.
 */
export function redactToken(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('[redacted]');
  return out;
}
