import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { testEnv } from '../hooks.js';
import { apply, condition, eventually, freshNamespace, getJson } from '../support/kube.js';
import { apiWrites, OPERATOR_NAMESPACE, type OperatorProcess, startOperator } from '../support/operator.js';
import type { TestEnv } from '../testenv/index.js';
import { repoRoot } from '../testenv/paths.js';
import { sleep } from '../testenv/probe.js';

/**
 * Links on the real test ground: the operator runs as its ServiceAccount with the shipped ClusterRole, the
 * real notification-controller makes the Receivers it creates Ready, and every behaviour the README gives a
 * link has its own case.
 */
describe('GitLabFluxLink: discovery, Receivers and token Secrets, status', function () {
  this.timeout(180_000);
  let env: TestEnv;
  let op: OperatorProcess;
  let suite = 0;

  const gitRepo = (ns: string, name: string, url: string) => ({
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name, namespace: ns },
    spec: { url, interval: '1h', ref: { branch: 'main' } },
  });
  const link = (name: string, selector: Record<string, string>, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'fluxlink.dev/v1alpha1',
    kind: 'GitLabFluxLink',
    metadata: { name },
    spec: {
      gitlab: { url: env.git.instanceURL },
      trust: { namespaceSelector: { matchLabels: selector }, projects: ['team/**'] },
      webhook: { secretRef: { namespace: OPERATOR_NAMESPACE, name: 'gitlab-webhook' } },
      ...extra,
    },
  });
  /** A namespace only this test's links select. */
  const scope = async () => {
    const label = { 'e2e.fluxlink.dev/scope': `s${process.pid}-${++suite}` };
    return { label, ns: await freshNamespace(env.cluster, 'link', label) };
  };
  const readyLink = (name: string, repositories: number) =>
    eventually(
      `link ${name} Ready with ${repositories} repositories`,
      async () => {
        const l = await getJson(env.cluster, 'gitlabfluxlink', name);
        return condition(l, 'Ready')?.status === 'True' &&
          l.status.repositories === repositories &&
          l.status.observedGeneration === l.metadata.generation
          ? l
          : undefined;
      },
      90_000,
    );
  const managed = async (ns: string) => ({
    receivers: ((await getJson(env.cluster, 'receivers', '-n', ns, '-l', 'app.kubernetes.io/managed-by=gitlab-flux-link'))?.items ??
      []) as any[],
    secrets: ((await getJson(env.cluster, 'secrets', '-n', ns, '-l', 'app.kubernetes.io/managed-by=gitlab-flux-link'))?.items ??
      []) as any[],
  });
  const gone = (ns: string, what: string) =>
    eventually(
      what,
      async () => {
        const m = await managed(ns);
        return m.receivers.length === 0 && m.secrets.length === 0;
      },
      60_000,
    );

  before(async () => {
    env = await testEnv();
    op = await startOperator(env.cluster);
    await env.cluster
      .kubectl([
        'create',
        'secret',
        'generic',
        'gitlab-webhook',
        '-n',
        OPERATOR_NAMESPACE,
        '--from-literal=token=e2e-webhook-token-0123456789abcdef',
      ])
      .catch(() => undefined);
  });
  after(async () => {
    await op?.stop();
  });

  it('accepts every sample in config/samples on the real API server (schema and CEL, server-side dry run)', async () => {
    const dir = path.join(repoRoot, 'config/samples');
    const samples = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect(samples.length).to.be.greaterThan(0);
    for (const f of samples) {
      const out = await env.cluster.kubectl(['apply', '--dry-run=server', '-f', path.join(dir, f)]);
      expect(out, f).to.match(/created|configured|unchanged/);
    }
  });

  it('creates a token Secret and a Receiver for each matching GitRepository, and the real notification-controller makes them Ready', async () => {
    const { label, ns } = await scope();
    const base = env.git.instanceURL;
    const host = new URL(base).host;
    await apply(env.cluster, [
      gitRepo(ns, 'app', `${base}/team/app.git`),
      gitRepo(ns, 'ssh-app', `ssh://git@${host.toUpperCase()}/team/sub/ssh-app.git`),
      gitRepo(ns, 'elsewhere', 'https://gitlab.other.example/team/app.git'),
      gitRepo(ns, 'untrusted', `${base}/other-team/app.git`),
    ]);
    await apply(env.cluster, [link('discover', label)]);
    const l = await readyLink('discover', 2);
    expect(l.status.readyReceivers).to.equal(2);
    await env.cluster.kubectl(['wait', '--for=condition=Ready', '--timeout=30s', 'gitlabfluxlink/discover']);

    const { receivers, secrets } = await managed(ns);
    expect(receivers.map((r) => r.metadata.name).sort()).to.deep.equal(['gfl-app', 'gfl-ssh-app']);
    expect(secrets.map((s) => s.metadata.name).sort()).to.deep.equal(['gfl-app', 'gfl-ssh-app']);
    const receiver = receivers.find((r) => r.metadata.name === 'gfl-app');
    expect(receiver.spec.type).to.equal('generic-hmac');
    expect(receiver.spec.resources).to.deep.equal([{ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'app' }]);
    expect(receiver.spec.secretRef).to.deep.equal({ name: 'gfl-app' });
    // Owned by the link alone: the garbage collector removes it with the link (docs/adr/0021-uninstall-without-the-operator.md).
    expect(receiver.metadata.ownerReferences).to.deep.equal([
      { apiVersion: 'fluxlink.dev/v1alpha1', kind: 'GitLabFluxLink', name: 'discover', uid: l.metadata.uid },
    ]);
    expect(receiver.metadata.labels['fluxlink.dev/link']).to.equal('discover');
    expect(receiver.metadata.annotations['fluxlink.dev/project']).to.equal('team/app');
    expect(condition(receiver, 'Ready')?.status).to.equal('True');
    expect(receiver.status.webhookPath).to.match(/^\/hook\/[0-9a-f]{64}$/);
    const secret = secrets.find((s) => s.metadata.name === 'gfl-app');
    expect(secret.metadata.labels['reconcile.fluxcd.io/watch']).to.equal('Enabled');
    expect(Buffer.from(secret.data.token, 'base64').length).to.be.at.least(32);

    const table = await env.cluster.kubectl(['get', 'gitlabfluxlinks', 'discover']);
    expect(table).to.match(/URL\s+REPOSITORIES\s+READY\s+STATUS\s+AGE/);
    expect(table).to.match(/discover\s+http:\/\/127\.0\.0\.1:\d+\s+2\s+True\s+2 repositories linked, 2 receivers ready/);
  });

  it('makes zero writes in steady state, status included', async () => {
    const { label, ns } = await scope();
    await apply(env.cluster, [gitRepo(ns, 'app', `${env.git.instanceURL}/team/app.git`)]);
    await apply(env.cluster, [link('steady', label)]);
    await readyLink('steady', 1);
    await sleep(3000); // let the last Receiver status events settle
    const before = {
      link: (await getJson(env.cluster, 'gitlabfluxlink', 'steady')).metadata.resourceVersion,
      writes: apiWrites(await op.metrics()),
    };
    await sleep(8000);
    const after = {
      link: (await getJson(env.cluster, 'gitlabfluxlink', 'steady')).metadata.resourceVersion,
      writes: apiWrites(await op.metrics()),
    };
    expect(after.link, 'link resourceVersion').to.equal(before.link);
    expect(after.writes - before.writes, 'API writes by the operator').to.equal(0);
  });

  it('restores a Receiver deleted by hand and a Secret edited by hand, and keeps the token', async () => {
    const { label, ns } = await scope();
    await apply(env.cluster, [gitRepo(ns, 'app', `${env.git.instanceURL}/team/app.git`)]);
    await apply(env.cluster, [link('restore', label)]);
    await readyLink('restore', 1);
    const token = (await getJson(env.cluster, 'secret', 'gfl-app', '-n', ns)).data.token;

    await env.cluster.kubectl(['delete', 'receiver', 'gfl-app', '-n', ns, '--wait=true']);
    await eventually(
      'Receiver re-created and Ready',
      async () => condition(await getJson(env.cluster, 'receiver', 'gfl-app', '-n', ns), 'Ready')?.status === 'True',
      60_000,
    );

    await env.cluster.kubectl(['label', 'secret', 'gfl-app', '-n', ns, 'reconcile.fluxcd.io/watch-']);
    await env.cluster.kubectl([
      'patch',
      'receiver',
      'gfl-app',
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"spec":{"type":"generic","resources":[{"kind":"GitRepository","name":"someone-else"}]}}',
    ]);
    await eventually('Secret label and Receiver spec restored', async () => {
      const s = await getJson(env.cluster, 'secret', 'gfl-app', '-n', ns);
      const r = await getJson(env.cluster, 'receiver', 'gfl-app', '-n', ns);
      return (
        s.metadata.labels['reconcile.fluxcd.io/watch'] === 'Enabled' && r.spec.type === 'generic-hmac' && r.spec.resources[0].name === 'app'
      );
    });
    expect((await getJson(env.cluster, 'secret', 'gfl-app', '-n', ns)).data.token, 'token unchanged').to.equal(token);
  });

  it('removes the objects when a GitRepository is deleted, moves to another host, or its namespace leaves the selector', async () => {
    const { label, ns } = await scope();
    const base = env.git.instanceURL;
    await apply(env.cluster, [
      gitRepo(ns, 'a', `${base}/team/a.git`),
      gitRepo(ns, 'b', `${base}/team/b.git`),
      gitRepo(ns, 'c', `${base}/team/c.git`),
    ]);
    await apply(env.cluster, [link('lifecycle', label)]);
    await readyLink('lifecycle', 3);

    await env.cluster.kubectl(['delete', 'gitrepository', 'a', '-n', ns]);
    await apply(env.cluster, [gitRepo(ns, 'b', 'https://gitlab.other.example/team/b.git')]);
    await eventually('objects of a (deleted) and b (moved away) removed', async () => {
      const m = await managed(ns);
      return m.receivers.map((r) => r.metadata.name).join() === 'gfl-c' && m.secrets.map((s) => s.metadata.name).join() === 'gfl-c';
    });
    await readyLink('lifecycle', 1);

    await env.cluster.kubectl(['label', 'namespace', ns, 'e2e.fluxlink.dev/scope-']);
    await gone(ns, 'objects removed after the namespace left the selector');
    const l = await eventually('link reports 0 repositories', async () => {
      const x = await getJson(env.cluster, 'gitlabfluxlink', 'lifecycle');
      return x.status.repositories === 0 ? x : undefined;
    });
    expect(condition(l, 'Ready')?.status).to.equal('True');
  });

  it('re-evaluates when the link spec changes (project patterns narrowed, receiver type changed)', async () => {
    const { label, ns } = await scope();
    const base = env.git.instanceURL;
    await apply(env.cluster, [gitRepo(ns, 'api', `${base}/team/api.git`), gitRepo(ns, 'web', `${base}/team/web.git`)]);
    await apply(env.cluster, [link('respec', label)]);
    await readyLink('respec', 2);
    await apply(env.cluster, [
      link('respec', label, { receiver: { type: 'gitlab' }, trust: { namespaceSelector: { matchLabels: label }, projects: ['team/api'] } }),
    ]);
    await readyLink('respec', 1);
    const m = await managed(ns);
    expect(m.receivers.map((r) => r.metadata.name)).to.deep.equal(['gfl-api']);
    expect(m.receivers[0].spec.type).to.equal('gitlab');
    expect(m.receivers[0].spec.events).to.deep.equal(['Push Hook', 'Tag Push Hook']);
  });

  it('gives a GitRepository matched by two links to the older one; the younger reports the conflict', async () => {
    const { label, ns } = await scope();
    await apply(env.cluster, [gitRepo(ns, 'shared', `${env.git.instanceURL}/team/shared.git`)]);
    await apply(env.cluster, [link('first', label)]);
    await readyLink('first', 1);
    await apply(env.cluster, [link('second', label)]);
    const second = await eventually('second link reports the conflict', async () => {
      const l = await getJson(env.cluster, 'gitlabfluxlink', 'second');
      return l?.status?.conflicts === 1 ? l : undefined;
    });
    expect(second.status.repositories).to.equal(0);
    expect(second.status.entries[0].message).to.equal('managed by link first');
    const rv = (await getJson(env.cluster, 'receiver', 'gfl-shared', '-n', ns)).metadata.resourceVersion;
    await sleep(3000);
    const r = await getJson(env.cluster, 'receiver', 'gfl-shared', '-n', ns);
    expect(r.metadata.labels['fluxlink.dev/link']).to.equal('first');
    expect(r.metadata.resourceVersion, 'no fight over the Receiver').to.equal(rv);

    // The older link goes: the younger takes the repository over. It adopts the Receiver and Secret where it
    // reaches them before the garbage collector (their owner was the deleted link) and makes them anew where not.
    await env.cluster.kubectl(['delete', 'gitlabfluxlink', 'first', '--wait=true']);
    const taken = await readyLink('second', 1);
    expect(taken.status.conflicts ?? 0).to.equal(0);
    await eventually('the Receiver and its token Secret labelled with and owned by link second', async () => {
      const m = await managed(ns);
      const byLink = (o: any) =>
        `${o.metadata.name}:${o.metadata.labels['fluxlink.dev/link']}:${o.metadata.ownerReferences?.map((r: any) => r.name).join('+')}`;
      return (
        m.receivers.map(byLink).join() === 'gfl-shared:second:second' &&
        m.secrets.map(byLink).join() === 'gfl-shared:second:second' &&
        typeof m.secrets[0].data?.token === 'string'
      );
    });
  });

  it('ends Stalled with a message naming the field for a spec only the operator can refuse, and creates nothing', async () => {
    // matchLabels keys are checked by the operator only (a CEL rule over map keys exceeds the API server's
    // cost budget), so this invalid link is stored and must stall.
    const { ns } = await scope();
    await apply(env.cluster, [gitRepo(ns, 'app', `${env.git.instanceURL}/team/app.git`)]);
    await apply(env.cluster, [link('bad-selector', { 'not a valid key!': 'x' })]);
    const l = await eventually('link Stalled', async () => {
      const x = await getJson(env.cluster, 'gitlabfluxlink', 'bad-selector');
      return condition(x, 'Stalled')?.status === 'True' ? x : undefined;
    });
    expect(condition(l, 'Ready')).to.include({ status: 'False', reason: 'InvalidSpec' });
    expect(condition(l, 'Ready')?.message).to.include('spec.trust.namespaceSelector.matchLabels');
    expect(condition(l, 'Reconciling'), 'Reconciling absent when Stalled').to.equal(undefined);
    expect(l.status.observedGeneration).to.equal(l.metadata.generation);
    const made = await getJson(env.cluster, 'receivers', '-A', '-l', 'fluxlink.dev/link=bad-selector');
    expect(made.items).to.have.length(0);
    await env.cluster.kubectl(['delete', 'gitlabfluxlink', 'bad-selector', '--wait=true', '--timeout=30s']);
  });

  it('removes everything it made when the link is deleted (no finalizer holds the link)', async () => {
    const { label, ns } = await scope();
    await apply(env.cluster, [
      gitRepo(ns, 'x', `${env.git.instanceURL}/team/x.git`),
      gitRepo(ns, 'y', `${env.git.instanceURL}/team/y.git`),
    ]);
    await apply(env.cluster, [link('doomed', label)]);
    const l = await readyLink('doomed', 2);
    expect(l.metadata.finalizers ?? []).to.deep.equal([]);
    await env.cluster.kubectl(['delete', 'gitlabfluxlink', 'doomed', '--wait=true', '--timeout=60s']);
    await gone(ns, 'every Receiver and Secret of the deleted link removed');
  });
});
