/**
 * Leader election on a coordination.k8s.io/v1 Lease, client-go's algorithm as pure functions. Expiry is
 * judged on this replica's own clock, from when it last saw the lease record change (never from the
 * holder's renewTime), so clock skew between replicas cannot make two leaders.
 */
export interface LeaseRecord {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** The last record this replica saw and when, by its own clock (ms). */
export interface Observation {
  record: LeaseRecord;
  at: number;
}

export interface LeaseSettings {
  identity: string;
  leaseDurationSeconds: number;
}

export type Decision =
  /** Write this record (create when there is none, else replace at the read resourceVersion). */
  | { kind: 'write'; record: LeaseRecord; acquiring: boolean }
  /** Another replica holds a live lease. */
  | { kind: 'follow'; holder: string };

/** Observation to keep after reading `current` at `now`: its time moves only when the record changed. */
export function observe(previous: Observation | undefined, current: LeaseRecord | undefined, now: number): Observation {
  const record = current ?? {};
  if (previous && sameRecord(previous.record, record)) return previous;
  return { record, at: now };
}

export function decide(observed: Observation, now: number, settings: LeaseSettings): Decision {
  const { record } = observed;
  const holder = record.holderIdentity ?? '';
  const mine = holder === settings.identity;
  const duration = (record.leaseDurationSeconds ?? settings.leaseDurationSeconds) * 1000;
  const expired = holder === '' || observed.at + duration <= now;
  if (!mine && !expired) return { kind: 'follow', holder };

  const at = microTime(now);
  return {
    kind: 'write',
    acquiring: !mine,
    record: {
      holderIdentity: settings.identity,
      leaseDurationSeconds: settings.leaseDurationSeconds,
      acquireTime: mine ? (record.acquireTime ?? at) : at,
      renewTime: at,
      // Counted as client-go does: each change of holder, a step-down included; not the first acquisition.
      leaseTransitions: (record.leaseTransitions ?? 0) + (mine || record.holderIdentity === undefined ? 0 : 1),
    },
  };
}

/** The record a leader writes when it steps down, so a successor need not wait for expiry. */
export function released(record: LeaseRecord, now: number): LeaseRecord {
  return { ...record, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(now) };
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits (the API server refuses three). */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.renewTime === b.renewTime &&
    a.leaseTransitions === b.leaseTransitions &&
    a.leaseDurationSeconds === b.leaseDurationSeconds
  );
}
