import { expect } from 'chai';
import { parseExposition } from './prometheus.js';

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
    expect(f.get('requests_total')!.samples[0]).to.deep.equal({ name: 'requests_total', labels: { code: '200', path: '/a"b\\c\nd' }, value: 3 });
    expect(f.get('took_seconds')!.samples.map((s) => s.name)).to.deep.equal(['took_seconds_bucket', 'took_seconds_bucket', 'took_seconds_bucket', 'took_seconds_sum', 'took_seconds_count']);
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
    ['TYPE after the first sample', (d) => d.replace('# TYPE depth gauge\ndepth 0', 'depth 0\n# TYPE depth gauge'), /after its first sample/],
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
