import { expect } from 'chai';
import { budgetWaitMs, nextPage, RequestBudget, redactToken, retryAfterMs } from './pacing.js';

describe('gitlab-api pacing: pages, Retry-After, the request budget', () => {
  describe('nextPage', () => {
    it("follows the Link header's rel=next", () => {
      const link =
        '<https://gitlab.example.com/api/v4/projects/8/hooks?id=8&page=1&per_page=100>; rel="prev", ' +
        '<https://gitlab.example.com/api/v4/projects/8/hooks?id=8&page=3&per_page=100>; rel="next", ' +
        '<https://gitlab.example.com/api/v4/projects/8/hooks?id=8&page=1&per_page=100>; rel="first"';
      expect(nextPage({ link, xNextPage: '3' })).to.equal(3);
    });
    it('falls back to X-Next-Page when there is no Link header (or no next in it)', () => {
      expect(nextPage({ xNextPage: '2' })).to.equal(2);
      expect(nextPage({ link: '<https://g/api/v4/x?page=1>; rel="first"', xNextPage: '4' })).to.equal(4);
    });
    it('the last page: empty X-Next-Page and no rel=next', () => {
      expect(nextPage({ link: '<https://g/api/v4/x?page=1>; rel="first"', xNextPage: '' })).to.equal(undefined);
      expect(nextPage({})).to.equal(undefined);
    });
    it('ignores nonsense', () => {
      expect(nextPage({ link: '<not a url ?page=x>; rel="next"', xNextPage: 'zero' })).to.equal(undefined);
      expect(nextPage({ xNextPage: '-1' })).to.equal(undefined);
    });
  });

  describe('retryAfterMs', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    it('delay-seconds', () => {
      expect(retryAfterMs('30', now)).to.equal(30_000);
      expect(retryAfterMs(' 0 ', now)).to.equal(0);
    });
    it('an HTTP-date, never negative', () => {
      expect(retryAfterMs('Thu, 01 Jan 2026 00:00:10 GMT', now)).to.equal(10_000);
      expect(retryAfterMs('Wed, 31 Dec 2025 23:00:00 GMT', now)).to.equal(0);
    });
    it('absent or unreadable', () => {
      expect(retryAfterMs(undefined, now)).to.equal(undefined);
      expect(retryAfterMs('-5', now)).to.equal(undefined);
      expect(retryAfterMs('soon', now)).to.equal(undefined);
    });
  });

  describe('the budget', () => {
    it('lets perMinute requests through, then makes the next wait until the oldest leaves the window', () => {
      expect(budgetWaitMs([], 0, 3)).to.equal(0);
      expect(budgetWaitMs([0, 10], 20, 3)).to.equal(0);
      expect(budgetWaitMs([0, 10, 20], 30, 3)).to.equal(59_970);
      expect(budgetWaitMs([0, 10, 20], 60_000, 3)).to.equal(0);
      expect(budgetWaitMs([0, 10, 20, 60_000], 60_000, 3)).to.equal(10);
    });
    it('never more than perMinute starts in any 60 s window (simulated)', () => {
      const budget = new RequestBudget(5);
      let now = 0;
      const starts: number[] = [];
      for (let i = 0; i < 40; i++) {
        now += budget.waitMs(now);
        budget.record(now);
        starts.push(now);
        now += 7;
      }
      for (const s of starts) expect(starts.filter((t) => t >= s && t < s + 60_000).length).to.be.at.most(5);
      expect(starts.at(-1)).to.be.greaterThan(7 * 60_000);
    });
  });

  it('redactToken removes every occurrence of every secret', () => {
    expect(redactToken('401 for glpat-abc at glpat-abc', ['glpat-abc', ''])).to.equal('401 for [redacted] at [redacted]');
  });
});
