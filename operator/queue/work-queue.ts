/**
 * A keyed work queue with client-go's contract: a key is never processed by two workers at once; adding a
 * key that is already waiting does nothing; a key added while it is being processed runs once more after;
 * failures back off per key exponentially; `addAfter` schedules; `shutdown` stops taking work and waits for
 * the workers to drain. Time is injected so tests need no real waiting.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** What a handler asks for after processing a key. */
export type Outcome = { kind: 'done' } | { kind: 'requeueAfter'; ms: number } | { kind: 'retry'; error: unknown };

export interface WorkQueueOptions {
  workers: number;
  backoff?: Backoff;
  clock?: Clock;
  onDepthChange?: (depth: number) => void;
  onError?: (key: string, error: unknown, attempt: number) => void;
  /** Start paused: keys are kept (deduplicated) but none is processed until `resume()` (leader election). */
  paused?: boolean;
}

export class WorkQueue {
  private readonly waiting: string[] = [];
  private readonly waitingSet = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirtyWhileProcessing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; handle: unknown }>();
  private readonly clock: Clock;
  private readonly backoff: Backoff;
  private active = 0;
  private shuttingDown = false;
  private paused: boolean;
  private drained?: { promise: Promise<void>; resolve: () => void };

  constructor(
    private readonly handler: (key: string) => Promise<Outcome>,
    private readonly opts: WorkQueueOptions,
  ) {
    this.clock = opts.clock ?? realClock;
    this.backoff = opts.backoff ?? { baseMs: 500, maxMs: 5 * 60_000 };
    this.paused = opts.paused ?? false;
  }

  /** Stops starting keys (running ones finish); keys added meanwhile wait. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.pump();
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      this.dirtyWhileProcessing.add(key);
      return;
    }
    if (this.waitingSet.has(key)) return;
    this.waitingSet.add(key);
    this.waiting.push(key);
    this.opts.onDepthChange?.(this.depth);
    this.pump();
  }

  /** Adds the key after `ms`; an earlier pending schedule for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = this.clock.now() + ms;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) this.clock.clearTimeout(pending.handle);
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    this.timers.set(key, { at, handle });
  }

  get depth(): number {
    return this.waiting.length;
  }

  /** Failures so far for a key (0 after a success). */
  attempts(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Stops taking new keys, cancels schedules and resolves once running handlers have finished. */
  shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const { handle } of this.timers.values()) this.clock.clearTimeout(handle);
    this.timers.clear();
    this.waiting.length = 0;
    this.waitingSet.clear();
    if (this.active === 0) return Promise.resolve();
    if (!this.drained) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.drained = { promise, resolve };
    }
    return this.drained.promise;
  }

  private pump(): void {
    while (!this.shuttingDown && !this.paused && this.active < this.opts.workers && this.waiting.length > 0) {
      const key = this.waiting.shift()!;
      this.waitingSet.delete(key);
      this.opts.onDepthChange?.(this.depth);
      this.processing.add(key);
      this.active++;
      void this.process(key);
    }
  }

  private async process(key: string): Promise<void> {
    let outcome: Outcome;
    try {
      outcome = await this.handler(key);
    } catch (error) {
      outcome = { kind: 'retry', error };
    }
    this.processing.delete(key);
    this.active--;
    if (outcome.kind === 'retry') {
      const attempt = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, attempt);
      this.opts.onError?.(key, outcome.error, attempt);
      this.addAfter(key, Math.min(this.backoff.baseMs * 2 ** (attempt - 1), this.backoff.maxMs));
    } else {
      this.failures.delete(key);
      if (outcome.kind === 'requeueAfter') this.addAfter(key, outcome.ms);
    }
    if (this.dirtyWhileProcessing.delete(key)) this.add(key);
    if (this.shuttingDown && this.active === 0) this.drained?.resolve();
    this.pump();
  }
}
