import { expect } from 'chai';
import path from 'node:path';

import { percentile } from '../../bench/stats.js';
import { FLUX_NAMESPACE, installFlux } from '../cluster/flux.js';
import { podLogs, writeFailureReport } from '../cluster/failure-report.js';
import { type GitServerForPods, startGitServerForPods } from '../cluster/git-for-pods.js';
import { hostState, hostStateDiff, type HostState } from '../cluster/host-state.js';
import { type LoopbackRelay, loopbackRelay } from '../cluster/loopback-relay.js';
import { clusterProvider, type StartedCluster } from '../cluster/index.js';
import { type InstalledOperator, installOperator, OPERATOR_NAMESPACE, OPERATOR_SELECTOR } from '../cluster/operator.js';
import { pushCommit } from '../gitlab/git-server.js';
import { eventually } from '../support/kube.js';
import { repoRoot } from '../testenv/paths.js';

/**
 * The push path in the users' topology, every part a Pod on the real node except GitLab: a real `git push` to
 * the git server → its GitLab-shaped Push Hook to the operator's webhook Service (a NodePort on the node) → the
 * operator Pod → the link's endpoint → notification-controller's Pod → source-controller's Pod → a new artifact
 * of the pushed commit. Two endpoints, on one node: the default, http://webhook-receiver.flux-system.svc.cluster.local
 * (CoreDNS, kube-proxy), and the API server's service-proxy path to the same Service. The GitRepositories' interval
 * is 1h: only the push can explain a new artifact.
 */
