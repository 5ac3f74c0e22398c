import { expect } from 'chai';
import fc from 'fast-check';
import { groupContains } from '../gitlab/hook-parent.js';
import { hookPlaces } from './hook-places.js';

describe('hookPlaces: which hooks carry a link webhook', () => {
  const projects = ['platform/apps/web', 'platform/apps/api', 'platform/infra/dns', 'other/tool'];

  it('without listed groups every project keeps a project hook', () => {
    expect(hookPlaces(projects, undefined, new Set())).to.deep.equal({ groups: [], projects: [...projects].sort() });
    expect(hookPlaces(projects, [], new Set())).to.deep.equal({ groups: [], projects: [...projects].sort() });
  });

  it('one hook on a listed group covers its projects and those of its subgroups; the others keep project hooks', () => {
    expect(hookPlaces(projects, ['platform'], new Set())).to.deep.equal({
      groups: [{ group: 'platform', projects: ['platform/apps/api', 'platform/apps/web', 'platform/infra/dns'] }],
      projects: ['other/tool'],
    });
  });

  it('the topmost usable listed group wins: no hook on a listed group below it (a push would arrive twice)', () => {
    const places = hookPlaces(projects, ['platform/apps', 'platform'], new Set());
    expect(places.groups.map((g) => g.group)).to.deep.equal(['platform']);
  });

  it('a listed group the token cannot own (or the instance lacks) hands its projects to a usable subgroup, else to project hooks', () => {
    expect(hookPlaces(projects, ['platform', 'platform/apps'], new Set(['platform']))).to.deep.equal({
      groups: [{ group: 'platform/apps', projects: ['platform/apps/api', 'platform/apps/web'] }],
      projects: ['other/tool', 'platform/infra/dns'],
    });
    expect(hookPlaces(projects, ['platform'], new Set(['platform']))).to.deep.equal({ groups: [], projects: [...projects].sort() });
  });

  it('a listed group that covers no managed project gets no hook (it would only send pushes nobody follows)', () => {
    expect(hookPlaces(projects, ['platform/empty', 'team'], new Set()).groups).to.deep.equal([]);
  });

  it('matches whole path segments, without case (GitLab paths are case-insensitive)', () => {
    expect(hookPlaces(['platformx/app', 'Platform/App'], ['platform'], new Set())).to.deep.equal({
      groups: [{ group: 'platform', projects: ['Platform/App'] }],
      projects: ['platformx/app'],
    });
    // A group is not its own project: a project path equal to a listed group is not below it.
    expect(hookPlaces(['platform'], ['platform'], new Set()).projects).to.deep.equal(['platform']);
  });

  it('does not depend on the order of the listed groups or projects', () => {
    const a = hookPlaces(projects, ['platform/apps', 'other', 'platform'], new Set());
    const b = hookPlaces([...projects].reverse(), ['platform', 'other', 'platform/apps'], new Set());
    expect(a).to.deep.equal(b);
  });

  it('every project is covered exactly once, never below two chosen groups, never by an unusable one (property)', () => {
    const seg = fc.constantFrom('a', 'b', 'c');
    const path = fc.array(seg, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'));
    fc.assert(
      fc.property(
        fc.array(path, { maxLength: 12 }),
        fc.array(path, { maxLength: 6 }),
        fc.array(path, { maxLength: 3 }),
        (ps, listed, bad) => {
          const unusable = new Set(bad);
          const places = hookPlaces(ps, listed, unusable);
          const covered = places.groups.flatMap((g) => g.projects);
          expect([...covered, ...places.projects].sort()).to.deep.equal([...new Set(ps)].sort());
          for (const g of places.groups) {
            expect(unusable.has(g.group)).to.equal(false);
            expect(listed).to.include(g.group);
            expect(g.projects).to.not.be.empty;
            for (const p of g.projects) expect(groupContains(g.group, p)).to.equal(true);
            for (const other of places.groups) expect(groupContains(other.group, g.group)).to.equal(false);
          }
          for (const p of places.projects) {
            for (const l of listed) if (!unusable.has(l)) expect(groupContains(l, p)).to.equal(false);
          }
        },
      ),
    );
  });
});
