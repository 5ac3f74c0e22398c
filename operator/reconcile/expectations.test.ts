import { expect } from 'chai';
import { type CacheLookup, Expectations } from './expectations.js';

function cache(entries: Record<string, string>): CacheLookup {
  return (kind, ns, name) => entries[`${kind}/${ns}/${name}`] ?? null;
}

describe('Expectations', () => {
  it('waits for a create until the cache holds the object', () => {
    const e = new Expectations();
    e.expect('l', 'Secret', 'ns', 'gfl-a', { before: undefined, after: '7', deleted: false }, 0);
    expect(e.satisfied('l', cache({}), 1)).to.equal(false);
    expect(e.satisfied('l', cache({ 'Secret/ns/gfl-a': '7' }), 2)).to.equal(true);
    expect(e.pending('l')).to.equal(0);
  });

  it('waits for a patch until the cached resourceVersion moved past the one before the write', () => {
    const e = new Expectations();
    e.expect('l', 'Receiver', 'ns', 'gfl-a', { before: '5', after: '9', deleted: false }, 0);
    expect(e.satisfied('l', cache({ 'Receiver/ns/gfl-a': '5' }), 1)).to.equal(false);
    expect(e.satisfied('l', cache({ 'Receiver/ns/gfl-a': '9' }), 2)).to.equal(true);
  });

  it('is met at once by a patch that changed nothing (the API server answers the same resourceVersion)', () => {
    const e = new Expectations();
    e.expect('l', 'Receiver', 'ns', 'gfl-a', { before: '5', after: '5', deleted: false }, 0);
    expect(e.satisfied('l', cache({ 'Receiver/ns/gfl-a': '5' }), 1)).to.equal(true);
  });

  it('is met when a patched object has since left the cache (deleted after our patch, e.g. by a finalizer)', () => {
    const e = new Expectations();
    e.expect('l', 'Receiver', 'ns', 'gfl-a', { before: '5', after: '9', deleted: false }, 0);
    expect(e.satisfied('l', cache({}), 1)).to.equal(true);
  });

  it('waits for a delete until the object left the cache (or was re-created)', () => {
    const e = new Expectations();
    e.expect('l', 'Secret', 'ns', 'gfl-a', { before: '5', after: undefined, deleted: true }, 0);
    expect(e.satisfied('l', cache({ 'Secret/ns/gfl-a': '5' }), 1)).to.equal(false);
    expect(e.satisfied('l', cache({}), 2)).to.equal(true);
    e.expect('l', 'Secret', 'ns', 'gfl-b', { before: '5', after: undefined, deleted: true }, 0);
    expect(e.satisfied('l', cache({ 'Secret/ns/gfl-b': '8' }), 3)).to.equal(true);
  });

  it('forgets an expectation never met after the TTL (a missed event must not block the link)', () => {
    const e = new Expectations(1_000);
    e.expect('l', 'Secret', 'ns', 'gfl-a', { before: undefined, after: '7', deleted: false }, 0);
    expect(e.satisfied('l', cache({}), 1_000)).to.equal(false);
    expect(e.satisfied('l', cache({}), 1_001)).to.equal(true);
  });

  it('keeps links apart, and forget() drops a link', () => {
    const e = new Expectations();
    e.expect('a', 'Secret', 'ns', 'x', { before: undefined, after: '3', deleted: false }, 0);
    expect(e.satisfied('b', cache({}), 1)).to.equal(true);
    expect(e.satisfied('a', cache({}), 1)).to.equal(false);
    e.forget('a');
    expect(e.satisfied('a', cache({}), 1)).to.equal(true);
  });
});
