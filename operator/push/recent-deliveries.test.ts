import { expect } from 'chai';
import v8 from 'node:v8';
import vm from 'node:vm';
import { RecentDeliveries } from './recent-deliveries.js';

/** The garbage collector, to measure live memory only (mocha runs without --expose-gc). */
function collector(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function set(maxEntries = 100, ttlMs = 600_000) {
  const clock = { t: 1_000_000 };
  return { clock, seen: new RecentDeliveries({ ttlMs, maxEntries, now: () => clock.t }) };
}

describe('recent-deliveries: RecentDeliveries (bounded, time-expiring set)', () => {
  it('remembers a key for ttlMs and forgets it after', () => {
    const { clock, seen } = set();
    expect(seen.has('a')).to.equal(false);
    seen.add('a');
    expect(seen.has('a')).to.equal(true);
    clock.t += 599_999;
    expect(seen.has('a')).to.equal(true);
    clock.t += 1;
    expect(seen.has('a')).to.equal(false);
    expect(seen.size).to.equal(0, 'an expired key is dropped, not only hidden');
  });

  it('never holds more than maxEntries: the oldest is forgotten first', () => {
    const { clock, seen } = set(3);
    for (const k of ['a', 'b', 'c', 'd']) {
      seen.add(k);
      clock.t += 1;
    }
    expect(seen.size).to.equal(3);
    expect(['a', 'b', 'c', 'd'].map((k) => seen.has(k))).to.deep.equal([false, true, true, true]);
  });

  it('expired keys are dropped as time passes, whatever is asked', () => {
    const { clock, seen } = set(1000, 10);
    for (let i = 0; i < 500; i++) seen.add(`k${i}`);
    clock.t += 10;
    expect(seen.has('other')).to.equal(false);
    expect(seen.size).to.equal(0);
  });

  it('a key added again gets a new expiry', () => {
    const { clock, seen } = set(10, 100);
    seen.add('a');
    clock.t += 60;
    seen.add('a');
    clock.t += 60;
    expect(seen.has('a')).to.equal(true);
    expect(seen.size).to.equal(1);
  });

  it('keys are digests: ids of any length cost the same, and different ids never collide by truncation', () => {
    const { seen } = set();
    const long = 'x'.repeat(100_000);
    seen.add(long);
    expect(seen.has(long)).to.equal(true);
    expect(seen.has(long + 'y')).to.equal(false);
    expect(seen.has(long.slice(1))).to.equal(false);
  });

  it('memory and time stay bounded under a flood of distinct ids (400,000 adds into 100,000 entries)', () => {
    const gc = collector();
    const { clock, seen } = set(100_000);
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    const started = process.hrtime.bigint();
    for (let i = 0; i < 400_000; i++) {
      seen.add(`flood-${i}-${'z'.repeat(200)}`);
      if (i % 1000 === 0) clock.t += 1;
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    expect(seen.size).to.equal(100_000);
    expect(seen.has('flood-399999-' + 'z'.repeat(200))).to.equal(true);
    expect(seen.has('flood-299999-' + 'z'.repeat(200))).to.equal(false, 'evicted: the oldest go first');
    gc();
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // An entry holds a 44-character digest, its expiry, a ring slot and a Map slot: about 180 bytes measured; 400 is the bound.
    expect(grown / 100_000, `bytes per entry (${grown} in all)`).to.be.below(400);
    expect(seen.size, 'the set is alive while measured').to.equal(100_000);
    // O(1) per call: a few microseconds each (a SHA-256 of the key included), not a walk over the set.
    expect(seconds / 400_000, `seconds per add (${seconds.toFixed(2)} s in all)`).to.be.below(50e-6);
  }).timeout(30_000);

  it('refuses a configuration that would remember nothing or everything', () => {
    expect(() => new RecentDeliveries({ ttlMs: 0, maxEntries: 10, now: Date.now })).to.throw();
    expect(() => new RecentDeliveries({ ttlMs: 10, maxEntries: 0, now: Date.now })).to.throw();
  });
});
