/**
 * Triggers waiting to be sent, one slot per Receiver. Pushes that arrive while a trigger for the same
 * Receiver is still waiting collapse into it (Flux fetches the newest commit anyway); a push that arrives
 * while it is being sent queues exactly one more, because that push may be newer than what the running
 * trigger makes Flux fetch. At most `concurrency` are sent at once.
 *
 * Overflow policy: at most `maxPending` Receivers wait. Beyond that a new trigger is dropped and counted
 * (fluxlink_triggers_dropped_total); the GitRepository's own spec.interval still picks the commit up.
 * Dropping the newest keeps memory bounded and never delays triggers already accepted.
 */
export interface TriggerJob {
  key: string; // namespace/receiver
  run(): Promise<void>;
}

export type EnqueueResult = 'queued' | 'coalesced' | 'dropped';

export interface TriggerQueueOptions {
  concurrency: number;
  maxPending: number;
  onDepth?: (depth: number) => void;
}

export class TriggerQueue {
  private readonly waiting = new Map<string, TriggerJob>(); // insertion order = FIFO
  private readonly running = new Set<string>();
  private idleWaiters: Array<() => void> = [];
  private closed = false;

  constructor(private readonly opts: TriggerQueueOptions) {}

  enqueue(job: TriggerJob): EnqueueResult {
    if (this.closed) return 'dropped';
    if (this.waiting.has(job.key)) {
      this.waiting.set(job.key, job); // newest push's details win; position kept
      return 'coalesced';
    }
    if (this.waiting.size >= this.opts.maxPending) return 'dropped';
    this.waiting.set(job.key, job);
    this.opts.onDepth?.(this.waiting.size);
    this.pump();
    return 'queued';
  }

  get depth(): number {
    return this.waiting.size;
  }

  get inFlight(): number {
    return this.running.size;
  }

  /** Resolves when nothing waits and nothing runs. */
  idle(): Promise<void> {
    if (this.waiting.size === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops taking triggers; resolves when what was accepted has been sent (or the caller stops waiting). */
  close(): Promise<void> {
    this.closed = true;
    return this.idle();
  }

  private pump(): void {
    for (const [key, job] of this.waiting) {
      if (this.running.size >= this.opts.concurrency) break;
      if (this.running.has(key)) continue; // one at a time per Receiver
      this.waiting.delete(key);
      this.running.add(key);
      this.opts.onDepth?.(this.waiting.size);
      // Through a promise even if run() throws synchronously: the key must always leave `running`.
      void Promise.resolve()
        .then(() => job.run())
        .catch(() => undefined)
        .finally(() => {
          this.running.delete(key);
          this.pump();
          if (this.waiting.size === 0 && this.running.size === 0) this.idleWaiters.splice(0).forEach((w) => w());
        });
    }
  }
}
