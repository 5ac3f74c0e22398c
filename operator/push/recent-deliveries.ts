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

export class RecentDeliveries {
  /** digest → expiry time (ms) of its latest addition. */
  private readonly index = new Map<string, number>();
  /** The ring: additions in order, `count` of them from `head`. */
  private readonly ring: Array<{ digest: string; expiry: number } | undefined>;
  private head = 0;
  private count = 0;

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
    const expiry = this.index.get(digest(key));
    return expiry !== undefined && expiry > now;
  }

  /** Remembers the key for ttlMs from now. */
  add(key: string): void {
    const now = this.opts.now();
    this.expire(now);
    if (this.count === this.ring.length) this.evictHead();
    const entry = { digest: digest(key), expiry: now + this.opts.ttlMs };
    this.ring[(this.head + this.count) % this.ring.length] = entry;
    this.count++;
    this.index.set(entry.digest, entry.expiry);
  }

  private expire(now: number): void {
    while (this.count > 0 && this.ring[this.head]!.expiry <= now) this.evictHead();
  }

  private evictHead(): void {
    const entry = this.ring[this.head]!;
    // A key added again since has a later expiry in the index: that later addition still holds it.
    if (this.index.get(entry.digest) === entry.expiry) this.index.delete(entry.digest);
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
  }
}

function digest(key: string): string {
  return createHash('sha256').update(key).digest('base64');
}
