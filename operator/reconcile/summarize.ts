import { Reason } from '../api/v1alpha1/conditions.js';
import type { RepositoryEntry } from '../api/v1alpha1/types.js';
import { type Receiver, receiverReadiness } from '../flux/types.js';
import type { Conflict, Refusal } from './claims.js';
import type { ApplyResult, Blocked } from './plan.js';
import type { Verdict } from './status.js';

/** What a pass keeps of each desired pair it planned: enough for the status, not the objects. */
export interface LinkedRepository {
  /** namespace/name of the GitRepository. */
  key: string;
  project: string;
  /** Namespace and name of its Receiver and Secret. */
  namespace: string;
  name: string;
}

export interface PassInput {
  linked: readonly LinkedRepository[];
  conflicts: readonly Conflict[];
  /** Repositories spec.trust.namespaceProjects refuses: shown to their tenants, given nothing. */
  refused: readonly Refusal[];
  /** The plan's blocked pairs. */
  blocked: readonly Blocked[];
  applied: ApplyResult;
  /** The Receiver as the cache shows it after the writes. */
  receiver(namespace: string, name: string): Receiver | undefined;
}

export interface PassSummary {
  entries: RepositoryEntry[];
  total: number;
  ready: number;
  conflicts: number;
  refused: number;
  /** Repositories whose objects' names are taken by objects the operator does not manage. */
  blocked: number;
  verdict: Verdict;
}

export const CHANGED_WHILE_WRITTEN = 'Receiver or Secret changed or removed while being written; looking again';

/**
 * Decides what a pass amounts to, after the shell has applied its plan: one entry per managed repository
 * (and per repository another link manages or the namespaceProjects rules refuse), the counts, and the verdict
 * the link's conditions come from. A refusal is the policy working, not a fault of the link: it is reported in
 * the entries and the message, and leaves Ready alone.
 */
export function summarizePass(input: PassInput): PassSummary {
  const blocked = new Map(input.blocked.map((b) => [b.key, b.message]));
  for (const l of input.linked) {
    const message = input.applied.foreign.get(`${l.namespace}/${l.name}`);
    if (message) blocked.set(l.key, message);
  }
  const entries: RepositoryEntry[] = [];
  let ready = 0;
  for (const l of input.linked) {
    // A pair whose write met a change the cache had not shown: the cached Receiver may be one that is gone.
    const r = input.applied.superseded.has(`${l.namespace}/${l.name}`)
      ? { ready: false, message: CHANGED_WHILE_WRITTEN }
      : receiverReadiness(input.receiver(l.namespace, l.name));
    const isReady = r.ready && !blocked.has(l.key);
    if (isReady) ready++;
    entries.push({
      gitRepository: l.key,
      project: l.project,
      receiver: l.name,
      ready: isReady,
      ...(isReady ? {} : { message: blocked.get(l.key) ?? r.message }),
    });
  }
  for (const c of input.conflicts) {
    entries.push({
      gitRepository: `${c.repo.metadata.namespace}/${c.repo.metadata.name}`,
      project: c.project,
      receiver: '',
      ready: false,
      message: `managed by link ${c.owner}`,
    });
  }
  for (const r of input.refused) {
    entries.push({
      gitRepository: `${r.repo.metadata.namespace}/${r.repo.metadata.name}`,
      project: r.project,
      receiver: '',
      ready: false,
      message: r.message,
    });
  }
  const total = input.linked.length;
  const message = summary(total, ready, input.conflicts.length, blocked.size, input.refused.length);
  const { failures } = input.applied;
  let verdict: Verdict;
  if (failures.length)
    verdict = {
      kind: 'failed',
      reason: Reason.ReconciliationFailed,
      message: `${failures.length} writes failed, retrying: ${failures[0]}`,
    };
  else if (ready < total || blocked.size) verdict = { kind: 'progressing', message };
  else verdict = { kind: 'ready', message };
  return { entries, total, ready, conflicts: input.conflicts.length, refused: input.refused.length, blocked: blocked.size, verdict };
}

/** One line for the Ready message (kubectl get shows it). */
export function summary(total: number, ready: number, conflicts: number, blocked: number, refused = 0): string {
  let s = `${total} ${total === 1 ? 'repository' : 'repositories'} linked, ${ready} ${ready === 1 ? 'receiver' : 'receivers'} ready`;
  if (conflicts) s += `; ${conflicts} managed by another link`;
  if (blocked) s += `; ${blocked} blocked by objects not managed by gitlab-flux-link`;
  if (refused) s += `; ${refused} refused by spec.trust.namespaceProjects`;
  return s;
}
