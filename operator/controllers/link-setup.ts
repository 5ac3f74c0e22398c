import { type GitLabFluxLink, LINKS } from '../api/v1alpha1/types.js';
import { GIT_REPOSITORIES, RECEIVERS } from '../flux/types.js';
import { changeMatters } from '../kube/changes.js';
import type { KubeClient } from '../kube/client.js';
import { Informer } from '../kube/informer.js';
import type { SecretReader } from '../kube/secret-reader.js';
import { CACHE_TRANSFORMS, withoutManagedFields } from '../kube/slim.js';
import type { KubeObject } from '../meta/object.js';
import { NAMESPACES, SECRETS } from '../meta/resource.js';
import type { EventRecorder } from '../observability/events.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { ownedEventsDelay } from '../queue/owned-events-delay.js';
import { WorkQueue } from '../queue/work-queue.js';
import type { LinkCompiler } from '../reconcile/compile.js';
import { LABEL_LINK, LABEL_MANAGED_BY, MANAGED_BY } from '../reconcile/names.js';
import { type Caches, LinkController, type LinkControllerDeps } from './link-controller.js';
import type { LinkStatusWriter } from './link-status-writer.js';
import { OperatorLifecycle } from './operator-lifecycle.js';

export interface LinkSetupDeps {
  client: KubeClient;
  compiler: LinkCompiler;
  status: LinkStatusWriter;
  /** The links' webhook Secrets, shared with the push path. */
  webhookSecrets: SecretReader;
  log: Logger;
  metrics: Metrics;
  events: EventRecorder;
  workers: number;
  writeConcurrency: number;
  /** Every link is looked at again this often, whatever the watches said. */
  resyncSeconds: number;
  /** Start with the queue paused (leader election: nothing is reconciled until this replica leads). */
  paused: boolean;
  /** Told after every pass of a link (the hooks controller's setup). */
  onPass?: LinkControllerDeps['onPass'];
}

/** The link controller with its watches, its queue and its caches (shared with the push path). */
export interface LinkControllerSetup {
  caches: Caches;
  /** Every link (the push path answers webhooks from it). */
  links: Informer<GitLabFluxLink>;
  queue: WorkQueue;
  /** Looks at every known link again (leadership won, Flux installed, resync). */
  enqueueAll(): void;
  /** Whether every cache has listed its objects (a Flux API that is not served counts as listed: nothing to list). */
  synced(): boolean;
  /** Runs the informers, waits for the links, then takes link events; resolves once running. */
  start(): Promise<void>;
  /** Stops taking events and work; resolves when the running reconciles are done. */
  drain(): Promise<void>;
  /** Stops the informers; resolves when they have ended. */
  stopCaches(): Promise<void>;
}

/**
 * The link controller's wiring (controller-runtime's SetupWithManager): which watch events wake which link
 * keys, whether Flux's APIs are served, how long owned-object events wait, and the set of live links.
 */
