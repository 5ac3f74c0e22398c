// The emulator's notion of "now". GitLab's time-dependent behaviour (a hook's backoff after failures, the
// test endpoint's and the API's per-minute limits, the events API's 7-day window) reads this clock, so a test
// can run a day of backoff in no time: `server.gitlab.clock.advance(60_000)` moves the emulator one minute
// ahead of the real clock. Only forward: GitLab's clock never goes back.
export interface Clock {
  /** Milliseconds since the epoch, as Date.now(). */
  now(): number;
}

/** Real time plus an offset that only grows. */
export class AdjustableClock implements Clock {
  #offsetMs = 0;

  now(): number {
    return Date.now() + this.#offsetMs;
  }

  /** Moves the clock forward by `ms` (a finite number >= 0). */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`the emulator clock only moves forward (got ${ms})`);
    this.#offsetMs += ms;
  }

  /**
   * Moves the clock to just past the start of the next minute. The emulator's per-minute limits count in fixed
   * windows, as GitLab's do: a test that counts up to a limit from there has the whole window, whatever the real
   * time (a window that ended between its requests would let one more through).
   */
  advanceToNextMinute(): void {
    this.advance(60_000 - (this.now() % 60_000) + 1);
  }
}
