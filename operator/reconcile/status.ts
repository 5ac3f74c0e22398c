import { ConditionType, Reason, type ReasonValue } from '../api/v1alpha1/conditions.js';
import type {
  CatchUpRecord,
  Condition,
  GitLabFluxLinkStatus,
  HooksStatus,
  PushRecord,
  RepositoryEntry,
  TriggerRecord,
} from '../api/v1alpha1/types.js';
import { sameValue } from './same-value.js';

/**
 * Status the Flux way, computed without I/O. Several owners state parts of a link's status — the link
 * controller its conditions, counts and entries; the push path lastPush/lastTrigger; the next controller its
 * own condition — and one writer (controllers/link-status-writer.ts) merges their updates into the stored
 * status with `nextStatus`. `Ready` is never stated by an owner: `summarizeReady` derives it from the others,
 * as Flux's `summarize` helper does. Ready is always present, Reconciling and Stalled only when True,
 * lastTransitionTime is kept unless a condition's status flips, observedGeneration only when the generation
 * has been handled. The writer writes the result only when it differs from what is stored.
 */
export const MAX_ENTRIES = 50;

/** A condition as an owner states it; the status adds lastTransitionTime and observedGeneration. */
export interface ConditionState {
  type: string;
  status: Condition['status'];
  reason: string;
  message: string;
}

/** What one owner hands the status writer; absent fields are left as they are. */
export interface StatusUpdate {
  /** Conditions this owner states (by type). */
  set?: ConditionState[];
  /** Condition types this owner states no longer (Reconciling and Stalled exist only while True). */
  clear?: string[];
  /** The generation the owner has handled. */
  observedGeneration?: number;
  repositories?: { total: number; ready: number; conflicts: number; entries: RepositoryEntry[] };
  lastPush?: PushRecord;
  lastTrigger?: TriggerRecord;
  lastCatchUp?: CatchUpRecord;
  /** The hooks controller's detail; null removes it (the link has no spec.gitlab.api any more). */
  hooks?: HooksStatus | null;
}

/**
 * Owned conditions that Ready depends on, in priority order: the first that is not True explains a False
 * Ready. A new owner adds its condition type here. WebhookSecretReady comes first: while it is False every
 * webhook is refused, whatever the Receivers do.
 */
export const READY_DEPENDS_ON: readonly string[] = [
  ConditionType.WebhookSecretReady,
  ConditionType.ReceiversReady,
  ConditionType.HooksReady,
];

/** Order of conditions in the stored status (arrays are compared in order): Ready, the summary inputs, the rest by type. */
const CONDITION_ORDER: readonly string[] = [ConditionType.Ready, ConditionType.Reconciling, ConditionType.Stalled, ...READY_DEPENDS_ON];

/**
 * Ready from the other conditions: Stalled wins (nothing will change until the spec does); then the first
 * owned condition that is not True; then Reconciling; otherwise True, with the owners' messages.
 */
export function summarizeReady(conditions: readonly ConditionState[]): ConditionState {
  const find = (type: string) => conditions.find((c) => c.type === type);
  const notReady = (c: ConditionState): ConditionState => ({
    type: ConditionType.Ready,
    status: 'False',
    reason: c.reason,
    message: c.message,
  });
  const stalled = find(ConditionType.Stalled);
  if (stalled?.status === 'True') return notReady(stalled);
  const owned = READY_DEPENDS_ON.flatMap((t) => find(t) ?? []);
  const failing = owned.find((c) => c.status !== 'True');
  if (failing) return notReady(failing);
  const reconciling = find(ConditionType.Reconciling);
  if (reconciling?.status === 'True') return notReady(reconciling);
  if (owned.length === 0)
    return { type: ConditionType.Ready, status: 'Unknown', reason: Reason.Progressing, message: 'not reconciled yet' };
  return { type: ConditionType.Ready, status: 'True', reason: Reason.Succeeded, message: owned.map((c) => c.message).join('; ') };
}

function stamped(state: ConditionState, generation: number, previous: Condition[] | undefined, now: string): Condition {
  const old = previous?.find((c) => c.type === state.type);
  const lastTransitionTime = old && old.status === state.status ? old.lastTransitionTime : now;
  return { ...state, lastTransitionTime, observedGeneration: generation };
}

const rank = (type: string) => {
  const i = CONDITION_ORDER.indexOf(type);
  return i < 0 ? CONDITION_ORDER.length : i;
};

