import type { Caches } from '../controllers/link-controller.js';
import { GIT_REPOSITORIES, RECEIVERS } from '../flux/types.js';
import type { KubeClient } from '../kube/client.js';
import { Informer, type InformerOptions } from '../kube/informer.js';
import { CACHE_TRANSFORMS } from '../kube/slim.js';
import type { KubeObject } from '../meta/object.js';
import { NAMESPACES, type Resource, SECRETS } from '../meta/resource.js';
import { LABEL_MANAGED_BY, MANAGED_BY } from '../reconcile/names.js';

// Re-exported for tests that take their async helpers from here.
export { deferred } from './fake-clock.js';

/** A sleep for informers under test: yields to the event loop instead of waiting 0.5-30 s between retries. */
export const quickSleep = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Lets pending promise callbacks and immediates run (a few rounds: chains of awaits settle). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

export interface RunningInformer<T extends KubeObject> {
  informer: Informer<T>;
  done: Promise<void>;
}

/** Starts one informer over `client` and waits until its first list is in. */
export async function startInformer<T extends KubeObject>(
  client: KubeClient,
  r: Resource,
  opts: InformerOptions<T> = {},
): Promise<RunningInformer<T>> {
  const informer = new Informer<T>(client, r, { sleep: quickSleep, ...opts });
  const done = informer.run();
  await informer.waitForSync();
  return { informer, done };
}

export interface RunningCaches {
  caches: Caches;
  /** Stops every informer and waits for their run() to return. */
  stop(): Promise<void>;
}

/**
 * The link controller's caches built the way main.ts builds them (Receivers and Secrets selected by
 * `app.kubernetes.io/managed-by=gitlab-flux-link`), running over `client`, synced on return.
 */
export async function startCaches(client: KubeClient, opts: { waitForSync?: boolean } = {}): Promise<RunningCaches> {
  const managed = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
  const caches: Caches = {
    gitRepositories: new Informer(client, GIT_REPOSITORIES, { transform: CACHE_TRANSFORMS.gitRepositories, sleep: quickSleep }),
    receivers: new Informer(client, RECEIVERS, { labelSelector: managed, transform: CACHE_TRANSFORMS.receivers, sleep: quickSleep }),
    secrets: new Informer(client, SECRETS, { labelSelector: managed, transform: CACHE_TRANSFORMS.secrets, sleep: quickSleep }),
    namespaces: new Informer(client, NAMESPACES, { transform: CACHE_TRANSFORMS.namespaces, sleep: quickSleep }),
  };
  const runs = Object.values(caches).map((c: Informer<KubeObject>) => c.run());
  if (opts.waitForSync ?? true) await Promise.all(Object.values(caches).map((c: Informer<KubeObject>) => c.waitForSync()));
  return {
    caches,
    async stop() {
      Object.values(caches).forEach((c: Informer<KubeObject>) => c.stop());
      await Promise.all(runs);
    },
  };
}
