import { expect } from 'chai';
import { pushCommit, pushRefspecs } from '../gitlab/git-server.js';
import { testEnv } from '../hooks.js';
import { apply, condition, eventually, freshNamespace, getJson } from '../support/kube.js';
import { metricSum, OPERATOR_NAMESPACE, type OperatorProcess, startOperator } from '../support/operator.js';
import type { TestEnv } from '../testenv/index.js';

/**
 * No push lost, on the real test ground: the GitLab API emulator serves branches and tags from the real
 * repositories, Flux's real controllers fetch, and every GitRepository's interval is 1h, so only the operator's
 * catch-up can explain a new artifact. The sweep interval is shortened for the test with the operator's
 * GITLAB_SWEEP_INTERVAL_SECONDS (test-only; the spec's minimum is 1m).
 */
describe('catch-up: no push lost (GitLab API emulator, real Flux)', function () {
  this.timeout(240_000);
  const TOKEN = 'catch-up-e2e-webhook-token-0123456789';
  const SWEEP_SECONDS = 4;
  let env: TestEnv;
  let op: OperatorProcess | undefined;
  let n = 0;
  /** The links a test made: deleted after it while its operator still runs (their hooks finalizer needs it). */
  let links: string[] = [];

  const revision = async (ns: string, name: string) =>
    (await getJson(env.cluster, 'gitrepository', name, '-n', ns))?.status?.artifact?.revision as string | undefined;

  /** A namespace, a project with a first commit on main (and `branches`), a GitLab API token, a link, GitRepositories Ready. */
  async function setup(opts: {
    repos: Array<{ name: string; ref: Record<string, string> }>;
    branches?: string[];
    tag?: string;
    withWebhook?: boolean;
  }) {
    const id = `c${process.pid}-${++n}`;
    const label = { 'e2e.fluxlink.dev/catch-up': id };
    const ns = await freshNamespace(env.cluster, 'catchup', label);
    const project = `catchup/${id}/app`;
    await env.git.createProject(project);
    await pushCommit(env.git, project, { branch: 'main', files: { 'v.txt': '1' }, ...(opts.tag ? { tag: opts.tag } : {}) });
    if (opts.branches?.length)
      await pushRefspecs(
        env.git,
        project,
        opts.branches.map((b) => `HEAD:refs/heads/${b}`),
      );
    const apiToken = env.git.gitlab.createToken({ access: { [project]: 'maintainer' } });
    const tokenSecret = `catchup-api-${id}`;
    await env.cluster.kubectl(['create', 'secret', 'generic', tokenSecret, '-n', OPERATOR_NAMESPACE, `--from-literal=token=${apiToken}`]);
    const linkName = `catchup-${id}`;
    links.push(linkName);
    // The link's webhook Secret (the operator's namespace exists once an operator has started).
    await apply(env.cluster, [
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'catchup-webhook', namespace: OPERATOR_NAMESPACE },
        stringData: { token: TOKEN },
      },
    ]);
    await apply(
      env.cluster,
      opts.repos.map((r) => ({
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'GitRepository',
        metadata: { name: r.name, namespace: ns },
        spec: { url: `${env.git.baseURL}/${project}.git`, interval: '1h', ref: r.ref },
      })),
    );
    await apply(env.cluster, [
      {
        apiVersion: 'fluxlink.dev/v1alpha1',
        kind: 'GitLabFluxLink',
        metadata: { name: linkName },
        spec: {
          gitlab: { url: env.git.instanceURL, api: { tokenSecretRef: { namespace: OPERATOR_NAMESPACE, name: tokenSecret } } },
          receiver: { endpoint: env.cluster.receiverURL },
          trust: { namespaceSelector: { matchLabels: label }, projects: ['catchup/**'] },
          webhook: {
            secretRef: { namespace: OPERATOR_NAMESPACE, name: 'catchup-webhook' },
            ...(opts.withWebhook ? { url: `${op!.hooksURL}/hooks/${linkName}` } : {}),
          },
        },
      },
    ]);
    await eventually(
      `link ${linkName} Ready with its Receivers`,
      async () => {
        const l = await getJson(env.cluster, 'gitlabfluxlink', linkName);
        return condition(l, 'Ready')?.status === 'True' && l.status.readyReceivers === opts.repos.length;
      },
      90_000,
    );
    for (const r of opts.repos)
      await eventually(`first artifact of ${r.name}`, async () => (await revision(ns, r.name)) !== undefined, 60_000);
    return { ns, project, linkName };
  }

  before(async () => {
    env = await testEnv();
  });
  afterEach(async () => {
    // Other suites share this test ground's GitLab emulator: a link left behind would go on sweeping it.
    for (const linkName of links)
      await env.cluster
        .kubectl(['delete', 'gitlabfluxlink', linkName, '--ignore-not-found', '--wait=true', '--timeout=60s'])
        .catch(() => undefined);
    links = [];
    await op?.stop();
    op = undefined;
  });

  it('outbound-only: a push is reconciled by the sweep, without any webhook, within the sweep interval', async () => {
    op = await startOperator(env.cluster, { GITLAB_SWEEP_INTERVAL_SECONDS: String(SWEEP_SECONDS) });
    const { ns, project, linkName } = await setup({ repos: [{ name: 'app', ref: { branch: 'main' } }] });
    const deliveriesBefore = env.git.deliveries.filter((d) => d.project === project).length;
    const started = Date.now();
    const { sha } = await pushCommit(env.git, project, { branch: 'main', files: { 'v.txt': '2' } });
    await eventually('artifact of the pushed commit', async () => (await revision(ns, 'app')) === `main@sha1:${sha}`, 60_000, 200);
    const seconds = (Date.now() - started) / 1000;
    console.log(`      outbound-only push → new artifact in ${seconds.toFixed(1)} s (sweep every ${SWEEP_SECONDS} s)`);
    expect(seconds).to.be.lessThan(SWEEP_SECONDS + 20);
    expect(env.git.deliveries.filter((d) => d.project === project).length).to.equal(deliveriesBefore);
    const status = await eventually(
      'status.lastCatchUp',
      async () => (await getJson(env.cluster, 'gitlabfluxlink', linkName))?.status?.lastCatchUp,
      20_000,
    );
    expect(status).to.include.keys('reason', 'at', 'checked', 'triggered', 'requests');
    expect(metricSum(await op.metrics(), 'fluxlink_catchup_triggers_total')).to.be.greaterThan(0);
  });

  it('a push of 4 branches at once (GitLab sends no webhook) is reconciled by the sweep on a link with webhooks', async () => {
    op = await startOperator(env.cluster, { GITLAB_SWEEP_INTERVAL_SECONDS: String(SWEEP_SECONDS) });
    const branches = ['b1', 'b2', 'b3', 'b4'];
    const { ns, project } = await setup({
      repos: branches.map((b) => ({ name: b, ref: { branch: b } })),
      branches,
      withWebhook: true,
    });
    await eventually('the hook registered', async () => env.git.gitlab.hooksOf(project).length === 1, 60_000);
    const deliveriesBefore = env.git.deliveries.filter((d) => d.project === project).length;
    const { sha } = await pushCommit(env.git, project, { branch: 'main', files: { 'v.txt': 'four' } });
    await env.git.idle();
    await pushRefspecs(
      env.git,
      project,
      branches.map((b) => `HEAD:refs/heads/${b}`),
    );
    await env.git.idle();
    // Only main's own push was announced; the 4-branch push sent nothing.
    expect(env.git.deliveries.filter((d) => d.project === project).length).to.equal(deliveriesBefore + 1);
    for (const b of branches) {
      await eventually(
        `${b} at the pushed commit`,
        async () => (await revision(ns, b)) === `${b}@sha1:${sha}`,
        SWEEP_SECONDS * 1000 + 30_000,
        200,
      );
    }
  });

  it('operator stopped during 5 pushes: all reconciled soon after it starts (leader start, no new push, no sweep)', async () => {
    op = await startOperator(env.cluster, { GITLAB_SWEEP_INTERVAL_SECONDS: '3600' });
    const repos = ['r1', 'r2', 'r3', 'r4', 'r5'].map((b) => ({ name: b, ref: { branch: b } }));
    const { ns, project } = await setup({ repos, branches: repos.map((r) => r.name) });
    await op.stop();
    op = undefined;
    const shas: Record<string, string> = {};
    for (const r of repos) shas[r.name] = (await pushCommit(env.git, project, { branch: r.name, files: { 'v.txt': r.name } })).sha;
    await env.git.idle();
    const started = Date.now();
    op = await startOperator(env.cluster, { GITLAB_SWEEP_INTERVAL_SECONDS: '3600' });
    for (const r of repos) {
      await eventually(`${r.name} caught up`, async () => (await revision(ns, r.name)) === `${r.name}@sha1:${shas[r.name]}`, 60_000, 200);
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(`      operator start → 5 missed pushes reconciled in ${seconds.toFixed(1)} s`);
    expect(seconds).to.be.lessThan(60);
    expect(metricSum(await op.metrics(), 'fluxlink_catchup_triggers_total', { reason: /start|leader/ })).to.equal(5);
  });

  it('a tag GitRepository behind (the tag moved) is caught up by the sweep', async () => {
    op = await startOperator(env.cluster, { GITLAB_SWEEP_INTERVAL_SECONDS: String(SWEEP_SECONDS) });
    const { ns, project } = await setup({ repos: [{ name: 'release', ref: { tag: 'v1' } }], tag: 'v1' });
    const { sha } = await pushCommit(env.git, project, { branch: 'main', files: { 'v.txt': 'moved' }, tag: 'v1' });
    await eventually(
      'the moved tag fetched',
      async () => (await revision(ns, 'release')) === `v1@sha1:${sha}`,
      SWEEP_SECONDS * 1000 + 30_000,
      200,
    );
  });
});
