import { expect } from 'chai';
import {
  type Bucket,
  bucketDelta,
  bucketQuantile,
  cdf,
  formatRatio,
  formatSeconds,
  fractionAtOrBelow,
  percentile,
  ratio,
  summarize,
  verdict,
} from './stats.js';

describe('bench/stats', () => {
  describe('percentile (nearest rank)', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    const cases: Array<[string, number[], number, number]> = [
      ['p50 of 1..100 is 50', hundred, 50, 50],
      ['p95 of 1..100 is 95', hundred, 95, 95],
      ['p99 of 1..100 is 99', hundred, 99, 99],
      ['p100 is the maximum', hundred, 100, 100],
      ['p0 is the minimum', hundred, 0, 1],
      ['p99 of 10 samples is the maximum (no invented value above it)', [5, 1, 9, 3, 7, 2, 8, 4, 6, 10], 99, 10],
      ['p50 of an even count is the lower middle sample', [4, 1, 3, 2], 50, 2],
      ['unsorted input is sorted first', [30, 10, 20], 50, 20],
      ['one sample is every percentile', [42], 99, 42],
    ];
    for (const [name, values, p, want] of cases) it(name, () => expect(percentile(values, p)).to.equal(want));

    it('is NaN for no samples and refuses p outside 0..100', () => {
      expect(percentile([], 50)).to.be.NaN;
      expect(() => percentile([1], 101)).to.throw(RangeError);
    });

    it("does not reorder the caller's array", () => {
      const values = [3, 1, 2];
      percentile(values, 50);
      expect(values).to.deep.equal([3, 1, 2]);
    });
  });

  it('summarize agrees with percentile and gives min, max, mean', () => {
    const values = Array.from({ length: 200 }, (_, i) => (i * 37) % 200);
    const s = summarize(values);
    expect(s).to.deep.include({
      n: 200,
      min: 0,
      max: 199,
      p50: percentile(values, 50),
      p95: percentile(values, 95),
      p99: percentile(values, 99),
    });
    expect(s.mean).to.be.closeTo(99.5, 1e-9);
    expect(summarize([]).n).to.equal(0);
  });

  it('ratio is NaN for a zero or missing denominator', () => {
    expect(ratio(3, 2)).to.equal(1.5);
    expect(ratio(1, 0)).to.be.NaN;
    expect(ratio(NaN, 2)).to.be.NaN;
  });

  it('cdf rises to 1 over the sorted samples', () => {
    expect(cdf([3, 1, 2, 4])).to.deep.equal([
      [1, 0.25],
      [2, 0.5],
      [3, 0.75],
      [4, 1],
    ]);
  });

  describe('histogram buckets', () => {
    // 100 observations: 90 ≤ 1 ms, 8 in (1, 5] ms, 2 in (5, 10] ms.
    const buckets: Bucket[] = [
      { le: 0.001, count: 90 },
      { le: 0.005, count: 98 },
      { le: 0.01, count: 100 },
      { le: Infinity, count: 100 },
    ];

    it('p50 lies in the first bucket: bound 1 ms, interpolated within it', () => {
      const q = bucketQuantile(buckets, 0.5)!;
      expect(q.upperBound).to.equal(0.001);
      expect(q.interpolated).to.be.closeTo(0.001 * (50 / 90), 1e-12);
      expect(q.total).to.equal(100);
    });

    it('p99 lies in the (5, 10] ms bucket', () => {
      const q = bucketQuantile(buckets, 0.99)!;
      expect(q.upperBound).to.equal(0.01);
      expect(q.interpolated).to.be.closeTo(0.005 + 0.005 * 0.5, 1e-12);
    });

    it('a quantile in the +Inf bucket has no upper bound', () => {
      const q = bucketQuantile(
        [
          { le: 0.001, count: 1 },
          { le: Infinity, count: 10 },
        ],
        0.99,
      )!;
      expect(q.upperBound).to.equal(Infinity);
    });

    it('no observations: undefined', () => {
      expect(
        bucketQuantile(
          [
            { le: 1, count: 0 },
            { le: Infinity, count: 0 },
          ],
          0.5,
        ),
      ).to.equal(undefined);
    });

    it('fractionAtOrBelow is exact at a bucket bound and undefined elsewhere', () => {
      expect(fractionAtOrBelow(buckets, 0.005)).to.equal(0.98);
      expect(fractionAtOrBelow(buckets, 0.004)).to.equal(undefined);
    });

    it('bucketDelta keeps only what was observed between two scrapes', () => {
      const before: Bucket[] = [
        { le: 0.001, count: 10 },
        { le: Infinity, count: 12 },
      ];
      const after: Bucket[] = [
        { le: 0.001, count: 15 },
        { le: Infinity, count: 20 },
      ];
      expect(bucketDelta(after, before)).to.deep.equal([
        { le: 0.001, count: 5 },
        { le: Infinity, count: 8 },
      ]);
    });
  });

  describe('targets', () => {
    const cases: Array<[string, Parameters<typeof verdict>[0], string]> = [
      ['a maximum met at the limit', { name: 'p99', value: 5, limit: 5, unit: 'ms', kind: 'max' }, 'met'],
      ['a maximum missed above it', { name: 'p99', value: 5.1, limit: 5, unit: 'ms', kind: 'max' }, 'missed'],
      ['a count that must be 0, met', { name: 'writes', value: 0, limit: 0, unit: '', kind: 'equal' }, 'met'],
      ['a count that must be 0, missed', { name: 'writes', value: 3, limit: 0, unit: '', kind: 'equal' }, 'missed'],
      ['not measured (NaN)', { name: 'x', value: NaN, limit: 1, unit: '', kind: 'max' }, 'not measured'],
      ['not measured (undefined)', { name: 'x', value: undefined, limit: 1, unit: '', kind: 'max' }, 'not measured'],
    ];
    for (const [name, t, want] of cases) it(name, () => expect(verdict(t)).to.equal(want));
  });

  it('formats seconds and ratios for the report', () => {
    expect(formatSeconds(0.0004)).to.equal('400 µs');
    expect(formatSeconds(0.0042)).to.equal('4.20 ms');
    expect(formatSeconds(0.25)).to.equal('250.0 ms');
    expect(formatSeconds(1.234)).to.equal('1.23 s');
    expect(formatSeconds(600)).to.equal('10.0 min');
    expect(formatSeconds(NaN)).to.equal('–');
    expect(formatRatio(1.5)).to.equal('1.50×');
    expect(formatRatio(NaN)).to.equal('–');
  });
});
