import { expect } from 'chai';
import { pushCommit } from '../gitlab/git-server.js';
import { testEnv } from '../hooks.js';
import { apply, condition, eventually, freshNamespace, getJson } from '../support/kube.js';
import { metricSum, OPERATOR_NAMESPACE, type OperatorProcess, startOperator } from '../support/operator.js';
import type { TestEnv } from '../testenv/index.js';
import { sleep } from '../testenv/probe.js';

/**
 * spec.trust.namespaceProjects on the real test ground: two tenants' namespaces, each bound to its own GitLab
 * group. Team A's GitRepository pointing at team B's project must get no Receiver, be shown in the link's
 * status with the rule that refuses it, and never be triggered by a real push to team B's project; the
 * legitimate GitRepositories are triggered by real pushes.
 */
describe('tenants: projects bound to namespaces (spec.trust.namespaceProjects)', function () {
  this.timeout(240_000);
  const TOKEN = 'tenants-e2e-webhook-token-0123456789';
  let env: TestEnv;
  let op: OperatorProcess;

  const id = `t${process.pid}`;
  const groupA = `tenants/${id}/team-a`;
  const groupB = `tenants/${id}/team-b`;
  const projectA = `${groupA}/app`;
  const projectB = `${groupB}/app`;
  const linkName = `tenants-${id}`;
  let nsA: string;
  let nsB: string;

  const gitRepo = (ns: string, name: string, project: string) => ({
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name, namespace: ns },
    spec: { url: `${env.git.baseURL}/${project}.git`, interval: '1h', ref: { branch: 'main' } },
  });
  const revision = async (ns: string, name: string) =>
    (await getJson(env.cluster, 'gitrepository', name, '-n', ns))?.status?.artifact?.revision as string | undefined;
  const requestedAt = async (ns: string, name: string) =>
    (await getJson(env.cluster, 'gitrepository', name, '-n', ns))?.metadata?.annotations?.['reconcile.fluxcd.io/requestedAt'] as
      string | undefined;
  const receivers = async (ns: string) =>
    (((await getJson(env.cluster, 'receivers', '-n', ns))?.items ?? []) as Array<{ metadata: { name: string } }>)
      .map((r) => r.metadata.name)
      .sort();
  const secrets = async (ns: string) =>
    (
      ((await getJson(env.cluster, 'secrets', '-n', ns, '-l', 'app.kubernetes.io/managed-by=gitlab-flux-link'))?.items ?? []) as Array<{
        metadata: { name: string };
      }>
    )
      .map((s) => s.metadata.name)
      .sort();

  before(async () => {
    env = await testEnv();
    op = await startOperator(env.cluster);
    await env.cluster
      .kubectl(['create', 'secret', 'generic', 'tenants-webhook', '-n', OPERATOR_NAMESPACE, `--from-literal=token=${TOKEN}`])
      .catch(() => undefined);
    const scope = { 'e2e.fluxlink.dev/tenants': id };
    nsA = await freshNamespace(env.cluster, 'team-a', { ...scope, 'e2e.fluxlink.dev/tenant': `${id}-a` });
    nsB = await freshNamespace(env.cluster, 'team-b', { ...scope, 'e2e.fluxlink.dev/tenant': `${id}-b` });
    for (const p of [projectA, projectB]) {
      await env.git.createProject(p);
      await pushCommit(env.git, p, { branch: 'main', files: { 'v.txt': '1' } });
      env.git.setWebhook({ url: `${op.hooksURL}/hooks/${linkName}`, token: TOKEN }, p);
    }
    await apply(env.cluster, [
      gitRepo(nsA, 'own', projectA),
      // Team A claims team B's project: without the rules it would get a Receiver and B's push notifications.
      gitRepo(nsA, 'crossed', projectB),
      gitRepo(nsB, 'app', projectB),
      {
        apiVersion: 'fluxlink.dev/v1alpha1',
        kind: 'GitLabFluxLink',
        metadata: { name: linkName },
        spec: {
          gitlab: { url: env.git.instanceURL },
          receiver: { endpoint: env.cluster.receiverURL },
          trust: {
            namespaceSelector: { matchLabels: scope },
            projects: [`tenants/${id}/**`],
            namespaceProjects: [
              { namespaceSelector: { matchLabels: { 'e2e.fluxlink.dev/tenant': `${id}-a` } }, projects: [`${groupA}/**`] },
              { namespaceSelector: { matchLabels: { 'e2e.fluxlink.dev/tenant': `${id}-b` } }, projects: [`${groupB}/**`] },
            ],
          },
          webhook: { secretRef: { namespace: OPERATOR_NAMESPACE, name: 'tenants-webhook' } },
        },
      },
    ]);
  });
  after(async () => {
    await op?.stop();
  });

  it("links each tenant's own project, and shows team A's claim on team B's project as refused, naming the rule", async () => {
    const link = await eventually(
      `link ${linkName} Ready with 2 receivers`,
      async () => {
        const l = await getJson(env.cluster, 'gitlabfluxlink', linkName);
        return condition(l, 'Ready')?.status === 'True' &&
          l.status.readyReceivers === 2 &&
          l.status.observedGeneration === l.metadata.generation
          ? l
          : undefined;
      },
      90_000,
    );
    expect(link.status.repositories).to.equal(2);
    const crossed = (link.status.entries as Array<Record<string, unknown>>).find((e) => e['gitRepository'] === `${nsA}/crossed`);
    expect(crossed, 'the refused GitRepository is in status.entries').to.deep.equal({
      gitRepository: `${nsA}/crossed`,
      project: projectB,
      receiver: '',
      ready: false,
      message: `not linked: namespace ${nsA} may link only the projects of spec.trust.namespaceProjects[0] ([0] ${groupA}/**)`,
    });
    expect(condition(link, 'Ready')?.message).to.match(/1 refused by spec\.trust\.namespaceProjects/);
    expect(await receivers(nsA)).to.deep.equal(['gfl-own']);
    expect(await secrets(nsA)).to.deep.equal(['gfl-own']);
    expect(await receivers(nsB)).to.deep.equal(['gfl-app']);
  });

  it("a real push to team B's project triggers team B's GitRepository, never team A's", async () => {
    const first = {
      crossed: await eventually('first artifact of the refused GitRepository', () => revision(nsA, 'crossed'), 60_000),
      b: await eventually("first artifact of team B's GitRepository", () => revision(nsB, 'app'), 60_000),
    };
    expect(first.crossed).to.equal(first.b);
    const delivered = metricSum(await op.metrics(), 'fluxlink_triggers_total', { result: 'delivered' });
    const { sha } = await pushCommit(env.git, projectB, { branch: 'main', files: { 'v.txt': 'team b' } });
    await eventually(
      "team B's GitRepository at the pushed commit",
      async () => (await revision(nsB, 'app')) === `main@sha1:${sha}`,
      30_000,
      100,
    );
    expect(env.git.deliveries.filter((d) => d.project === projectB).pop()!.status).to.equal(202);
    await sleep(2000);
    expect(
      metricSum(await op.metrics(), 'fluxlink_triggers_total', { result: 'delivered' }) - delivered,
      'Receiver calls for the push',
    ).to.equal(1);
    expect(await requestedAt(nsA, 'crossed'), "team A's GitRepository was not asked to reconcile").to.equal(undefined);
    expect(await revision(nsA, 'crossed'), "team A's GitRepository kept its first artifact (interval 1h)").to.equal(first.crossed);
  });

  it("a real push to team A's project triggers team A's own GitRepository", async () => {
    await eventually("first artifact of team A's GitRepository", () => revision(nsA, 'own'), 60_000);
    const { sha } = await pushCommit(env.git, projectA, { branch: 'main', files: { 'v.txt': 'team a' } });
    await eventually(
      "team A's GitRepository at the pushed commit",
      async () => (await revision(nsA, 'own')) === `main@sha1:${sha}`,
      30_000,
      100,
    );
  });

  it('a namespace relabelled into team B links the claim it was refused, and the refusal disappears', async () => {
    await env.cluster.kubectl(['label', 'namespace', nsA, '--overwrite', `e2e.fluxlink.dev/tenant=${id}-b`]);
    await eventually('crossed linked once its namespace is team B', async () => (await receivers(nsA)).includes('gfl-crossed'), 60_000);
    // Now team A's own GitRepository is the one refused, and its Receiver and Secret are removed.
    await eventually(
      "team A's former project refused in its namespace",
      async () => {
        const l = await getJson(env.cluster, 'gitlabfluxlink', linkName);
        const own = (l?.status?.entries ?? []).find((e: Record<string, unknown>) => e['gitRepository'] === `${nsA}/own`);
        return (
          own &&
          own.ready === false &&
          /spec\.trust\.namespaceProjects\[1\]/.test(own.message) &&
          !(await receivers(nsA)).includes('gfl-own')
        );
      },
      60_000,
    );
    expect(await secrets(nsA)).to.deep.equal(['gfl-crossed']);
  });
});
