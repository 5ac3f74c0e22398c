import { expect } from 'chai';
import fc from 'fast-check';
import { sameValue } from './same-value.js';

describe('sameValue', () => {
  it('ignores key order and fields set to undefined', () => {
    expect(sameValue({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).to.equal(true);
    expect(sameValue({ a: 1, b: undefined }, { a: 1 })).to.equal(true);
    expect(sameValue({ a: 1 }, { a: 1, b: undefined })).to.equal(true);
  });

  it('tells apart values, array order, missing fields, null, arrays and objects', () => {
    expect(sameValue({ a: 1 }, { a: 2 })).to.equal(false);
    expect(sameValue([1, 2], [2, 1])).to.equal(false);
    expect(sameValue({ a: 1 }, { a: 1, b: 2 })).to.equal(false);
    expect(sameValue({ a: 1, c: undefined }, { a: 1, b: 2 })).to.equal(false);
    expect(sameValue({ a: null }, { a: undefined })).to.equal(false);
    expect(sameValue([], {})).to.equal(false);
    expect(sameValue({ 0: 'x' }, ['x'])).to.equal(false);
    expect(sameValue(undefined, null)).to.equal(false);
    expect(sameValue('1', 1)).to.equal(false);
  });

  it('agrees with comparing JSON serialisations with sorted keys, on random JSON values', () => {
    const sorted = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(sorted)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.keys(v)
                .sort()
                .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
            )
          : v;
    const json = (v: unknown) => JSON.stringify(sorted(JSON.parse(JSON.stringify(v))));
    const value = fc.jsonValue({ maxDepth: 3 });
    fc.assert(fc.property(value, value, (a, b) => sameValue(a, b) === (json(a) === json(b))));
    fc.assert(fc.property(value, (a) => sameValue(a, JSON.parse(JSON.stringify(a)))));
  });
});
