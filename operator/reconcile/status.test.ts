import { expect } from 'chai';
import { Reason } from '../api/v1alpha1/conditions.js';
import type { Condition, GitLabFluxLinkStatus, RepositoryEntry } from '../api/v1alpha1/types.js';
import {
  boundEntries,
  type ConditionState,
  linkControllerUpdate,
  MAX_ENTRIES,
  nextStatus,
  READY_DEPENDS_ON,
  statusChanged,
  type StatusUpdate,
  summarizeReady,
  type Verdict,
  withWebhookSecrets,
} from './status.js';

const T0 = '2024-01-01T00:00:00.000Z';
const T1 = '2024-01-01T01:00:00.000Z';

/** The status after one pass of the link controller alone (the writer adds push records; see link-status-writer.test.ts). */
function computeStatus(input: {
  generation: number;
  previous: GitLabFluxLinkStatus | undefined;
  verdict: Verdict;
  repositories?: StatusUpdate['repositories'];
  now: string;
}): GitLabFluxLinkStatus {
  return nextStatus(
    input.previous,
    [linkControllerUpdate(input.verdict, input.generation, input.repositories)],
    input.generation,
    input.now,
  );
}

const types = (s: GitLabFluxLinkStatus) => (s.conditions ?? []).map((c) => `${c.type}=${c.status}`);
const cond = (s: GitLabFluxLinkStatus, type: string) => s.conditions?.find((c) => c.type === type);

