/**
 * How long the events of the objects a link owns (its Receivers turning Ready, its Secrets) wait before they
 * wake the link. Each pass is O(repositories) and such events come one per object, so they are batched:
 * at least 1 s, and 3 times the link's last pass, at most 10 s. A fixed 1 s window cut the passes needed to
 * converge 1,000 repositories from 175 to 19, but at 10,000 a pass takes about a second itself, and the
 * link was reconciled back to back for the whole convergence (256 passes, 135 s of CPU, taken from the API
 * server and Flux on the same nodes). Scaled to the pass, status refreshes of a large link take at most a
 * quarter of the operator's time, and its status lags its Receivers by at most 10 s. Spec changes, links
 * and GitRepositories are not delayed.
 */
export const OWNED_EVENTS_MIN_DELAY_MS = 1_000;
export const OWNED_EVENTS_MAX_DELAY_MS = 10_000;
export const OWNED_EVENTS_PASS_FACTOR = 3;

export function ownedEventsDelay(lastPassMs: number | undefined): number {
  return Math.min(OWNED_EVENTS_MAX_DELAY_MS, Math.max(OWNED_EVENTS_MIN_DELAY_MS, OWNED_EVENTS_PASS_FACTOR * (lastPassMs ?? 0)));
}
