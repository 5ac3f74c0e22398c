// A project hook's failure state, as app/models/concerns/web_hooks/auto_disabling.rb (GitLab 17.11+) keeps it:
// `recent_failures` and `disabled_until`. Pure functions of (state, now); the store applies them after every
// delivery (app/services/web_hooks/log_execution_service.rb: a 2xx or 3xx answer calls enable!, anything else
// backoff!).
export interface FailureState {
  recentFailures: number;
  /** ms since the epoch; null when never backed off (or re-enabled). */
  disabledUntil: number | null;
}

export type AlertStatus = 'executable' | 'temporarily_disabled' | 'disabled';

export const TEMPORARILY_DISABLED_FAILURE_THRESHOLD = 3; // the 4th consecutive failure backs off
export const PERMANENTLY_DISABLED_FAILURE_THRESHOLD = 39; // the 40th disables for good
export const INITIAL_BACKOFF_MS = 60_000;
export const MAX_BACKOFF_MS = 24 * 60 * 60_000;

export const HEALTHY: FailureState = Object.freeze({ recentFailures: 0, disabledUntil: null });

function temporarilyDisabled(s: FailureState, now: number): boolean {
  return (
    s.disabledUntil !== null &&
    s.disabledUntil >= now &&
    s.recentFailures > TEMPORARILY_DISABLED_FAILURE_THRESHOLD &&
    s.recentFailures <= PERMANENTLY_DISABLED_FAILURE_THRESHOLD
  );
}

/** What the API shows; always `executable` where auto-disabling is off (older GitLab, or the flag off). */
export function alertStatus(s: FailureState, now: number, enabled: boolean): AlertStatus {
  if (!enabled) return 'executable';
  if (temporarilyDisabled(s, now)) return 'temporarily_disabled';
  if (s.recentFailures > PERMANENTLY_DISABLED_FAILURE_THRESHOLD) return 'disabled';
  return 'executable';
}

/** Whether an event fired now is delivered (not: dropped, never queued). */
export function executable(s: FailureState, now: number, enabled: boolean): boolean {
  return alertStatus(s, now, enabled) === 'executable';
}

/** The backoff after the (failures+1)th failure: 1 min at the 4th, doubling, at most a day. */
export function backoffMs(failuresBefore: number): number {
  const n = failuresBefore - TEMPORARILY_DISABLED_FAILURE_THRESHOLD;
  return Math.min(MAX_BACKOFF_MS, Math.max(INITIAL_BACKOFF_MS, INITIAL_BACKOFF_MS * 2 ** n));
}

/**
 * The state after a delivery answered `ok` (2xx/3xx) or `error` (anything else, or no answer). A failure of a
 * hook that is not executable (a forced test delivery while disabled) changes nothing, as backoff! returns early.
 */
export function afterDelivery(s: FailureState, outcome: 'ok' | 'error', now: number, enabled: boolean): FailureState {
  if (!enabled) return s;
  if (outcome === 'ok') return HEALTHY;
  if (!executable(s, now, enabled)) return s;
  const recentFailures = Math.min(Math.max(s.recentFailures + 1, 1), PERMANENTLY_DISABLED_FAILURE_THRESHOLD + 1);
  const disabledUntil = recentFailures > TEMPORARILY_DISABLED_FAILURE_THRESHOLD ? now + backoffMs(s.recentFailures) : s.disabledUntil;
  return { recentFailures, disabledUntil };
}
