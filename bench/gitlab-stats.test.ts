import { expect } from 'chai';
import type { ApiRequest } from '../e2e/gitlab/api-emulator.js';
import {
  distinctByAt,
  durationSeconds,
  evenOffsets,
  maxInWindow,
  relativeTo,
  requestsBetween,
  retryAfterCheck,
  tallyRequests,
} from './gitlab-stats.js';

const BRANCH = '/projects/:id/repository/branches/:branch';
const req = (at: number, status = 200, extra: Partial<ApiRequest> = {}): ApiRequest => ({
  method: 'GET',
  route: BRANCH,
  status,
  at,
  ...extra,
});

describe('bench/gitlab-stats', () => {
  describe('requestsBetween and tallyRequests', () => {
    it('keeps the requests answered in [from, to) and counts them by endpoint and status', () => {
      const log = [
        req(999),
        req(1000),
        req(1500, 429, { retryAfterSeconds: 5 }),
        { method: 'GET', route: '/projects/:id/hooks', status: 200, at: 1800 },
        req(2000),
      ];
      const window = requestsBetween(log, 1000, 2000);
      expect(window.map((r) => r.at)).to.deep.equal([1000, 1500, 1800]);
      expect(tallyRequests(window)).to.deep.equal({
        total: 3,
        byEndpoint: { [`GET ${BRANCH}`]: 2, 'GET /projects/:id/hooks': 1 },
        byStatus: { 200: 2, 429: 1 },
      });
      expect(requestsBetween(log, 1000).length, 'no end: everything from `from` on').to.equal(4);
    });

    it('an empty window is zero requests, not an error', () => {
      expect(tallyRequests([])).to.deep.equal({ total: 0, byEndpoint: {}, byStatus: {} });
    });
  });

  describe('maxInWindow (sliding)', () => {
    const cases: Array<[string, number[], number, number]> = [
      ['no requests: 0', [], 60_000, 0],
      ['one request: 1', [5], 60_000, 1],
      ['all inside one window', [0, 10_000, 59_999], 60_000, 3],
      ['a request exactly one window later starts a new window', [0, 60_000], 60_000, 1],
      ['the densest window counts, wherever it starts', [0, 50_000, 55_000, 59_000, 120_000, 121_000], 60_000, 4],
      ['unsorted input is sorted first', [59_000, 0, 55_000, 50_000], 60_000, 4],
      ['a burst split across two fixed minutes is still one sliding window', [59_000, 59_500, 60_500, 61_000], 60_000, 4],
    ];
    for (const [name, times, windowMs, want] of cases) it(name, () => expect(maxInWindow(times, windowMs)).to.equal(want));
  });

  describe('retryAfterCheck', () => {
    it('a client that waits out every Retry-After has no violation', () => {
      const log = [req(0), req(1000, 429, { retryAfterSeconds: 30 }), req(31_000), req(31_500)];
      expect(retryAfterCheck(log)).to.deep.equal({ rateLimited: 1, violations: 0, longestRetryAfterSeconds: 30 });
    });

    it('counts every request answered before the wait is over, a further 429 included', () => {
      const log = [req(1000, 429, { retryAfterSeconds: 30 }), req(2000, 429, { retryAfterSeconds: 29 }), req(30_999), req(31_000)];
      expect(retryAfterCheck(log)).to.deep.equal({ rateLimited: 2, violations: 2, longestRetryAfterSeconds: 30 });
    });

    it('a later, shorter Retry-After does not shorten the wait an earlier one asked for', () => {
      const log = [req(0, 429, { retryAfterSeconds: 60 }), req(60_000, 429, { retryAfterSeconds: 1 }), req(61_500)];
      expect(retryAfterCheck(log).violations).to.equal(0);
      const early = [req(0, 429, { retryAfterSeconds: 60 }), req(10_000, 429, { retryAfterSeconds: 1 }), req(30_000)];
      expect(retryAfterCheck(early).violations, 'the second 429 and the request 30 s in').to.equal(2);
    });

    it('a 429 without Retry-After asks for no wait; no 429 at all is all zeros', () => {
      expect(retryAfterCheck([req(0, 429), req(1)])).to.deep.equal({ rateLimited: 1, violations: 0, longestRetryAfterSeconds: 0 });
      expect(retryAfterCheck([req(0), req(1)])).to.deep.equal({ rateLimited: 0, violations: 0, longestRetryAfterSeconds: 0 });
    });
  });

  it('distinctByAt keeps the first of each record, in order', () => {
    const a = { at: '2026-12-01T00:00:00.000Z', n: 1 };
    const b = { at: '2026-12-01T00:01:00.000Z', n: 2 };
    expect(distinctByAt([a, a, b, { ...a, n: 3 }, b])).to.deep.equal([a, b]);
  });

  it('relativeTo divides by the period and refuses a period that is not positive', () => {
    expect(relativeTo([5, 10, 15], 10)).to.deep.equal([0.5, 1, 1.5]);
    expect(() => relativeTo([1], 0)).to.throw(RangeError);
  });

  describe('durationSeconds', () => {
    const cases: Array<[string, number]> = [
      ['10s', 10],
      ['1m', 60],
      ['1h30m', 5400],
      ['1m30s', 90],
      ['500ms', 0.5],
    ];
    for (const [text, want] of cases) it(`${text} is ${want} s`, () => expect(durationSeconds(text)).to.equal(want));
    for (const bad of ['', '10', '1d', 'm', '1m garbage', ' 1m'])
      it(`refuses ${JSON.stringify(bad)}`, () => expect(() => durationSeconds(bad)).to.throw(/not a duration/));
  });

  it('evenOffsets spreads events over the span, the first at 0, none at its end', () => {
    expect(evenOffsets(4, 10_000)).to.deep.equal([0, 2500, 5000, 7500]);
    expect(evenOffsets(0, 10_000)).to.deep.equal([]);
  });
});