/** The stored status after the owners' updates, in order; Ready recomputed. */
export function nextStatus(
  previous: GitLabFluxLinkStatus | undefined,
  updates: readonly StatusUpdate[],
  generation: number,
  now: string,
): GitLabFluxLinkStatus {
  const prev = previous?.conditions;
  const conditions = new Map<string, Condition>((prev ?? []).filter((c) => c.type !== ConditionType.Ready).map((c) => [c.type, c]));
  const status: GitLabFluxLinkStatus = { ...previous };
  for (const u of updates) {
    for (const type of u.clear ?? []) conditions.delete(type);
    for (const c of u.set ?? []) conditions.set(c.type, stamped(c, generation, prev, now));
    if (u.observedGeneration !== undefined) status.observedGeneration = u.observedGeneration;
    if (u.repositories) {
      status.repositories = u.repositories.total;
      status.readyReceivers = u.repositories.ready;
      status.conflicts = u.repositories.conflicts;
      status.entries = boundEntries(u.repositories.entries);
    }
    if (u.lastPush) status.lastPush = u.lastPush;
    if (u.lastTrigger) status.lastTrigger = u.lastTrigger;
    if (u.lastCatchUp) status.lastCatchUp = u.lastCatchUp;
    if (u.hooks === null) delete status.hooks;
    else if (u.hooks) status.hooks = u.hooks;
  }
  const others = [...conditions.values()];
  status.conditions = [stamped(summarizeReady(others), generation, prev, now), ...others].sort(
    (a, b) => rank(a.type) - rank(b.type) || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0),
  );
  return status;
}

/** How one pass of the link controller ended, as its conditions say it. */
export type Verdict =
  | { kind: 'ready'; message: string }
  | { kind: 'progressing'; message: string }
  | { kind: 'failed'; reason: ReasonValue; message: string }
  | { kind: 'stalled'; reason: ReasonValue; message: string }
  | { kind: 'waiting'; reason: ReasonValue; message: string };

/** The link controller's update: Stalled, Reconciling and ReceiversReady from its verdict. */
export function linkControllerUpdate(verdict: Verdict, generation: number, repositories?: StatusUpdate['repositories']): StatusUpdate {
  const receivers = (status: Condition['status'], reason: string): ConditionState => ({
    type: ConditionType.ReceiversReady,
    status,
    reason,
    message: verdict.message,
  });
  const reconciling = (reason: string): ConditionState => ({
    type: ConditionType.Reconciling,
    status: 'True',
    reason,
    message: verdict.message,
  });
  const update = ((): StatusUpdate => {
    switch (verdict.kind) {
      case 'ready':
        return { set: [receivers('True', Reason.Succeeded)], clear: [ConditionType.Reconciling, ConditionType.Stalled] };
      case 'progressing':
        return { set: [receivers('False', Reason.Progressing), reconciling(Reason.Progressing)], clear: [ConditionType.Stalled] };
      case 'failed':
        return { set: [receivers('False', verdict.reason), reconciling(Reason.ProgressingWithRetry)], clear: [ConditionType.Stalled] };
      case 'stalled':
        return {
          set: [
            receivers('False', verdict.reason),
            { type: ConditionType.Stalled, status: 'True', reason: verdict.reason, message: verdict.message },
          ],
          clear: [ConditionType.Reconciling],
        };
      case 'waiting':
        return { set: [receivers('False', verdict.reason)], clear: [ConditionType.Reconciling, ConditionType.Stalled] };
    }
  })();
  // A failed write leaves the generation not fully handled: kstatus then reports it as in progress.
  if (verdict.kind !== 'failed') update.observedGeneration = generation;
  if (repositories) update.repositories = repositories;
  return update;
}

/**
 * The link controller's update with its judgement of the link's webhook Secrets added: WebhookSecretReady
 * False with every problem (messages naming the field, never a value), or no such condition.
 */
export function withWebhookSecrets(update: StatusUpdate, problems: readonly string[]): StatusUpdate {
  if (problems.length === 0) return { ...update, clear: [...(update.clear ?? []), ConditionType.WebhookSecretReady] };
  const condition: ConditionState = {
    type: ConditionType.WebhookSecretReady,
    status: 'False',
    reason: Reason.WeakWebhookSecret,
    message: problems.join('; '),
  };
  return { ...update, set: [...(update.set ?? []), condition] };
}

/** Entries with a problem first, then by name; at most MAX_ENTRIES. */
export function boundEntries(entries: RepositoryEntry[]): RepositoryEntry[] {
  return [...entries]
    .sort((a, b) => (a.ready === b.ready ? (a.gitRepository < b.gitRepository ? -1 : 1) : a.ready ? 1 : -1))
    .slice(0, MAX_ENTRIES);
}

/** Whether two statuses differ in anything but key order. */
export function statusChanged(a: GitLabFluxLinkStatus | undefined, b: GitLabFluxLinkStatus): boolean {
  return !sameValue(a ?? {}, b);
}
