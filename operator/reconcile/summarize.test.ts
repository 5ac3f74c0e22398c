import { expect } from 'chai';
import { Reason } from '../api/v1alpha1/conditions.js';
import type { GitRepository, Receiver } from '../flux/types.js';
import type { Conflict, Refusal } from './claims.js';
import type { ApplyResult, Blocked } from './plan.js';
import { CHANGED_WHILE_WRITTEN, type LinkedRepository, type PassInput, type PassSummary, summarizePass, summary } from './summarize.js';

const linked = (name: string): LinkedRepository => ({ key: `apps/${name}`, project: `g/${name}`, namespace: 'apps', name: `gfl-${name}` });
const readyReceiver = (name: string): Receiver => ({
  metadata: { name, namespace: 'apps', generation: 1 },
  spec: { type: 'generic-hmac', resources: [] },
  status: {
    webhookPath: '/hook/' + 'ab'.repeat(32),
    observedGeneration: 1,
    conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded' }],
  },
});
const conflict = (name: string, owner: string): Conflict => ({
  repo: { metadata: { name, namespace: 'apps' }, spec: { url: '' } } as GitRepository,
  project: `g/${name}`,
  owner,
});
const REFUSED = 'not linked: namespace apps may link only the projects of spec.trust.namespaceProjects[0] ([0] team-a/**)';
const refusal = (name: string): Refusal => ({
  repo: { metadata: { name, namespace: 'apps' }, spec: { url: '' } } as GitRepository,
  project: `team-b/${name}`,
  message: REFUSED,
});
const applied = (over: Partial<ApplyResult> = {}): ApplyResult => ({
  written: 0,
  superseded: new Set(),
  failures: [],
  foreign: new Map(),
  ...over,
});
const TAKEN = 'Secret apps/gfl-b exists and is not managed by gitlab-flux-link; rename or delete it';

interface Case {
  story: string;
  input: Omit<PassInput, 'receiver'> & { readyReceivers: string[] };
  want: Partial<Omit<PassSummary, 'entries'>> & { entries?: Array<[string, boolean, string?]> };
}

