import type { Bucket } from '../e2e/support/prometheus.js';

/**
 * The statistics of the benchmark report: percentiles, ratios, percentiles read from Prometheus histogram
 * buckets, and targets met or missed. Pure functions; the only module whose numbers end up in the report.
 */

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * Nearest-rank percentile: the smallest sample with at least p % of the samples at or below it. Always an
 * observed value (no interpolation), so with few samples p99 is the maximum, which is the honest answer.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} is not within 0..100`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { n: 0, min: NaN, p50: NaN, p95: NaN, p99: NaN, max: NaN, mean: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
  return {
    n: sorted.length,
    min: sorted[0]!,
    p50: at(50),
    p95: at(95),
    p99: at(99),
    max: sorted[sorted.length - 1]!,
    mean: sorted.reduce((s, v) => s + v, 0) / sorted.length,
  };
}

/** a / b, or NaN when either is missing or b is 0. */
export function ratio(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return NaN;
  return a / b;
}

/** Points of the empirical distribution function: (value, fraction of samples ≤ value), sorted by value. */
export function cdf(values: readonly number[]): Array<[number, number]> {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.map((v, i) => [v, (i + 1) / sorted.length]);
}

export type { Bucket } from '../e2e/support/prometheus.js';

/** Bucket counts of `after` minus those of `before` (the observations made between two scrapes). */
export function bucketDelta(after: readonly Bucket[], before: readonly Bucket[]): Bucket[] {
  const old = new Map(before.map((b) => [b.le, b.count]));
  return after.map((b) => ({ le: b.le, count: b.count - (old.get(b.le) ?? 0) }));
}

export interface BucketQuantile {
  /** Upper bound of the bucket holding the quantile: the quantile is certainly ≤ this (exact statement). */
  upperBound: number;
  /** Linear interpolation inside that bucket, as PromQL's histogram_quantile does (an estimate). */
  interpolated: number;
  total: number;
}

/** The q-quantile (0..1) of cumulative buckets; undefined when nothing was observed. */
export function bucketQuantile(buckets: readonly Bucket[], q: number): BucketQuantile | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted[sorted.length - 1]?.count ?? 0;
  if (total === 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of sorted) {
    if (b.count >= rank && b.count > 0) {
      if (b.le === Infinity) return { upperBound: Infinity, interpolated: prevLe, total };
      const inBucket = b.count - prevCount;
      const frac = inBucket > 0 ? (rank - prevCount) / inBucket : 1;
      return { upperBound: b.le, interpolated: prevLe + (b.le - prevLe) * Math.min(1, Math.max(0, frac)), total };
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return { upperBound: Infinity, interpolated: prevLe, total };
}

/** Fraction of observations ≤ `bound`; exact when `bound` is a bucket bound, undefined otherwise or when empty. */
export function fractionAtOrBelow(buckets: readonly Bucket[], bound: number): number | undefined {
  const total = Math.max(0, ...buckets.map((b) => b.count));
  const b = buckets.find((x) => x.le === bound);
  if (!b || total === 0) return undefined;
  return b.count / total;
}

export type Verdict = 'met' | 'missed' | 'not measured';

export interface Target {
  name: string;
  /** The figure compared, in `unit`; NaN or undefined when the run did not measure it. */
  value: number | undefined;
  limit: number;
  unit: string;
  /** `max`: value ≤ limit passes; `equal`: value must equal limit (counts that must be 0). */
  kind: 'max' | 'equal';
  /** How the value was obtained, when that matters (e.g. "from histogram buckets"). */
  note?: string;
}

export function verdict(t: Target): Verdict {
  if (t.value === undefined || Number.isNaN(t.value)) return 'not measured';
  if (t.kind === 'equal') return t.value === t.limit ? 'met' : 'missed';
  return t.value <= t.limit ? 'met' : 'missed';
}

/** Formats a duration given in seconds with a unit that keeps 2–3 significant digits. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return s === Infinity ? '∞' : '–';
  if (s < 0.001) return `${(s * 1e6).toFixed(0)} µs`;
  if (s < 1) return `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)} ms`;
  if (s < 120) return `${s.toFixed(2)} s`;
  return `${(s / 60).toFixed(1)} min`;
}

export function formatRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(r < 0.1 ? 3 : 2)}×` : '–';
}
