import { expect } from 'chai';
import fc from 'fast-check';
import { compilePatterns, PROJECT_PATTERN_REGEX, validatePattern } from './project-patterns.js';

describe('project-patterns: matching', () => {
  const cases: Array<[string, string[], string, boolean]> = [
    ['an exact pattern matches its project', ['group/project'], 'group/project', true],
    ['an exact pattern ignores case on both sides', ['Group/Project'], 'GROUP/project', true],
    ['an exact pattern does not match a sibling', ['group/project'], 'group/other', false],
    ['an exact pattern does not match a deeper project', ['group/project'], 'group/project/sub', false],
    ['group/* matches a direct child', ['group/*'], 'group/app', true],
    ['group/* does not match a project in a subgroup', ['group/*'], 'group/sub/app', false],
    ['group/** matches a direct child', ['group/**'], 'group/app', true],
    ['group/** matches a project in a nested subgroup', ['group/**'], 'group/a/b/app', true],
    ['group/** does not match the group itself', ['group/**'], 'group', false],
    ['group/** does not match a group sharing its prefix', ['group/**'], 'groupie/app', false],
    ['a/**/b matches with zero segments in between', ['a/**/b'], 'a/b', true],
    ['a/**/b matches with several segments in between', ['a/**/b'], 'a/x/y/b', true],
    ['a/**/b does not match when the last segment differs', ['a/**/b'], 'a/x/c', false],
    ['**/deploy matches a project named deploy anywhere', ['**/deploy'], 'team/infra/deploy', true],
    ['** alone matches every project', ['**'], 'any/group/project', true],
    ['a star inside a segment matches a prefix', ['infra/app-*'], 'infra/app-frontend', true],
    ['a star inside a segment matches the empty string', ['infra/app-*'], 'infra/app-', true],
    ['a star never crosses a slash', ['infra/app-*'], 'infra/app-x/y', false],
    ['several stars in one segment match in order', ['g/*-svc-*'], 'g/payments-svc-eu', true],
    ['several stars in one segment reject the wrong order', ['g/*-svc-*'], 'g/payments-eu', false],
    ['repeated ** act as one', ['a/**/**/b'], 'a/b', true],
    ['trailing ** after ** still needs one segment', ['a/**/**'], 'a', false],
    ['any of several patterns may match', ['x/*', 'group/**'], 'group/sub/app', true],
    ['no pattern at all matches nothing', [], 'group/project', false],
    ['a path with an empty segment never matches', ['**'], 'group//project', false],
    ['dots and underscores are literal, not wildcards', ['g/my.app_1'], 'g/myxapp_1', false],
  ];
  for (const [story, patterns, path, want] of cases) {
    it(story, () => {
      expect(compilePatterns(patterns).matches(path)).to.equal(want);
    });
  }

  it('a long segment against a many-star pattern answers at once (no catastrophic backtracking)', () => {
    const m = compilePatterns(['**/*a*a*a*a*a*a*a*a*b/**/*a*a*a*b']);
    const start = process.hrtime.bigint();
    expect(m.matches(`${'a'.repeat(200)}/${'a'.repeat(200)}/${'a'.repeat(200)}`)).to.equal(false);
    expect(Number(process.hrtime.bigint() - start) / 1e6).to.be.below(500);
  });

  it('compilePatterns names the bad pattern and the reason', () => {
    expect(() => compilePatterns(['ok/*', 'bad//x'])).to.throw(Error, /"bad\/\/x" has an empty segment/);
  });

  it('the matcher keeps the patterns it was built from', () => {
    expect(compilePatterns(['a/*', 'b/**']).patterns).to.deep.equal(['a/*', 'b/**']);
  });
});

describe('project-patterns: validation and the CRD regex agree', () => {
  const re = new RegExp(PROJECT_PATTERN_REGEX);
  const cases: Array<[string, string, RegExp | undefined]> = [
    ['a plain project path is valid', 'group/project', undefined],
    ['upper case, digits and _.- are valid', 'Team_1/my-app.v2', undefined],
    ['a lone * segment is valid', 'group/*', undefined],
    ['a ** segment is valid', 'group/**', undefined],
    ['** alone is valid', '**', undefined],
    ['a leading * in a segment is valid', '*-svc', undefined],
    ['stars separated by literals are valid', 'a*b*c/*x*', undefined],
    ['repeated ** segments are valid', 'a/**/**/b', undefined],
    ['an empty pattern is invalid', '', /pattern is empty/],
    ['a leading slash is invalid', '/group/*', /must not start with "\/"/],
    ['a trailing slash is invalid', 'group/', /must not end with "\/"/],
    ['a lone slash is invalid', '/', /must not start with "\/"/],
    ['an empty segment is invalid', 'group//project', /empty segment/],
    ['*** is invalid', 'group/***', /contains "\*\*\*"/],
    ['** glued to letters is invalid', 'group/**x', /"\*\*" must be a whole segment/],
    ['** after letters is invalid', 'group/x**', /"\*\*" must be a whole segment/],
    ['** between letters is invalid', 'a**b', /"\*\*" must be a whole segment/],
    ['a space is invalid', 'my group/*', /contains " "/],
    ['a question mark is invalid', 'group/app?', /contains "\?"/],
    ['a character class is invalid', 'group/[ab]', /contains "\["/],
    ['a backslash is invalid', 'group\\app', /contains "\\\\"/],
    ['non-ASCII letters are invalid', 'grüppe/app', /contains "ü"/],
  ];
  for (const [story, pattern, message] of cases) {
    it(story, () => {
      const err = validatePattern(pattern);
      if (message === undefined) expect(err).to.equal(undefined);
      else expect(err).to.match(message);
      expect(re.test(pattern), 'CRD regex').to.equal(err === undefined);
    });
  }

  it('the CRD regex uses no syntax RE2 lacks (lookaround, backreferences)', () => {
    expect(PROJECT_PATTERN_REGEX).to.not.match(/\(\?[=!<]|\\[1-9]|\\k</);
    expect(PROJECT_PATTERN_REGEX.startsWith('^')).to.equal(true);
    expect(PROJECT_PATTERN_REGEX.endsWith('$')).to.equal(true);
  });

  it('property: the CRD regex and validatePattern agree on random strings over ab*/._-', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'ab*/._-'), minLength: 0, maxLength: 12 }), (s) => {
        expect(re.test(s), JSON.stringify(s)).to.equal(validatePattern(s) === undefined);
      }),
      { numRuns: 5000 },
    );
  });
});
