import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { RunResults } from './results.js';
import { cdf } from './stats.js';

/**
 * The report's charts: vega-lite specifications built from the results (pure, unit-tested), rendered to SVG
 * files by vega on the server. report.md links them as relative images, which GitHub-style Markdown shows.
 */
export interface ReportChart {
  /** File name in the results folder. */
  file: string;
  /** The report section it illustrates. */
  section: 'push' | 'load' | 'scale';
  /** Alternative text in report.md. */
  alt: string;
  spec: TopLevelSpec;
}

const WIDTH = 640;
const MAX_MARKERS = 200;
const HEIGHT = 320;
const CONFIG: TopLevelSpec['config'] = {
  font: 'DejaVu Sans, Helvetica, Arial, sans-serif',
  title: { fontSize: 16, anchor: 'start', offset: 12 },
  axis: { labelFontSize: 12, titleFontSize: 13, titlePadding: 10, gridColor: '#e4e4e4' },
  legend: { labelFontSize: 12, titleFontSize: 12, orient: 'bottom', direction: 'vertical', labelLimit: 0, symbolStrokeWidth: 3 },
  background: 'white',
  padding: 12,
};

/** One CDF line per series: x the value, y the fraction of samples at or below it, on a log x axis. */
function cdfChart(o: {
  title: string;
  xTitle: string;
  yTitle: string;
  series: Array<{ name: string; values: readonly number[] }>;
}): TopLevelSpec {
  const values = o.series.flatMap((s) =>
    cdf(s.values.filter((v) => Number.isFinite(v) && v > 0)).map(([x, y]) => ({ series: s.name, x, y })),
  );
  // A marker per sample while they can be told apart; beyond that the line alone.
  const markers = Math.max(...o.series.map((s) => s.values.length)) <= MAX_MARKERS;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: o.title,
    width: WIDTH,
    height: HEIGHT,
    config: CONFIG,
    data: { values },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2, ...(markers ? { point: { size: 18, filled: true } } : {}) },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: o.xTitle, scale: { type: 'log', nice: true }, axis: { format: '~g', grid: true } },
      y: { field: 'y', type: 'quantitative', title: o.yTitle, scale: { domain: [0, 1] }, axis: { format: '.0%', tickCount: 5 } },
      color: { field: 'series', type: 'nominal', title: null, sort: o.series.map((s) => s.name), scale: { scheme: 'tableau10' } },
    },
  };
}

const count = (n: number) => n.toLocaleString('en-US');

/** The charts these results have data for, as vega-lite specifications. */
export function reportChartSpecs(r: RunResults): ReportChart[] {
  const charts: ReportChart[] = [];
  if (r.push) {
    const p = r.push;
    charts.push({
      file: 'push-latency.svg',
      section: 'push',
      alt: 'push latency',
      spec: cdfChart({
        title: 'Push to new artifact: distribution per method (CDF)',
        xTitle: 'seconds from the push (log scale)',
        yTitle: 'pushes with a new artifact by then',
        series: [
          { name: `(a) operator, n=${p.operator.length}`, values: p.operator },
          { name: `(b) hand-made Receiver, n=${p.hand.length}`, values: p.hand },
          { name: `(c) polling at interval ${p.pollingInterval}, n=${p.polling.length}`, values: p.polling },
        ],
      }),
    });
  }
  if (r.load) {
    const l = r.load;
    charts.push({
      file: 'load-answer-time.svg',
      section: 'load',
      alt: 'answer time under load',
      spec: cdfChart({
        title: `Webhook answer time at ${l.rate} webhooks/s for ${l.seconds} s (CDF)`,
        xTitle: 'milliseconds from the scheduled send (log scale)',
        yTitle: 'webhooks answered by then',
        series: [
          {
            name: `operator: ${count(l.sent)} webhooks over ${count(l.repositories)} repositories`,
            values: l.answers.map((s) => s * 1000),
          },
        ],
      }),
    });
  }
  if (r.scale.length) {
    const sizes = [...r.scale].sort((a, b) => a.repositories - b.repositories);
    const OPERATOR = 'operator (one link)';
    const BASELINE = 'baseline (plain client, 16 in flight)';
    const values = sizes
      .flatMap((s) => [
        { size: count(s.repositories), method: OPERATOR, seconds: s.operator.convergenceSeconds },
        { size: count(s.repositories), method: BASELINE, seconds: s.baseline.readySeconds },
      ])
      .filter((v) => Number.isFinite(v.seconds));
    const encoding = {
      x: {
        field: 'size',
        type: 'nominal',
        title: 'GitRepositories linked',
        sort: sizes.map((s) => count(s.repositories)),
        axis: { labelAngle: 0 },
      },
      xOffset: { field: 'method', type: 'nominal', sort: [OPERATOR, BASELINE] },
      y: { field: 'seconds', type: 'quantitative', title: 'seconds until every Receiver is Ready' },
      color: { field: 'method', type: 'nominal', title: null, sort: [OPERATOR, BASELINE], scale: { scheme: 'tableau10' } },
    } as const;
    charts.push({
      file: 'convergence.svg',
      section: 'scale',
      alt: 'convergence',
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: 'Time until every Receiver is Ready, by GitRepository count',
        width: Math.max(320, 200 * sizes.length),
        height: HEIGHT,
        config: CONFIG,
        data: { values },
        encoding,
        layer: [
          { mark: { type: 'bar' } },
          { mark: { type: 'text', dy: -8, fontSize: 12 }, encoding: { text: { field: 'seconds', type: 'quantitative', format: '.1f' } } },
        ],
      },
    });
  }
  return charts;
}

/** Renders one specification to an SVG document (vega's headless renderer; no canvas, no browser). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The report's charts as file name → SVG text, and which section each belongs to. */
export async function reportCharts(r: RunResults): Promise<Array<ReportChart & { svg: string }>> {
  return Promise.all(reportChartSpecs(r).map(async (c) => ({ ...c, svg: await renderSvg(c.spec) })));
}
