import { expect } from 'chai';
import {
  behind,
  catchUpNotable,
  catchUpRequestCap,
  chooseQueries,
  parseRevision,
  planCatchUp,
  semverBehind,
  tagFingerprint,
  trackingOf,
} from './catch-up.js';
import { durationMs } from '../api/v1alpha1/validation.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const S256 = 'c'.repeat(64);

describe('catch-up decisions', () => {
  describe('trackingOf', () => {
    it('asks for the branch head, master when nothing is set', () => {
      expect(trackingOf(undefined)).to.deep.equal({ kind: 'ask', query: { kind: 'branch', name: 'master' } });
      expect(trackingOf({ branch: '' })).to.deep.equal({ kind: 'ask', query: { kind: 'branch', name: 'master' } });
      expect(trackingOf({ branch: 'feature/x' })).to.deep.equal({ kind: 'ask', query: { kind: 'branch', name: 'feature/x' } });
    });
    it("asks for a tag's commit; tag wins over branch", () => {
      expect(trackingOf({ branch: 'main', tag: 'v1.0.0' })).to.deep.equal({ kind: 'ask', query: { kind: 'tag', name: 'v1.0.0' } });
    });
    it('asks for the newest tag for semver (semver wins over tag)', () => {
      expect(trackingOf({ tag: 'v1.0.0', semver: '>=1.0.0' })).to.deep.equal({ kind: 'ask', query: { kind: 'newest-tag' } });
    });
    it('parses refs/heads and refs/tags names; other names are opaque; name wins over semver', () => {
      expect(trackingOf({ name: 'refs/heads/release/1', semver: '*' })).to.deep.equal({
        kind: 'ask',
        query: { kind: 'branch', name: 'release/1' },
      });
      expect(trackingOf({ name: 'refs/tags/v2' })).to.deep.equal({ kind: 'ask', query: { kind: 'tag', name: 'v2' } });
      expect(trackingOf({ name: 'refs/merge-requests/1/head' })).to.deep.equal({ kind: 'opaque' });
      expect(trackingOf({ name: 'refs/heads/' })).to.deep.equal({ kind: 'opaque' });
      expect(trackingOf({ name: 'main' })).to.deep.equal({ kind: 'opaque' });
    });
    it('a commit is pinned: it wins over every other field', () => {
      expect(trackingOf({ commit: A, branch: 'main', name: 'refs/heads/main' })).to.deep.equal({ kind: 'pinned' });
    });
  });

  describe('parseRevision', () => {
    it('reads <ref>@sha1:<hex> and lower-cases the hash', () => {
      expect(parseRevision(`main@sha1:${A.toUpperCase()}`)).to.deep.equal({ ref: 'main', algorithm: 'sha1', hash: A });
      expect(parseRevision(`refs/heads/main@sha1:${A}`)).to.deep.equal({ ref: 'refs/heads/main', algorithm: 'sha1', hash: A });
      expect(parseRevision(`v1.2.3@sha1:${A}`)).to.deep.equal({ ref: 'v1.2.3', algorithm: 'sha1', hash: A });
    });
    it('keeps an @ inside the ref (the last one separates)', () => {
      expect(parseRevision(`we@ird@sha1:${A}`)).to.deep.equal({ ref: 'we@ird', algorithm: 'sha1', hash: A });
    });
    it('reads sha256 repositories and a pinned commit without ref', () => {
      expect(parseRevision(`main@sha256:${S256}`)).to.deep.equal({ ref: 'main', algorithm: 'sha256', hash: S256 });
      expect(parseRevision(`sha1:${A}`)).to.deep.equal({ algorithm: 'sha1', hash: A });
    });
    it('reads the older <ref>/<hex> form and a bare hash', () => {
      expect(parseRevision(`main/${A}`)).to.deep.equal({ ref: 'main', algorithm: 'sha1', hash: A });
      expect(parseRevision(`feature/x/${A}`)).to.deep.equal({ ref: 'feature/x', algorithm: 'sha1', hash: A });
      expect(parseRevision(`HEAD/${A}`)).to.deep.equal({ algorithm: 'sha1', hash: A });
      expect(parseRevision(A)).to.deep.equal({ algorithm: 'sha1', hash: A });
    });
    it('refuses odd revisions: missing, empty, wrong length for the algorithm, not hex', () => {
      for (const odd of [
        undefined,
        '',
        'main',
        'main@sha1:',
        `main@sha1:${S256}`,
        `main@sha256:${A}`,
        `main@md5:${A}`,
        'main/xyz',
        `main@sha1:${'g'.repeat(40)}`,
      ])
        expect(parseRevision(odd), String(odd)).to.equal(undefined);
    });
  });

  describe('behind', () => {
    it('is behind when the head differs, not when it is the same commit (any case)', () => {
      expect(behind(B, parseRevision(`main@sha1:${A}`))).to.equal(true);
      expect(behind(A.toUpperCase(), parseRevision(`main@sha1:${A}`))).to.equal(false);
    });
    it('a missing artifact counts as behind', () => {
      expect(behind(A, undefined)).to.equal(true);
    });
  });

  describe('semverBehind', () => {
    const newest = { name: 'v1.1.0', commit: B };
    it('not behind when the artifact is the newest tag', () => {
      expect(semverBehind(newest, parseRevision(`v1.1.0@sha1:${B}`), undefined)).to.equal(false);
    });
    it('behind when the newest tag is another one, once: not again after it was seen', () => {
      expect(semverBehind(newest, parseRevision(`v1.0.0@sha1:${A}`), undefined)).to.equal(true);
      expect(semverBehind(newest, parseRevision(`v1.0.0@sha1:${A}`), tagFingerprint(newest))).to.equal(false);
    });
    it('a moved tag is news again', () => {
      expect(semverBehind({ name: 'v1.1.0', commit: A }, parseRevision(`v1.1.0@sha1:${B}`), tagFingerprint(newest))).to.equal(true);
    });
    it('no tags: never behind; no artifact: behind', () => {
      expect(semverBehind(undefined, undefined, undefined)).to.equal(false);
      expect(semverBehind(newest, undefined, undefined)).to.equal(true);
    });
  });

  describe('planCatchUp', () => {
    const repo = (name: string, project: string, ref?: Record<string, string>) => ({
      namespace: 'ns',
      name,
      project,
      ref,
      revision: undefined,
    });
    it('one request per project + ref; pinned and opaque apart', () => {
      const plan = planCatchUp([
        repo('a', 'g/app', { branch: 'main' }),
        repo('b', 'G/App', { name: 'refs/heads/main' }),
        repo('c', 'g/app', { branch: 'dev' }),
        repo('d', 'g/app', { tag: 'main' }),
        repo('e', 'g/app', { semver: '1.x' }),
        repo('f', 'g/app', { semver: '2.x' }),
        repo('g', 'g/app', { commit: A }),
        repo('h', 'g/app', { name: 'refs/merge-requests/3/head' }),
      ]);
      expect(plan.queries.map((q) => [q.project, q.query, q.repositories.map((r) => r.name)])).to.deep.equal([
        ['g/app', { kind: 'branch', name: 'dev' }, ['c']],
        ['g/app', { kind: 'branch', name: 'main' }, ['a', 'b']],
        ['g/app', { kind: 'newest-tag' }, ['e', 'f']],
        ['g/app', { kind: 'tag', name: 'main' }, ['d']],
      ]);
      expect(plan.pinned.map((r) => r.name)).to.deep.equal(['g']);
      expect(plan.opaque.map((r) => r.name)).to.deep.equal(['h']);
    });
  });

  describe('the budget', () => {
    it('a catch-up spends at most half the budget over its interval (at least a minute, at least one request)', () => {
      expect(catchUpRequestCap(300, 5 * 60_000)).to.equal(750);
      expect(catchUpRequestCap(300, 5_000)).to.equal(150);
      expect(catchUpRequestCap(1, 60_000)).to.equal(1);
    });
    it('rotates through the queries when there are more than the cap, covering all in turn', () => {
      const qs = [1, 2, 3, 4, 5];
      expect(chooseQueries(qs, 10, 3)).to.deep.equal({ chosen: qs, next: 0 });
      const first = chooseQueries(qs, 2, 0);
      const second = chooseQueries(qs, 2, first.next);
      const third = chooseQueries(qs, 2, second.next);
      expect([first.chosen, second.chosen, third.chosen]).to.deep.equal([
        [1, 2],
        [3, 4],
        [5, 1],
      ]);
      expect(chooseQueries(qs, 2, 42).chosen).to.deep.equal([3, 4]);
    });
  });

  describe('catchUpNotable', () => {
    it('an Event for catch-ups after a possible miss, and for sweeps of links with webhooks; never for nothing', () => {
      expect(catchUpNotable('leader', 1, false)).to.equal(true);
      expect(catchUpNotable('hook-trouble', 2, true)).to.equal(true);
      expect(catchUpNotable('sweep', 1, false)).to.equal(true);
      expect(catchUpNotable('sweep', 1, true)).to.equal(false);
      expect(catchUpNotable('start', 0, false)).to.equal(false);
    });
  });

  describe('durationMs', () => {
    it('reads Go durations; refuses anything else', () => {
      expect(durationMs('5m')).to.equal(300_000);
      expect(durationMs('1h30m')).to.equal(5_400_000);
      expect(durationMs('1.5s')).to.equal(1500);
      expect(durationMs('250ms')).to.equal(250);
      for (const bad of ['', '5', 'm', '5m x', '-5m', '5d']) expect(durationMs(bad), bad).to.equal(undefined);
    });
  });
});
