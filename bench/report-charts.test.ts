import { expect } from 'chai';
import { renderSvg, type ReportChart, reportChartSpecs } from './report-charts.js';
import type { LoadResult, RunResults, ScaleResult } from './results.js';

/** Only what the charts read; the rest of a run does not matter here. */
function run(over: Partial<RunResults> = {}): RunResults {
  return {
    quick: true,
    machine: {
      nproc: 2,
      cpuModel: 'Test CPU',
      memoryGiB: 8,
      node: 'v24.0.0',
      go: 'go1.26',
      kernel: 'Linux 6',
      commit: 'abc123',
      date: '2026-01-01T00:00:00.000Z',
    },
    startedAt: '2026-01-01T00:00:00.000Z',
    wallSeconds: 1,
    fluxClientArgs: [],
    operatorEnv: {},
    scale: [],
    profiles: [],
    errors: [],
    ...over,
  };
}
const push = {
  pushesPerMethod: 3,
  operator: [0.5, 0.3, 0.4],
  hand: [0.3, 0.3],
  operatorFromPush: [],
  handFromPush: [],
  polling: [10, 50, 30, 20],
  pollingRepos: 4,
  pollingInterval: '1m',
  pollingStaggerSeconds: 60,
  webhookStatuses: { operator: {}, hand: {} },
  dispatchBuckets: [],
  reconcilesDuringPushes: 0,
  durationSeconds: 1,
} satisfies RunResults['push'];
const load = { rate: 200, seconds: 10, sent: 2000, repositories: 1000, answers: [0.004, 0.002, 0.1] } as unknown as LoadResult;
const scale = (repositories: number, operator: number, baseline: number) =>
  ({ repositories, operator: { convergenceSeconds: operator }, baseline: { readySeconds: baseline } }) as unknown as ScaleResult;

type Spec = Record<string, any>;
const spec = (c: ReportChart | undefined) => c!.spec as Spec;
const points = (c: ReportChart, series: string) =>
  (spec(c).data.values as Spec[]).filter((v) => v.series === series).map((v) => [v.x, v.y]);

describe('bench/report-charts: vega-lite specifications from the results', () => {
  it('no measured part, no chart', () => {
    expect(reportChartSpecs(run())).to.deep.equal([]);
  });

  it('push: one CDF per method, sorted, y = share of pushes at or below x, on a log axis with titles', () => {
    const [c, ...rest] = reportChartSpecs(run({ push }));
    expect(rest).to.deep.equal([]);
    expect(c).to.deep.include({ file: 'push-latency.svg', section: 'push', alt: 'push latency' });
    const s = spec(c);
    expect(s.title).to.equal('Push to new artifact: distribution per method (CDF)');
    expect(s.encoding.x).to.deep.include({ field: 'x', title: 'seconds from the push (log scale)' });
    expect(s.encoding.x.scale.type).to.equal('log');
    expect(s.encoding.y).to.deep.include({ field: 'y', title: 'pushes with a new artifact by then' });
    expect(s.encoding.y.scale.domain).to.deep.equal([0, 1]);
    const names = ['(a) operator, n=3', '(b) hand-made Receiver, n=2', '(c) polling at interval 1m, n=4'];
    expect(s.encoding.color.sort, 'legend order').to.deep.equal(names);
    expect(points(c!, names[0]!)).to.deep.equal([
      [0.3, 1 / 3],
      [0.4, 2 / 3],
      [0.5, 1],
    ]);
    expect(points(c!, names[1]!)).to.deep.equal([
      [0.3, 0.5],
      [0.3, 1],
    ]);
    expect(points(c!, names[2]!)).to.deep.equal([
      [10, 0.25],
      [20, 0.5],
      [30, 0.75],
      [50, 1],
    ]);
    expect(s.mark.point, 'a marker per push while few').to.not.equal(undefined);
  });

  it('load: answer seconds drawn in milliseconds; counts written with separators; no markers for thousands of samples', () => {
    const [c] = reportChartSpecs(run({ load }));
    expect(c).to.deep.include({ file: 'load-answer-time.svg', section: 'load' });
    const s = spec(c);
    expect(s.title).to.equal('Webhook answer time at 200 webhooks/s for 10 s (CDF)');
    expect(s.encoding.x.title).to.equal('milliseconds from the scheduled send (log scale)');
    expect(points(c!, 'operator: 2,000 webhooks over 1,000 repositories')).to.deep.equal([
      [2, 1 / 3],
      [4, 2 / 3],
      [100, 1],
    ]);
    const many = spec(reportChartSpecs(run({ load: { ...load, answers: Array.from({ length: 500 }, (_, i) => (i + 1) / 1000) } }))[0]);
    expect(many.mark.point).to.equal(undefined);
    expect(many.data.values).to.have.length(500);
  });

  it('a CDF leaves out what a log axis cannot show (0, non-finite), and still counts n from every sample', () => {
    const c = reportChartSpecs(run({ push: { ...push, operator: [0, 0.2, Infinity, Number.NaN] } }))[0]!;
    expect(points(c, '(a) operator, n=4')).to.deep.equal([[0.2, 1]]);
  });

  it('scale: operator and baseline side by side per size, in size order, with the seconds on the bars', () => {
    const [c] = reportChartSpecs(run({ scale: [scale(10_000, 290, 300), scale(1000, 22, 21), scale(5000, 150, Number.NaN)] }));
    expect(c).to.deep.include({ file: 'convergence.svg', section: 'scale', alt: 'convergence' });
    const s = spec(c);
    expect(s.title).to.equal('Time until every Receiver is Ready, by GitRepository count');
    expect(s.encoding.x).to.deep.include({ field: 'size', title: 'GitRepositories linked' });
    expect(s.encoding.x.sort).to.deep.equal(['1,000', '5,000', '10,000']);
    expect(s.encoding.y.title).to.equal('seconds until every Receiver is Ready');
    expect(s.data.values).to.deep.equal([
      { size: '1,000', method: 'operator (one link)', seconds: 22 },
      { size: '1,000', method: 'baseline (plain client, 16 in flight)', seconds: 21 },
      { size: '5,000', method: 'operator (one link)', seconds: 150 },
      { size: '10,000', method: 'operator (one link)', seconds: 290 },
      { size: '10,000', method: 'baseline (plain client, 16 in flight)', seconds: 300 },
    ]);
    expect(s.layer.map((l: Spec) => l.mark.type)).to.deep.equal(['bar', 'text']);
  });

  it('renders to an SVG document holding the title, axis titles, ticks and legend entries', async function () {
    this.timeout(20_000);
    const charts = reportChartSpecs(run({ push, load, scale: [scale(1000, 22, 21)] }));
    expect(charts.map((c) => c.file)).to.deep.equal(['push-latency.svg', 'load-answer-time.svg', 'convergence.svg']);
    const svg = await renderSvg(charts[0]!.spec);
    expect(svg).to.match(/^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    for (const text of [
      'Push to new artifact: distribution per method (CDF)',
      'seconds from the push (log scale)',
      'pushes with a new artifact by then',
      '(a) operator, n=3',
      '(c) polling at interval 1m, n=4',
      '0%',
      '60%',
      '100%',
    ]) {
      expect(svg, text).to.include(`>${text}</text>`);
    }
    const bars = await renderSvg(charts[2]!.spec);
    for (const text of ['GitRepositories linked', '1,000', 'operator (one link)', '22.0', '21.0'])
      expect(bars, text).to.include(`>${text}</text>`);
  });
});
