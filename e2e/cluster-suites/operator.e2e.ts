import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';

import { hostState, hostStateDiff, type HostState } from '../cluster/host-state.js';
import { podLogs, writeFailureReport } from '../cluster/failure-report.js';
import { clusterProvider, type StartedCluster } from '../cluster/index.js';
import {
  installOperator,
  KUSTOMIZATION_DIR_PREFIX,
  OPERATOR_DEPLOYMENT,
  OPERATOR_NAMESPACE,
  OPERATOR_SELECTOR,
  type InstalledOperator,
} from '../cluster/operator.js';
import { eventually } from '../support/kube.js';
import { findBinaries } from '../testenv/binaries.js';
import { sleep } from '../testenv/probe.js';

/**
 * The operator as users run it: `kubectl apply --server-side -k` of config/default (with only the image, the
 * replica count and the webhook Service's type overridden, e2e/cluster/operator.ts) on a real node, from the image
 * `make image` builds, pushed to the node's registry. Its Pod's security as the node sees the running process, a
 * GitLab-shaped webhook through the Service, a leader change and a rolling update with webhooks arriving all the
 * while, and `kubectl delete -k` leaving nothing behind.
 */
describe('cluster tier: the operator installed from config/default', function () {
  const TOKEN = randomBytes(32).toString('hex');
  const LINK = 'cluster-link';
  const TENANT = 'tenant-a';
  const PROJECT = 'group/app';
  let cluster: StartedCluster | undefined;
  let op: InstalledOperator | undefined;
  let hostBefore: HostState;

  before(async function () {
    this.timeout(3_600_000); // a cold machine builds the node set and the node image first
    hostBefore = await hostState();
    cluster = await clusterProvider().start();
    // Only the Flux CRDs the fast tier uses: the operator watches GitRepositories and writes Receivers.
    await cluster.kubectl(['apply', '--server-side', '-f', findBinaries().fluxCrds]);
    await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', '--all', 'crd']);
  });

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || !cluster) return;
    await writeFailureReport(cluster, 30, [
      ['-n', OPERATOR_NAMESPACE, 'get', 'pods', '-o', 'wide'],
      podLogs(OPERATOR_NAMESPACE, OPERATOR_SELECTOR),
    ]);
  });

  after(async function () {
    this.timeout(120_000);
    await cluster?.kubectl(['delete', 'namespace', 'op-node-view', '--ignore-not-found', '--wait=false']).catch(() => undefined);
    await cluster?.stop();
  });

  const kubectl = (args: string[], input?: string) => {
    if (!cluster) throw new Error('the cluster did not start');
    return cluster.kubectl(args, input);
  };
  const getJson = async <T>(args: string[]): Promise<T> => JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
  const operatorPods = async () =>
    (await getJson<{ items: Pod[] }>(['-n', OPERATOR_NAMESPACE, 'get', 'pods', '-l', OPERATOR_SELECTOR])).items.filter(
      (p) => !p.metadata.deletionTimestamp,
    );

  /** One GitLab push delivery to the operator's webhook Service, on a connection of its own (as GitLab sends). */
  const sendWebhook = (token = TOKEN): Promise<number> =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({
        object_kind: 'push',
        event_name: 'push',
        ref: 'refs/heads/main',
        before: '0'.repeat(40),
        after: randomBytes(20).toString('hex'),
        project: { path_with_namespace: PROJECT },
      });
      const req = http.request(
        `http://${op!.webhookAddress}/hooks/${LINK}`,
        {
          method: 'POST',
          agent: false,
          timeout: 10_000,
          headers: { 'Content-Type': 'application/json', 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': token },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
      req.on('error', reject);
      req.end(body);
    });

  /** Every webhook of a stream answered 2xx, enough of them sent, and none dropped by `stopping` after its 202. */
  const expectNoWebhookLost = (tally: { sent: number; answered2xx: number; failures: string[] }, dropped: number, stopping: string) => {
    expect(tally.failures, tally.failures.slice(0, 5).join('; ')).to.deep.equal([]);
    expect(tally.answered2xx).to.equal(tally.sent);
    expect(tally.sent).to.be.greaterThan(20);
    expect(dropped, `pushes answered 202 by ${stopping} but dropped`).to.equal(0);
  };

  /** Webhooks sent one after another, each answered or failed, until `stop()`: what a busy GitLab does. */
  const webhookStream = () => {
    const tally = { sent: 0, answered2xx: 0, failures: [] as string[] };
    let running = true;
    const done = (async () => {
      while (running) {
        tally.sent++;
        try {
          const status = await sendWebhook();
          if (status >= 200 && status < 300) tally.answered2xx++;
          else tally.failures.push(`HTTP ${status}`);
        } catch (err) {
          tally.failures.push((err as Error).message);
        }
        await sleep(20);
      }
    })();
    return {
      tally,
      stop: async () => {
        running = false;
        await done;
        return tally;
      },
    };
  };

  /**
   * The logs of operator Pods (by default every one running now), followed until their containers end: a replica
   * that answered a webhook 202 after its trigger queue had closed (a shutdown) logs the push as dropped.
   */
  const followLogs = async (names?: string[]) => {
    const pods = names ?? (await operatorPods()).map((p) => p.metadata.name);
    const logs = pods.map((pod) =>
      kubectl(['-n', OPERATOR_NAMESPACE, 'logs', '-f', '--tail=-1', pod]).then(
        (text) => ({ text, error: '' }),
        (e: Error) => ({ text: '', error: `logs of ${pod}: ${e.message}` }),
      ),
    );
    return async () => {
      const all = await Promise.all(logs);
      expect(all.map((l) => l.error).filter((e) => e)).to.deep.equal([]);
      const lines = all.flatMap((l) => l.text.split('\n'));
      return {
        accepted: lines.filter((l) => l.includes('"push accepted"')).length,
        dropped: lines.filter((l) => l.includes('push dropped')).length,
      };
    };
  };

  it('installs with `kubectl apply --server-side -k` and the Deployment becomes Available', async function () {
    this.timeout(300_000);
    op = await installOperator(cluster!);
    console.log(`      install (apply to Available): ${op.installSeconds.toFixed(1)} s; webhooks at ${op.webhookAddress} (NodePort)`);
    expect(op.image.startsWith(`${cluster!.registry.pull}/gitlab-flux-link:`), op.image).to.equal(true);
    const pods = await operatorPods();
    expect(pods).to.have.length(1);
    expect(pods[0].spec.containers[0].image).to.equal(op.image);
  });

  it('runs Ready through its own probes, as UID 65532 on a read-only root, with the bound ServiceAccount token, logging JSON', async function () {
    this.timeout(240_000);
    const [pod] = await operatorPods();
    const container = pod.spec.containers[0];
    // Ready because the kubelet's probes of /readyz passed (the shipped probes, not ours), and never restarted.
    expect(container.readinessProbe?.httpGet?.path).to.equal('/readyz');
    expect(container.livenessProbe?.httpGet?.path).to.equal('/healthz');
    expect(pod.status.conditions.find((c) => c.type === 'Ready')?.status).to.equal('True');
    expect(pod.status.containerStatuses[0].restartCount).to.equal(0);

    // The node's view of the running process: a pod with the host's PID namespace reads /proc of the operator's
    // node process (the image has no shell to look from inside).
    const view = await nodeView(pod.metadata.uid);
    expect(view.uid, view.status).to.match(/^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
    expect(view.uid, view.status).to.match(/^Gid:\s+65532\s+65532\s+65532\s+65532$/m);
    expect(view.capEff, view.status).to.match(/^CapEff:\s+0000000000000000$/m);
    expect(view.noNewPrivs, view.status).to.match(/^NoNewPrivs:\s+1$/m);
    // The process's root mount (mountinfo field 5 is the mount point, field 6 its options).
    const root = view.mountinfo.split('\n').find((l) => l.split(' ')[4] === '/');
    expect(root, view.mountinfo).to.not.equal(undefined);
    expect(root!.split(' ')[5].split(','), root).to.include('ro');
    const tokenMount = view.mountinfo.split('\n').find((l) => l.split(' ')[4] === '/var/run/secrets/kubernetes.io/serviceaccount');
    expect(tokenMount, view.mountinfo).to.not.equal(undefined);
    expect(tokenMount!.split(' ')[5].split(','), tokenMount).to.include('ro');

    // The token the process reads is a bound one: tied to this Pod, with an expiry (not a legacy Secret token).
    const claims = JSON.parse(Buffer.from(view.token.split('.')[1], 'base64url').toString('utf8')) as {
      exp?: number;
      'kubernetes.io'?: { pod?: { name: string; uid: string }; serviceaccount?: { name: string } };
    };
    expect(claims['kubernetes.io']?.pod, JSON.stringify(claims)).to.deep.equal({ name: pod.metadata.name, uid: pod.metadata.uid });
    expect(claims['kubernetes.io']?.serviceaccount?.name).to.equal('gitlab-flux-link');
    expect(claims.exp, 'exp').to.be.a('number');
    const projected = pod.spec.volumes.find((v) => v.projected?.sources.some((s) => s.serviceAccountToken));
    expect(projected, 'a projected serviceAccountToken volume').to.not.equal(undefined);

    const lines = (await kubectl(['-n', OPERATOR_NAMESPACE, 'logs', pod.metadata.name])).split('\n').filter((l) => l !== '');
    expect(lines.length).to.be.greaterThan(0);
    for (const line of lines) {
      const entry = JSON.parse(line) as { level?: string; message?: string };
      expect(entry.level, line).to.be.a('string');
      expect(entry.message, line).to.be.a('string');
    }
    expect(lines.some((l) => (JSON.parse(l) as { message: string }).message === 'operator started')).to.equal(true);
  });

  it('answers a GitLab push webhook sent from this machine through the Service gitlab-flux-link-webhook', async function () {
    this.timeout(180_000);
    await kubectl(['create', 'namespace', TENANT]);
    await kubectl(['-n', OPERATOR_NAMESPACE, 'create', 'secret', 'generic', 'webhook-token', `--from-literal=token=${TOKEN}`]);
    await kubectl(
      ['apply', '--server-side', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'fluxlink.dev/v1alpha1',
            kind: 'GitLabFluxLink',
            metadata: { name: LINK },
            spec: {
              gitlab: { url: 'http://gitlab.test' },
              webhook: { secretRef: { namespace: OPERATOR_NAMESPACE, name: 'webhook-token' } },
            },
          },
          {
            apiVersion: 'source.toolkit.fluxcd.io/v1',
            kind: 'GitRepository',
            metadata: { name: 'app', namespace: TENANT },
            spec: { url: `http://gitlab.test/${PROJECT}.git`, interval: '10m', ref: { branch: 'main' } },
          },
        ],
      }),
    );
    // The operator made the tenant's Receiver and Secret: the link is live.
    await eventually('the Receiver and Secret made for app', async () => {
      const made = await kubectl(['-n', TENANT, 'get', 'receivers,secrets', '-l', `fluxlink.dev/link=${LINK}`, '-o', 'name']);
      return made.includes('receiver.notification.toolkit.fluxcd.io/gfl-app') && made.includes('secret/gfl-app');
    });
    const endpoints = await kubectl([
      '-n',
      OPERATOR_NAMESPACE,
      'get',
      'endpointslices',
      '-l',
      'kubernetes.io/service-name=gitlab-flux-link-webhook',
      '-o',
      'jsonpath={.items[*].endpoints[*].addresses[*]}',
    ]);
    expect(endpoints.trim(), 'the Service has the Pod as its endpoint').to.match(/^10\.231\.64\.\d+$/);
    expect(await sendWebhook()).to.equal(202);
    expect(await sendWebhook('not-the-token')).to.equal(401);
  });

  it('two replicas: the leader Pod deleted, the other leads within the lease bound, and every webhook meanwhile is answered', async function () {
    this.timeout(400_000);
    op = await installOperator(cluster!, { replicas: 2 });
    const holder = async () =>
      (
        await kubectl(['-n', OPERATOR_NAMESPACE, 'get', 'lease', 'gitlab-flux-link-leader', '-o', 'jsonpath={.spec.holderIdentity}'])
      ).trim();
    const leader = await eventually('a leader', async () => (await holder()) || undefined);
    const leaderPod = leader.replace(/_[0-9a-f]+$/, '');
    const pods = (await operatorPods()).map((p) => p.metadata.name);
    expect(pods).to.have.length(2);
    expect(pods).to.include(leaderPod);

    const leaderLogs = await followLogs([leaderPod]);
    const stream = webhookStream();
    await sleep(2000);
    const t0 = Date.now();
    await kubectl(['-n', OPERATOR_NAMESPACE, 'delete', 'pod', leaderPod, '--wait=false']);
    const next = await eventually(
      'another replica leading',
      async () => {
        const h = await holder();
        return h && !h.startsWith(`${leaderPod}_`) ? h : undefined;
      },
      60_000,
    );
    const leaderChange = (Date.now() - t0) / 1000;
    await kubectl(['-n', OPERATOR_NAMESPACE, 'rollout', 'status', `deployment/${OPERATOR_DEPLOYMENT}`, '--timeout=180s']);
    await sleep(3000);
    const tally = await stream.stop();
    await kubectl(['-n', OPERATOR_NAMESPACE, 'wait', '--for=delete', `pod/${leaderPod}`, '--timeout=60s']);
    const { accepted, dropped } = await leaderLogs();
    expect(accepted, 'webhooks the leader answered (its log followed to its end)').to.be.greaterThan(0);
    console.log(
      `      leader ${leaderPod} deleted → ${next.replace(/_[0-9a-f]+$/, '')} leads after ${leaderChange.toFixed(1)} s; webhooks sent ${tally.sent}, answered 2xx ${tally.answered2xx}, dropped at shutdown ${dropped}`,
    );
    // ADR 0005: lease 15 s + two retry periods of 2 s; a graceful stop releases the Lease, so it is far less.
    expect(leaderChange).to.be.below(19);
    expectNoWebhookLost(tally, dropped, 'the stopping leader');
  });

  it('a rolling update to another image tag loses no webhook sent during it', async function () {
    this.timeout(400_000);
    const before = (await operatorPods()).map((p) => p.metadata.name);
    const tag = `rollout-${Date.now().toString(36)}`;
    const oldLogs = await followLogs();
    const stream = webhookStream();
    await sleep(2000);
    const t0 = Date.now();
    op = await installOperator(cluster!, { replicas: 2, tag });
    expect(op.image.endsWith(`:${tag}`), op.image).to.equal(true);
    const rollout = (Date.now() - t0) / 1000;
    await sleep(3000);
    const tally = await stream.stop();
    for (const pod of before) await kubectl(['-n', OPERATOR_NAMESPACE, 'wait', '--for=delete', `pod/${pod}`, '--timeout=60s']);
    const { accepted, dropped } = await oldLogs();
    expect(accepted, 'webhooks the old replicas answered (their logs followed to their end)').to.be.greaterThan(0);
    console.log(
      `      rolling update to ${tag}: ${rollout.toFixed(1)} s; webhooks sent ${tally.sent}, answered 2xx ${tally.answered2xx}, dropped at shutdown ${dropped}`,
    );
    const after = await operatorPods();
    expect(after).to.have.length(2);
    for (const p of after) {
      expect(before).to.not.include(p.metadata.name);
      expect(p.spec.containers[0].image).to.equal(op.image);
    }
    expectNoWebhookLost(tally, dropped, 'a replica shutting down');
  });

  it('`kubectl delete -k` of the same kustomization leaves nothing behind, with a link and its GitRepository present', async function () {
    this.timeout(300_000);
    expect(await kubectl(['-n', TENANT, 'get', 'receivers,secrets', '-l', `fluxlink.dev/link=${LINK}`, '-o', 'name'])).to.include(
      'gfl-app',
    );
    const link = await getJson<{ metadata: { uid: string; finalizers?: string[] } }>(['get', 'gitlabfluxlink', LINK]);
    expect(link.metadata.finalizers ?? [], 'finalizers of the link').to.deep.equal([]);
    const receiver = await getJson<{ metadata: { ownerReferences: unknown[] } }>(['-n', TENANT, 'get', 'receiver', 'gfl-app']);
    expect(receiver.metadata.ownerReferences).to.deep.equal([
      { apiVersion: 'fluxlink.dev/v1alpha1', kind: 'GitLabFluxLink', name: LINK, uid: link.metadata.uid },
    ]);
    const t0 = Date.now();
    await op!.uninstall();
    console.log(`      kubectl delete -k: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const left = async (args: string[]) => (await kubectl([...args, '-o', 'name', '--ignore-not-found'])).trim();
    expect(await left(['get', 'namespace', OPERATOR_NAMESPACE])).to.equal('');
    expect(await left(['get', 'crd', 'gitlabfluxlinks.fluxlink.dev'])).to.equal('');
    expect(await left(['get', 'clusterroles,clusterrolebindings', '-l', OPERATOR_SELECTOR])).to.equal('');
    expect(await left(['get', 'clusterrole', 'gitlab-flux-link-manager'])).to.equal('');
    expect(await left(['get', 'leases', '-A', '--field-selector', 'metadata.name=gitlab-flux-link-leader'])).to.equal('');
    // What the operator made for the tenant is gone; the tenant's own GitRepository is not the operator's to remove.
    expect(await left(['-n', TENANT, 'get', 'receivers,secrets', '-l', 'app.kubernetes.io/managed-by=gitlab-flux-link'])).to.equal('');
    expect(await left(['-n', TENANT, 'get', 'gitrepository', 'app'])).to.equal('gitrepository.source.toolkit.fluxcd.io/app');
  });

  it('leaves the host as it found it once the node is stopped (the pushed operator tags and the kustomizations included)', async function () {
    this.timeout(180_000);
    expect(cluster, 'the cluster did not start').to.not.equal(undefined);
    await cluster!.stop();
    const diff = hostStateDiff(hostBefore, await hostState());
    expect(diff, diff.join('\n')).to.deep.equal([]);
    expect(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(KUSTOMIZATION_DIR_PREFIX))).to.deep.equal([]);
  });

  /** The node's view of the operator's container process (the Pod `uid`), read through /proc with the host's PIDs. */
  async function nodeView(
    podUid: string,
  ): Promise<{ status: string; uid: string; capEff: string; noNewPrivs: string; mountinfo: string; token: string }> {
    await kubectl(['create', 'namespace', 'op-node-view']);
    await kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'view', namespace: 'op-node-view' },
        spec: {
          hostPID: true,
          containers: [{ name: 'view', image: cluster!.images.busybox, securityContext: { privileged: true } }],
        },
      }),
    );
    await kubectl(['-n', 'op-node-view', 'wait', '--for=condition=Ready', 'pod/view', '--timeout=120s']);
    // The operator's process: node running dist/operator/main.js in a cgroup of that Pod.
    const script = `for p in /proc/[0-9]*; do
      grep -q "${podUid.replace(/-/g, '_')}\\|${podUid}" $p/cgroup 2>/dev/null || continue
      tr '\\0' ' ' < $p/cmdline | grep -q 'dist/operator/main.js' && { echo \${p#/proc/}; exit 0; }
    done; exit 1`;
    const pid = (await kubectl(['-n', 'op-node-view', 'exec', 'view', '--', 'sh', '-c', script])).trim();
    const read = (file: string) => kubectl(['-n', 'op-node-view', 'exec', 'view', '--', 'cat', `/proc/${pid}/${file}`]);
    const status = await read('status');
    const mountinfo = await read('mountinfo');
    const token = (await read('root/var/run/secrets/kubernetes.io/serviceaccount/token')).trim();
    await kubectl(['delete', 'namespace', 'op-node-view', '--wait=false']);
    return { status, uid: status, capEff: status, noNewPrivs: status, mountinfo, token };
  }
});

interface Pod {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  spec: {
    containers: { image: string; readinessProbe?: { httpGet?: { path: string } }; livenessProbe?: { httpGet?: { path: string } } }[];
    volumes: { name: string; projected?: { sources: { serviceAccountToken?: unknown }[] } }[];
  };
  status: { conditions: { type: string; status: string }[]; containerStatuses: { restartCount: number }[] };
}
