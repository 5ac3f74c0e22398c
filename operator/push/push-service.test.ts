import { expect } from 'chai';
import http from 'node:http';
import { type GitLabFluxLink, LINKS } from '../api/v1alpha1/types.js';
import { GIT_REPOSITORIES, RECEIVERS } from '../flux/types.js';
import { receiverWebhookPath } from '../flux/webhook-path.js';
import { Informer } from '../kube/informer.js';
import { SecretReader } from '../kube/secret-reader.js';
import { NAMESPACES, SECRETS } from '../meta/resource.js';
import { Metrics } from '../observability/metrics.js';
import { LinkCompiler } from '../reconcile/compile.js';
import { LABEL_LINK, LABEL_MANAGED_BY, MANAGED_BY } from '../reconcile/names.js';
import { startHttpServer } from '../server/http-server.js';
import { FakeKube } from '../testing/fake-kube.js';
import { quickSleep, type RunningCaches, startCaches } from '../testing/informers.js';
import { memoryLogger, memoryRecords, RECEIVER_TOKEN, receiverObj, secretObj, startFakeReceiverServer } from '../testing/push-fakes.js';
import { PushService } from './push-service.js';
import { ReceiverIndex } from './receiver-index.js';

const HOOK_TOKEN = 'push-service-hook-token-0123456789';
const WEBHOOK_PATH = receiverWebhookPath(Buffer.from(RECEIVER_TOKEN), 'gfl-app', 'apps');

function post(port: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/hooks/local',
        agent: false,
        headers: { 'Content-Type': 'application/json', 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': HOOK_TOKEN },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Reads one sample of the Prometheus text, e.g. `fluxlink_trigger_dispatch_seconds_count`. */
function sample(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line === undefined ? NaN : Number(line.split(' ').pop());
}

describe("push-service: the operator's added latency (fluxlink_trigger_dispatch_seconds)", () => {
  let receiver: Awaited<ReturnType<typeof startFakeReceiverServer>>;
  let caches: RunningCaches;
  let links: Informer<GitLabFluxLink>;
  let linksRun: Promise<void>;
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  let push: PushService;
  let fake: FakeKube;
  const tampered: string[] = [];
  const metrics = new Metrics();

  before(async () => {
    receiver = await startFakeReceiverServer();
    fake = new FakeKube();
    const managed = { [LABEL_MANAGED_BY]: MANAGED_BY, [LABEL_LINK]: 'local' };
    fake.seed(LINKS, {
      apiVersion: 'fluxlink.dev/v1alpha1',
      kind: 'GitLabFluxLink',
      metadata: { name: 'local' },
      spec: {
        gitlab: { url: 'https://gitlab.example.com' },
        receiver: { endpoint: receiver.url },
        webhook: { secretRef: { namespace: 'ops', name: 'hook' } },
      },
    });
    fake.seed(NAMESPACES, { metadata: { name: 'apps' } });
    fake.seed(GIT_REPOSITORIES, {
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'app', namespace: 'apps' },
      spec: { url: 'https://gitlab.example.com/team/app.git', ref: { branch: 'main' } },
    });
    fake.seed(RECEIVERS, {
      ...receiverObj('apps', 'gfl-app', WEBHOOK_PATH),
      metadata: { name: 'gfl-app', namespace: 'apps', generation: 1, labels: managed },
    });
    fake.seed(SECRETS, {
      ...secretObj('apps', 'gfl-app', { token: RECEIVER_TOKEN }),
      metadata: { name: 'gfl-app', namespace: 'apps', labels: managed },
    });
    fake.seed(SECRETS, secretObj('ops', 'hook', { token: HOOK_TOKEN }));
    caches = await startCaches(fake);
    links = new Informer(fake, LINKS, { sleep: quickSleep });
    linksRun = links.run();
    await links.waitForSync();
    const index = new ReceiverIndex(links, caches.caches.gitRepositories, caches.caches.namespaces, new LinkCompiler());
    push = new PushService({
      client: fake,
      index,
      records: memoryRecords(),
      receivers: caches.caches.receivers,
      secrets: caches.caches.secrets,
      webhookSecrets: new SecretReader(fake),
      log: memoryLogger().log,
      metrics,
      receiverTampered: (namespace, name) => tampered.push(`${namespace}/${name}`),
    });
    server = await startHttpServer({ host: '127.0.0.1', port: 0, routes: [push.route] });
  });
  after(async () => {
    await push.close();
    await server.close();
    links.stop();
    await linksRun;
    await caches.stop();
    await receiver.close();
  });

  it('observes one sample per delivered trigger, within the time the request took', async () => {
    const started = process.hrtime.bigint();
    const body = JSON.stringify({
      object_kind: 'push',
      ref: 'refs/heads/main',
      before: '1'.repeat(40),
      after: '2'.repeat(40),
      project: { path_with_namespace: 'team/app' },
    });
    expect(await post(server.port, body)).to.equal(202);
    await push.queue.idle();
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    expect(receiver.seen.map((r) => r.url)).to.deep.equal([WEBHOOK_PATH]);
    const text = await metrics.registry.metrics();
    expect(sample(text, 'fluxlink_trigger_dispatch_seconds_count')).to.equal(1);
    const dispatch = sample(text, 'fluxlink_trigger_dispatch_seconds_sum');
    expect(dispatch).to.be.greaterThan(0);
    expect(dispatch).to.be.at.most(wall);
    expect(text).to.include('fluxlink_trigger_dispatch_seconds_bucket{le="0.005"}');
    expect(tampered, 'a delivered trigger asks for no Receiver reconcile').to.deep.equal([]);
  });

  it('a tampered Receiver status is handed to whoever owns Receiver writes (to ask notification-controller to reconcile it)', async () => {
    fake.setStatus(RECEIVERS, 'apps', 'gfl-app', { webhookPath: '@127.0.0.1:9/x' });
    const deadline = Date.now() + 5_000;
    while (caches.caches.receivers.get('apps', 'gfl-app')?.status?.webhookPath !== '@127.0.0.1:9/x' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    const seen = receiver.seen.length;
    const body = JSON.stringify({
      object_kind: 'push',
      ref: 'refs/heads/main',
      before: '2'.repeat(40),
      after: '3'.repeat(40),
      project: { path_with_namespace: 'team/app' },
    });
    expect(await post(server.port, body)).to.equal(202);
    await push.queue.idle();
    expect(receiver.seen.length, 'requests sent to the tampered path').to.equal(seen);
    expect(tampered).to.deep.equal(['apps/gfl-app']);
  });
});
