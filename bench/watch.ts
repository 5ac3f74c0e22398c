import { sleep } from '../e2e/testenv/probe.js';
import { distinctByAt } from './gitlab-stats.js';
import { type CatchUpRecord, LINKS } from '../operator/api/v1alpha1/types.js';
import { GIT_REPOSITORIES, type GitRepository, type Receiver, receiverReadiness, RECEIVERS } from '../operator/flux/types.js';
import type { KubeClient } from '../operator/kube/client.js';
import { Informer } from '../operator/kube/informer.js';
import { type KubeObject, objectKey } from '../operator/meta/object.js';

/**
 * What the benchmarks observe, through watches rather than polling (a `kubectl get` every 100 ms would
 * cost more CPU than what it measures): new artifact revisions, and Receivers becoming Ready.
 */

/** A wait that ran out of time: the run reports it as "not reached", it does not fail the build. */
export class BenchTimeout extends Error {
  constructor(what: string, ms: number, last?: string) {
    super(`not reached within ${Math.round(ms / 1000)} s: ${what}${last ? ` (last: ${last})` : ''}`);
    this.name = 'BenchTimeout';
  }
}

/** Polls `check` until it returns a value (not undefined/false); `describe` tells the last state on timeout. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  intervalMs = 250,
  describe?: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let error: string | undefined;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      error = undefined;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() >= deadline) throw new BenchTimeout(what, timeoutMs, error ?? describe?.());
    await sleep(intervalMs);
  }
}

/** The time (Date.now()) each GitRepository was first seen with each artifact revision. */
export class RevisionWatcher {
  private readonly informer: Informer<GitRepository>;
  private readonly run: Promise<void>;
  private readonly seen = new Map<string, number>(); // "ns/name revision" → ms
  private readonly waiters = new Map<string, Array<(at: number) => void>>();

  constructor(client: KubeClient) {
    this.informer = new Informer<GitRepository>(client, GIT_REPOSITORIES);
    this.informer.onChange((_type, repo) => {
      const rev = repo.status?.artifact?.revision;
      if (!rev) return;
      const key = `${objectKey(repo)} ${rev}`;
      if (this.seen.has(key)) return;
      const at = Date.now();
      this.seen.set(key, at);
      for (const w of this.waiters.get(key) ?? []) w(at);
      this.waiters.delete(key);
    });
    this.run = this.informer.run();
  }

  synced(): Promise<void> {
    return this.informer.waitForSync();
  }

  revision(namespace: string, name: string): string | undefined {
    return this.informer.get(namespace, name)?.status?.artifact?.revision;
  }

  /** Resolves with the time the revision was first seen (at once if it already was). */
  waitFor(namespace: string, name: string, revision: string, timeoutMs: number): Promise<number> {
    const key = `${namespace}/${name} ${revision}`;
    const at = this.seen.get(key);
    if (at !== undefined) return Promise.resolve(at);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new BenchTimeout(`artifact ${revision} of ${namespace}/${name} (now ${this.revision(namespace, name) ?? 'none'})`, timeoutMs),
          ),
        timeoutMs,
      );
      const list = this.waiters.get(key) ?? [];
      list.push((t) => {
        clearTimeout(timer);
        resolve(t);
      });
      this.waiters.set(key, list);
    });
  }

  async stop(): Promise<void> {
    this.informer.stop();
    await this.run;
  }
}

/** Counts Ready Receivers (Ready=True, current generation, webhook path) among those a label selector picks. */
export class ReadyReceivers {
  private readonly informer: Informer<Receiver>;
  private readonly run: Promise<void>;
  private readonly ready = new Set<string>();
  private waiters: Array<{ n: number; resolve: (at: number) => void }> = [];

