import type { Outcome } from '../queue/work-queue.js';
import type { Verdict } from './status.js';

/**
 * When a link is looked at again, decided in one place (source-controller's ComputeReconcileResult). Events
 * wake a link for everything the watches see; these delays cover what they cannot.
 */
export const REQUEUE_MS = {
  /** Flux's APIs not served: the informers retry, but a link waiting for them is looked at again. */
  fluxNotInstalled: 30_000,
  /** The caches have not listed everything yet. */
  cachesSyncing: 1_000,
  /** The caches do not show this controller's own last writes yet: planning now would redo them. */
  ownWritesNotSeen: 250,
  /** Names taken by objects the operator does not manage need a person; no watch event says when they are gone. */
  blocked: 60_000,
  /** A write found its object changed or gone (our cache was behind): plan again once the watch has caught up. */
  writeSuperseded: 1_000,
  /** Someone wrote the link between our read and our write: run again on fresh data, quietly. */
  conflict: 100,
  /** A weak webhook Secret: Secrets outside the operator's own are not watched, so a fix is seen by looking. */
  weakWebhookSecret: 30_000,
} as const;

export const requeueAfter = (ms: number): Outcome => ({ kind: 'requeueAfter', ms });

/** What a pass's writes and reads came to, as far as when to run again goes. */
export interface PassFindings {
  blocked?: number;
  failures?: readonly string[];
  superseded?: number;
  weakWebhookSecrets?: number;
}

/** What the queue does after a pass that reached a verdict. */
export function outcomeFor(verdict: Verdict, pass: PassFindings = {}): Outcome {
  const outcome = verdictOutcome(verdict, pass);
  if (!pass.weakWebhookSecrets) return outcome;
  if (outcome.kind === 'done') return requeueAfter(REQUEUE_MS.weakWebhookSecret);
  if (outcome.kind === 'requeueAfter') return requeueAfter(Math.min(outcome.ms, REQUEUE_MS.weakWebhookSecret));
  return outcome;
}

function verdictOutcome(verdict: Verdict, pass: PassFindings): Outcome {
  switch (verdict.kind) {
    case 'failed':
      // Per-key exponential backoff: the work queue's.
      return { kind: 'retry', error: new Error(pass.failures?.[0] ?? verdict.message) };
    case 'waiting':
      return requeueAfter(REQUEUE_MS.fluxNotInstalled);
    case 'stalled':
      // Terminal until the spec changes; a new generation wakes the link through the watch.
      return { kind: 'done' };
    case 'progressing':
    case 'ready':
      // Receivers turning Ready wake the link through their watch; blocked names and superseded writes may not.
      if (pass.superseded) return requeueAfter(REQUEUE_MS.writeSuperseded);
      return pass.blocked ? requeueAfter(REQUEUE_MS.blocked) : { kind: 'done' };
  }
}