export function setupLinkController(deps: LinkSetupDeps): LinkControllerSetup {
  const { client, log, metrics } = deps;
  const managed = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
  const watchFailed = (resource: string) => (e: unknown) => log.warn('watch failed', { resource, error: String(e) });

  // Flux's APIs may be installed after the operator: their informers report whether they are served.
  const fluxMissing = { gitRepositories: false, receivers: false };
  const fluxServed = (which: keyof typeof fluxMissing) => (isMissing: boolean) => {
    if (fluxMissing[which] === isMissing) return;
    fluxMissing[which] = isMissing;
    log.info(isMissing ? 'Flux API not served; waiting for Flux to be installed' : 'Flux API served', { resource: which });
    enqueueAll();
  };
  const caches: Caches = {
    gitRepositories: new Informer(client, GIT_REPOSITORIES, {
      transform: CACHE_TRANSFORMS.gitRepositories,
      onMissing: fluxServed('gitRepositories'),
      onError: watchFailed('gitrepositories'),
    }),
    receivers: new Informer(client, RECEIVERS, {
      labelSelector: managed,
      transform: CACHE_TRANSFORMS.receivers,
      onMissing: fluxServed('receivers'),
      onError: watchFailed('receivers'),
    }),
    secrets: new Informer(client, SECRETS, {
      labelSelector: managed,
      transform: CACHE_TRANSFORMS.secrets,
      onError: watchFailed('secrets'),
    }),
    namespaces: new Informer(client, NAMESPACES, { transform: CACHE_TRANSFORMS.namespaces, onError: watchFailed('namespaces') }),
  };
  const links = new Informer<GitLabFluxLink>(client, LINKS, { transform: withoutManagedFields, onError: watchFailed('gitlabfluxlinks') });

  const controller = new LinkController({
    client,
    caches,
    compiler: deps.compiler,
    status: deps.status,
    webhookSecrets: deps.webhookSecrets,
    fluxInstalled: () => !fluxMissing.gitRepositories && !fluxMissing.receivers,
    log,
    metrics,
    events: deps.events,
    writeConcurrency: deps.writeConcurrency,
    ...(deps.onPass ? { onPass: deps.onPass } : {}),
  });
  metrics.initController('gitlabfluxlink');

  // Wall time of each link's last pass: it sets how long its owned objects' events are batched.
  const lastPassMs = new Map<string, number>();
  const queue = new WorkQueue(
    async (key) => {
      const started = performance.now();
      try {
        return await controller.reconcile(key);
      } finally {
        lastPassMs.set(key, performance.now() - started);
      }
    },
    {
      workers: deps.workers,
      paused: deps.paused,
      onDepthChange: (d) => metrics.workqueueDepth.set({ name: 'gitlabfluxlink' }, d),
      onError: (key, error, attempt) =>
        log.warn('reconcile failed, retrying with backoff', {
          link: key,
          attempt,
          error: error instanceof Error ? error.message : String(error),
        }),
    },
  );

  // Links known from the watch; every change of a GitRepository or Namespace may concern any of them.
  const live = new Set<string>();
  const enqueueAll = () => live.forEach((l) => queue.add(l));
  caches.gitRepositories.onChange((type, repo, old) => changeMatters(type, repo, old) && enqueueAll());
  caches.namespaces.onChange((type, ns, old) => changeMatters(type, ns, old) && enqueueAll());
  // Events of the objects a link owns are batched (queue/owned-events-delay.ts): while thousands of Receivers
  // turn Ready one by one, the link is reconciled every few seconds instead of once per Receiver.
  const toOwner = (_type: string, obj: KubeObject) => {
    const link = obj.metadata.labels?.[LABEL_LINK];
    if (link) queue.addAfter(link, ownedEventsDelay(lastPassMs.get(link)));
  };
  caches.receivers.onChange(toOwner);
  caches.secrets.onChange(toOwner);

  const lifecycle = new OperatorLifecycle(
    links,
    (name, deleted) => {
      // Any link change may move repositories between links (ownership goes to the oldest matching link),
      // so every link is looked at again; a deleted one gets one last pass to clean up.
      queue.add(name);
      enqueueAll();
      if (deleted) {
        live.delete(name);
        lastPassMs.delete(name);
        deps.compiler.forget(name);
      } else live.add(name);
    },
    log,
  );

  const informers = [...Object.values(caches), links] as Informer<KubeObject>[];
  let runs: Promise<void>[] = [];
  let resync: NodeJS.Timeout | undefined;
  return {
    caches,
    links,
    queue,
    enqueueAll,
    synced: () =>
      links.hasSynced() &&
      caches.namespaces.hasSynced() &&
      caches.secrets.hasSynced() &&
      (fluxMissing.gitRepositories || caches.gitRepositories.hasSynced()) &&
      (fluxMissing.receivers || caches.receivers.hasSynced()),
    async start() {
      runs = informers.map((i) => i.run());
      await links.waitForSync();
      await lifecycle.start();
      resync = setInterval(enqueueAll, deps.resyncSeconds * 1000);
      resync.unref();
    },
    async drain() {
      clearInterval(resync);
      lifecycle.stop();
      await queue.shutdown();
    },
    async stopCaches() {
      informers.forEach((i) => i.stop());
      await Promise.all(runs);
    },
  };
}
