import 'reflect-metadata';
import framework from '@dot-i/k8s-operator';
import { loadConfig, type Config, type LeaderElectionConfig } from './config.js';
import { LinkController, type Caches } from './controllers/link-controller.js';
import type { GitLabFluxLink } from './api/v1alpha1/types.js';
import { HttpKubeClient, loadKubeConfig } from './kube/client.js';
import type { KubeObject } from './meta/object.js';
import { changeMatters } from './kube/changes.js';
import { Informer } from './kube/informer.js';
import { CACHE_TRANSFORMS, withoutManagedFields } from './kube/slim.js';
import { LeaderElector } from './leader/leader-elector.js';
import { GIT_REPOSITORIES, RECEIVERS } from './flux/types.js';
import { LINKS } from './api/v1alpha1/types.js';
import { NAMESPACES, SECRETS } from './meta/resource.js';
import { EventRecorder } from './observability/events.js';
import { createLogger, type Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { PushService } from './push/push-service.js';
import { ReceiverIndex } from './push/receiver-index.js';
import { ownedEventsDelay } from './queue/owned-events-delay.js';
import { WorkQueue } from './queue/work-queue.js';
import { LABEL_LINK, LABEL_MANAGED_BY, MANAGED_BY } from './reconcile/names.js';
import { startHttpServer } from './server/http-server.js';

// @dot-i/k8s-operator is CommonJS with `exports.default`; from ESM its class is on `.default`.
const Operator = framework.default;

/**
 * The framework's part: the Operator lifecycle (init/start/stop) and its logger. Link events come from our own
 * informer, not from the framework's `watchResource`: that watch calls process.exit(1) on any watch error —
 * an API server restart included — which would drop every trigger waiting for retry and refuse webhooks until
 * the API server is back (docs/adr/0006-link-events-from-our-informer.md; e2e suite `outage`).
 */
class LinkWatcher extends Operator {
  constructor(
    private readonly links: Informer<GitLabFluxLink>,
    private readonly onLink: (name: string, deleted: boolean) => void,
    log: Logger,
  ) {
    super({ debug: (m) => log.debug(m), info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m) => log.error(m) });
  }

  private muted = false;

  protected async init(): Promise<void> {
    this.links.onChange((type, link, old) => {
      // Status-only changes (our own status writes, most of them) change nothing a reconcile computes.
      if (!this.muted && changeMatters(type, link, old)) this.onLink(link.metadata.name, type === 'DELETED');
    });
    // Links listed before init (the informer's first sync) are not replayed as events: enqueue them once.
    for (const link of this.links.list()) this.onLink(link.metadata.name, false);
  }

  /** Stops taking link events; the informer itself is stopped with the others after the drain. */
  override stop(): void {
    this.muted = true;
  }
}

export interface RunningOperator {
  port: number;
  /** Drains (bounded by SHUTDOWN_TIMEOUT_SECONDS); the caller then exits the process. */
  stop(): Promise<void>;
}

