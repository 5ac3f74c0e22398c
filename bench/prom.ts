import type { Bucket } from './stats.js';

/**
 * Reading the operator's /metrics (Prometheus text format 0.0.4): samples with labels, sums over label
 * sets, histogram buckets, and the API requests of rest_client_requests_total split into reads and writes.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    const v = m[4]!;
    out.push({ name: m[1]!, labels, value: v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v) });
  }
  return out;
}

/** Sum of `name` over the samples whose labels include `match`. */
export function sum(samples: readonly Sample[], name: string, match: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((t, s) => t + s.value, 0);
}

/** The cumulative buckets of histogram `name` (summed over other labels), sorted by bound. */
export function histogram(samples: readonly Sample[], name: string): Bucket[] {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

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
