import { createHash } from 'node:crypto';

/**
 * A bounded set of keys that expire: the webhook deliveries accepted lately, so a replay of one is not
 * acted on again. Pure (the clock is injected) and bounded in both time and memory:
 * - a key is forgotten `ttlMs` after it was added;
 * - at most `maxEntries` keys are held; adding one more forgets the oldest first (under a flood of distinct
 *   deliveries the oldest can then be replayed once more: memory wins over perfect recall);
 * - keys are stored as a SHA-256 digest (44 characters), so a sender's long ids cost no more than short ones.
 * Keys sit in a ring in the order they were added, which with one TTL for all is expiry order: expiry and
 * eviction take them from the ring's head, and a Map answers lookups, so every call is O(1) amortised (a Map
 * is never iterated: V8 leaves deleted entries in place until it rehashes, and walking past them is O(n)).
 */
export interface RecentDeliveriesOptions {
  ttlMs: number;
  maxEntries: number;
  now: () => number;
}

interface Addition {
  digest: string;
  expiry: number;
  /** Which addition this is: a key added twice in one millisecond has two of the same expiry. */
  n: number;
}

export class RecentDeliveries {
  /** digest → its latest addition. */
  private readonly index = new Map<string, Addition>();
  /** The ring: additions in order, `count` of them from `head`. */
  private readonly ring: Array<Addition | undefined>;
  private head = 0;
  private count = 0;
  private added = 0;

  constructor(private readonly opts: RecentDeliveriesOptions) {
    if (!(opts.maxEntries >= 1) || !(opts.ttlMs > 0)) throw new Error('RecentDeliveries needs maxEntries >= 1 and ttlMs > 0');
    this.ring = new Array(opts.maxEntries);
  }

  get size(): number {
    return this.index.size;
  }

  /** Whether the key was added less than ttlMs ago (and not evicted since). */
  has(key: string): boolean {
    const now = this.opts.now();
    this.expire(now);
    const latest = this.index.get(digest(key));
    return latest !== undefined && latest.expiry > now;
  }

  /** Remembers the key for ttlMs from now. */
  add(key: string): void {
    const now = this.opts.now();
    this.expire(now);
    if (this.count === this.ring.length) this.evictHead();
    const entry: Addition = { digest: digest(key), expiry: now + this.opts.ttlMs, n: this.added++ };
    this.ring[(this.head + this.count) % this.ring.length] = entry;
    this.count++;
    this.index.set(entry.digest, entry);
  }

  private expire(now: number): void {
    while (this.count > 0 && this.ring[this.head]!.expiry <= now) this.evictHead();
  }

  private evictHead(): void {
    const entry = this.ring[this.head]!;
    // A key added again since is held by that later addition (the index points at it).
    if (this.index.get(entry.digest)?.n === entry.n) this.index.delete(entry.digest);
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
  }
}

function digest(key: string): string {
  return createHash('sha256').update(key).digest('base64');
}
