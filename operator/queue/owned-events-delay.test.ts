import { expect } from 'chai';
import { ownedEventsDelay } from './owned-events-delay.js';

describe('ownedEventsDelay', () => {
  it('batches for 1 s while passes are cheap, or before the first pass', () => {
    expect(ownedEventsDelay(undefined)).to.equal(1_000);
    expect(ownedEventsDelay(0)).to.equal(1_000);
    expect(ownedEventsDelay(300)).to.equal(1_000);
  });

  it('grows to 3 times the last pass, so refreshing a large link takes at most a quarter of the time', () => {
    expect(ownedEventsDelay(400)).to.equal(1_200);
    expect(ownedEventsDelay(1_270)).to.equal(3_810);
  });

  it('never waits more than 10 s', () => {
    expect(ownedEventsDelay(3_334)).to.equal(10_000);
    expect(ownedEventsDelay(600_000)).to.equal(10_000);
  });
});
