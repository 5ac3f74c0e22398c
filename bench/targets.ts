import type { RunResults, ScaleResult } from './results.js';
import { bucketQuantile, fractionAtOrBelow, percentile, type Target } from './stats.js';

/**
 * The performance targets, each with the figure this run measured (or NaN when the run did not measure it,
 * e.g. a quick run has no 10,000-repository size).
 */
const MiB = 2 ** 20;

export function targets(r: RunResults): Target[] {
  const out: Target[] = [];
  const dispatch = r.push?.dispatchBuckets ?? [];
  const within5ms = fractionAtOrBelow(dispatch, 0.005);
  const p99 = bucketQuantile(dispatch, 0.99);
  out.push({
    name: 'operator added latency p99 ≤ 5 ms',
    // The upper bound of the bucket holding p99: an exact statement ("p99 ≤ bound"), and since 5 ms is a
    // bucket bound, bound ≤ 5 ms exactly when p99 ≤ 5 ms.
    value: p99 ? p99.upperBound * 1000 : NaN,
    limit: 5,
    unit: 'ms',
    kind: 'max',
    note:
      within5ms === undefined || !p99
        ? 'no samples'
        : `bucket bound of p99 in fluxlink_trigger_dispatch_seconds (${p99.total} pushes, ${(within5ms * 100).toFixed(1)} % ≤ 5 ms; interpolated p99 ${(p99.interpolated * 1000).toFixed(2)} ms)`,
  });
  const answers = r.load?.answers ?? [];
  out.push({
    name: `answer p99 ≤ 20 ms at ${r.load?.rate ?? 200} webhooks/s`,
    value: answers.length ? percentile(answers, 99) * 1000 : NaN,
    limit: 20,
    unit: 'ms',
    kind: 'max',
    note: r.load ? `${r.load.sent} webhooks, open loop, from the scheduled send time` : undefined,
  });
  out.push({ name: 'non-2xx answers under load = 0', value: r.load ? r.load.non2xx : NaN, limit: 0, unit: '', kind: 'equal' });
  const lost = r.load ? r.load.expectedTriggers - r.load.calls - r.load.coalesced - r.load.dropped : NaN;
  out.push({
    name: 'triggers lost or dropped under load = 0',
    value: r.load ? Math.abs(lost) + r.load.dropped : NaN,
    limit: 0,
    unit: '',
    kind: 'equal',
    note: r.load
      ? `${r.load.expectedTriggers} (push, Receiver) pairs = ${r.load.calls} calls + ${r.load.coalesced} coalesced + ${r.load.dropped} dropped${lost ? ` + ${lost} unaccounted` : ''}`
      : undefined,
  });
  const largest = [...r.scale].sort((a, b) => b.repositories - a.repositories)[0];
  const at10k = r.scale.find((s) => s.repositories === 10_000);
  const conv = (s: ScaleResult | undefined) => (s ? s.operator.convergenceSeconds / s.baseline.readySeconds : NaN);
  out.push({
    name: 'convergence ≤ 1.5× baseline at 10,000 repositories',
    value: conv(at10k),
    limit: 1.5,
    unit: '×',
    kind: 'max',
    note: at10k ? undefined : largest ? `not run at 10,000; at ${largest.repositories}: ${conv(largest).toFixed(2)}×` : undefined,
  });
  for (const s of r.scale) {
    out.push({
      name: `0 writes in steady state (${s.repositories} repositories, ${s.steady.seconds} s)`,
      value: s.steady.requests.writes,
      limit: 0,
      unit: '',
      kind: 'equal',
    });
    out.push({
      name: `0 writes after a restart (${s.repositories} repositories)`,
      value: s.restart.timedOut ? NaN : s.restart.requests.writes,
      limit: 0,
      unit: '',
      kind: 'equal',
    });
  }
  out.push({
    name: 'peak RSS ≤ 256 MiB at 10,000 repositories',
    value: at10k ? at10k.operator.peakRssBytes / MiB : NaN,
    limit: 256,
    unit: 'MiB',
    kind: 'max',
    note: at10k
      ? undefined
      : largest
        ? `not run at 10,000; at ${largest.repositories}: ${(largest.operator.peakRssBytes / MiB).toFixed(0)} MiB`
        : undefined,
  });
  return out;
}
