/**
 * Lets a repeated log line through at most once per interval per key, and counts the ones held back
 * meanwhile, so that a line that can be provoked from outside (an unauthenticated webhook, say) cannot
 * flood the log while the first one and the count still say what happened.
 */
export class LogRateLimit {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly intervalMs: number) {}

  /** undefined: hold this line back; a number: log it, with the count of lines held back since the last one logged. */
  take(key: string, now: number): number | undefined {
    const seen = this.last.get(key);
    if (seen && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return undefined;
    }
    if (!seen && this.last.size >= 10_000) this.forgetOlderThan(now - this.intervalMs);
    this.last.set(key, { at: now, suppressed: 0 });
    return seen?.suppressed ?? 0;
  }

  private forgetOlderThan(at: number): void {
    for (const [key, seen] of this.last) if (seen.at < at) this.last.delete(key);
  }
}
