import { RECEIVERS } from '../flux/types.js';
import type { KubeClient } from '../kube/client.js';
import type { Logger } from '../observability/logger.js';

/** Flux's annotation asking its controller to reconcile an object now (what `flux reconcile` sets). */
export const RECONCILE_REQUESTED_AT = 'reconcile.fluxcd.io/requestedAt';

/** At most one request per Receiver per this long: whoever can tamper with a status can do it on every push. */
export const RECEIVER_RECONCILE_REQUEST_INTERVAL_MS = 60_000;

/** Receivers remembered; past it, those last asked more than an interval ago are forgotten. */
const MAX_REMEMBERED = 10_000;

export interface ReceiverReconcileRequestsDeps {
  client: KubeClient;
  log: Logger;
  now?: () => Date;
  intervalMs?: number;
}

/**
 * Asks notification-controller to reconcile a Receiver whose `status.webhookPath` someone else rewrote (the
 * trigger client found it `tampered`): the annotation `reconcile.fluxcd.io/requestedAt` makes it reconcile
 * at once, which rewrites the status, instead of at the Receiver's `spec.interval` (10 minutes by default).
 * A merge patch of that one annotation: the link controller's desired Receiver does not own it, so the two
 * never fight, and it changes nothing the Receiver does. The link controller's reconcile writes Receivers
 * only on the leader; this request is made by the replica whose trigger found the tampering (a follower
 * included), since only it knows, at most once per Receiver per interval on each replica.
 */
export class ReceiverReconcileRequests {
  private readonly last = new Map<string, number>();
  private readonly intervalMs: number;

  constructor(private readonly deps: ReceiverReconcileRequestsDeps) {
    this.intervalMs = deps.intervalMs ?? RECEIVER_RECONCILE_REQUEST_INTERVAL_MS;
  }

  /** Resolves true when the annotation was written; never rejects (a failure is logged). */
  async request(namespace: string, name: string): Promise<boolean> {
    const key = `${namespace}/${name}`;
    const now = this.deps.now?.() ?? new Date();
    const at = this.last.get(key);
    if (at !== undefined && now.getTime() - at < this.intervalMs) return false;
    if (at === undefined && this.last.size >= MAX_REMEMBERED) this.forgetOlderThan(now.getTime() - this.intervalMs);
    this.last.set(key, now.getTime()); // before the write: concurrent triggers of the same Receiver ask once
    const patch = { metadata: { annotations: { [RECONCILE_REQUESTED_AT]: now.toISOString() } } };
    try {
      await this.deps.client.patch(RECEIVERS, namespace, name, patch, 'merge');
      this.deps.log.info('Receiver reconcile requested: its status.webhookPath was changed by someone else', { receiver: key });
      return true;
    } catch (error) {
      this.deps.log.warn('Receiver reconcile request failed', {
        receiver: key,
        error: error instanceof Error ? error.message : String(error),
      });
      return false;
    }
  }

  private forgetOlderThan(at: number): void {
    for (const [key, asked] of this.last) if (asked < at) this.last.delete(key);
  }
}