export async function runOperator(config: Config = loadConfig()): Promise<RunningOperator> {
  const log = createLogger(config.logLevel);
  const metrics = new Metrics();
  const kubeConfig = loadKubeConfig(config.kubeconfig);
  const client = new HttpKubeClient({ kubeConfig, observe: metrics.observeRequest, userAgent: 'gitlab-flux-link' });
  const managed = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;

  const watchFailed = (resource: string) => (e: unknown) => log.warn('watch failed', { resource, error: String(e) });
  const missing = { gitRepositories: false, receivers: false };
  const caches: Caches = {
    gitRepositories: new Informer(client, GIT_REPOSITORIES, { transform: CACHE_TRANSFORMS.gitRepositories, onMissing: (m) => flux('gitRepositories', m), onError: watchFailed('gitrepositories') }),
    receivers: new Informer(client, RECEIVERS, { labelSelector: managed, transform: CACHE_TRANSFORMS.receivers, onMissing: (m) => flux('receivers', m), onError: watchFailed('receivers') }),
    secrets: new Informer(client, SECRETS, { labelSelector: managed, transform: CACHE_TRANSFORMS.secrets, onError: watchFailed('secrets') }),
    namespaces: new Informer(client, NAMESPACES, { transform: CACHE_TRANSFORMS.namespaces, onError: watchFailed('namespaces') }),
  };

  const controller = new LinkController({ client, caches, fluxInstalled: () => !missing.gitRepositories && !missing.receivers, log, metrics, events: new EventRecorder(client, log), writeConcurrency: config.writeConcurrency });
  metrics.initController('gitlabfluxlink');
  // Wall time of each link's last pass: it sets how long its owned objects' events are batched.
  const lastPassMs = new Map<string, number>();
  const reconcile = async (key: string) => {
    const started = performance.now();
    try {
      return await controller.reconcile(key);
    } finally {
      lastPassMs.set(key, performance.now() - started);
    }
  };
  const queue = new WorkQueue(reconcile, {
    workers: config.workers,
    // With leader election, nothing is reconciled until this replica leads; keys wait, deduplicated.
    paused: config.leaderElection !== undefined,
    onDepthChange: (d) => metrics.workqueueDepth.set({ name: 'gitlabfluxlink' }, d),
    onError: (key, error, attempt) => log.warn('reconcile failed, retrying with backoff', { link: key, attempt, error: error instanceof Error ? error.message : String(error) }),
  });

  // Links known from the watch; every change of a GitRepository or Namespace may concern any of them.
  const links = new Set<string>();
  const enqueueAll = () => links.forEach((l) => queue.add(l));
  function flux(which: keyof typeof missing, isMissing: boolean) {
    if (missing[which] === isMissing) return;
    missing[which] = isMissing;
    log.info(isMissing ? 'Flux API not served; waiting for Flux to be installed' : 'Flux API served', { resource: which });
    enqueueAll();
  }
  // Events of the objects a link owns are batched (queue/owned-events-delay.ts): while thousands of Receivers
  // turn Ready one by one, the link is reconciled every few seconds instead of once per Receiver.
  const byLabel = (_t: string, obj: KubeObject) => {
    const link = obj.metadata.labels?.[LABEL_LINK];
    if (link) queue.addAfter(link, ownedEventsDelay(lastPassMs.get(link)));
  };
  caches.gitRepositories.onChange((type, repo, old) => changeMatters(type, repo, old) && enqueueAll());
  caches.namespaces.onChange((type, ns, old) => changeMatters(type, ns, old) && enqueueAll());
  caches.receivers.onChange(byLabel);
  caches.secrets.onChange(byLabel);

  // The push path answers webhooks from its own view of the links (every replica serves webhooks).
  const linkCache = new Informer<GitLabFluxLink>(client, LINKS, { transform: withoutManagedFields, onError: watchFailed('gitlabfluxlinks') });
  const index = new ReceiverIndex(linkCache, caches.gitRepositories, caches.namespaces);
  const push = new PushService({ client, index, receivers: caches.receivers, secrets: caches.secrets, log, metrics, concurrency: config.triggerConcurrency, maxPending: config.triggerQueueSize });

  linkCache.onChange((type, link) => type !== 'DELETED' && push.warmSecrets(link.metadata.name));
  const informers = [...Object.values(caches), linkCache];
  const informerRuns = informers.map((c) => c.run());
  const watcher = new LinkWatcher(linkCache, (name, deleted) => {
    // Any link change may move repositories between links (ownership goes to the oldest matching link),
    // so every link is looked at again; a deleted one gets one last pass to clean up.
    queue.add(name);
    enqueueAll();
    if (deleted) {
      links.delete(name);
      lastPassMs.delete(name);
    } else links.add(name);
  }, log);
  await linkCache.waitForSync();
  linkCache.list().forEach((l) => push.warmSecrets(l.metadata.name));
  await watcher.start();
  const resync = setInterval(enqueueAll, config.resyncSeconds * 1000);
  resync.unref();
  const elector = config.leaderElection && startLeaderElection(client, config.leaderElection, queue, enqueueAll, metrics, log);

  let started = false;
  const http = await startHttpServer({
    host: config.httpHost,
    port: config.httpPort,
    metrics,
    routes: [push.route],
    ready: () => started && linkCache.hasSynced() && caches.namespaces.hasSynced() && (missing.gitRepositories || caches.gitRepositories.hasSynced()) && (missing.receivers || caches.receivers.hasSynced()) && caches.secrets.hasSynced(),
  });
  started = true;
  log.info('operator started', { port: http.port, workers: config.workers });

  return {
    port: http.port,
    async stop() {
      // Stop taking work, let running reconciles finish (bounded), then close watches and the server.
      // LinkWatcher.stop() only mutes link events: the framework's own stop() would abort a watch, which its
      // error handler answers with process.exit(1) before the drain (main.test.ts, ADR 0006).
      log.info('shutting down');
      clearInterval(resync);
      watcher.stop();
      const drained = queue.shutdown();
      const timeout = new Promise((r) => setTimeout(r, config.shutdownTimeoutSeconds * 1000).unref());
      await Promise.race([Promise.all([drained, push.close()]), timeout]);
      // Released only after the last write: a successor must not start while we still write.
      await elector?.stop();
      informers.forEach((c) => c.stop());
      await Promise.race([Promise.all(informerRuns), timeout]);
      await http.close();
      log.info('stopped');
      await new Promise<void>((resolve) => log.on('finish', resolve).end());
    },
  };
}

/**
 * Only the leader reconciles (writes Receivers, Secrets, link status); followers keep their caches warm and
 * answer webhooks, each triggering for the webhooks it received. Leadership lost (no renewal within the
 * deadline, e.g. an API server outage) pauses reconciling instead of exiting, so pushes accepted meanwhile
 * are still delivered; it resumes when the lease is won back (docs/adr/0005-leader-election.md).
 */
function startLeaderElection(client: HttpKubeClient, settings: LeaderElectionConfig, queue: WorkQueue, enqueueAll: () => void, metrics: Metrics, log: Logger): LeaderElector {
  const gauge = (v: number) => metrics.leader.set({ name: settings.name }, v);
  gauge(0);
  const elector = new LeaderElector(client, settings, {
    onStartedLeading() {
      log.info('leading: reconciling', { lease: `${settings.namespace}/${settings.name}`, identity: settings.identity });
      gauge(1);
      enqueueAll();
      queue.resume();
    },
    onStoppedLeading() {
      log.warn('leadership lost: reconciling paused until the lease is won back', { lease: `${settings.namespace}/${settings.name}`, identity: settings.identity });
      gauge(0);
      queue.pause();
    },
    onNewLeader(identity) {
      if (identity !== settings.identity) log.info('following', { leader: identity });
    },
    onError(error) {
      log.warn('leader election: lease not read or written', { error: error instanceof Error ? error.message : String(error) });
    },
  });
  elector.start();
  return elector;
}

// Started as a program (not imported by a test): run until SIGTERM/SIGINT.
if (import.meta.url === `file://${process.argv[1]}`) {
  runOperator().then(
    (op) => {
      let stopping = false;
      const stop = () => {
        if (stopping) return;
        stopping = true;
        op.stop().then(() => process.exit(0), () => process.exit(1));
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    },
    (err) => {
      console.error(JSON.stringify({ level: 'error', message: 'operator failed to start', error: String(err) }));
      process.exit(1);
    },
  );
}
