import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import type net from 'node:net';
import { type GitLabFluxLink, type GitLabFluxLinkSpec, LINKS } from '../../api/v1alpha1/types.js';
import { GIT_REPOSITORIES, type GitRepository, type Namespace, type Receiver, RECEIVERS, type Secret } from '../../flux/types.js';
import { receiverWebhookPath } from '../../flux/webhook-path.js';
import type { KubeObject } from '../../meta/object.js';
import { NAMESPACES, SECRETS } from '../../meta/resource.js';
import { Metrics } from '../../observability/metrics.js';
import { PushService } from '../../push/push-service.js';
import { ReceiverIndex } from '../../push/receiver-index.js';
import { LinkCompiler } from '../../reconcile/compile.js';
import { LABEL_LINK, LABEL_MANAGED_BY, MANAGED_BY, objectName } from '../../reconcile/names.js';
import { SecretReader } from '../../kube/secret-reader.js';
import { FakeKube } from '../../testing/fake-kube.js';
import { startInformer, type RunningInformer } from '../../testing/informers.js';
import { memoryLogger, memoryRecords, RECEIVER_TOKEN, secretObj, startFakeReceiverServer } from '../../testing/push-fakes.js';
import { type HttpServerLimits, type Route, startHttpServer, startOperatorListeners } from '../http-server.js';

/**
 * The world the hostile-webhook stories share: the API objects (two links, one of them signed, their
 * GitRepositories, Receivers and Secrets) in an in-memory API, the informers over it, the real push path
 * and two real HTTP servers on the webhook route (production limits, and short timeouts for slow clients),
 * a real HTTP server standing in for notification-controller, and the trigger counts the stories assert on.
 */

export const TOKEN = 'hostile-hook-token-6d1f0a9c2b7e4835';
export const SIGNING_KEY = 'whsec_' + Buffer.from('hostile-signing-key-0123456789abcdef').toString('base64');
export const SHA = '9f2c1e0b7a6d5c4b3a29180706f5e4d3c2b1a098';
/** The path notification-controller serves the Receiver of GitRepository `repoName` on (its token, name, namespace). */
export const webhookPath = (repoName: string) => receiverWebhookPath(Buffer.from(RECEIVER_TOKEN), objectName(repoName), 'apps');
export const KNOWN_LINKS = new Set(['gitlab', 'signed']);
export const MiB = 1024 * 1024;

/** Short timeouts for the slow-client server, so a timeout acts within a test (production: 5 s / 15 s). */
const SHORT_LIMITS: Partial<HttpServerLimits> = {
  headersTimeoutMs: 400,
  requestTimeoutMs: 800,
  keepAliveTimeoutMs: 300,
  connectionsCheckingIntervalMs: 25,
};
/** How long a test waits for the server to close a connection before calling it held (well above the timeouts). */
export const CLOSE_CAP_MS = 8_000;

export const pushJson = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    object_kind: 'push',
    event_name: 'push',
    before: '0'.repeat(40),
    after: SHA,
    ref: 'refs/heads/main',
    project_id: 9,
    project: { id: 9, path_with_namespace: 'team/app' },
    commits: [],
    ...over,
  });

export function signature(
  body: Buffer,
  ts = Math.floor(Date.now() / 1000),
  key = SIGNING_KEY,
  id = 'msg_hostile',
): Array<[string, string]> {
  const keyBytes = Buffer.from(key.slice('whsec_'.length), 'base64');
  const sig = createHmac('sha256', keyBytes).update(`${id}.${ts}.`).update(body).digest('base64');
  return [
    ['webhook-id', id],
    ['webhook-timestamp', String(ts)],
    ['webhook-signature', `v1,${sig}`],
  ];
}

function link(name: string, createdAt: string, spec: GitLabFluxLinkSpec): GitLabFluxLink {
  return {
    apiVersion: 'fluxlink.dev/v1alpha1',
    kind: 'GitLabFluxLink',
    metadata: { name, creationTimestamp: createdAt },
    spec,
  } as GitLabFluxLink;
}

function repo(name: string, url: string): GitRepository {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { namespace: 'apps', name },
    spec: { url, interval: '10m', ref: { branch: 'main' } },
  } as GitRepository;
}

