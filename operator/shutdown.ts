/**
 * The order of a graceful stop (SIGTERM), as steps main.ts fills in. Leadership is given up as soon as the
 * leader's own work is done, before the triggers drain: triggers are every replica's work (each triggers for the
 * webhooks it answered) and need no Lease, and a Receiver that does not answer keeps them retrying for the whole
 * shutdown bound. Held until then, the Lease was renewed all the while and a successor waited for it
 * (docs/adr/0005-leader-election.md).
 */
export interface ShutdownSteps {
  /** Nothing new starts (the catch-up). */
  stopIntake(): void;
  /** The leader's work: running reconciles (each writes its status before it ends). */
  drainLeaderWork(): Promise<unknown>;
  /** Gives the Lease up (a successor starts at its next retry). */
  releaseLease(): Promise<unknown>;
  /** Every replica's work: the triggers queued for webhooks already answered, and their records. */
  drainTriggers(): Promise<unknown>;
  stopCaches(): Promise<unknown>;
  closeServers(): Promise<unknown>;
}

/** Runs the steps in order; the waits that can last share one bound (SHUTDOWN_TIMEOUT_SECONDS). */
export async function shutdown(steps: ShutdownSteps, timeoutMs: number): Promise<void> {
  const timeout = new Promise((r) => setTimeout(r, timeoutMs).unref());
  steps.stopIntake();
  await Promise.race([steps.drainLeaderWork(), timeout]);
  // Released only after the leader's last write: a successor must not start while we still reconcile.
  await steps.releaseLease();
  await Promise.race([steps.drainTriggers(), timeout]);
  await Promise.race([steps.stopCaches(), timeout]);
  await steps.closeServers();
}
