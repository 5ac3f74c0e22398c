/**
 * Writes the operator made whose echo its caches have not shown yet (client-go's "expectations"). Planning
 * before the watch delivered them would redo them: create again (AlreadyExists, then a GET to tell ours from
 * someone else's), patch again, delete again — at 10,000 repositories that doubles the API traffic of a
 * convergence. A write is seen once the cache shows the resourceVersion it answered with, or any other than
 * before the write (a later change), or the object gone, for a delete; one not seen within `ttlMs` is
 * forgotten (a missed event must not block the link forever: the informer re-lists on any watch error).
 */
export interface Expected {
  /** resourceVersion in the cache before the write (undefined: the object was not there: a create). */
  before: string | undefined;
  /** resourceVersion the write answered with (a patch that changed nothing answers `before` again). */
  after: string | undefined;
  deleted: boolean;
  until: number;
}

export type CacheLookup = (kind: string, namespace: string, name: string) => string | undefined | null; // rv, or null when absent

export class Expectations {
  private readonly byLink = new Map<string, Map<string, Expected>>();

  constructor(private readonly ttlMs = 30_000) {}

  expect(
    link: string,
    kind: string,
    namespace: string,
    name: string,
    write: { before: string | undefined; after: string | undefined; deleted: boolean },
    now: number,
  ): void {
    let m = this.byLink.get(link);
    if (!m) this.byLink.set(link, (m = new Map()));
    m.set(`${kind}\u0000${namespace}\u0000${name}`, { ...write, until: now + this.ttlMs });
  }

  /** Drops what the cache now shows (or what expired); true when nothing is left to wait for. */
  satisfied(link: string, lookup: CacheLookup, now: number): boolean {
    const m = this.byLink.get(link);
    if (!m) return true;
    for (const [key, e] of m) {
      const [kind, namespace, name] = key.split('\u0000') as [string, string, string];
      if (now > e.until || seen(e, lookup(kind, namespace, name))) m.delete(key);
    }
    if (m.size === 0) this.byLink.delete(link);
    return m.size === 0;
  }

  pending(link: string): number {
    return this.byLink.get(link)?.size ?? 0;
  }

  forget(link: string): void {
    this.byLink.delete(link);
  }
}

export function seen(e: Expected, current: string | null | undefined): boolean {
  if (e.deleted) return current === null || current !== e.before;
  // A patched object gone from the cache was deleted after our patch: the watch is past it. A created one
  // not there yet is simply not seen yet.
  if (current === null || current === undefined) return e.before !== undefined;
  return current === e.after || current !== e.before;
}
