import { type KubeObject, objectKey } from '../meta/object.js';
import type { Resource } from '../meta/resource.js';
import { isNotFound, type KubeClient, KubeError } from './client.js';
import { resourceLabel } from './resources.js';

/**
 * A list-then-watch cache of one resource, client-go's informer in miniature. It knows when it has synced
 * (the list is in), resumes the watch from the last resourceVersion, re-lists on 410 Gone or any error
 * (so a deletion missed while disconnected is never kept in the cache), and backs off while the API server
 * is away. Handlers receive each change as (type, object as kept, the object it replaces — none when ADDED),
 * and only real changes: a re-list that finds a resourceVersion unchanged calls nobody. They decide what to
 * enqueue; the reconcile reads the cache.
 *
 * The framework's own watch (@dot-i/k8s-operator) replays every object as ADDED after a reconnect without
 * telling which were deleted meanwhile, and exits the process on a watch error; correctness of the caches
 * below needs list+watch with resourceVersions, hence this.
 */
/**
 * How long a watch may last and how long it may stay silent. Like client-go's reflector: each watch asks the
 * API server to end it after a random time between minSeconds and twice that (so replicas and informers do
 * not re-watch in step), and a watch that delivers no event and no bookmark for idleMs is taken as dead and
 * replaced, resuming from the last resourceVersion. The API server sends a bookmark about every minute
 * (allowWatchBookmarks), so silence means a connection that a NAT or load balancer dropped without a FIN;
 * without this check the cache would stall until TCP gives up, many minutes later.
 */
export interface WatchTimeouts {
  minSeconds: number;
  idleMs: number;
}

export const DEFAULT_WATCH_TIMEOUTS: WatchTimeouts = { minSeconds: 300, idleMs: 150_000 };

export type ChangeHandler<T> = (type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: T, old?: T) => void;

export interface InformerOptions<T extends KubeObject = KubeObject> {
  labelSelector?: string;
  /** Called when the resource does not exist (its CRD is not installed); the informer retries. */
  onMissing?: (missing: boolean) => void;
  onError?: (err: unknown) => void;
  /** What the store keeps of each object (operator/kube/slim.ts); handlers see the kept form. */
  transform?: (obj: T) => T;
  sleep?: (ms: number) => Promise<void>;
  watchTimeouts?: WatchTimeouts;
  /** In [0, 1); jitters the server-side watch timeout. */
  random?: () => number;
}

export class Informer<T extends KubeObject> {
  private readonly store = new Map<string, T>();
  private readonly handlers: ChangeHandler<T>[] = [];
  private synced = false;
  private stopped = false;
  private current?: { abort(): void };
  private syncWaiters: Array<() => void> = [];
  private readonly sleep: (ms: number) => Promise<void>;
  private wake?: () => void;

  constructor(
    private readonly client: KubeClient,
    readonly resource: Resource,
    private readonly opts: InformerOptions<T> = {},
  ) {
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  onChange(handler: ChangeHandler<T>): void {
    this.handlers.push(handler);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(namespace ? `${namespace}/${name}` : name);
  }

  list(): T[] {
    return [...this.store.values()];
  }

  get size(): number {
    return this.store.size;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** Runs until stop(); never throws. */
  async run(): Promise<void> {
    let backoffMs = 500;
    while (!this.stopped) {
      try {
        const rv = await this.relist();
        this.opts.onMissing?.(false);
        backoffMs = 500;
        await this.watchFrom(rv);
      } catch (err) {
        if (this.stopped) break;
        if (isNotFound(err)) this.opts.onMissing?.(true);
        else if (!(err instanceof KubeError && err.status === 410)) this.opts.onError?.(err);
        // stop() must not wait out a 30 s backoff: race the sleep against a wake-up.
        await Promise.race([this.sleep(backoffMs), new Promise<void>((r) => (this.wake = r))]);
        backoffMs = Math.min(backoffMs * 2, 30_000);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.current?.abort();
    this.wake?.();
  }

  private async relist(): Promise<string> {
    const { items, resourceVersion } = await this.client.list<T>(this.resource, { labelSelector: this.opts.labelSelector, limit: 500 });
    const seen = new Set<string>();
    for (const item of items) {
      const key = objectKey(item);
      seen.add(key);
      this.apply(this.store.has(key) ? 'MODIFIED' : 'ADDED', item);
    }
    for (const [key, old] of this.store) {
      if (!seen.has(key)) this.apply('DELETED', old);
    }
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    return resourceVersion;
  }

  private async watchFrom(resourceVersion: string): Promise<void> {
    const { minSeconds, idleMs } = this.opts.watchTimeouts ?? DEFAULT_WATCH_TIMEOUTS;
    const random = this.opts.random ?? Math.random;
    let rv = resourceVersion;
    while (!this.stopped) {
      const timeoutSeconds = Math.floor(minSeconds * (1 + random()));
      let idle: ReturnType<typeof setTimeout> | undefined;
      let silent = false;
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          silent = true;
          handle.abort();
        }, idleMs);
        idle.unref(); // the watch's socket keeps the process alive, not this timer
      };
      const handle = this.client.watch<T>(
        this.resource,
        { labelSelector: this.opts.labelSelector, resourceVersion: rv, timeoutSeconds },
        (event) => {
          arm();
          rv = event.object.metadata.resourceVersion ?? rv;
          if (event.type === 'BOOKMARK') return;
          this.apply(event.type as 'ADDED' | 'MODIFIED' | 'DELETED', event.object);
        },
      );
      this.current = handle;
      arm(); // also covers a watch whose answer never comes
      try {
        await handle.done; // a normal end (timeoutSeconds, or the API server's own limit): resume from rv
      } finally {
        clearTimeout(idle);
      }
      if (silent && !this.stopped) {
        this.opts.onError?.(
          new Error(
            `watch of ${resourceLabel(this.resource)} silent for ${idleMs / 1000} s (no event, no bookmark): connection presumed dead, watching again`,
          ),
        );
      }
    }
  }

  private apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', received: T): void {
    const obj = this.opts.transform ? this.opts.transform(received) : received;
    const key = objectKey(obj);
    const old = this.store.get(key);
    if (type === 'DELETED') {
      if (!old) return;
      this.store.delete(key);
    } else {
      // An unchanged resourceVersion after a re-list is no change: don't wake anybody.
      if (old && old.metadata.resourceVersion === obj.metadata.resourceVersion) return;
      this.store.set(key, obj);
    }
    for (const h of this.handlers) h(type, obj, old);
  }
}
