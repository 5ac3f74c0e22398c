import { expect } from 'chai';
import { Expectations, type CacheLookup } from './expectations.js';

function cache(entries: Record<string, string>): CacheLookup {
  return (kind, ns, name) => entries[`${kind}/${ns}/${name}`] ?? null;
}

describe('Expectations', () => {
  it('waits for a create until the cache holds the object', () => {
    const e = new Expectations();
    e.expect('l', 'Secret', 'ns', 'gfl-a', undefined, false, 0);
    expect(e.satisfied('l', cache({}), 1)).to.equal(false);
    expect(e.satisfied('l', cache({ 'Secret/ns/gfl-a': '7' }), 2)).to.equal(true);
    expect(e.pending('l')).to.equal(0);
  });

  it('waits for a patch until the cached resourceVersion moved past the one before the write', () => {
    const e = new Expectations();
    e.expect('l', 'Receiver', 'ns', 'gfl-a', '5', false, 0);
    expect(e.satisfied('l', cache({ 'Receiver/ns/gfl-a': '5' }), 1)).to.equal(false);
    expect(e.satisfied('l', cache({ 'Receiver/ns/gfl-a': '9' }), 2)).to.equal(true);
  });

  it('waits for a delete until the object left the cache (or was re-created)', () => {
    const e = new Expectations();
    e.expect('l', 'Secret', 'ns', 'gfl-a', '5', true, 0);
    expect(e.satisfied('l', cache({ 'Secret/ns/gfl-a': '5' }), 1)).to.equal(false);
    expect(e.satisfied('l', cache({}), 2)).to.equal(true);
    e.expect('l', 'Secret', 'ns', 'gfl-b', '5', true, 0);
    expect(e.satisfied('l', cache({ 'Secret/ns/gfl-b': '8' }), 3)).to.equal(true);
  });

  it('forgets an expectation never met after the TTL (a missed event must not block the link)', () => {
    const e = new Expectations(1_000);
    e.expect('l', 'Secret', 'ns', 'gfl-a', undefined, false, 0);
    expect(e.satisfied('l', cache({}), 1_000)).to.equal(false);
    expect(e.satisfied('l', cache({}), 1_001)).to.equal(true);
  });

  it('keeps links apart, and forget() drops a link', () => {
    const e = new Expectations();
    e.expect('a', 'Secret', 'ns', 'x', undefined, false, 0);
    expect(e.satisfied('b', cache({}), 1)).to.equal(true);
    expect(e.satisfied('a', cache({}), 1)).to.equal(false);
    e.forget('a');
    expect(e.satisfied('a', cache({}), 1)).to.equal(true);
  });
});