describe('status', () => {
  describe('conditions the Flux way', () => {
    const cases: Array<[string, Verdict, string[], string]> = [
      [
        'ready: Ready=True, from ReceiversReady=True',
        { kind: 'ready', message: 'ok' },
        ['Ready=True', 'ReceiversReady=True'],
        Reason.Succeeded,
      ],
      [
        'progressing: Ready=False and Reconciling=True',
        { kind: 'progressing', message: 'waiting' },
        ['Ready=False', 'Reconciling=True', 'ReceiversReady=False'],
        Reason.Progressing,
      ],
      [
        'failed: Ready=False and Reconciling=True (retrying)',
        { kind: 'failed', reason: Reason.ReconciliationFailed, message: 'x' },
        ['Ready=False', 'Reconciling=True', 'ReceiversReady=False'],
        Reason.ReconciliationFailed,
      ],
      [
        'stalled: Ready=False and Stalled=True',
        { kind: 'stalled', reason: Reason.InvalidSpec, message: 'bad' },
        ['Ready=False', 'Stalled=True', 'ReceiversReady=False'],
        Reason.InvalidSpec,
      ],
      [
        'waiting (Flux missing): Ready=False, from ReceiversReady=False',
        { kind: 'waiting', reason: Reason.FluxNotInstalled, message: 'no flux' },
        ['Ready=False', 'ReceiversReady=False'],
        Reason.FluxNotInstalled,
      ],
    ];
    for (const [story, verdict, want, readyReason] of cases) {
      it(story, () => {
        const s = computeStatus({ generation: 1, previous: undefined, verdict, now: T0 });
        expect(types(s)).to.deep.equal(want);
        expect(cond(s, 'Ready')!.reason).to.equal(readyReason);
      });
    }

    it('never carries Reconciling and Stalled at once, and drops the one no longer true', () => {
      const stalled = computeStatus({
        generation: 1,
        previous: undefined,
        verdict: { kind: 'stalled', reason: Reason.InvalidSpec, message: 'bad' },
        now: T0,
      });
      const progressing = computeStatus({ generation: 2, previous: stalled, verdict: { kind: 'progressing', message: 'go' }, now: T1 });
      expect(types(progressing)).to.deep.equal(['Ready=False', 'Reconciling=True', 'ReceiversReady=False']);
      const ready = computeStatus({ generation: 2, previous: progressing, verdict: { kind: 'ready', message: 'ok' }, now: T1 });
      expect(types(ready)).to.deep.equal(['Ready=True', 'ReceiversReady=True']);
    });

    it('failed reports ProgressingWithRetry on Reconciling', () => {
      const s = computeStatus({
        generation: 1,
        previous: undefined,
        verdict: { kind: 'failed', reason: Reason.ReconciliationFailed, message: 'x' },
        now: T0,
      });
      expect(cond(s, 'Reconciling')!.reason).to.equal(Reason.ProgressingWithRetry);
    });

    it('stamps every condition with the generation', () => {
      const s = computeStatus({ generation: 7, previous: undefined, verdict: { kind: 'progressing', message: 'x' }, now: T0 });
      expect(s.conditions!.map((c) => c.observedGeneration)).to.deep.equal([7, 7, 7]);
    });
  });

  describe('lastTransitionTime', () => {
    const ready = computeStatus({
      generation: 1,
      previous: undefined,
      verdict: { kind: 'ready', message: '1 repository linked' },
      now: T0,
    });

    it('is kept when the status stays the same, even if reason and message change', () => {
      const again = computeStatus({
        generation: 2,
        previous: ready,
        verdict: { kind: 'ready', message: '2 repositories linked' },
        now: T1,
      });
      expect(cond(again, 'Ready')!.lastTransitionTime).to.equal(T0);
      expect(cond(again, 'Ready')!.message).to.equal('2 repositories linked');
    });

    it('changes when the status flips', () => {
      const down = computeStatus({ generation: 1, previous: ready, verdict: { kind: 'progressing', message: 'x' }, now: T1 });
      expect(cond(down, 'Ready')!.lastTransitionTime).to.equal(T1);
      expect(cond(down, 'Reconciling')!.lastTransitionTime).to.equal(T1);
    });

    it('of a condition that comes back after being absent is the new time', () => {
      const p1 = computeStatus({ generation: 1, previous: undefined, verdict: { kind: 'progressing', message: 'x' }, now: T0 });
      const r = computeStatus({ generation: 1, previous: p1, verdict: { kind: 'ready', message: 'x' }, now: T1 });
      const p2 = computeStatus({
        generation: 1,
        previous: r,
        verdict: { kind: 'progressing', message: 'x' },
        now: '2024-01-02T00:00:00.000Z',
      });
      expect(cond(p2, 'Reconciling')!.lastTransitionTime).to.equal('2024-01-02T00:00:00.000Z');
    });
  });

  describe('observedGeneration', () => {
    const base = computeStatus({ generation: 1, previous: undefined, verdict: { kind: 'ready', message: 'x' }, now: T0 });
    const cases: Array<[string, Verdict, number | undefined]> = [
      ['is the generation once ready', { kind: 'ready', message: 'x' }, 2],
      [
        'is the generation while progressing (the generation has been handled; Receivers are not ready yet)',
        { kind: 'progressing', message: 'x' },
        2,
      ],
      ['is the generation when stalled (the generation was evaluated)', { kind: 'stalled', reason: Reason.InvalidSpec, message: 'x' }, 2],
      ['stays behind on failed (kstatus then says in progress)', { kind: 'failed', reason: Reason.ReconciliationFailed, message: 'x' }, 1],
    ];
    for (const [story, verdict, want] of cases) {
      it(story, () => expect(computeStatus({ generation: 2, previous: base, verdict, now: T1 }).observedGeneration).to.equal(want));
    }
    it('is not set at all on a first pass that failed', () => {
      const s = computeStatus({
        generation: 1,
        previous: undefined,
        verdict: { kind: 'failed', reason: Reason.ReconciliationFailed, message: 'x' },
        now: T0,
      });
      expect(s).not.to.have.property('observedGeneration');
    });
  });

  describe('repositories and entries', () => {
    const entry = (name: string, ready: boolean): RepositoryEntry => ({
      gitRepository: `apps/${name}`,
      project: `g/${name}`,
      receiver: `gfl-${name}`,
      ready,
      ...(ready ? {} : { message: 'not ready' }),
    });

    it('carries counts and entries when given', () => {
      const s = computeStatus({
        generation: 1,
        previous: undefined,
        verdict: { kind: 'ready', message: 'x' },
        repositories: { total: 1, ready: 1, conflicts: 2, entries: [entry('a', true)] },
        now: T0,
      });
      expect(s).to.include({ repositories: 1, readyReceivers: 1, conflicts: 2 });
      expect(s.entries).to.deep.equal([entry('a', true)]);
    });

    it('keeps the previous counts when the link could not be evaluated', () => {
      const before = computeStatus({
        generation: 1,
        previous: undefined,
        verdict: { kind: 'ready', message: 'x' },
        repositories: { total: 1, ready: 1, conflicts: 0, entries: [entry('a', true)] },
        now: T0,
      });
      const after = computeStatus({
        generation: 1,
        previous: before,
        verdict: { kind: 'waiting', reason: Reason.FluxNotInstalled, message: 'x' },
        now: T1,
      });
      expect(after.repositories).to.equal(1);
    });

    it(`bounds entries to ${MAX_ENTRIES}, problems first, each group by name`, () => {
      const entries: RepositoryEntry[] = [];
      for (let i = 59; i >= 0; i--) entries.push(entry(`r${String(i).padStart(2, '0')}`, i % 6 !== 0));
      const got = boundEntries(entries);
      expect(got).to.have.length(MAX_ENTRIES);
      const notReady = ['r00', 'r06', 'r12', 'r18', 'r24', 'r30', 'r36', 'r42', 'r48', 'r54'];
      expect(got.slice(0, 10).map((e) => e.gitRepository)).to.deep.equal(notReady.map((n) => `apps/${n}`));
      expect(got.slice(10).every((e) => e.ready)).to.equal(true);
      const readyNames = got.slice(10).map((e) => e.gitRepository);
      expect(readyNames).to.deep.equal([...readyNames].sort());
      expect(readyNames[0]).to.equal('apps/r01');
    });

    it("does not reorder the caller's array", () => {
      const entries = [entry('b', true), entry('a', false)];
      boundEntries(entries);
      expect(entries.map((e) => e.gitRepository)).to.deep.equal(['apps/b', 'apps/a']);
    });
  });

  describe('statusChanged', () => {
    const c: Condition = {
      type: 'Ready',
      status: 'True',
      reason: 'Succeeded',
      message: 'ok',
      lastTransitionTime: T0,
      observedGeneration: 1,
    };
    const a: GitLabFluxLinkStatus = { observedGeneration: 1, conditions: [c], repositories: 1 };

    it('ignores key order at every level', () => {
      const reordered = JSON.parse(
        '{"repositories":1,"conditions":[{"observedGeneration":1,"lastTransitionTime":"' +
          T0 +
          '","message":"ok","reason":"Succeeded","status":"True","type":"Ready"}],"observedGeneration":1}',
      );
      expect(statusChanged(a, reordered)).to.equal(false);
    });
    it('ignores fields that are undefined', () => {
      expect(statusChanged(a, { ...a, conflicts: undefined })).to.equal(false);
    });
    it('sees a changed message', () => {
      expect(statusChanged(a, { ...a, conditions: [{ ...c, message: 'changed' }] })).to.equal(true);
    });
    it('sees a changed order of conditions (arrays are ordered)', () => {
      const r: Condition = { ...c, type: 'Reconciling' };
      expect(statusChanged({ conditions: [c, r] }, { conditions: [r, c] })).to.equal(true);
    });
    it('treats no previous status as a change', () => {
      expect(statusChanged(undefined, a)).to.equal(true);
    });
    it('a recomputed status from the same inputs is no change (steady state writes nothing)', () => {
      const first = computeStatus({
        generation: 3,
        previous: undefined,
        verdict: { kind: 'ready', message: 'x' },
        repositories: { total: 0, ready: 0, conflicts: 0, entries: [] },
        now: T0,
      });
      const stored = JSON.parse(JSON.stringify(first));
      const again = computeStatus({
        generation: 3,
        previous: stored,
        verdict: { kind: 'ready', message: 'x' },
        repositories: { total: 0, ready: 0, conflicts: 0, entries: [] },
        now: T1,
      });
      expect(statusChanged(stored, again)).to.equal(false);
    });
  });
});

