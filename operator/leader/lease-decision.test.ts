import { expect } from 'chai';
import { decide, type LeaseRecord, microTime, observe, released } from './lease-decision.js';

const settings = { identity: 'me', leaseDurationSeconds: 15 };
const T0 = Date.UTC(2026, 10, 24, 3, 0, 0);
const held = (holder: string, extra: LeaseRecord = {}): LeaseRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  renewTime: microTime(T0),
  leaseTransitions: 2,
  ...extra,
});

describe('lease decision', () => {
  it('acquires a lease that does not exist, with no transition counted', () => {
    const d = decide(observe(undefined, undefined, T0), T0, settings);
    expect(d).to.deep.include({ kind: 'write', acquiring: true });
    expect(d.kind === 'write' && d.record).to.deep.equal({
      holderIdentity: 'me',
      leaseDurationSeconds: 15,
      acquireTime: microTime(T0),
      renewTime: microTime(T0),
      leaseTransitions: 0,
    });
  });

  it("follows another holder's live lease", () => {
    const seen = observe(undefined, held('other'), T0);
    expect(decide(seen, T0 + 14_999, settings)).to.deep.equal({ kind: 'follow', holder: 'other' });
  });

  it("takes over once the other's record has not changed for the lease duration, counting a transition", () => {
    const seen = observe(undefined, held('other'), T0);
    const d = decide(observe(seen, held('other'), T0 + 15_000), T0 + 15_000, settings);
    expect(d.kind === 'write' && d.acquiring).to.equal(true);
    expect(d.kind === 'write' && d.record.leaseTransitions).to.equal(3);
  });

  it("judges expiry by our own clock from when the record last changed, not by the holder's renewTime", () => {
    // The holder's clock is an hour behind: its renewTime looks ancient, yet it renews, so it is alive.
    const skewed = (n: number) => held('other', { renewTime: microTime(T0 - 3_600_000 + n) });
    let seen = observe(undefined, skewed(0), T0);
    seen = observe(seen, skewed(2_000), T0 + 10_000);
    expect(decide(seen, T0 + 20_000, settings).kind).to.equal('follow');
    expect(observe(seen, skewed(2_000), T0 + 20_000)).to.equal(seen, 'an unchanged record keeps its observation time');
  });

  it('renews its own lease, keeping acquireTime and the transition count', () => {
    const mine = held('me', { acquireTime: microTime(T0 - 60_000) });
    const d = decide(observe(undefined, mine, T0), T0 + 2_000, settings);
    expect(d).to.deep.include({ kind: 'write', acquiring: false });
    expect(d.kind === 'write' && d.record).to.deep.include({
      acquireTime: microTime(T0 - 60_000),
      renewTime: microTime(T0 + 2_000),
      leaseTransitions: 2,
    });
  });

  it('acquires at once a lease released by its holder (empty holder)', () => {
    const rel = released(held('other'), T0);
    expect(rel.holderIdentity).to.equal('');
    const d = decide(observe(undefined, rel, T0), T0, settings);
    expect(d.kind === 'write' && d.acquiring).to.equal(true);
  });

  it('writes MicroTime with six fractional digits', () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 67))).to.equal('2026-01-02T03:04:05.067000Z');
  });
});
