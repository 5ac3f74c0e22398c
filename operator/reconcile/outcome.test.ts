import { expect } from 'chai';
import { Reason } from '../api/v1alpha1/conditions.js';
import type { Outcome } from '../queue/work-queue.js';
import { outcomeFor, type PassFindings, REQUEUE_MS } from './outcome.js';
import type { Verdict } from './status.js';

describe('outcome: outcomeFor(verdict, pass)', () => {
  const cases: Array<[string, Verdict, PassFindings | undefined, Outcome | 'retry']> = [
    [
      'ready: done (changes wake the link through its watches)',
      { kind: 'ready', message: 'ok' },
      { blocked: 0, failures: [] },
      { kind: 'done' },
    ],
    [
      'progressing: done (Receivers turning Ready wake the link)',
      { kind: 'progressing', message: 'x' },
      { blocked: 0, failures: [] },
      { kind: 'done' },
    ],
    [
      'progressing with blocked names: look again in a minute (no event says when they are gone)',
      { kind: 'progressing', message: 'x' },
      { blocked: 2, failures: [] },
      { kind: 'requeueAfter', ms: REQUEUE_MS.blocked },
    ],
    [
      'progressing after a write our cache was behind for: look again soon (its watch event may wake another link)',
      { kind: 'progressing', message: 'x' },
      { blocked: 0, failures: [], superseded: 1 },
      { kind: 'requeueAfter', ms: REQUEUE_MS.writeSuperseded },
    ],
    [
      'stalled: done, terminal until the spec changes',
      { kind: 'stalled', reason: Reason.InvalidSpec, message: 'x' },
      undefined,
      { kind: 'done' },
    ],
    [
      'waiting for Flux: look again every 30 s',
      { kind: 'waiting', reason: Reason.FluxNotInstalled, message: 'x' },
      undefined,
      { kind: 'requeueAfter', ms: 30_000 },
    ],
    [
      "failed: retry with the queue's backoff",
      { kind: 'failed', reason: Reason.ReconciliationFailed, message: 'x' },
      { blocked: 1, failures: ['create Secret apps/a: boom'] },
      'retry',
    ],
  ];
  for (const [story, verdict, pass, want] of cases) {
    it(story, () => {
      const got = outcomeFor(verdict, pass);
      if (want === 'retry') {
        expect(got.kind).to.equal('retry');
        expect((got as { error: Error }).error.message).to.equal('create Secret apps/a: boom', 'the first failure is the error');
      } else expect(got).to.deep.equal(want);
    });
  }

  it('names every delay once, each shorter than the resync', () => {
    expect(REQUEUE_MS).to.deep.equal({
      fluxNotInstalled: 30_000,
      cachesSyncing: 1_000,
      ownWritesNotSeen: 250,
      writeSuperseded: 1_000,
      blocked: 60_000,
      conflict: 100,
      weakWebhookSecret: 30_000,
    });
  });

  it('a weak webhook Secret: a finished pass looks again in 30 s (the Secret is not watched), a sooner requeue or a retry is kept', () => {
    const weak = { blocked: 0, failures: [], weakWebhookSecrets: 1 };
    expect(outcomeFor({ kind: 'ready', message: 'ok' }, weak)).to.deep.equal({ kind: 'requeueAfter', ms: 30_000 });
    expect(outcomeFor({ kind: 'progressing', message: 'x' }, { ...weak, blocked: 1 })).to.deep.equal({ kind: 'requeueAfter', ms: 30_000 });
    expect(
      outcomeFor({ kind: 'failed', reason: Reason.ReconciliationFailed, message: 'x' }, { ...weak, failures: ['boom'] }).kind,
    ).to.equal('retry');
    expect(outcomeFor({ kind: 'ready', message: 'ok' }, { ...weak, weakWebhookSecrets: 0 })).to.deep.equal({ kind: 'done' });
  });
});
