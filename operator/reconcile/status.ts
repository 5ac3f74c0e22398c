import { ConditionType, Reason, type ReasonValue } from '../api/v1alpha1/conditions.js';
import type { Condition, GitLabFluxLinkStatus, RepositoryEntry } from '../api/v1alpha1/types.js';
import { sameValue } from './same-value.js';

/**
 * Status the Flux way, computed without I/O: Ready always present, Reconciling and Stalled only when True,
 * lastTransitionTime kept unless a condition's status flips, observedGeneration only when the generation
 * has been handled. The shell writes the result only when it differs from what is stored.
 */
export const MAX_ENTRIES = 50;

export type Verdict =
  | { kind: 'ready'; message: string }
  | { kind: 'progressing'; message: string }
  | { kind: 'failed'; reason: ReasonValue; message: string }
  | { kind: 'stalled'; reason: ReasonValue; message: string }
  | { kind: 'waiting'; reason: ReasonValue; message: string };

export interface StatusInput {
  generation: number;
  previous: GitLabFluxLinkStatus | undefined;
  verdict: Verdict;
  /** Counts and entries; absent when the link could not be evaluated (stalled, Flux missing). */
  repositories?: { total: number; ready: number; conflicts: number; entries: RepositoryEntry[] };
  now: string;
}

function condition(type: string, status: Condition['status'], reason: string, message: string, generation: number, previous: Condition[] | undefined, now: string): Condition {
  const old = previous?.find((c) => c.type === type);
  const lastTransitionTime = old && old.status === status ? old.lastTransitionTime : now;
  return { type, status, reason, message, lastTransitionTime, observedGeneration: generation };
}

/** Entries with a problem first, then by name; at most MAX_ENTRIES. */
export function boundEntries(entries: RepositoryEntry[]): RepositoryEntry[] {
  return [...entries]
    .sort((a, b) => (a.ready === b.ready ? (a.gitRepository < b.gitRepository ? -1 : 1) : a.ready ? 1 : -1))
    .slice(0, MAX_ENTRIES);
}

export function computeStatus(input: StatusInput): GitLabFluxLinkStatus {
  const { verdict, generation, now } = input;
  const prev = input.previous?.conditions;
  const conditions: Condition[] = [];
  const add = (type: string, status: Condition['status'], reason: string, message: string) =>
    conditions.push(condition(type, status, reason, message, generation, prev, now));

  switch (verdict.kind) {
    case 'ready':
      add(ConditionType.Ready, 'True', Reason.Succeeded, verdict.message);
      break;
    case 'progressing':
      add(ConditionType.Ready, 'False', Reason.Progressing, verdict.message);
      add(ConditionType.Reconciling, 'True', Reason.Progressing, verdict.message);
      break;
    case 'failed':
      add(ConditionType.Ready, 'False', verdict.reason, verdict.message);
      add(ConditionType.Reconciling, 'True', Reason.ProgressingWithRetry, verdict.message);
      break;
    case 'stalled':
      add(ConditionType.Ready, 'False', verdict.reason, verdict.message);
      add(ConditionType.Stalled, 'True', verdict.reason, verdict.message);
      break;
    case 'waiting':
      add(ConditionType.Ready, 'False', verdict.reason, verdict.message);
      break;
  }

  const status: GitLabFluxLinkStatus = { ...input.previous, conditions };
  // A failed write leaves the generation not fully handled: kstatus then reports it as in progress.
  if (verdict.kind !== 'failed') status.observedGeneration = generation;
  if (input.repositories) {
    status.repositories = input.repositories.total;
    status.readyReceivers = input.repositories.ready;
    status.conflicts = input.repositories.conflicts;
    status.entries = boundEntries(input.repositories.entries);
  }
  return status;
}

/** One line for the Ready message (kubectl get shows it). */
export function summary(total: number, ready: number, conflicts: number, blocked: number): string {
  let s = `${total} ${total === 1 ? 'repository' : 'repositories'} linked, ${ready} ${ready === 1 ? 'receiver' : 'receivers'} ready`;
  if (conflicts) s += `; ${conflicts} managed by another link`;
  if (blocked) s += `; ${blocked} blocked by objects not managed by gitlab-flux-link`;
  return s;
}

/** Whether two statuses differ in anything but key order. */
export function statusChanged(a: GitLabFluxLinkStatus | undefined, b: GitLabFluxLinkStatus): boolean {
  return !sameValue(a ?? {}, b);
}
