import { expect } from 'chai';
import { pushCommit } from '../gitlab/git-server.js';
import { testEnv } from '../hooks.js';
import { apply, condition, eventually, freshNamespace, getJson } from '../support/kube.js';
import { linkManifest, webhookSecretManifest } from '../support/manifests.js';
import { apiWrites, isLeader, metricSum, OPERATOR_NAMESPACE, type OperatorProcess, startOperator } from '../support/operator.js';
import type { TestEnv } from '../testenv/index.js';

/**
 * Two replicas: leader election on a coordination.k8s.io Lease with the real API server. Exactly one
 * replica reconciles; webhooks answered by either replica trigger once; a killed leader is replaced within
 * the lease duration (15 s); a graceful stop hands over at once.
 */
describe('two replicas: one leader on a Lease, webhooks served by both', function () {
  this.timeout(240_000);
  const TOKEN = 'replicas-e2e-webhook-token-0123456789';
  const LEASE_SECONDS = 15;
  let env: TestEnv;
  const ops: OperatorProcess[] = [];
  const label = { 'e2e.fluxlink.dev/replicas': String(process.pid) };
  let ns: string;
  const project = `replicas/p${process.pid}/app`;
  const linkName = `replicas-${process.pid}`;

  const leaderOf = async (candidates: OperatorProcess[]) => {
    const flags = await Promise.all(candidates.map(async (o) => isLeader(await o.metrics())));
    return flags.filter(Boolean).length === 1 ? candidates[flags.indexOf(true)] : undefined;
  };
  const writes = async (o: OperatorProcess) => apiWrites(await o.metrics());
  const delivered = async (o: OperatorProcess) => metricSum(await o.metrics(), 'fluxlink_triggers_total', { result: 'delivered' });
  const revision = async (name: string) =>
    (await getJson(env.cluster, 'gitrepository', name, '-n', ns))?.status?.artifact?.revision as string | undefined;
  const tokens = async () => {
    const list = await getJson(env.cluster, 'secrets', '-n', ns, '-l', 'app.kubernetes.io/managed-by=gitlab-flux-link');
    return Object.fromEntries(list.items.map((s: any) => [s.metadata.name, s.data.token]));
  };
  const readyReceivers = async () => (await getJson(env.cluster, 'gitlabfluxlink', linkName))?.status?.readyReceivers;
  const gitRepo = (name: string) => ({
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name, namespace: ns },
    spec: { url: `${env.git.baseURL}/${project}.git`, interval: '1h', ref: { branch: 'main' } },
  });

  before(async () => {
    env = await testEnv();
    ops.push(
      ...(await Promise.all([
        startOperator(env.cluster, {}, { awaitLeadership: false }),
        startOperator(env.cluster, {}, { awaitLeadership: false }),
      ])),
    );
    // After the operators: starting one installs the operator's namespace, where the webhook Secret lives.
    await apply(env.cluster, [webhookSecretManifest('replicas-webhook', TOKEN)]);
    ns = await freshNamespace(env.cluster, 'replicas', label);
    await env.git.createProject(project);
    await pushCommit(env.git, project, { branch: 'main', files: { 'v.txt': '0' } });
  });
  after(async () => {
    await Promise.all(ops.map((o) => o.stop()));
  });

  it('elects exactly one leader, named in the Lease, and only the leader writes', async () => {
    const leader = await eventually('exactly one leader', () => leaderOf(ops), 30_000);
    const lease = await getJson(env.cluster, 'lease', 'gitlab-flux-link-leader', '-n', OPERATOR_NAMESPACE);
    expect(lease.spec.leaseDurationSeconds).to.equal(LEASE_SECONDS);
    expect(lease.spec.holderIdentity).to.be.a('string').and.not.equal('');

    await apply(env.cluster, ['a', 'b', 'c'].map(gitRepo));
    await apply(env.cluster, [linkManifest(env, linkName, { label, projects: ['replicas/**'], webhookSecret: 'replicas-webhook' })]);
    await eventually(
      'link Ready with 3 receivers',
      async () => {
        const l = await getJson(env.cluster, 'gitlabfluxlink', linkName);
        return condition(l, 'Ready')?.status === 'True' && l.status.readyReceivers === 3;
      },
      90_000,
    );
    const follower = ops.find((o) => o !== leader)!;
    expect(await writes(follower), 'writes by the follower (leases excepted)').to.equal(0);
    expect(await writes(leader), 'writes by the leader').to.be.at.least(7); // 3 Secrets + 3 Receivers + status
  });

  it('webhooks answered by either replica trigger exactly once each', async () => {
    const before = await Promise.all(ops.map(delivered));
    const sent = [0, 0];
    for (let i = 0; i < 4; i++) {
      const target = i % 2;
      env.git.setWebhook({ url: `${ops[target]!.hooksURL}/hooks/${linkName}`, token: TOKEN }, project);
      const { sha } = await pushCommit(env.git, project, { branch: 'main', files: { 'v.txt': `push ${i}` } });
      sent[target]!++;
      // One push, three GitRepositories: each replica triggers all three for the pushes it received.
      await eventually(
        `push ${i} reconciled`,
        async () => (await Promise.all(['a', 'b', 'c'].map(revision))).every((r) => r === `main@sha1:${sha}`),
        30_000,
        100,
      );
      await eventually(
        `push ${i} counted`,
        async () => (await delivered(ops[target]!)) - before[target]! === sent[target]! * 3,
        10_000,
        100,
      );
    }
    const after = await Promise.all(ops.map(delivered));
    expect(
      after.map((v, i) => v - before[i]!),
      'Receiver calls per replica',
    ).to.deep.equal([6, 6]);
    expect(
      env.git.deliveries
        .filter((d) => d.project === project)
        .slice(-4)
        .map((d) => d.status),
    ).to.deep.equal([202, 202, 202, 202]);
  });

  it('a killed leader is replaced within the lease duration, tokens unchanged', async () => {
    const leader = (await leaderOf(ops))!;
    const follower = ops.find((o) => o !== leader)!;
    const tokensBefore = await tokens();
    const killedAt = Date.now();
    leader.kill();
    ops.splice(ops.indexOf(leader), 1);
    await eventually('the follower leads', async () => isLeader(await follower.metrics()), 30_000, 100);
    const seconds = (Date.now() - killedAt) / 1000;
    console.log(`      leader killed → follower leading after ${seconds.toFixed(1)} s (lease ${LEASE_SECONDS} s, retry 2 s)`);
    // The follower judges expiry from when it saw the last renewal (it reads the Lease every 2 s) and then acts
    // at its next retry: lease + 2 × retry period at most, plus the metrics poll.
    expect(seconds).to.be.at.most(LEASE_SECONDS + 2 * 2 + 1);
    // The new leader reconciles: a new GitRepository gets its Receiver.
    await apply(env.cluster, [gitRepo('d')]);
    await eventually('4 receivers ready', async () => (await readyReceivers()) === 4, 60_000);
    const tokensAfter = await tokens();
    expect(Object.keys(tokensAfter)).to.have.length(4);
    for (const [name, token] of Object.entries(tokensBefore)) expect(tokensAfter[name], `token of ${name}`).to.equal(token);
  });

  it('a graceful stop releases the Lease: the other replica leads at its next retry', async () => {
    ops.push(await startOperator(env.cluster, {}, { awaitLeadership: false }));
    const leader = (await leaderOf(ops))!;
    const follower = ops.find((o) => o !== leader)!;
    const stoppedAt = Date.now();
    await leader.stop();
    ops.splice(ops.indexOf(leader), 1);
    await eventually('the follower leads', async () => isLeader(await follower.metrics()), 30_000, 100);
    const seconds = (Date.now() - stoppedAt) / 1000;
    console.log(`      leader stopped (SIGTERM) → follower leading after ${seconds.toFixed(1)} s`);
    expect(seconds).to.be.at.most(5);
    expect(leader.proc.child.exitCode).to.equal(0);
  });
});
