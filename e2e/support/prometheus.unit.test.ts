import { expect } from 'chai';
import { metricSum } from './operator.js';
import { histogram, parseExposition, parseSamples, sum } from './prometheus.js';

const GOOD = [
  '# HELP requests_total Requests by code.',
  '# TYPE requests_total counter',
  'requests_total{code="200",path="/a\\"b\\\\c\\nd"} 3',
  'requests_total{code="500"} 0 1700000000000',
  '# HELP depth Keys waiting.',
  '# TYPE depth gauge',
  'depth 0',
  '# HELP took_seconds Time.',
  '# TYPE took_seconds histogram',
  'took_seconds_bucket{le="0.1",c="x"} 1',
  'took_seconds_bucket{le="1",c="x"} 2',
  'took_seconds_bucket{le="+Inf",c="x"} 2',
  'took_seconds_sum{c="x"} 0.55',
  'took_seconds_count{c="x"} 2',
  '',
].join('\n');

describe('parseExposition (the Prometheus text format the e2e asserts /metrics against)', () => {
  it('reads families with their type, help, labels (escapes included) and values', () => {
    const f = parseExposition(GOOD);
    expect([...f.keys()]).to.deep.equal(['requests_total', 'depth', 'took_seconds']);
    expect(f.get('requests_total')).to.deep.include({ type: 'counter', help: 'Requests by code.' });
    expect(f.get('requests_total')!.samples[0]).to.deep.equal({
      name: 'requests_total',
      labels: { code: '200', path: '/a"b\\c\nd' },
      value: 3,
    });
    expect(f.get('took_seconds')!.samples.map((s) => s.name)).to.deep.equal([
      'took_seconds_bucket',
      'took_seconds_bucket',
      'took_seconds_bucket',
      'took_seconds_sum',
      'took_seconds_count',
    ]);
    expect(f.get('took_seconds')!.samples[2].labels.le).to.equal('+Inf');
  });

  it('reads NaN and infinities the way Go\'s ParseFloat does (prom-client writes "Nan")', () => {
    const f = parseExposition('# TYPE g gauge\ng{a="1"} Nan\ng{a="2"} -Inf\ng{a="3"} +inf\ng{a="4"} 1e-3\n');
    expect(f.get('g')!.samples.map((s) => s.value)).to.deep.equal([NaN, -Infinity, Infinity, 0.001]);
  });

  const broken: Array<[string, (doc: string) => string, RegExp]> = [
    ['a sample line that does not parse', (d) => d.replace('depth 0', 'depth zero'), /bad value/],
    ['an unquoted label value', (d) => d.replace('code="500"', 'code=500'), /not quoted/],
    ['a bad escape in a label value', (d) => d.replace('\\nd', '\\td'), /bad escape/],
    ['a second TYPE', (d) => d.replace('# TYPE depth gauge', '# TYPE depth gauge\n# TYPE depth gauge'), /second TYPE/],
    ['an unknown type', (d) => d.replace('# TYPE depth gauge', '# TYPE depth meter'), /unknown type/],
    [
      'TYPE after the first sample',
      (d) => d.replace('# TYPE depth gauge\ndepth 0', 'depth 0\n# TYPE depth gauge'),
      /after its first sample/,
    ],
    ['a duplicate sample', (d) => d.replace('depth 0', 'depth 0\ndepth 1'), /duplicate/],
    ['interleaved families', (d) => d + 'requests_total{code="404"} 1\n', /interleaved/],
    ['buckets that are not cumulative', (d) => d.replace('le="1",c="x"} 2', 'le="1",c="x"} 0'), /not cumulative/],
    ['+Inf differing from _count', (d) => d.replace('took_seconds_count{c="x"} 2', 'took_seconds_count{c="x"} 3'), /differs from _count/],
    ['no +Inf bucket', (d) => d.replace('took_seconds_bucket{le="+Inf",c="x"} 2\n', ''), /no \+Inf/],
    ['no final newline', (d) => d.trimEnd(), /newline/],
  ];
  for (const [what, breakIt, error] of broken) {
    it(`refuses ${what}`, () => {
      expect(() => parseExposition(breakIt(GOOD))).to.throw(error);
    });
  }
});

/** A scrape as the benchmarks read it: families without TYPE lines, an escaped quote in a label value. */
const TEXT = `# HELP rest_client_requests_total Requests
# TYPE rest_client_requests_total counter
rest_client_requests_total{verb="list",resource="secrets",code="200"} 3
rest_client_requests_total{verb="watch",resource="secrets",code="200"} 1
rest_client_requests_total{verb="create",resource="secrets",code="201"} 10
rest_client_requests_total{verb="create",resource="receivers.notification.toolkit.fluxcd.io",code="201"} 10
rest_client_requests_total{verb="update-status",resource="gitlabfluxlinks.fluxlink.dev",code="200"} 2
fluxlink_triggers_total{result="delivered"} 7
fluxlink_triggers_total{result="failed"} 1
fluxlink_trigger_dispatch_seconds_bucket{le="0.001"} 5
fluxlink_trigger_dispatch_seconds_bucket{le="0.005"} 9
fluxlink_trigger_dispatch_seconds_bucket{le="+Inf"} 10
fluxlink_trigger_dispatch_seconds_sum 0.02
fluxlink_trigger_dispatch_seconds_count 10
weird_label{msg="a \\"quoted\\" value"} 1
`;

describe('parseSamples, sum, histogram (figures read by the benchmarks and the e2e counters)', () => {
  const samples = parseSamples(TEXT);

  it('parses names, labels (with escaped quotes) and values, skipping comments', () => {
    expect(samples).to.have.length(13);
    expect(samples.find((s) => s.name === 'weird_label')!.labels.msg).to.equal('a "quoted" value');
    expect(sum(samples, 'fluxlink_trigger_dispatch_seconds_count')).to.equal(10);
  });

  it('sums a counter over matching label sets', () => {
    expect(sum(samples, 'fluxlink_triggers_total')).to.equal(8);
    expect(sum(samples, 'fluxlink_triggers_total', { result: 'delivered' })).to.equal(7);
    expect(sum(samples, 'no_such_metric')).to.equal(0);
  });

  it('reads histogram buckets with +Inf as Infinity, sorted', () => {
    expect(histogram(samples, 'fluxlink_trigger_dispatch_seconds')).to.deep.equal([
      { le: 0.001, count: 5 },
      { le: 0.005, count: 9 },
      { le: Infinity, count: 10 },
    ]);
  });

  it('reads every line with the strict grammar: a line that is neither comment nor sample is an error naming it', () => {
    expect(() => parseSamples('depth 0\ndepth zero\n')).to.throw(/line 2 \("depth zero"\): bad value/);
    expect(() => parseSamples('a{code=500} 1')).to.throw(/not quoted/);
    expect(parseSamples('g Nan\ng -Inf 1700000000000').map((s) => s.value)).to.deep.equal([NaN, -Infinity]);
  });

  it('metricSum (e2e) sums a /metrics document, labels matched exactly or by RegExp', () => {
    expect(metricSum(TEXT, 'rest_client_requests_total', { verb: /^(create|update-status)$/ })).to.equal(22);
    expect(metricSum(TEXT, 'rest_client_requests_total', { verb: 'create', resource: 'secrets' })).to.equal(10);
    expect(metricSum(TEXT, 'rest_client_requests_total', { verb: /^creat$/ })).to.equal(0);
  });
});
