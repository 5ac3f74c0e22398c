import type { ApiRequest } from '../e2e/gitlab/api-emulator.js';

/**
 * Figures of the GitLab API parts of the benchmark (catch-up, outbound-only, sweep budget), read from the GitLab API
 * emulator's own request log (e2e/gitlab: one entry per answered request, `at` on the emulator's clock). Pure.
 */

/** What GitLab was asked in a window: requests by `METHOD /route/template` and in all. */
export interface GitLabRequests {
  total: number;
  byEndpoint: Record<string, number>;
  /** Answers by HTTP status (0: the connection was dropped). */
  byStatus: Record<string, number>;
}

/** The requests answered in [fromMs, toMs). */
export function requestsBetween(log: readonly ApiRequest[], fromMs: number, toMs = Infinity): ApiRequest[] {
  return log.filter((r) => r.at >= fromMs && r.at < toMs);
}

export function tallyRequests(requests: readonly ApiRequest[]): GitLabRequests {
  const byEndpoint: Record<string, number> = {};
  const byStatus: Record<string, number> = {};
  for (const r of requests) {
    const endpoint = `${r.method} ${r.route}`;
    byEndpoint[endpoint] = (byEndpoint[endpoint] ?? 0) + 1;
    byStatus[String(r.status)] = (byStatus[String(r.status)] ?? 0) + 1;
  }
  return { total: requests.length, byEndpoint, byStatus };
}

/**
 * The most requests in any window of `windowMs` (sliding: every window that ends at a request). A budget of "at
 * most N requests in any 60 s" (the operator's RequestBudget) holds exactly when this is ≤ N for 60 s.
 */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

export interface RetryAfterCheck {
  /** Answers 429. */
  rateLimited: number;
  /** Requests answered while the Retry-After of an earlier 429 was still running: a client that did not wait. */
  violations: number;
  /** The longest Retry-After GitLab asked for, seconds (0 when none). */
  longestRetryAfterSeconds: number;
}

/**
 * Whether the client honoured Retry-After: after a 429 answered at t asking for s seconds, no request before t + s.
 * The emulator logs a request when it answers it, so this holds for a client that sends one request at a time (the
 * catch-up does): a request sent before the 429 arrived cannot be logged inside its window.
 */
export function retryAfterCheck(log: readonly ApiRequest[]): RetryAfterCheck {
  const sorted = [...log].sort((a, b) => a.at - b.at);
  let blockedUntil = -Infinity;
  let violations = 0;
  let rateLimited = 0;
  let longest = 0;
  for (const r of sorted) {
    if (r.at < blockedUntil) violations++;
    if (r.status === 429) {
      rateLimited++;
      const seconds = r.retryAfterSeconds ?? 0;
      longest = Math.max(longest, seconds);
      blockedUntil = Math.max(blockedUntil, r.at + seconds * 1000);
    }
  }
  return { rateLimited, violations, longestRetryAfterSeconds: longest };
}

/** Each record once, in the order first seen (a catch-up record is identified by when it finished, `at`). */
export function distinctByAt<T extends { at: string }>(records: readonly T[]): T[] {
  const seen = new Set<string>();
  return records.filter((r) => (seen.has(r.at) ? false : (seen.add(r.at), true)));
}

/** Latencies as a fraction of the period that bounds them (the sweep interval, the polling interval). */
export function relativeTo(values: readonly number[], periodSeconds: number): number[] {
  if (!(periodSeconds > 0)) throw new RangeError(`a period must be positive (got ${periodSeconds})`);
  return values.map((v) => v / periodSeconds);
}

/** "30s", "1m", "1h30m" (the Go durations Flux's intervals and the link's sweepInterval use) in seconds. */
export function durationSeconds(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((m) => m[0]).join('') !== text) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  return parts.reduce((s, m) => s + Number(m[1]) * unit[m[2]!]!, 0);
}

/** When each of `count` events falls so that they spread evenly over `spanMs` (offsets from the start, ms). */
export function evenOffsets(count: number, spanMs: number): number[] {
  return Array.from({ length: count }, (_, i) => (i * spanMs) / Math.max(1, count));
}