describe('status: Ready summarised from the owners', () => {
  const c = (type: string, status: 'True' | 'False' | 'Unknown', reason = 'R', message = `${type} says ${status}`): ConditionState => ({
    type,
    status,
    reason,
    message,
  });
  const cases: Array<[string, ConditionState[], Pick<ConditionState, 'status' | 'reason' | 'message'>]> = [
    ['no owner has spoken yet: Unknown', [], { status: 'Unknown', reason: Reason.Progressing, message: 'not reconciled yet' }],
    [
      'the owned condition True: True with its message',
      [c('ReceiversReady', 'True', Reason.Succeeded, '2 linked')],
      { status: 'True', reason: Reason.Succeeded, message: '2 linked' },
    ],
    [
      'the owned condition False: False with its reason and message',
      [c('ReceiversReady', 'False', 'Progressing', 'waiting')],
      { status: 'False', reason: 'Progressing', message: 'waiting' },
    ],
    [
      'the owned condition Unknown counts as not ready',
      [c('ReceiversReady', 'Unknown', 'Checking', 'checking')],
      { status: 'False', reason: 'Checking', message: 'checking' },
    ],
    [
      'Stalled wins over everything',
      [
        c('ReceiversReady', 'False', 'Progressing'),
        c('Reconciling', 'True', 'Progressing'),
        c('Stalled', 'True', 'InvalidSpec', 'bad spec'),
      ],
      { status: 'False', reason: 'InvalidSpec', message: 'bad spec' },
    ],
    [
      'a Stalled that is not True is ignored',
      [c('Stalled', 'False', 'X'), c('ReceiversReady', 'True', Reason.Succeeded, 'ok')],
      { status: 'True', reason: Reason.Succeeded, message: 'ok' },
    ],
    [
      'Reconciling alone (owners True) is not ready',
      [c('ReceiversReady', 'True', Reason.Succeeded), c('Reconciling', 'True', 'Progressing', 'busy')],
      { status: 'False', reason: 'Progressing', message: 'busy' },
    ],
    [
      'an owned False explains Ready before Reconciling does',
      [
        c('Reconciling', 'True', 'ProgressingWithRetry', 'retrying'),
        c('ReceiversReady', 'False', 'ReconciliationFailed', '1 write failed'),
      ],
      { status: 'False', reason: 'ReconciliationFailed', message: '1 write failed' },
    ],
    [
      'conditions Ready does not depend on are ignored',
      [c('ReceiversReady', 'True', Reason.Succeeded, 'ok'), c('SomethingElse', 'False', 'Broken')],
      { status: 'True', reason: Reason.Succeeded, message: 'ok' },
    ],
    [
      'a stale Ready among the inputs is ignored',
      [c('Ready', 'False', 'Old'), c('ReceiversReady', 'True', Reason.Succeeded, 'ok')],
      { status: 'True', reason: Reason.Succeeded, message: 'ok' },
    ],
  ];
  for (const [story, conditions, want] of cases) {
    it(story, () => expect(summarizeReady(conditions.filter((x) => x.type !== 'Ready'))).to.deep.equal({ type: 'Ready', ...want }));
  }

  it(`READY_DEPENDS_ON lists the owned conditions in priority order (today: ${READY_DEPENDS_ON.join(', ')})`, () => {
    expect(READY_DEPENDS_ON).to.deep.equal(['WebhookSecretReady', 'ReceiversReady', 'HooksReady']);
  });

  it('a weak webhook Secret explains a False Ready before the Receivers do; absent, it changes nothing', () => {
    const receivers = { type: 'ReceiversReady', status: 'False' as const, reason: 'Progressing', message: '0 receivers ready' };
    const weak = withWebhookSecrets({ set: [receivers] }, [
      'spec.webhook.secretRef (Secret a/b, key token) is not acceptable: shorter than 16 characters',
    ]);
    expect(summarizeReady(weak.set!)).to.deep.include({ status: 'False', reason: 'WeakWebhookSecret' });
    const fine = withWebhookSecrets({ set: [{ ...receivers, status: 'True', reason: 'Succeeded', message: 'ok' }] }, []);
    expect(fine.clear).to.deep.equal(['WebhookSecretReady']);
    expect(summarizeReady(fine.set!)).to.deep.equal({ type: 'Ready', status: 'True', reason: 'Succeeded', message: 'ok' });
  });
});

