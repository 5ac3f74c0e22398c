import type { Sample } from '../e2e/support/prometheus.js';

/**
 * The operator's API requests from its /metrics (rest_client_requests_total), split into reads, writes and
 * Lease renewals. Scrapes are read by e2e/support/prometheus.ts, the one Prometheus text parser.
 */

/** Verbs of the operator's client (operator/kube/client.ts) that change something. */
export const WRITE_VERBS = new Set(['create', 'update', 'update-status', 'patch', 'patch-status', 'delete']);
export const READ_VERBS = new Set(['get', 'list', 'watch']);

export interface RequestCounts {
  reads: number;
  writes: number;
  /** Reads and writes of the leader-election Lease (a renewal every 2 s): counted apart, they change no state. */
  lease: number;
  /** `verb resource` → count, for the report's breakdown. */
  byVerbResource: Record<string, number>;
}

/** API requests (rest_client_requests_total) made between two scrapes; `after` alone for a fresh process. */
export function requestCounts(after: readonly Sample[], before: readonly Sample[] = []): RequestCounts {
  const key = (s: Sample) => `${s.labels.verb ?? '?'} ${s.labels.resource ?? '?'}`;
  const tally = (samples: readonly Sample[]) => {
    const m = new Map<string, number>();
    for (const s of samples) if (s.name === 'rest_client_requests_total') m.set(key(s), (m.get(key(s)) ?? 0) + s.value);
    return m;
  };
  const a = tally(after);
  const b = tally(before);
  const byVerbResource: Record<string, number> = {};
  let reads = 0;
  let writes = 0;
  let lease = 0;
  for (const [k, v] of a) {
    const d = v - (b.get(k) ?? 0);
    if (d === 0) continue;
    byVerbResource[k] = d;
    const [verb, resource] = k.split(' ') as [string, string];
    if (resource.startsWith('leases.')) lease += d;
    else if (WRITE_VERBS.has(verb)) writes += d;
    else if (READ_VERBS.has(verb)) reads += d;
  }
  return { reads, writes, lease, byVerbResource };
}
