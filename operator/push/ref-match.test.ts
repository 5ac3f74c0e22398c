import { expect } from 'chai';
import type { GitRepositoryRef } from '../flux/types.js';
import { shouldTrigger } from './ref-match.js';

const push = (ref: string, deleted = false) => ({ ref, deleted });

describe('ref-match: shouldTrigger', () => {
  const cases: Array<[string, GitRepositoryRef | undefined, { ref: string; deleted: boolean }, boolean]> = [
    // Default ref.
    ['no spec.ref tracks master, so a push to master triggers', undefined, push('refs/heads/master'), true],
    ['no spec.ref tracks master, so a push to main does not', undefined, push('refs/heads/main'), false],
    ['an empty spec.ref also means master', {}, push('refs/heads/master'), true],
    ['an empty branch string also means master', { branch: '' }, push('refs/heads/master'), true],
    ['no spec.ref ignores tag pushes', undefined, push('refs/tags/v1.0.0'), false],
    // Branch.
    ['a branch triggers on a push to that branch', { branch: 'main' }, push('refs/heads/main'), true],
    ['a branch ignores pushes to other branches', { branch: 'main' }, push('refs/heads/feature'), false],
    ['a branch compares case-sensitively like git', { branch: 'main' }, push('refs/heads/Main'), false],
    ['a branch with slashes matches its full ref', { branch: 'release/1.x' }, push('refs/heads/release/1.x'), true],
    ['a branch ignores a tag of the same name', { branch: 'main' }, push('refs/tags/main'), false],
    ['deleting the tracked branch does not trigger', { branch: 'main' }, push('refs/heads/main', true), false],
    // Tag.
    ['a tag triggers on a push of that tag', { tag: 'v1.2.0' }, push('refs/tags/v1.2.0'), true],
    ['a tag ignores other tags', { tag: 'v1.2.0' }, push('refs/tags/v1.2.1'), false],
    ['a tag ignores a branch of the same name', { tag: 'v1.2.0' }, push('refs/heads/v1.2.0'), false],
    ['a tag wins over a branch set alongside it', { branch: 'main', tag: 'v1.2.0' }, push('refs/heads/main'), false],
    ['deleting the tracked tag does not trigger', { tag: 'v1.2.0' }, push('refs/tags/v1.2.0', true), false],
    // SemVer.
    ['semver triggers on any tag push without evaluating the range', { semver: '>=1.0.0 <2.0.0' }, push('refs/tags/v3.0.0'), true],
    ['semver triggers on a non-version tag too', { semver: '1.x' }, push('refs/tags/nightly'), true],
    ['semver ignores branch pushes', { semver: '1.x' }, push('refs/heads/main'), false],
    ['semver wins over tag', { tag: 'v1.0.0', semver: '1.x' }, push('refs/tags/v1.5.0'), true],
    ['semver wins over branch', { branch: 'main', semver: '1.x' }, push('refs/heads/main'), false],
    ['deleting a tag does not trigger semver', { semver: '1.x' }, push('refs/tags/v1.9.0', true), false],
    // Name.
    ['a branch name ref triggers on exactly that ref', { name: 'refs/heads/main' }, push('refs/heads/main'), true],
    ['a branch name ref ignores other branches', { name: 'refs/heads/main' }, push('refs/heads/dev'), false],
    ['a tag name ref triggers on exactly that tag', { name: 'refs/tags/v1' }, push('refs/tags/v1'), true],
    ['a tag name ref ignores other tags', { name: 'refs/tags/v1' }, push('refs/tags/v2'), false],
    [
      'a merge-request name ref is ambiguous, so any push triggers',
      { name: 'refs/merge-requests/1/head' },
      push('refs/heads/feature'),
      true,
    ],
    ['a pull name ref is ambiguous, so a tag push triggers', { name: 'refs/pull/420/head' }, push('refs/tags/v1'), true],
    [
      'name wins over semver, tag and branch',
      { branch: 'main', tag: 'v1', semver: '1.x', name: 'refs/heads/dev' },
      push('refs/heads/main'),
      false,
    ],
    ['name wins over branch when it is the pushed one', { branch: 'main', name: 'refs/heads/dev' }, push('refs/heads/dev'), true],
    ['deleting an ambiguous name ref does not trigger', { name: 'refs/merge-requests/1/head' }, push('refs/heads/x', true), false],
    // Commit.
    ['a commit pin is ambiguous, so a branch push triggers', { commit: 'a'.repeat(40) }, push('refs/heads/anything'), true],
    ['a commit pin is ambiguous, so a tag push triggers', { commit: 'a'.repeat(40) }, push('refs/tags/v9'), true],
    ['commit wins over name', { name: 'refs/heads/main', commit: 'a'.repeat(40) }, push('refs/heads/other'), true],
    ['commit with branch still triggers on another branch', { branch: 'main', commit: 'a'.repeat(40) }, push('refs/heads/dev'), true],
    ['deleting a ref does not trigger a commit pin', { commit: 'a'.repeat(40) }, push('refs/heads/main', true), false],
    // Push refs we cannot classify.
    ['an unknown pushed ref shape triggers even for a branch', { branch: 'main' }, push('refs/merge-requests/7/head'), true],
    ['a bare refs/heads/ with no name is unknown, so it triggers', { branch: 'main' }, push('refs/heads/'), true],
    ['a deleted unknown ref does not trigger', { branch: 'main' }, push('refs/keep-around/abc', true), false],
  ];
  for (const [story, ref, pushed, want] of cases) {
    it(story, () => {
      expect(shouldTrigger(ref, pushed)).to.equal(want);
    });
  }
});