describe("status: nextStatus merges the owners' updates", () => {
  const receivers = linkControllerUpdate({ kind: 'ready', message: '1 repository linked, 1 receiver ready' }, 3, {
    total: 1,
    ready: 1,
    conflicts: 0,
    entries: [],
  });
  const push: StatusUpdate = { lastPush: { project: 'g/app', ref: 'refs/heads/main', receivedAt: T0 } };
  const trigger: StatusUpdate = { lastTrigger: { gitRepository: 'apps/app', result: 'delivered', at: T1 } };

  it('the link controller and the push path in one write: conditions, counts and records together', () => {
    const s = nextStatus(undefined, [receivers, push, trigger], 3, T0);
    expect(types(s)).to.deep.equal(['Ready=True', 'ReceiversReady=True']);
    expect(s).to.include({ observedGeneration: 3, repositories: 1, readyReceivers: 1 });
    expect(s.lastPush).to.deep.equal(push.lastPush);
    expect(s.lastTrigger).to.deep.equal(trigger.lastTrigger);
  });

  it('an update that states no condition keeps the others and recomputes Ready from them', () => {
    const before = nextStatus(undefined, [receivers], 3, T0);
    const after = nextStatus(before, [push], 3, T1);
    expect(after.conditions).to.deep.equal(before.conditions);
    expect(after.lastPush).to.deep.equal(push.lastPush);
  });

  it("another owner's condition is kept when the link controller writes again, and orders after the known ones", () => {
    const other: StatusUpdate = { set: [{ type: 'AnotherOwnerReady', status: 'False', reason: 'Broken', message: 'x' }] };
    const s1 = nextStatus(undefined, [receivers, other], 3, T0);
    const s2 = nextStatus(s1, [linkControllerUpdate({ kind: 'progressing', message: 'go' }, 4)], 4, T1);
    expect(types(s2)).to.deep.equal(['Ready=False', 'Reconciling=True', 'ReceiversReady=False', 'AnotherOwnerReady=False']);
    expect(cond(s2, 'AnotherOwnerReady')!.observedGeneration).to.equal(3, 'kept as its owner stated it');
  });

  it('later updates win over earlier ones in the same write', () => {
    const newer: StatusUpdate = { lastPush: { project: 'g/app', ref: 'refs/heads/dev', receivedAt: T1 } };
    expect(nextStatus(undefined, [push, newer], 1, T1).lastPush).to.deep.equal(newer.lastPush);
  });
});