describe('cluster tier: a git push reconciles through the operator and Flux running as Pods', function () {
  const PUSHES = 10;
  let hostBefore: HostState;
  let cluster: StartedCluster | undefined;
  let server: GitServerForPods | undefined;
  let operator: InstalledOperator | undefined;
  /** The git server's webhooks go to loopback only: this relay carries them to the operator's NodePort. */
  let relay: LoopbackRelay | undefined;

  before(async function () {
    this.timeout(3_600_000); // a cold machine builds the node set and the images first
    hostBefore = await hostState();
    cluster = await clusterProvider().start();
    await installFlux(cluster);
    operator = await installOperator(cluster);
    server = await startGitServerForPods(cluster);
    relay = await loopbackRelay(operator.webhookAddress);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && cluster) {
      await writeFailureReport(cluster, 30, [
        podLogs(FLUX_NAMESPACE, 'app in (notification-controller,source-controller)'),
        podLogs(OPERATOR_NAMESPACE, OPERATOR_SELECTOR),
      ]);
    }
  });

  after(async function () {
    this.timeout(180_000);
    await relay?.stop();
    await server?.stop();
    await cluster?.stop();
  });

  const kubectl = (args: string[], input?: string) => {
    if (!cluster) throw new Error('the cluster did not start');
    return cluster.kubectl(args, input);
  };
  interface LinkStatus {
    readyReceivers?: number;
    conditions?: { type: string; status: string }[];
    lastTrigger?: { gitRepository: string; result: string };
  }
  const linkStatus = async (name: string) =>
    (JSON.parse(await kubectl(['get', 'gitlabfluxlink', name, '-o', 'json'])) as { status?: LinkStatus }).status;

  /**
   * A project on the git server with a first commit, a GitRepository following it in its own namespace, and a link
   * (`receiver`: its spec.receiver, absent for the default endpoint) whose webhook the project's hook carries to the
   * operator's Service; resolves once the first artifact is in and the link is Ready with its Receiver.
   */
  async function linkedProject(name: string, receiver?: { endpoint: string }, trust: object = {}) {
    expect(operator, 'the operator was not installed').to.not.equal(undefined);
    const git = server!.git;
    const project = `${name}/cluster/app`;
    const label = { [`e2e.fluxlink.dev/${name}`]: 'yes' };
    const token = `${name}-webhook-token-0123456789abcdef`;
    const revision = async () =>
      (await kubectl(['-n', name, 'get', 'gitrepository', 'app', '-o', 'jsonpath={.status.artifact.revision}']).catch(() => '')).trim();
    await git.createProject(project);
    const first = await pushCommit(git, project, { files: { 'v.txt': '0' } });
    await kubectl(['-n', OPERATOR_NAMESPACE, 'create', 'secret', 'generic', `${name}-webhook`, `--from-literal=token=${token}`]);
    const objects = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: label } },
      {
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'GitRepository',
        metadata: { name: 'app', namespace: name },
        spec: { url: `${git.baseURL}/${project}.git`, interval: '1h', ref: { branch: 'main' } },
      },
      {
        apiVersion: 'fluxlink.dev/v1alpha1',
        kind: 'GitLabFluxLink',
        metadata: { name },
        spec: {
          gitlab: { url: git.instanceURL },
          ...(receiver ? { receiver } : {}),
          trust: { namespaceSelector: { matchLabels: label }, projects: [`${name}/**`], ...trust },
          webhook: { secretRef: { namespace: OPERATOR_NAMESPACE, name: `${name}-webhook` } },
        },
      },
    ];
    await kubectl(['apply', '--server-side', '-f', '-'], objects.map((o) => JSON.stringify(o)).join('\n'));
    await eventually('the first artifact', async () => (await revision()) === `main@sha1:${first.sha}`, 120_000);
    await eventually(
      `link ${name} Ready with its Receiver`,
      async () => {
        const s = await linkStatus(name);
        return s?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' && s.readyReceivers === 1;
      },
      120_000,
    );
    git.setWebhook({ url: `http://${relay!.address}/hooks/${name}`, token }, project);

    /** Pushes a commit; resolves with the seconds until its artifact, once the operator answered the webhook 202. */
    const push = async (content: string): Promise<number> => {
      const started = Date.now();
      const { sha } = await pushCommit(git, project, { files: { 'v.txt': content } });
      await eventually(`the artifact of ${sha}`, async () => (await revision()) === `main@sha1:${sha}`, 60_000, 100).catch((err: Error) => {
        const d = git.deliveries.filter((x) => x.project === project).pop();
        throw new Error(`${err.message}; the last webhook: ${d ? `${d.status} ${d.error ?? ''}` : 'none sent'}`);
      });
      const seconds = (Date.now() - started) / 1000;
      await git.idle();
      expect(git.deliveries.filter((d) => d.project === project).pop()?.status, "the operator's answer to the webhook").to.equal(202);
      return seconds;
    };
    const deliveries = () => git.deliveries.filter((d) => d.project === project).length;
    /** The operator's status names the trigger it sent to the Receiver. */
    const lastTrigger = () =>
      eventually(
        'status.lastTrigger',
        async () => {
          const t = (await linkStatus(name))?.lastTrigger;
          return t?.gitRepository === `${name}/app` ? t : undefined;
        },
        30_000,
      );
    return { push, deliveries, lastTrigger };
  }

  it(`delivers ${PUSHES} pushes to the default endpoint, each to a new artifact of the pushed commit (push → artifact p50/p90)`, async function () {
    this.timeout(600_000);
    const app = await linkedProject('cluster-push');
    const endpoint = (await kubectl(['get', 'gitlabfluxlink', 'cluster-push', '-o', 'jsonpath={.spec.receiver.endpoint}'])).trim();
    expect(endpoint).to.equal('http://webhook-receiver.flux-system.svc.cluster.local');
    const seconds: number[] = [];
    for (let i = 1; i <= PUSHES; i++) seconds.push(await app.push(String(i)));
    expect(app.deliveries()).to.equal(PUSHES);
    const p50 = percentile(seconds, 50);
    const p90 = percentile(seconds, 90);
    console.log(
      `      push → artifact over ${PUSHES} pushes: p50 ${p50.toFixed(2)} s, p90 ${p90.toFixed(2)} s (all: ${seconds.map((s) => s.toFixed(2)).join(' ')})`,
    );
    // The trigger is what made each artifact: source-controller's own interval (1h) would not have.
    expect(p90).to.be.lessThan(30);
    expect((await app.lastTrigger()).result).to.equal('delivered');
  });

  /** kube-apiserver's own count of the requests it proxied to a Service (apiserver_request_total). */
  const proxiedRequests = async (): Promise<number> => {
    let sum = 0;
    for (const line of (await kubectl(['get', '--raw', '/metrics'])).split('\n')) {
      if (!line.startsWith('apiserver_request_total{')) continue;
      // (the API server counts proxied requests under the verb CONNECT, whatever their HTTP method)
      if (/resource="services"/.test(line) && /subresource="proxy"/.test(line)) sum += Number(line.split(' ').pop());
    }
    return sum;
  };

  it('a push triggers through the API server service proxy to the same Pod: the artifact is the pushed commit', async function () {
    this.timeout(400_000);
    // The grant users apply by hand for a service-proxy endpoint, as shipped.
    await kubectl(['apply', '-f', path.join(repoRoot, 'config/rbac/optional/service-proxy.yaml')]);
    const app = await linkedProject(
      'cluster-proxy',
      { endpoint: '/api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy' },
      { serviceProxies: [{ namespace: FLUX_NAMESPACE, name: 'webhook-receiver' }] },
    );
    const proxiedBefore = await proxiedRequests();
    console.log(`      push → artifact through the service proxy: ${(await app.push('proxied')).toFixed(2)} s`);
    expect((await app.lastTrigger()).result).to.equal('delivered');
    // The API server proxied it: its own count of services/proxy requests grew by the trigger (nothing else in
    // this cluster uses the service proxy).
    expect(await proxiedRequests()).to.be.greaterThan(proxiedBefore);
  });

  it('leaves the host as it found it once stopped', async function () {
    this.timeout(180_000);
    expect(cluster, 'the cluster did not start').to.not.equal(undefined);
    await relay?.stop();
    await server?.stop();
    await cluster!.stop();
    const diff = hostStateDiff(hostBefore, await hostState());
    expect(diff, diff.join('\n')).to.deep.equal([]);
  });
});