  constructor(client: KubeClient, labelSelector: string) {
    this.informer = new Informer<Receiver>(client, RECEIVERS, { labelSelector });
    this.informer.onChange((type, r) => {
      const key = objectKey(r);
      if (type !== 'DELETED' && receiverReadiness(r).ready) this.ready.add(key);
      else this.ready.delete(key);
      const now = Date.now();
      this.waiters = this.waiters.filter((w) => (this.ready.size >= w.n ? (w.resolve(now), false) : true));
    });
    this.run = this.informer.run();
  }

  synced(): Promise<void> {
    return this.informer.waitForSync();
  }

  get count(): number {
    return this.ready.size;
  }

  get total(): number {
    return this.informer.size;
  }

  /** Resolves with the time (Date.now()) at least `n` were Ready. */
  waitForCount(n: number, timeoutMs: number, what: string): Promise<number> {
    if (this.ready.size >= n) return Promise.resolve(Date.now());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.n !== n || w.resolve !== done);
        reject(new BenchTimeout(`${n} Ready Receivers (${what})`, timeoutMs, `${this.ready.size} Ready of ${this.informer.size}`));
      }, timeoutMs);
      const done = (at: number) => {
        clearTimeout(timer);
        resolve(at);
      };
      this.waiters.push({ n, resolve: done });
    });
  }

  async stop(): Promise<void> {
    this.informer.stop();
    await this.run;
  }
}

export interface LinkState {
  ready: boolean;
  repositories: number;
  readyReceivers: number;
  message?: string;
}

export async function linkState(client: KubeClient, name: string): Promise<LinkState | undefined> {
  const link = await client.get<
    KubeObject & {
      status?: { repositories?: number; readyReceivers?: number; conditions?: Array<{ type: string; status: string; message?: string }> };
    }
  >(LINKS, undefined, name);
  if (!link) return undefined;
  const ready = link.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    ready: ready?.status === 'True',
    repositories: link.status?.repositories ?? 0,
    readyReceivers: link.status?.readyReceivers ?? 0,
    message: ready?.message,
  };
}

/** Resolves with the time the link reported Ready with `n` repositories and `n` Ready Receivers. */
export function waitLinkReady(client: KubeClient, name: string, n: number, timeoutMs: number, intervalMs = 250): Promise<number> {
  let last: LinkState | undefined;
  return until(
    `link ${name} Ready with ${n} Ready Receivers`,
    async () => {
      last = await linkState(client, name);
      return last && last.ready && last.repositories === n && last.readyReceivers === n ? Date.now() : undefined;
    },
    timeoutMs,
    intervalMs,
    () => (last ? `${last.readyReceivers}/${last.repositories} Ready: ${last.message ?? ''}` : 'no link'),
  );
}

/** A link's catch-up as status.lastCatchUp records it. */
export type CatchUpRecordSeen = CatchUpRecord;

export async function lastCatchUp(client: KubeClient, link: string): Promise<CatchUpRecordSeen | undefined> {
  const l = await client.get<KubeObject & { status?: { lastCatchUp?: CatchUpRecordSeen } }>(LINKS, undefined, link);
  return l?.status?.lastCatchUp;
}

/**
 * Every catch-up of a link while it runs, read from status.lastCatchUp once a second (each record replaces the last;
 * with sweeps seconds apart none is missed). `stop()` keeps reading past the end for the status writer's batching
 * (up to 5 s) and answers the records that finished within [from, end), each once, in order.
 */
export class CatchUpRecords {
  private readonly seen: CatchUpRecordSeen[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly client: KubeClient,
    private readonly link: string,
    private readonly fromMs: number,
  ) {
    this.loop = (async () => {
      while (!this.stopped) {
        const r = await lastCatchUp(this.client, this.link).catch(() => undefined);
        if (r) this.seen.push(r);
        await sleep(1000);
      }
    })();
  }

  async stop(endMs = Date.now()): Promise<CatchUpRecordSeen[]> {
    await sleep(Math.max(0, endMs + 7_000 - Date.now()));
    this.stopped = true;
    await this.loop;
    return distinctByAt(this.seen).filter((r) => Date.parse(r.at) >= this.fromMs && Date.parse(r.at) < endMs);
  }
}