/** The Receiver and token Secret the link controller would have made for GitRepository `repoName`. */
function receiverObjects(linkName: string, repoName: string): [Receiver, Secret] {
  const name = objectName(repoName);
  const labels = { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_LINK]: linkName };
  const receiver = {
    apiVersion: 'notification.toolkit.fluxcd.io/v1',
    kind: 'Receiver',
    metadata: { namespace: 'apps', name, labels },
    spec: { type: 'generic-hmac', resources: [{ kind: 'GitRepository', name: repoName }], secretRef: { name } },
    status: { webhookPath: webhookPath(repoName), observedGeneration: 1 },
  } as Receiver;
  const secret = secretObj('apps', name, { token: RECEIVER_TOKEN });
  secret.metadata.labels = labels;
  return [receiver, secret];
}

export interface World {
  metrics: Metrics;
  push: PushService;
  /** The webhook listener, production limits. */
  port: number;
  /** Its metrics listener (/healthz, /readyz, /metrics), as in production. */
  probePort: number;
  /** SHORT_LIMITS, same route. */
  slowPort: number;
  receiverCalls(): number;
  receiverSeen: Awaited<ReturnType<typeof startFakeReceiverServer>>['seen'];
  /** Calls of the trigger queue's enqueue (synchronous: counted before the answer is written). */
  enqueued: number;
  /** Authenticated requests the tests themselves sent to check the server is alive (see expectAlive). */
  aliveRequests: number;
  /** Webhook requests the route is deciding now (see `triggers`). */
  handling(): number;
  /** Server-side sockets of the production-limits server, as they are accepted. */
  serverSockets: net.Socket[];
  logLines: string[];
  stop(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const receiver = await startFakeReceiverServer();
  const kube = new FakeKube();
  kube.seed<Namespace>(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } });
  kube.seed(GIT_REPOSITORIES, repo('app', 'https://gitlab.example.com/team/app.git'));
  kube.seed(GIT_REPOSITORIES, repo('sig', 'https://gitlab.signed.example.com/team/sig.git'));
  const secretRef = { namespace: 'gitlab-flux-link', name: 'hook-token', key: 'token' };
  kube.seed(
    LINKS,
    link('gitlab', '2024-01-01T00:00:00Z', {
      gitlab: { url: 'https://gitlab.example.com' },
      receiver: { endpoint: receiver.url },
      webhook: { secretRef },
    }),
  );
  kube.seed(
    LINKS,
    link('signed', '2024-01-02T00:00:00Z', {
      gitlab: { url: 'https://gitlab.signed.example.com' },
      receiver: { endpoint: receiver.url },
      webhook: { secretRef, signingSecretRef: { namespace: 'gitlab-flux-link', name: 'hook-signing', key: 'key' } },
    }),
  );
  kube.seed(SECRETS, secretObj('gitlab-flux-link', 'hook-token', { token: TOKEN }));
  kube.seed(SECRETS, secretObj('gitlab-flux-link', 'hook-signing', { key: SIGNING_KEY }));
  for (const [l, r] of [
    ['gitlab', 'app'],
    ['signed', 'sig'],
  ] as const) {
    const [rcv, sec] = receiverObjects(l, r);
    kube.seed(RECEIVERS, rcv);
    kube.seed(SECRETS, sec);
  }

  const managed = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
  const links = await startInformer<GitLabFluxLink>(kube, LINKS);
  const repos = await startInformer<GitRepository>(kube, GIT_REPOSITORIES);
  const namespaces = await startInformer<Namespace>(kube, NAMESPACES);
  const receivers = await startInformer<Receiver>(kube, RECEIVERS, { labelSelector: managed });
  const secrets = await startInformer<Secret>(kube, SECRETS, { labelSelector: managed });
  const running = [links, repos, namespaces, receivers, secrets] as Array<RunningInformer<KubeObject>>;

  const { log, lines } = memoryLogger();
  const metrics = new Metrics();
  const index = new ReceiverIndex(links.informer, repos.informer, namespaces.informer, new LinkCompiler());
  const push = new PushService({
    client: kube,
    index,
    records: memoryRecords(),
    receivers: receivers.informer,
    secrets: secrets.informer,
    webhookSecrets: new SecretReader(kube),
    log,
    metrics,
  });

  // A handler may still be deciding after its client saw the connection closed: node ends a connection at once
  // when the client half-closes it, and a request whose socket closed is still judged. Counting these keeps a
  // story's counts from spilling into the next one's.
  let handling = 0;
  const route: Route = async (req, res) => {
    handling++;
    try {
      return await push.route(req, res);
    } finally {
      handling--;
    }
  };

  const serverSockets: net.Socket[] = [];
  const listeners = await startOperatorListeners({
    host: '127.0.0.1',
    webhookPort: 0,
    metricsPort: 0,
    webhookRoute: route,
    metrics,
    ready: () => true,
  });
  const server = listeners.webhooks;
  server.server.on('connection', (s: net.Socket) => serverSockets.push(s));
  const slow = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    routes: [route],
    limits: SHORT_LIMITS,
  });

  const world: World = {
    metrics,
    push,
    port: server.port,
    probePort: listeners.metrics.port,
    slowPort: slow.port,
    receiverCalls: () => receiver.seen.length,
    receiverSeen: receiver.seen,
    enqueued: 0,
    aliveRequests: 0,
    handling: () => handling,
    serverSockets,
    logLines: lines,
    async stop() {
      for (const s of [server, listeners.metrics, slow]) s.server.closeAllConnections();
      await Promise.all([listeners.close(), slow.close()]);
      await push.close();
      running.forEach((r) => r.informer.stop());
      await Promise.all(running.map((r) => r.done));
      await receiver.close();
    },
  };
  // Every trigger goes through the queue: count the calls (the queue's own behaviour is unchanged).
  const enqueue = push.queue.enqueue.bind(push.queue);
  push.queue.enqueue = (job) => {
    world.enqueued++;
    return enqueue(job);
  };
  return world;
}

