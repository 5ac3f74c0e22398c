import { barChart, lineChart } from './chart/charts.js';
import type { RunResults } from './results.js';
import { cdf } from './stats.js';

/** The report's PNG charts, as file name → PNG bytes. */
export function reportCharts(r: RunResults): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  if (r.push) {
    const p = r.push;
    out['push-latency.png'] = lineChart({
      title: 'Push to new artifact: distribution per method (CDF)',
      xLabel: 'seconds (log scale)',
      yLabel: 'fraction of pushes',
      xLog: true,
      y: [0, 1],
      series: [
        { name: `(a) operator, n=${p.operator.length}`, points: cdf(p.operator) },
        { name: `(b) hand-made Receiver, n=${p.hand.length}`, points: cdf(p.hand) },
        { name: `(c) polling ${p.pollingInterval}, n=${p.polling.length}`, points: cdf(p.polling) },
      ],
    }).toPng();
  }
  if (r.load) {
    const l = r.load;
    out['load-answer-time.png'] = lineChart({
      title: `Answer time at ${l.rate} webhooks/s for ${l.seconds} s (CDF)`,
      xLabel: 'milliseconds (log scale)',
      yLabel: 'fraction of webhooks',
      xLog: true,
      y: [0, 1],
      series: [{ name: `operator, ${l.sent} webhooks, ${l.repositories} repositories`, points: cdf(l.answers.map((s) => s * 1000)) }],
    }).toPng();
  }
  if (r.scale.length) {
    const sizes = [...r.scale].sort((a, b) => a.repositories - b.repositories);
    out['convergence.png'] = barChart({
      title: 'Time until every Receiver is Ready, by GitRepository count',
      yLabel: 'seconds',
      categories: sizes.map((s) => `${s.repositories} repositories`),
      series: [
        { name: 'operator (one link)', values: sizes.map((s) => s.operator.convergenceSeconds) },
        { name: 'baseline (plain client, 16 in flight)', values: sizes.map((s) => s.baseline.readySeconds) },
      ],
      format: (v) => `${v.toFixed(v < 10 ? 1 : 0)} s`,
    }).toPng();
  }
  return out;
}
