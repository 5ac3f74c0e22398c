import type { PushRecord, TriggerRecord } from '../api/v1alpha1/types.js';
import type { KubeClient } from '../kube/client.js';
import { LINKS } from '../api/v1alpha1/types.js';

/**
 * The link's status.lastPush and status.lastTrigger, written at most once per `intervalMs` per link: a push
 * storm must not become a write storm. A merge patch of these two fields only, so it never undoes what the
 * reconcile wrote (and the reconcile keeps them, since it starts from the stored status).
 */
export class PushStatusRecorder {
  private readonly pending = new Map<string, { lastPush?: PushRecord; lastTrigger?: TriggerRecord }>();
  private timer?: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: KubeClient,
    private readonly intervalMs = 5_000,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  push(link: string, record: PushRecord): void {
    this.update(link, { lastPush: record });
  }

  trigger(link: string, record: TriggerRecord): void {
    this.update(link, { lastTrigger: record });
  }

  private update(link: string, change: { lastPush?: PushRecord; lastTrigger?: TriggerRecord }): void {
    this.pending.set(link, { ...this.pending.get(link), ...change });
    this.timer ??= setTimeout(() => void this.flush(), this.intervalMs);
    this.timer.unref?.();
  }

  /** Writes what is pending now; flushes run one after another, so an older record never lands last. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.pending];
    this.pending.clear();
    this.flushing = this.flushing.then(async () => {
      for (const [link, status] of batch) {
        try {
          await this.client.patch(LINKS, undefined, link, { status }, 'merge', { subresource: 'status' });
        } catch (err) {
          this.onError(err);
        }
      }
    });
    return this.flushing;
  }
}
