import 'reflect-metadata';
import { type Config, type LeaderElectionConfig, loadConfig } from './config.js';
import { setupHooksController } from './controllers/hooks-setup.js';
import { setupLinkController } from './controllers/link-setup.js';
import { LinkStatusWriter } from './controllers/link-status-writer.js';
import { GitLabConnections } from './gitlab-api/connections.js';
import { ReceiverReconcileRequests } from './controllers/receiver-reconcile-requests.js';
import { HttpKubeClient, loadKubeConfig } from './kube/client.js';
import { SecretReader } from './kube/secret-reader.js';
import { LeaderElector } from './leader/leader-elector.js';
import { EventRecorder } from './observability/events.js';
import { createLogger, type Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { CatchUp } from './push/catch-up.js';
import { PushService } from './push/push-service.js';
import { ReceiverIndex } from './push/receiver-index.js';
import type { WorkQueue } from './queue/work-queue.js';
import { LinkCompiler } from './reconcile/compile.js';
import { startOperatorListeners } from './server/http-server.js';
import { shutdown } from './shutdown.js';

export interface RunningOperator {
  webhookPort: number;
  metricsPort: number;
  /** Drains (bounded by SHUTDOWN_TIMEOUT_SECONDS); the caller then exits the process. */
  stop(): Promise<void>;
}

/**
 * The composition root: config → logger → client → metrics → the hooks controller (GitLab's side, its own
 * queue) → the link controller (its caches, watches and queue) → the push path on the same caches → leader
 * election (both queues) → the HTTP server. Each part wires itself;
 * this only builds, starts and stops them in order.
 */
export async function runOperator(config: Config = loadConfig()): Promise<RunningOperator> {
  const log = createLogger(config.logLevel);
  const metrics = new Metrics();
  const client = new HttpKubeClient({
    kubeConfig: loadKubeConfig(config.kubeconfig),
    observe: metrics.observeRequest,
    userAgent: 'gitlab-flux-link',
  });
  const events = new EventRecorder(client, log);
  // Shared by the link controller and the push path: each link compiled once, each status written by one writer.
  const compiler = new LinkCompiler();
  const status = new LinkStatusWriter({ client, log, events });
  // The links' webhook Secrets, read for webhooks and for the link controller's strength check alike.
  const webhookSecrets = new SecretReader(client, undefined, undefined, config.webhookSecretMaxStaleSeconds * 1000);

  // The GitLab side (links with spec.gitlab.api): driven by the link controller's passes, leader only. One client
  // and request budget per link, shared by the hooks controller and the catch-up.
  const connections = new GitLabConnections((endpoint, code) => metrics.gitlabApiRequests.inc({ endpoint, code }));
  // Built after the push path it triggers through; the hooks controller is built before and calls it late.
  const late: { catchUp?: CatchUp } = {};
  const hooks = setupHooksController({
    connections,
    onCatchUp: (link, reason) => late.catchUp?.request(link, reason),
    client,
    compiler,
    status,
    log,
    metrics,
    events,
    paused: config.leaderElection !== undefined,
    resyncMs: config.gitlabHooksResyncSeconds * 1000,
  });
  const links = setupLinkController({
    client,
    compiler,
    status,
    webhookSecrets,
    log,
    metrics,
    events,
    workers: config.workers,
    writeConcurrency: config.writeConcurrency,
    resyncSeconds: config.resyncSeconds,
    paused: config.leaderElection !== undefined,
    onPass: hooks.onPass,
  });
  // The push path answers webhooks from its own view of the links (every replica serves webhooks).
  const receiverRequests = new ReceiverReconcileRequests({ client, log });
  const index = new ReceiverIndex(links.links, links.caches.gitRepositories, links.caches.namespaces, compiler);
  const push = new PushService({
    client,
    index,
    records: status,
    receivers: links.caches.receivers,
    secrets: links.caches.secrets,
    log,
    metrics,
    concurrency: config.triggerConcurrency,
    maxPending: config.triggerQueueSize,
    webhookSecrets,
    maxBodyReads: config.webhookMaxBodyReads,
    deliveriesRemembered: config.webhookDeliveriesRemembered,
    receiverTampered: (namespace, name) => void receiverRequests.request(namespace, name),
  });
  links.links.onChange((type, link) => type !== 'DELETED' && push.warmSecrets(link.metadata.name));
  webhookSecrets.onRotated((namespace, name) => hooks.secretRotated(namespace, name, links.links.list()));
  // No push lost: the leader compares linked GitRepositories with GitLab and triggers the ones behind (ADR 0017).
  const catchUp = (late.catchUp = new CatchUp({
    index,
    gitRepositories: links.caches.gitRepositories,
    connections,
    secretValue: (ref) => webhookSecrets.value(ref),
    trigger: (link, target, tag) => push.triggerCatchUp(link, target, tag),
    records: status,
    events,
    metrics,
    log,
    paused: true,
    cachesSynced: () => links.synced(),
    ...(config.gitlabSweepIntervalSeconds !== undefined ? { intervalOverrideMs: config.gitlabSweepIntervalSeconds * 1000 } : {}),
  }));
  links.links.onChange(() => catchUp.sync());

  await links.start();
  const elector =
    config.leaderElection &&
    startLeaderElection(client, config.leaderElection, [links.queue, hooks.queue], links.enqueueAll, metrics, log, (leading) =>
      leading ? catchUp.resume('leader') : catchUp.pause(),
    );
  // Without leader election this process is the only one: it catches up at once (pushes made while it was down).
  if (!config.leaderElection) catchUp.resume('start');

  let started = false;
  const http = await startOperatorListeners({
    host: config.httpHost,
    webhookPort: config.webhookPort,
    metricsPort: config.metricsPort,
    webhookRoute: push.route,
    metrics,
    ready: () => started && links.synced(),
    webhookLimits: { maxConnections: config.httpMaxConnections },
  });
  started = true;
  log.info('operator started', { webhookPort: http.webhooks.port, metricsPort: http.metrics.port, workers: config.workers });

  return {
    webhookPort: http.webhooks.port,
    metricsPort: http.metrics.port,
    async stop() {
      log.info('shutting down');
      await shutdown(
        {
          stopIntake: () => catchUp.close(),
          drainLeaderWork: () => Promise.all([links.drain(), hooks.drain()]),
          releaseLease: async () => elector?.stop(),
          drainTriggers: () => push.close().then(() => status.flush()),
          stopCaches: () => links.stopCaches(),
          closeServers: () => http.close(),
        },
        config.shutdownTimeoutSeconds * 1000,
      );
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
function startLeaderElection(
  client: HttpKubeClient,
  settings: LeaderElectionConfig,
  queues: WorkQueue[],
  enqueueAll: () => void,
  metrics: Metrics,
  log: Logger,
  /** Leading (true) or not any more (false): the catch-up follows. */
  onLeading: (leading: boolean) => void,
): LeaderElector {
  const gauge = (v: number) => metrics.leader.set({ name: settings.name }, v);
  gauge(0);
  const elector = new LeaderElector(client, settings, {
    onStartedLeading() {
      log.info('leading: reconciling', { lease: `${settings.namespace}/${settings.name}`, identity: settings.identity });
      gauge(1);
      enqueueAll();
      queues.forEach((q) => q.resume());
      onLeading(true);
    },
    onStoppedLeading() {
      log.warn('leadership lost: reconciling paused until the lease is won back', {
        lease: `${settings.namespace}/${settings.name}`,
        identity: settings.identity,
      });
      gauge(0);
      queues.forEach((q) => q.pause());
      onLeading(false);
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
        op.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
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
