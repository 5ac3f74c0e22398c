import { ConditionType, Reason } from '../api/v1alpha1/conditions.js';
import { type CatchUpRecord, type GitLabFluxLink, LINKS, type PushRecord, type TriggerRecord } from '../api/v1alpha1/types.js';
import type { KubeClient } from '../kube/client.js';
import type { EventRecorder } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import { nextStatus, statusChanged, type StatusUpdate } from '../reconcile/status.js';

export interface LinkStatusWriterDeps {
  client: KubeClient;
  log: Logger;
  events?: EventRecorder;
  now?: () => Date;
  /** How long push records wait for a status write before they are written on their own. */
  flushIntervalMs?: number;
  onFlushError?: (err: unknown) => void;
}

type PushRecords = { lastPush?: PushRecord; lastTrigger?: TriggerRecord; lastCatchUp?: CatchUpRecord };

/** Reasons of a Ready=False that a person must act on: their Events are Warnings. */
const WARNING_REASONS: ReadonlySet<string> = new Set([
  Reason.InvalidSpec,
  Reason.ReconciliationFailed,
  Reason.FluxNotInstalled,
  Reason.GitLabSecretNotFound,
  Reason.GitLabUnauthorized,
  Reason.HookRegistrationFailed,
  Reason.HooksDisabled,
]);

/**
 * The one writer of a link's status in this process. Owners hand it their parts: a reconcile its
 * conditions, counts and entries (`write`, once per reconcile, guarded by the resourceVersion the reconcile
 * read); the push path lastPush/lastTrigger (`recordPush`/`recordTrigger`, batched). Push records go out
 * with the link's next status write, or on their own as a merge patch of those two fields within
 * `flushIntervalMs` — never while a reconcile of that link runs (`exclusive`), so the push path cannot make a
 * reconcile's guarded replace fail. (Another replica's push records still can: that replace then meets a
 * conflict and the reconcile runs again at once.)
 */
export class LinkStatusWriter {
  private readonly pending = new Map<string, PushRecords>();
  private readonly locks = new Map<string, Promise<void>>();
  private timer?: NodeJS.Timeout;
  private readonly now: () => Date;

  constructor(private readonly deps: LinkStatusWriterDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  /** Runs `fn` (a reconcile of the link) with no status write of this writer for that link in between. */
  exclusive<T>(link: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(link) ?? Promise.resolve();
    const run = previous.then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.locks.set(link, tail);
    void tail.then(() => {
      if (this.locks.get(link) === tail) this.locks.delete(link);
    });
    return run;
  }

  recordPush(link: string, record: PushRecord): void {
    this.hold(link, { lastPush: record });
  }

  recordTrigger(link: string, record: TriggerRecord): void {
    this.hold(link, { lastTrigger: record });
  }

  /** The catch-up's record (push/catch-up.ts), batched like the push records. */
  recordCatchUp(link: string, record: CatchUpRecord): void {
    this.hold(link, { lastCatchUp: record });
  }

  /**
   * The status write of a reconcile: `update` and the pending push records merged into the status the
   * reconcile read, written only when that changes something. A replace with the resourceVersion read at
   * the start: a status computed from a stale spec is refused with a conflict, and the reconcile runs again.
   * Call it inside `exclusive(link.metadata.name, …)`.
   */
  async write(link: GitLabFluxLink, update: StatusUpdate): Promise<void> {
    const name = link.metadata.name;
    const records = this.pending.get(name);
    this.pending.delete(name);
    const previous = link.status;
    const status = nextStatus(previous, records ? [update, records] : [update], link.metadata.generation ?? 0, this.now().toISOString());
    if (!statusChanged(previous, status)) return;
    try {
      await this.deps.client.replace(LINKS, { ...link, status }, 'status');
    } catch (err) {
      if (records) this.hold(name, records, true);
      throw err;
    }
    await this.reportReady(link, previous, status);
  }

  /** Writes the pending push records now, each link after any reconcile of it that is running. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all([...this.pending.keys()].map((link) => this.exclusive(link, () => this.writeRecords(link))));
  }

  private async writeRecords(link: string): Promise<void> {
    const records = this.pending.get(link);
    if (!records) return; // a reconcile's write took them meanwhile
    this.pending.delete(link);
    try {
      // A merge patch of these two fields only: it never undoes what a reconcile wrote.
      await this.deps.client.patch(LINKS, undefined, link, { status: records }, 'merge', { subresource: 'status' });
    } catch (err) {
      (this.deps.onFlushError ?? ((e) => this.deps.log.debug('push status not written', { link, error: String(e) })))(err);
    }
  }

  /** Newer records win; `older` puts back records a failed write took, unless newer ones came meanwhile. */
  private hold(link: string, records: PushRecords, older = false): void {
    const current = this.pending.get(link);
    this.pending.set(link, older ? { ...records, ...current } : { ...current, ...records });
    this.timer ??= setTimeout(() => void this.flush(), this.deps.flushIntervalMs ?? 5_000);
    this.timer.unref?.();
  }

  private async reportReady(
    link: GitLabFluxLink,
    previous: GitLabFluxLink['status'],
    status: NonNullable<GitLabFluxLink['status']>,
  ): Promise<void> {
    const ready = status.conditions?.find((c) => c.type === ConditionType.Ready);
    const was = previous?.conditions?.find((c) => c.type === ConditionType.Ready);
    if (!ready || (ready.status === was?.status && ready.reason === was?.reason)) return;
    this.deps.log.info('link status', { link: link.metadata.name, ready: ready.status, reason: ready.reason, message: ready.message });
    await this.deps.events?.record(link, WARNING_REASONS.has(ready.reason) ? 'Warning' : 'Normal', ready.reason, ready.message);
  }
}
