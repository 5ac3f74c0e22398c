import { isAlreadyExists, isConflict, type KubeClient } from '../kube/client.js';
import type { KubeObject } from '../meta/object.js';
import { LEASES } from '../meta/resource.js';
import { decide, type LeaseRecord, type Observation, observe, released } from './lease-decision.js';

export interface LeaderElectionSettings {
  namespace: string;
  name: string;
  identity: string;
  /** How long a lease is valid without renewal; a follower takes over after that (controller-runtime: 15 s). */
  leaseDurationSeconds: number;
  /** A leader that could not renew for this long stops leading (must be < leaseDuration; 10 s). */
  renewDeadlineSeconds: number;
  /** Time between attempts to acquire or renew (2 s). */
  retryPeriodSeconds: number;
}

export interface LeaderCallbacks {
  onStartedLeading(): void;
  /** Leadership lost without stepping down (no renewal within the deadline): stop starting new work. */
  onStoppedLeading(): void;
  onNewLeader?(identity: string): void;
  onError?(error: unknown): void;
}

type Lease = KubeObject & { spec?: LeaseRecord };

/**
 * Runs the election loop: acquire, then renew every retry period. A leader that has not renewed within the
 * renew deadline reports the loss; `stop()` steps down (the Lease is released so a successor takes over at
 * its next attempt instead of after the lease duration).
 */
export class LeaderElector {
  private observed?: Observation;
  private lease?: Lease;
  private leading = false;
  private lastRenew = 0;
  private timer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;
  private stopped = false;
  private running?: Promise<void>;

  constructor(
    private readonly client: KubeClient,
    private readonly settings: LeaderElectionSettings,
    private readonly callbacks: LeaderCallbacks,
    private readonly now: () => number = Date.now,
  ) {
    if (settings.renewDeadlineSeconds >= settings.leaseDurationSeconds)
      throw new Error('LEASE_RENEW_DEADLINE_SECONDS must be less than LEASE_DURATION_SECONDS');
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    // The deadline is checked on its own timer: an attempt can hang on an unreachable API server for longer
    // than the deadline, and a leader must notice that it lost the lease while it still waits.
    this.watchdog = setInterval(() => this.checkDeadline(), 250);
    this.watchdog.unref();
    this.tick();
  }

  private checkDeadline(): void {
    if (this.leading && this.now() - this.lastRenew > this.settings.renewDeadlineSeconds * 1000) {
      this.leading = false;
      this.callbacks.onStoppedLeading();
    }
  }

  private tick(): void {
    if (this.stopped) return;
    this.running = this.step().finally(() => {
      if (!this.stopped) this.timer = setTimeout(() => this.tick(), this.settings.retryPeriodSeconds * 1000);
    });
  }

  /** One round: acquire or renew, then check the renew deadline. `start()` runs it every retry period. */
  async step(): Promise<void> {
    try {
      await this.tryAcquireOrRenew();
    } catch (error) {
      this.callbacks.onError?.(error);
    }
    this.checkDeadline();
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { client, settings } = this;
    const current = await client.get<Lease>(LEASES, settings.namespace, settings.name);
    const previousHolder = this.observed?.record.holderIdentity;
    this.observed = observe(this.observed, current?.spec, this.now());
    const decision = decide(this.observed, this.now(), settings);
    if (decision.kind === 'follow') {
      if (decision.holder !== previousHolder) this.callbacks.onNewLeader?.(decision.holder);
      return;
    }
    const at = this.now();
    try {
      this.lease = current
        ? await client.replace<Lease>(LEASES, { ...current, spec: decision.record })
        : await client.create<Lease>(LEASES, {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: settings.name, namespace: settings.namespace },
            spec: decision.record,
          });
    } catch (error) {
      // Another replica wrote first: it won this round; we see its record at the next attempt.
      if (isConflict(error) || isAlreadyExists(error)) return;
      throw error;
    }
    this.observed = observe(this.observed, this.lease.spec, at);
    // Renewal time is taken before the request: the lease is valid from then on, never later.
    this.lastRenew = at;
    if (!this.leading) {
      this.leading = true;
      this.callbacks.onNewLeader?.(settings.identity);
      this.callbacks.onStartedLeading();
    }
  }

  /** Stops the loop; a leader releases the Lease. Never throws. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    await this.running;
    if (!this.leading || !this.lease?.spec) return;
    this.leading = false;
    try {
      await this.client.replace<Lease>(LEASES, { ...this.lease, spec: released(this.lease.spec, this.now()) });
    } catch (error) {
      // Not released: a successor takes over when the lease expires.
      this.callbacks.onError?.(error);
    }
  }
}