const cases: Case[] = [
  {
    story: 'nothing linked: ready, with a zero count',
    input: { linked: [], conflicts: [], refused: [], blocked: [], applied: applied(), readyReceivers: [] },
    want: {
      total: 0,
      ready: 0,
      conflicts: 0,
      blocked: 0,
      verdict: { kind: 'ready', message: '0 repositories linked, 0 receivers ready' },
      entries: [],
    },
  },
  {
    story: 'every Receiver ready: ready',
    input: {
      linked: [linked('a'), linked('b')],
      conflicts: [],
      refused: [],
      blocked: [],
      applied: applied({ written: 2 }),
      readyReceivers: ['gfl-a', 'gfl-b'],
    },
    want: {
      total: 2,
      ready: 2,
      verdict: { kind: 'ready', message: '2 repositories linked, 2 receivers ready' },
      entries: [
        ['apps/a', true],
        ['apps/b', true],
      ],
    },
  },
  {
    story: 'a Receiver not created yet: progressing, the entry says why',
    input: {
      linked: [linked('a'), linked('b')],
      conflicts: [],
      refused: [],
      blocked: [],
      applied: applied({ written: 2 }),
      readyReceivers: ['gfl-a'],
    },
    want: {
      ready: 1,
      verdict: { kind: 'progressing', message: '2 repositories linked, 1 receiver ready' },
      entries: [
        ['apps/a', true],
        ['apps/b', false, 'Receiver not created yet'],
      ],
    },
  },
  {
    story: "the plan's blocked pair: not ready even if its Receiver is, counted as blocked",
    input: {
      linked: [linked('a'), linked('b')],
      conflicts: [],
      refused: [],
      blocked: [{ key: 'apps/b', message: TAKEN }] as Blocked[],
      applied: applied(),
      readyReceivers: ['gfl-a', 'gfl-b'],
    },
    want: {
      ready: 1,
      blocked: 1,
      verdict: {
        kind: 'progressing',
        message: '2 repositories linked, 1 receiver ready; 1 blocked by objects not managed by gitlab-flux-link',
      },
      entries: [
        ['apps/a', true],
        ['apps/b', false, TAKEN],
      ],
    },
  },
  {
    story: 'a write that met a change the cache had not shown: its pair is not ready even if the cached Receiver is',
    input: {
      linked: [linked('a'), linked('b')],
      conflicts: [],
      refused: [],
      blocked: [],
      applied: applied({ written: 1, superseded: new Set(['apps/gfl-b']) }),
      readyReceivers: ['gfl-a', 'gfl-b'],
    },
    want: {
      ready: 1,
      blocked: 0,
      verdict: { kind: 'progressing', message: '2 repositories linked, 1 receiver ready' },
      entries: [
        ['apps/a', true],
        ['apps/b', false, CHANGED_WHILE_WRITTEN],
      ],
    },
  },
  {
    story: 'a name found taken while applying (AlreadyExists, not ours) blocks its repository',
    input: {
      linked: [linked('a'), linked('b')],
      conflicts: [],
      refused: [],
      blocked: [],
      applied: applied({ written: 1, foreign: new Map([['apps/gfl-b', TAKEN]]) }),
      readyReceivers: ['gfl-a'],
    },
    want: {
      ready: 1,
      blocked: 1,
      verdict: {
        kind: 'progressing',
        message: '2 repositories linked, 1 receiver ready; 1 blocked by objects not managed by gitlab-flux-link',
      },
      entries: [
        ['apps/a', true],
        ['apps/b', false, TAKEN],
      ],
    },
  },
  {
    story: 'blocked by the plan and found taken again: counted once',
    input: {
      linked: [linked('b')],
      conflicts: [],
      refused: [],
      blocked: [{ key: 'apps/b', message: TAKEN }],
      applied: applied({ foreign: new Map([['apps/gfl-b', TAKEN]]) }),
      readyReceivers: [],
    },
    want: { blocked: 1, total: 1 },
  },
  {
    story: 'failed writes: failed, naming the first and how many',
    input: {
      linked: [linked('a')],
      conflicts: [],
      refused: [],
      blocked: [],
      applied: applied({ failures: ['create Secret apps/gfl-a: forbidden', 'create Receiver apps/gfl-a: forbidden'] }),
      readyReceivers: [],
    },
    want: {
      verdict: {
        kind: 'failed',
        reason: Reason.ReconciliationFailed,
        message: '2 writes failed, retrying: create Secret apps/gfl-a: forbidden',
      },
    },
  },
  {
    story: 'failures win over blocked and not-ready',
    input: {
      linked: [linked('a'), linked('b')],
      conflicts: [],
      refused: [],
      blocked: [{ key: 'apps/b', message: TAKEN }],
      applied: applied({ failures: ['x'] }),
      readyReceivers: [],
    },
    want: { verdict: { kind: 'failed', reason: Reason.ReconciliationFailed, message: '1 writes failed, retrying: x' } },
  },
  {
    story: 'repositories another link manages are entries, not counted as linked, and do not make the link progressing',
    input: {
      linked: [linked('a')],
      conflicts: [conflict('c', 'older-link')],
      refused: [],
      blocked: [],
      applied: applied(),
      readyReceivers: ['gfl-a'],
    },
    want: {
      total: 1,
      ready: 1,
      conflicts: 1,
      verdict: { kind: 'ready', message: '1 repository linked, 1 receiver ready; 1 managed by another link' },
      entries: [
        ['apps/a', true],
        ['apps/c', false, 'managed by link older-link'],
      ],
    },
  },
  {
    story: 'repositories the namespaceProjects rules refuse are entries saying why, counted apart, and leave the link ready',
    input: { linked: [linked('a')], conflicts: [], refused: [refusal('r')], blocked: [], applied: applied(), readyReceivers: ['gfl-a'] },
    want: {
      total: 1,
      ready: 1,
      conflicts: 0,
      refused: 1,
      verdict: { kind: 'ready', message: '1 repository linked, 1 receiver ready; 1 refused by spec.trust.namespaceProjects' },
      entries: [
        ['apps/a', true],
        ['apps/r', false, REFUSED],
      ],
    },
  },
];

describe('summarize: plan + apply result → entries, counts, verdict', () => {
  for (const c of cases) {
    it(c.story, () => {
      const ready = new Set(c.input.readyReceivers);
      const got = summarizePass({ ...c.input, receiver: (ns, n) => (ns === 'apps' && ready.has(n) ? readyReceiver(n) : undefined) });
      const { entries, ...want } = c.want;
      expect(got).to.deep.include(want);
      if (entries)
        expect(got.entries.map((e) => (e.ready ? [e.gitRepository, true] : [e.gitRepository, false, e.message]))).to.deep.equal(entries);
    });
  }

  it('entries carry the project and Receiver name (empty for a conflict)', () => {
    const got = summarizePass({
      linked: [linked('a')],
      conflicts: [conflict('c', 'x')],
      refused: [],
      blocked: [],
      applied: applied(),
      receiver: () => undefined,
    });
    expect(got.entries.map((e) => [e.project, e.receiver])).to.deep.equal([
      ['g/a', 'gfl-a'],
      ['g/c', ''],
    ]);
  });
});

describe('summarize: summary', () => {
  const cases: Array<[string, [number, number, number, number], string]> = [
    ['singular', [1, 1, 0, 0], '1 repository linked, 1 receiver ready'],
    ['plural', [3, 2, 0, 0], '3 repositories linked, 2 receivers ready'],
    ['conflicts', [0, 0, 1, 0], '0 repositories linked, 0 receivers ready; 1 managed by another link'],
    ['blocked', [2, 1, 0, 1], '2 repositories linked, 1 receiver ready; 1 blocked by objects not managed by gitlab-flux-link'],
  ];
  for (const [story, args, want] of cases) it(story, () => expect(summary(...args)).to.equal(want));
  it('refused', () =>
    expect(summary(1, 1, 0, 0, 2)).to.equal('1 repository linked, 1 receiver ready; 2 refused by spec.trust.namespaceProjects'));
});