/**
 * Webhooks counted with a result only an authenticated request can get: `duplicate` (a replayed delivery,
 * recognised only after the token and signature) and `busy` (the body-read slots are taken, refused only
 * after the token) included, so that neither answer can hide a request that passed without credentials.
 */
const AUTHENTICATED_RESULTS = new Set([
  'accepted',
  'ignored',
  'suspended',
  'untrusted_project',
  'unlinked_project',
  'malformed',
  'duplicate',
  'busy',
]);

/** The webhooks counted so far, by result. */
async function resultCounts(metrics: Metrics): Promise<Map<string, number>> {
  const m = await metrics.webhooksReceived.get();
  return new Map(m.values.map((v) => [String(v.labels.result), v.value]));
}

interface TriggerSnapshot {
  enqueued: number;
  receiverCalls: number;
  authenticated: number;
  results: Map<string, number>;
}

/** Lets every webhook request being handled be decided and queued triggers finish, then counts. */
export async function triggers(w: World): Promise<TriggerSnapshot> {
  const deadline = Date.now() + CLOSE_CAP_MS;
  while (w.handling() > 0) {
    if (Date.now() > deadline) throw new Error(`${w.handling()} webhook request(s) still being handled after ${CLOSE_CAP_MS} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  await w.push.queue.idle();
  const results = await resultCounts(w.metrics);
  const authenticated = [...results].filter(([result]) => AUTHENTICATED_RESULTS.has(result)).reduce((a, [, n]) => a + n, 0);
  return { enqueued: w.enqueued, receiverCalls: w.receiverCalls(), authenticated: authenticated - w.aliveRequests, results };
}

/** The results counted between two snapshots, e.g. `ignored +2, aborted +1` (says which requests a count holds). */
function resultsBetween(before: TriggerSnapshot, after: TriggerSnapshot): string {
  const changed = [...after.results].map(([result, n]) => [result, n - (before.results.get(result) ?? 0)] as const);
  return (
    changed
      .filter(([, d]) => d !== 0)
      .map(([result, d]) => `${result} +${d}`)
      .join(', ') || 'none'
  );
}

/** `authenticated`: how many of the requests sent are expected to pass authentication (and trigger nothing). */
export async function expectNoTrigger(w: World, before: TriggerSnapshot, what: string, authenticated = 0): Promise<void> {
  const after = await triggers(w);
  expect(after.enqueued - before.enqueued, `${what}: queued triggers`).to.equal(0);
  expect(after.receiverCalls - before.receiverCalls, `${what}: Receiver calls`).to.equal(0);
  expect(
    after.authenticated - before.authenticated,
    `${what}: requests that passed authentication (counted, liveness checks included: ${resultsBetween(before, after)})`,
  ).to.equal(authenticated);
}
