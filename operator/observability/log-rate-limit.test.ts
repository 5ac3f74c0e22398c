import { expect } from 'chai';
import { LogRateLimit } from './log-rate-limit.js';

describe('log-rate-limit: LogRateLimit', () => {
  it('lets the first line of a key through, holds the next ones back for the interval, then reports how many', () => {
    const limit = new LogRateLimit(60_000);
    expect(limit.take('a', 0)).to.equal(0);
    expect(limit.take('a', 1)).to.equal(undefined);
    expect(limit.take('a', 59_999)).to.equal(undefined);
    expect(limit.take('b', 59_999), 'another key has its own interval').to.equal(0);
    expect(limit.take('a', 60_000)).to.equal(2);
    expect(limit.take('a', 120_000)).to.equal(0);
  });

  it('stays bounded: past 10,000 keys, keys older than the interval are forgotten', () => {
    const limit = new LogRateLimit(1_000);
    for (let i = 0; i < 10_000; i++) limit.take(`k${i}`, 0);
    expect(limit.take('new', 2_000)).to.equal(0);
    expect((limit as unknown as { last: Map<string, unknown> }).last.size).to.equal(1);
  });
});
