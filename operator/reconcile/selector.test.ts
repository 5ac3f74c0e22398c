import { expect } from 'chai';
import type { LabelSelector } from '../api/v1alpha1/types.js';
import { selectorMatches } from './selector.js';

describe('selectorMatches', () => {
  const team = { team: 'a', env: 'prod' };
  const cases: Array<[string, LabelSelector | undefined, Record<string, string> | undefined, boolean]> = [
    ['an absent selector selects every namespace', undefined, team, true],
    ['an empty selector selects every namespace', {}, team, true],
    ['an empty selector selects a namespace without labels', {}, undefined, true],
    ['empty matchLabels and matchExpressions select everything', { matchLabels: {}, matchExpressions: [] }, {}, true],
    ['matchLabels selects a namespace carrying the label', { matchLabels: { team: 'a' } }, team, true],
    ['matchLabels refuses another value', { matchLabels: { team: 'b' } }, team, false],
    ['matchLabels refuses a namespace without the label', { matchLabels: { team: 'a' } }, {}, false],
    ['matchLabels needs every label', { matchLabels: { team: 'a', env: 'dev' } }, team, false],
    ['In selects a listed value', { matchExpressions: [{ key: 'env', operator: 'In', values: ['dev', 'prod'] }] }, team, true],
    ['In refuses an unlisted value', { matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }] }, team, false],
    ['In refuses a namespace without the key', { matchExpressions: [{ key: 'tier', operator: 'In', values: ['x'] }] }, team, false],
    ['NotIn refuses a listed value', { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['prod'] }] }, team, false],
    ['NotIn selects an unlisted value', { matchExpressions: [{ key: 'env', operator: 'NotIn', values: ['dev'] }] }, team, true],
    [
      'NotIn selects a namespace without the key (Kubernetes semantics)',
      { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['x'] }] },
      team,
      true,
    ],
    [
      'Exists selects a namespace with the key, whatever its value',
      { matchExpressions: [{ key: 'team', operator: 'Exists' }] },
      team,
      true,
    ],
    ['Exists selects an empty value', { matchExpressions: [{ key: 'team', operator: 'Exists' }] }, { team: '' }, true],
    ['Exists refuses a namespace without the key', { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, team, false],
    ['DoesNotExist selects a namespace without the key', { matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, team, true],
    ['DoesNotExist refuses a namespace with the key', { matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, team, false],
    [
      'matchLabels and matchExpressions must both hold',
      { matchLabels: { team: 'a' }, matchExpressions: [{ key: 'env', operator: 'In', values: ['dev'] }] },
      team,
      false,
    ],
    [
      'all expressions must hold',
      {
        matchExpressions: [
          { key: 'team', operator: 'Exists' },
          { key: 'env', operator: 'NotIn', values: ['prod'] },
        ],
      },
      team,
      false,
    ],
    [
      'an unknown operator selects nothing (fail closed)',
      { matchExpressions: [{ key: 'team', operator: 'Gt' as 'In', values: ['1'] }] },
      team,
      false,
    ],
    [
      'a label named like an Object.prototype member is not "present"',
      { matchExpressions: [{ key: 'constructor', operator: 'Exists' }] },
      {},
      false,
    ],
  ];
  for (const [story, selector, labels, want] of cases) {
    it(story, () => expect(selectorMatches(selector, labels)).to.equal(want));
  }
});
