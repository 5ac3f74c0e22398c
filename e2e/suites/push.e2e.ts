import { expect } from 'chai';
import { pushCommit } from '../gitlab/git-server.js';
import { testEnv } from '../hooks.js';
import { post } from '../support/http.js';
import { apply, condition, eventually, freshNamespace, getJson } from '../support/kube.js';
import { metricSum, OPERATOR_NAMESPACE, type OperatorProcess, startOperator } from '../support/operator.js';
import { serviceProxyTarget } from '../support/service-proxy.js';
import type { TestEnv } from '../testenv/index.js';
import { sleep } from '../testenv/probe.js';
import { startTestHost, type TestHost } from '../testenv/test-host.js';

/**
 * Push to reconcile on the real test ground: a real `git push` to the loopback git server → GitLab-shaped
 * webhook → operator → real notification-controller → real source-controller, with every GitRepository's
 * interval at 1h so only the push can explain a new artifact.
 */
describe('push to reconcile: GitLab webhooks in, the right Receivers triggered', function () {
  this.timeout(180_000);
  const TOKEN = 'push-e2e-webhook-token-0123456789';
  let env: TestEnv;
  let op: OperatorProcess;
  let host: TestHost | undefined;
  let n = 0;

  const gitRepo = (ns: string, name: string, project: string, ref: Record<string, string>) => ({
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name, namespace: ns },
    spec: { url: `${env.git.baseURL}/${project}.git`, interval: '1h', ref },
  });
  const link = (name: string, selector: Record<string, string>, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'fluxlink.dev/v1alpha1',
    kind: 'GitLabFluxLink',
    metadata: { name },
    spec: {
      gitlab: { url: env.git.instanceURL },
      receiver: { endpoint: env.cluster.receiverURL },
      trust: { namespaceSelector: { matchLabels: selector }, projects: ['push/**'] },
      webhook: { secretRef: { namespace: OPERATOR_NAMESPACE, name: 'push-webhook' } },
      ...extra,
    },
  });
  const revision = async (ns: string, name: string) =>
    (await getJson(env.cluster, 'gitrepository', name, '-n', ns))?.status?.artifact?.revision as string | undefined;
  const triggered = async () => metricSum(await op.metrics(), 'fluxlink_triggers_total', { result: 'delivered' });

  /** A namespace, a link selecting only it, a project with a first commit, and GitRepositories Ready on it. */
  async function setup(
    repos: Array<{ name: string; ref: Record<string, string> }>,
    linkExtra: (label: Record<string, string>) => Record<string, unknown> = () => ({}),
  ) {
    const id = `p${process.pid}-${++n}`;
    const label = { 'e2e.fluxlink.dev/push': id };
    const ns = await freshNamespace(env.cluster, 'push', label);
    const project = `push/${id}/app`;
    await env.git.createProject(project);
    const first = await pushCommit(env.git, project, { branch: 'main', files: { 'v.txt': '1' } });
    await apply(
      env.cluster,
      repos.map((r) => gitRepo(ns, r.name, project, r.ref)),
    );
    const linkName = `push-${id}`;
    await apply(env.cluster, [link(linkName, label, linkExtra(label))]);
    await eventually(
      `link ${linkName} Ready`,
      async () => {
        const l = await getJson(env.cluster, 'gitlabfluxlink', linkName);
        return condition(l, 'Ready')?.status === 'True' && l.status.readyReceivers === repos.length;
      },
      90_000,
    );
    env.git.setWebhook({ url: `${op.hooksURL}/hooks/${linkName}`, token: TOKEN }, project);
    return { ns, project, linkName, first };
  }

  before(async () => {
    env = await testEnv();
    op = await startOperator(env.cluster);
    await env.cluster
      .kubectl(['create', 'secret', 'generic', 'push-webhook', '-n', OPERATOR_NAMESPACE, `--from-literal=token=${TOKEN}`])
      .catch(() => undefined);
  });
  after(async () => {
    await op?.stop();
    await host?.stop();
  });

  it('a push to the tracked branch reconciles the GitRepository at once (interval 1h)', async () => {
    const { ns, project, linkName } = await setup([{ name: 'app', ref: { branch: 'main' } }]);
    const started = Date.now();
    const { sha } = await pushCommit(env.git, project, { branch: 'main', files: { 'v.txt': '2' } });
    await eventually('artifact of the pushed commit', async () => (await revision(ns, 'app')) === `main@sha1:${sha}`, 30_000, 100);
    const seconds = (Date.now() - started) / 1000;
    console.log(`      push → new artifact in ${seconds.toFixed(2)} s`);
    expect(seconds).to.be.lessThan(15);
    const d = env.git.deliveries.filter((x) => x.project === project).pop()!;
    expect(d.status).to.equal(202);
    // The link's status tells the last push and the last trigger (written at most every 5 s).
    const status = await eventually(
      'status.lastPush and lastTrigger',
      async () => {
        const l = await getJson(env.cluster, 'gitlabfluxlink', linkName);
        return l?.status?.lastTrigger && l.status.lastPush?.ref === 'refs/heads/main' ? l.status : undefined;
      },
      20_000,
    );
    expect(status.lastPush.project).to.equal(project);
    expect(status.lastTrigger).to.include({ gitRepository: `${ns}/app`, result: 'delivered' });
  });

  it('a push to a branch the GitRepository does not track triggers nothing', async () => {
    const { ns, project, first } = await setup([{ name: 'app', ref: { branch: 'main' } }]);
    await eventually('first artifact', async () => (await revision(ns, 'app')) === `main@sha1:${first.sha}`, 60_000);
    const before = await triggered();
    await pushCommit(env.git, project, { branch: 'feature', files: { 'f.txt': 'x' } });
    await env.git.idle();
    await sleep(2000);
    expect(await triggered()).to.equal(before);
    expect(
      (await getJson(env.cluster, 'gitrepository', 'app', '-n', ns)).metadata.annotations?.['reconcile.fluxcd.io/requestedAt'],
    ).to.equal(undefined);
  });

  it('a tag push reconciles a semver GitRepository', async () => {
    const { ns, project } = await setup([{ name: 'release', ref: { semver: '>=1.0.0' } }]);
    const { sha } = await pushCommit(env.git, project, { branch: 'main', files: { 'v.txt': 'release' }, tag: 'v1.2.0' });
    await eventually('artifact of the tag', async () => (await revision(ns, 'release')) === `v1.2.0@sha1:${sha}`, 60_000, 200);
  });

  it('a webhook with a wrong token is refused with 401 and triggers nothing', async () => {
    const { ns, project, linkName, first } = await setup([{ name: 'app', ref: { branch: 'main' } }]);
    await eventually('first artifact', async () => (await revision(ns, 'app')) === `main@sha1:${first.sha}`, 60_000);
    env.git.setWebhook({ url: `${op.hooksURL}/hooks/${linkName}`, token: 'not-the-token' }, project);
    const before = await triggered();
    await pushCommit(env.git, project, { branch: 'main', files: { 'v.txt': 'sneaky' } });
    await env.git.idle();
    expect(env.git.deliveries.filter((x) => x.project === project).pop()!.status).to.equal(401);
    await sleep(1500);
    expect(await triggered()).to.equal(before);
    expect(await revision(ns, 'app')).to.equal(`main@sha1:${first.sha}`);
  });

  it('a push for a project outside the trust policy is accepted and ignored', async () => {
    const { ns, project, linkName, first } = await setup([{ name: 'app', ref: { branch: 'main' } }]);
    // Same link, a project it does not trust: a webhook for it must not reach any Receiver.
    const outsider = `outside/${ns}/app`;
    await env.git.createProject(outsider);
    env.git.setWebhook({ url: `${op.hooksURL}/hooks/${linkName}`, token: TOKEN }, outsider);
    const before = await triggered();
    await pushCommit(env.git, outsider, { branch: 'main' });
    await env.git.idle();
    expect(env.git.deliveries.filter((x) => x.project === outsider).pop()!.status).to.equal(202);
    await sleep(1500);
    expect(await triggered()).to.equal(before);
    expect(await revision(ns, 'app')).to.satisfy((r: string | undefined) => r === undefined || r === `main@sha1:${first.sha}`);
    expect(project).to.not.equal(outsider);
  });

  it('coalesces a burst of 100 pushes to one project into few Receiver calls', async () => {
    const { ns, project, linkName } = await setup([{ name: 'app', ref: { branch: 'main' } }]);
    const last = await pushCommit(env.git, project, { branch: 'main', files: { 'v.txt': 'burst' } });
    await env.git.idle();
    // That push's own trigger must be done before counting, or it would be counted with the burst.
    await eventually('artifact of the last commit', async () => (await revision(ns, 'app')) === `main@sha1:${last.sha}`, 30_000);
    await sleep(500);
    const before = { calls: await triggered(), coalesced: metricSum(await op.metrics(), 'fluxlink_pushes_coalesced_total') };
    const body = JSON.stringify({
      object_kind: 'push',
      event_name: 'push',
      ref: 'refs/heads/main',
      before: last.sha,
      after: last.sha,
      project: { path_with_namespace: project },
    });
    const answers = await Promise.all(
      Array.from({ length: 100 }, () =>
        post(`${op.hooksURL}/hooks/${linkName}`, body, { 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': TOKEN }),
      ),
    );
    expect(
      answers.every((s) => s === 202),
      `answers: ${[...new Set(answers)]}`,
    ).to.equal(true);
    await eventually('the burst delivered', async () => (await triggered()) > before.calls, 30_000);
    await sleep(2000);
    const calls = (await triggered()) - before.calls;
    const coalesced = metricSum(await op.metrics(), 'fluxlink_pushes_coalesced_total') - before.coalesced;
    console.log(`      100 pushes → ${calls} receiver calls, ${coalesced} coalesced`);
    // Every push either started a Receiver call or folded into one waiting: nothing lost, nothing doubled.
    expect(calls + coalesced, 'calls + coalesced pushes').to.equal(100);
    // Pushes arrive faster than calls complete, so most fold (how many depends on the machine's speed).
    expect(calls).to.be.within(1, 50);
    expect(await revision(ns, 'app')).to.equal(`main@sha1:${last.sha}`);
  });

  it('refuses a link whose service-proxy endpoint is not allow-listed (the API server rejects it)', async () => {
    const bad = link(
      'untrusted-proxy',
      { x: 'y' },
      { receiver: { endpoint: '/api/v1/namespaces/kube-system/services/secret-service/proxy' } },
    );
    const err = await apply(env.cluster, [bad]).then(
      () => undefined,
      (e: { stderr?: string }) => e.stderr ?? String(e),
    );
    expect(err).to.match(
      /spec\.receiver\.endpoint: service proxy kube-system\/secret-service is not allowed by spec\.trust\.serviceProxies/,
    );
    expect(await getJson(env.cluster, 'gitlabfluxlink', 'untrusted-proxy')).to.equal(undefined);
  });

  it('triggers through the Kubernetes API service proxy to a receiver on a test host', async function () {
    if (env.cluster.provider !== 'local') throw new Error('the service-proxy case needs the local provider (it creates a test host)');
    // The receiver is forwarded from a test host in a network namespace (the API server proxies to Pod IPs only).
    host = await startTestHost({ logDir: env.logDir });
    await host.forward(9292, Number(new URL(env.cluster.receiverURL).port));
    const target = await serviceProxyTarget(env, host, 9292);
    const { ns, project } = await setup([{ name: 'app', ref: { branch: 'main' } }], (label) => ({
      receiver: { endpoint: target.endpoint },
      trust: {
        namespaceSelector: { matchLabels: label },
        projects: ['push/**'],
        serviceProxies: [{ namespace: target.namespace, name: target.service }],
      },
    }));
    const before = metricSum(await op.metrics(), 'rest_client_requests_total', { resource: 'services/proxy' });
    const { sha } = await pushCommit(env.git, project, { branch: 'main', files: { 'v.txt': 'proxied' } });
    await eventually('artifact through the service proxy', async () => (await revision(ns, 'app')) === `main@sha1:${sha}`, 30_000, 200);
    expect(
      metricSum(await op.metrics(), 'rest_client_requests_total', { resource: 'services/proxy', code: '200' }),
      'delivered through the API server',
    ).to.be.greaterThan(before);
  });

  it('retries while notification-controller is down and triggers once it is back', async function () {
    if (env.cluster.provider !== 'local') throw new Error('this case stops notification-controller: it needs the local provider');
    const { ns, project, first } = await setup([{ name: 'app', ref: { branch: 'main' } }]);
    await eventually('first artifact', async () => (await revision(ns, 'app')) === `main@sha1:${first.sha}`, 60_000);
    await env.cluster.stopComponent('notification-controller');
    let sha: string;
    try {
      sha = (await pushCommit(env.git, project, { branch: 'main', files: { 'v.txt': 'during outage' } })).sha;
      await env.git.idle();
      expect(env.git.deliveries.filter((x) => x.project === project).pop()!.status, 'answered while Flux is down').to.equal(202);
      await sleep(5000);
    } finally {
      await env.cluster.startComponent('notification-controller');
    }
    await eventually(
      'artifact after notification-controller came back',
      async () => (await revision(ns, 'app')) === `main@sha1:${sha}`,
      90_000,
      250,
    );
  });
});
