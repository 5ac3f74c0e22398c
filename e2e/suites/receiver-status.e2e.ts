import { expect } from 'chai';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { receiverWebhookPath } from '../../operator/flux/webhook-path.js';
import { pushCommit } from '../gitlab/git-server.js';
import { testEnv } from '../hooks.js';
import { apply, condition, eventually, freshNamespace, getJson } from '../support/kube.js';
import { linkManifest, webhookSecretManifest } from '../support/manifests.js';
import { metricSum, type OperatorProcess, startOperator } from '../support/operator.js';
import type { TestEnv } from '../testenv/index.js';
import { sleep } from '../testenv/probe.js';

/**
 * A Receiver's status is not the operator's to trust: Flux's aggregated `edit` role (flux-edit: every verb
 * on notification.toolkit.fluxcd.io resources, subresources included) lets a namespace tenant patch
 * `receivers/status`. The operator sends triggers only to the path notification-controller derives from the
 * token, name and namespace; these tests check that derivation against the real notification-controller and
 * what a tampered status does on the real test ground.
 */
describe('Receiver status: the webhook path is derived, never taken from status', function () {
  this.timeout(180_000);
  const TOKEN = 'receiver-status-e2e-webhook-token-0123456789';
  let env: TestEnv;
  let op: OperatorProcess;

  before(async () => {
    env = await testEnv();
    op = await startOperator(env.cluster);
    await apply(env.cluster, [webhookSecretManifest('receiver-status-webhook', TOKEN)]);
  });
  after(async () => {
    await op?.stop();
  });

  it("notification-controller's status.webhookPath is /hook/ + sha256(token + name + namespace), as receiverWebhookPath computes", async () => {
    // Fixed names and token: the value is also pinned in operator/flux/webhook-path.test.ts.
    const ns = 'webhook-path-e2e';
    const token = 'e2e-fixed-receiver-token-0123456789abcdef';
    await apply(env.cluster, [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'fixed-token', namespace: ns }, stringData: { token } },
      {
        apiVersion: 'notification.toolkit.fluxcd.io/v1',
        kind: 'Receiver',
        metadata: { name: 'fixed', namespace: ns },
        spec: { type: 'generic-hmac', secretRef: { name: 'fixed-token' }, resources: [{ kind: 'GitRepository', name: 'none' }] },
      },
    ]);
    const served = await eventually(
      'the Receiver has a webhook path',
      async () => (await getJson(env.cluster, 'receiver', 'fixed', '-n', ns))?.status?.webhookPath as string | undefined,
      60_000,
    );
    console.log(`      notification-controller: ${ns}/fixed with its token → ${served}`);
    expect(served).to.equal(receiverWebhookPath(Buffer.from(token), 'fixed', ns));
  });

  it('a tenant with flux-edit patches receivers/status to "@127.0.0.1:<port>/x": a real push sends nothing there, is counted, logged and shown as tampered, and the Receiver is asked to reconcile', async () => {
    const seen: string[] = [];
    const listener = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      req.resume();
      res.end();
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    try {
      const port = (listener.address() as AddressInfo).port;
      const id = `rs${process.pid}`;
      const label = { 'e2e.fluxlink.dev/receiver-status': id };
      const ns = await freshNamespace(env.cluster, 'receiver-status', label);
      const project = `receiver-status/${id}/app`;
      await env.git.createProject(project);
      await pushCommit(env.git, project, { branch: 'main', files: { 'v.txt': '1' } });
      await apply(env.cluster, [
        {
          apiVersion: 'source.toolkit.fluxcd.io/v1',
          kind: 'GitRepository',
          metadata: { name: 'app', namespace: ns },
          spec: { url: `${env.git.baseURL}/${project}.git`, interval: '1h', ref: { branch: 'main' } },
        },
      ]);
      const linkName = `receiver-status-${id}`;
      await apply(env.cluster, [
        linkManifest(env, linkName, { label, projects: ['receiver-status/**'], webhookSecret: 'receiver-status-webhook' }),
      ]);
      await eventually(
        `link ${linkName} Ready`,
        async () => condition(await getJson(env.cluster, 'gitlabfluxlink', linkName), 'Ready')?.status === 'True',
        90_000,
      );

      // The operator's own Receiver: notification-controller's path equals the derived one.
      const receiver = await getJson(env.cluster, 'receiver', 'gfl-app', '-n', ns);
      const secret = await getJson(env.cluster, 'secret', receiver.spec.secretRef.name, '-n', ns);
      expect(receiver.status.webhookPath, 'status.webhookPath of the managed Receiver').to.equal(
        receiverWebhookPath(Buffer.from(secret.data.token, 'base64'), 'gfl-app', ns),
      );

      // The tenant: a ServiceAccount bound in its namespace to the rules of Flux's flux-edit ClusterRole.
      await apply(env.cluster, [
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'tenant', namespace: ns } },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRole',
          metadata: { name: 'e2e-flux-edit' },
          rules: [
            {
              apiGroups: ['notification.toolkit.fluxcd.io', 'source.toolkit.fluxcd.io'],
              resources: ['*'],
              verbs: ['create', 'delete', 'deletecollection', 'patch', 'update', 'get', 'list', 'watch'],
            },
          ],
        },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'RoleBinding',
          metadata: { name: 'tenant-flux-edit', namespace: ns },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'e2e-flux-edit' },
          subjects: [{ kind: 'ServiceAccount', name: 'tenant', namespace: ns }],
        },
      ]);
      const tampered = `@127.0.0.1:${port}/x`;
      await eventually(
        'the tenant may patch receivers/status',
        async () => {
          await env.cluster.kubectl([
            'patch',
            'receiver',
            'gfl-app',
            '-n',
            ns,
            '--subresource=status',
            '--type=merge',
            '-p',
            JSON.stringify({ status: { webhookPath: tampered } }),
            `--as=system:serviceaccount:${ns}:tenant`,
          ]);
          return true;
        },
        30_000,
        1_000,
      );
      expect((await getJson(env.cluster, 'receiver', 'gfl-app', '-n', ns))?.status?.webhookPath).to.equal(tampered);

      // The link says so: its repository entry is not ready, and why (the link controller reads the Receiver).
      const entry = async () =>
        ((await getJson(env.cluster, 'gitlabfluxlink', linkName))?.status?.entries ?? []).find(
          (e: { gitRepository: string }) => e.gitRepository === `${ns}/app`,
        ) as { ready: boolean; message?: string } | undefined;
      await eventually(
        "the link's entry for the tampered Receiver is not ready",
        async () => {
          const e = await entry();
          return e && e.ready === false && /changed by someone other than notification-controller/.test(e.message ?? '');
        },
        30_000,
      );

      const triggers = async (result?: string) => metricSum(await op.metrics(), 'fluxlink_triggers_total', result ? { result } : {});
      const before = { all: await triggers(), tampered: await triggers('tampered') };
      env.git.setWebhook({ url: `${op.hooksURL}/hooks/${linkName}`, token: TOKEN }, project);
      await sleep(2_000); // the Receiver's watch event reaches the operator's cache (milliseconds on this test ground)
      await pushCommit(env.git, project, { branch: 'main', files: { 'v.txt': '2' } });
      await env.git.idle();
      expect(env.git.deliveries.filter((d) => d.project === project).pop()?.status, 'answer to the webhook').to.equal(202);

      await eventually(
        'the trigger of the push has run (fluxlink_triggers_total)',
        async () => (await triggers()) - before.all >= 1,
        30_000,
      );
      expect(seen, 'requests that reached the listener the tampered path names').to.deep.equal([]);
      expect((await triggers('tampered')) - before.tampered, 'fluxlink_triggers_total{result="tampered"}').to.equal(1);
      const lastTrigger = await eventually(
        'status.lastTrigger shows it',
        async () => {
          const t = (await getJson(env.cluster, 'gitlabfluxlink', linkName))?.status?.lastTrigger;
          return t?.gitRepository === `${ns}/app` && /^tampered: /.test(t.result) ? t : undefined;
        },
        20_000,
      );
      console.log(`      status.lastTrigger.result: ${lastTrigger.result}`);
      const logged = fs
        .readFileSync(op.logFile, 'utf8')
        .split('\n')
        .filter((l) => l.includes('receiver not triggered') && l.includes(`"link":"${linkName}"`))
        .map((l) => JSON.parse(l));
      expect(logged.map((l) => l.result)).to.deep.equal(['tampered']);

      // The operator asks notification-controller to reconcile the Receiver (Flux's requestedAt annotation),
      // which rewrites the status well before the Receiver's interval (10 minutes); the entry is ready again.
      const restored = await eventually(
        'notification-controller rewrote status.webhookPath after the reconcile request',
        async () => {
          const r = await getJson(env.cluster, 'receiver', 'gfl-app', '-n', ns);
          return r?.status?.webhookPath === receiver.status.webhookPath ? r : undefined;
        },
        30_000,
      );
      expect(restored.metadata.annotations?.['reconcile.fluxcd.io/requestedAt'], 'reconcile.fluxcd.io/requestedAt').to.be.a('string');
      await eventually("the link's entry is ready again", async () => (await entry())?.ready === true, 30_000);
      expect(seen, 'requests that reached the listener, at the end').to.deep.equal([]);
    } finally {
      listener.closeAllConnections();
      await new Promise<void>((r) => listener.close(() => r()));
    }
  });
});
