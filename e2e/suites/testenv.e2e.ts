import { expect } from 'chai';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pushCommit } from '../gitlab/git-server.js';
import { testEnv } from '../hooks.js';
import { post } from '../support/http.js';
import { apply, condition, eventually, freshNamespace, getJson } from '../support/kube.js';
import { kubeconfigYaml } from '../testenv/certs.js';
import type { TestEnv } from '../testenv/index.js';

/** The test ground itself: every later suite relies on these components being real and wired. */
describe('test ground (real control plane, Flux controllers and git server)', () => {
  let env: TestEnv;
  before(async () => {
    env = await testEnv();
  });

  it('serves a version-stamped Kubernetes API', async function () {
    if (env.cluster.provider !== 'local') this.test!.title += ' (existing cluster)';
    const version = JSON.parse(await env.cluster.kubectl(['version', '-o', 'json'])) as {
      serverVersion: { gitVersion: string; major: string };
    };
    expect(version.serverVersion.gitVersion).to.match(/^v1\.3[5-9]\.\d+$/);
    expect(version.serverVersion.major).to.equal('1');
  });

  it('collects garbage through owner references (kube-controller-manager runs)', async () => {
    const ns = await freshNamespace(env.cluster, 'gc');
    await apply(env.cluster, [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'owner', namespace: ns } }]);
    const owner = await getJson(env.cluster, 'configmap', 'owner', '-n', ns);
    await apply(env.cluster, [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: 'dependent',
          namespace: ns,
          ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid }],
        },
      },
    ]);
    await env.cluster.kubectl(['delete', 'configmap', 'owner', '-n', ns]);
    await eventually(
      'dependent ConfigMap to be garbage-collected',
      async () => (await getJson(env.cluster, 'configmap', 'dependent', '-n', ns)) === undefined,
      60_000,
    );
  });

  it('issues service-account tokens through the TokenRequest API', async () => {
    const ns = await freshNamespace(env.cluster, 'sa');
    await env.cluster.kubectl(['create', 'serviceaccount', 'robot', '-n', ns]);
    const token = (await env.cluster.kubectl(['create', 'token', 'robot', '-n', ns, '--duration=10m'])).trim();
    expect(token.split('.')).to.have.length(3);
    // A kubeconfig with only the token (the admin one carries a client certificate, which would win).
    const file = path.join(env.cluster.workDir, `robot-${ns}.kubeconfig`);
    fs.writeFileSync(file, kubeconfigYaml({ server: env.cluster.server, caCert: env.cluster.caCert!, user: 'robot', token }));
    const whoami = JSON.parse(await env.cluster.kubectl(['auth', 'whoami', '-o', 'json', `--kubeconfig=${file}`])) as {
      status: { userInfo: { username: string } };
    };
    expect(whoami.status.userInfo.username).to.equal(`system:serviceaccount:${ns}:robot`);
  });

  it('source-controller fetches a pushed commit and notification-controller triggers it through a Receiver', async () => {
    const ns = await freshNamespace(env.cluster, 'flux');
    await env.git.createProject(`smoke/${ns}/app`);
    const first = await pushCommit(env.git, `smoke/${ns}/app`, { branch: 'main', files: { 'a.txt': 'one' }, message: 'one' });
    const token = 'x'.repeat(40);
    await apply(env.cluster, [
      {
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'GitRepository',
        metadata: { name: 'app', namespace: ns },
        spec: { url: `${env.git.baseURL}/smoke/${ns}/app.git`, interval: '1h', ref: { branch: 'main' } },
      },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hook', namespace: ns }, stringData: { token } },
      {
        apiVersion: 'notification.toolkit.fluxcd.io/v1',
        kind: 'Receiver',
        metadata: { name: 'hook', namespace: ns },
        spec: { type: 'generic-hmac', secretRef: { name: 'hook' }, resources: [{ kind: 'GitRepository', name: 'app' }] },
      },
    ]);
    await eventually(
      'first artifact',
      async () => (await getJson(env.cluster, 'gitrepository', 'app', '-n', ns))?.status?.artifact?.revision === `main@sha1:${first.sha}`,
      90_000,
    );
    const receiver = await eventually(
      'Receiver Ready with a webhook path',
      async () => {
        const r = await getJson(env.cluster, 'receiver', 'hook', '-n', ns);
        return condition(r, 'Ready')?.status === 'True' && r.status.webhookPath ? r : undefined;
      },
      60_000,
    );

    const second = await pushCommit(env.git, `smoke/${ns}/app`, { branch: 'main', files: { 'a.txt': 'two' }, message: 'two' });
    const body = '{}';
    const status = await post(env.cluster.receiverURL + receiver.status.webhookPath, body, {
      'X-Signature': `sha256=${createHmac('sha256', token).update(body).digest('hex')}`,
    });
    expect(status).to.equal(200);
    // interval is 1h: only the receiver's annotation can make source-controller fetch this soon.
    await eventually(
      'second artifact after the receiver call',
      async () => (await getJson(env.cluster, 'gitrepository', 'app', '-n', ns))?.status?.artifact?.revision === `main@sha1:${second.sha}`,
      60_000,
    );
  });

  it('sends a GitLab Push Hook on a real git push', async () => {
    const received: Array<{ headers: http.IncomingHttpHeaders; body: any }> = [];
    const sink = http.createServer((req, res) => {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: JSON.parse(data) });
        res.end();
      });
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    try {
      const project = 'smoke/hooks/app';
      await env.git.createProject(project);
      env.git.setWebhook({ url: `http://127.0.0.1:${(sink.address() as { port: number }).port}/hook`, token: 'smoke-secret' }, project);
      const { sha } = await pushCommit(env.git, project, { branch: 'main', files: { 'b.txt': 'x' } });
      const hook = await eventually('Push Hook', async () => received[0], 15_000);
      expect(hook.headers['x-gitlab-event']).to.equal('Push Hook');
      expect(hook.headers['x-gitlab-token']).to.equal('smoke-secret');
      expect(hook.body.project.path_with_namespace).to.equal(project);
      expect(hook.body.ref).to.equal('refs/heads/main');
      expect(hook.body.after).to.equal(sha);
    } finally {
      sink.close();
    }
  });
});
