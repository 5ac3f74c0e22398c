import { expect } from 'chai';
import fc from 'fast-check';
import { linkSelector, objectName } from './names.js';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A valid DNS-subdomain name of exactly `n` characters (labels of `a`, joined by dots every 60). */
function nameOfLength(n: number, fill = 'a'): string {
  let s = '';
  while (s.length < n) s += s.length % 61 === 60 ? '.' : fill;
  return s.replace(/\.$/, fill);
}

/** Arbitrary valid GitRepository names (DNS-1123 subdomains) up to `max` characters. */
const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
const validName = (max: number) =>
  fc
    .array(label, { minLength: 1, maxLength: 12 })
    .map((ls) => ls.join('.'))
    .filter((s) => s.length <= max);

describe('names', () => {
  describe('objectName', () => {
    const cases: Array<[string, string, string]> = [
      ['a short name gains the gfl- prefix', 'app', 'gfl-app'],
      ['dots and dashes are kept as they are', 'team-a.app-1', 'gfl-team-a.app-1'],
      ['a name that fits exactly with the prefix (249 chars) is not hashed', nameOfLength(249), 'gfl-' + nameOfLength(249)],
    ];
    for (const [story, input, want] of cases) {
      it(story, () => expect(objectName(input)).to.equal(want));
    }

    it('is injective for every name that fits (prefix only)', () => {
      fc.assert(
        fc.property(validName(249), validName(249), (a, b) => {
          if (a !== b) expect(objectName(a)).not.to.equal(objectName(b));
        }),
      );
    });

    for (const len of [250, 251, 253]) {
      it(`hashes a ${len}-character name into at most 253 characters`, () => {
        const got = objectName(nameOfLength(len));
        expect(got.length).to.be.at.most(253);
        expect(got).to.match(/^gfh-/, 'hashed names have a prefix of their own');
        expect(got).to.match(/-[0-9a-f]{16}$/);
        expect(got).to.match(DNS_SUBDOMAIN);
      });
    }

    for (const sep of ['-', '.', '--']) {
      it(`keeps a hashed name valid when the cut lands on ${JSON.stringify(sep)}`, () => {
        // The kept part is `gfh-` + the first 232 characters of the name; end those with `sep`.
        const name = 'a'.repeat(232 - sep.length) + sep + 'b'.repeat(20);
        const got = objectName(name);
        expect(got.length).to.be.at.most(253);
        expect(got).to.match(DNS_SUBDOMAIN);
        expect(got).to.equal(`gfh-${'a'.repeat(232 - sep.length)}-${got.slice(-16)}`);
      });
    }

    it('is stable: the same name always gives the same object name', () => {
      const long = nameOfLength(253);
      expect(objectName(long)).to.equal(objectName(long));
      expect(objectName('app')).to.equal(objectName('app'));
    });

    it('tells apart long names that differ only after the cut', () => {
      const base = nameOfLength(250);
      const a = base.slice(0, -1) + 'x';
      const b = base.slice(0, -1) + 'y';
      expect(objectName(a).slice(0, 236)).to.equal(objectName(b).slice(0, 236));
      expect(objectName(a)).not.to.equal(objectName(b));
    });

    it('gives a 249-character name spelled like the hashed form of a long name a different object name', () => {
      // Were plain and hashed names to share a prefix, a GitRepository could be named exactly like the hashed
      // form of another one's long name; both would map to one Secret/Receiver and fight over it.
      const long = nameOfLength(253);
      const mimic = objectName(long).slice('gfh-'.length);
      expect(mimic.length).to.be.at.most(249);
      expect(objectName(mimic)).not.to.equal(objectName(long));
    });
  });

  it('linkSelector selects the objects of one link made by this operator', () => {
    expect(linkSelector('team-a')).to.equal('app.kubernetes.io/managed-by=gitlab-flux-link,fluxlink.dev/link=team-a');
  });
});
