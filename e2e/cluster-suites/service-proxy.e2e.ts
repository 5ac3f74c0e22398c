import { expect } from 'chai';
import path from 'node:path';

import { FLUX_NAMESPACE, installFlux } from '../cluster/flux.js';
import { type GitServerForPods, startGitServerForPods } from '../cluster/git-for-pods.js';
import { hostState, hostStateDiff, type HostState } from '../cluster/host-state.js';
import { type LoopbackRelay, loopbackRelay } from '../cluster/loopback-relay.js';
import { clusterProvider, type StartedCluster } from '../cluster/index.js';
import { type InstalledOperator, installOperator, OPERATOR_NAMESPACE } from '../cluster/operator.js';
import { pushCommit } from '../gitlab/git-server.js';
import { repoRoot } from '../testenv/paths.js';
import { sleep } from '../testenv/probe.js';

/**
 * A link whose endpoint is the Kubernetes API service-proxy path of Flux's webhook-receiver: the operator Pod's
 * trigger goes through the real kube-apiserver (its proxy to the Service's Pod) to notification-controller's Pod,
 * with the operator's own ServiceAccount allowed by config/rbac/optional/service-proxy.yaml as shipped.
 */
describe('cluster tier: a trigger through the API server service proxy reaches notification-controller Pod', function () {
  const TOKEN = 'cluster-proxy-webhook-token-0123456789abcdef';
  const ENDPOINT = '/api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy';
  const label = { 'e2e.fluxlink.dev/cluster-proxy': 'yes' };
  const ns = 'cluster-proxy';
  const project = 'proxy/cluster/app';
  const linkName = 'cluster-proxy';
  let hostBefore: HostState;
  let cluster: StartedCluster | undefined;
  let server: GitServerForPods | undefined;
  let operator: InstalledOperator | undefined;
  /** The git server's webhooks go to loopback only: this relay carries them to the operator's NodePort. */
  let relay: LoopbackRelay | undefined;

  before(async function () {
    this.timeout(3_600_000);
    hostBefore = await hostState();
    cluster = await clusterProvider().start();
    await installFlux(cluster);
    operator = await installOperator(cluster);
    server = await startGitServerForPods(cluster);
    relay = await loopbackRelay(operator.webhookAddress);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && cluster) {
      const logs = await cluster
        .kubectl(['-n', OPERATOR_NAMESPACE, 'logs', '--all-containers', '--tail=40', '-l', 'app.kubernetes.io/name=gitlab-flux-link'])
        .catch((e: Error) => e.message);
      process.stderr.write(`\n${logs}\n`);
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
  const until = async <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const v = await fn();
        if (v !== undefined && v !== false) return v;
        last = v;
      } catch (err) {
        last = (err as Error).message;
      }
      await sleep(200);
    }
    throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; last: ${JSON.stringify(last)}`);
  };
  /** kube-apiserver's own count of the requests it proxied to a Service (apiserver_request_total). */
  const proxiedRequests = async (): Promise<number> => {
    const metrics = await kubectl(['get', '--raw', '/metrics']);
    let sum = 0;
    for (const line of metrics.split('\n')) {
      if (!line.startsWith('apiserver_request_total{')) continue;
      // (the API server counts proxied requests under the verb CONNECT, whatever their HTTP method)
      if (/resource="services"/.test(line) && /subresource="proxy"/.test(line)) sum += Number(line.split(' ').pop());
    }
    return sum;
  };
  const revision = async () =>
    (await kubectl(['-n', ns, 'get', 'gitrepository', 'app', '-o', 'jsonpath={.status.artifact.revision}']).catch(() => '')).trim();

  it('a push triggers through /api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy: the artifact is the pushed commit', async function () {
    this.timeout(400_000);
    expect(operator, 'the operator was not installed').to.not.equal(undefined);
    const git = server!.git;
    await git.createProject(project);
    const first = await pushCommit(git, project, { files: { 'v.txt': '0' } });
    // The grant users apply by hand for a service-proxy endpoint, as shipped.
    await kubectl(['apply', '-f', path.join(repoRoot, 'config/rbac/optional/service-proxy.yaml')]);
    await kubectl(['-n', OPERATOR_NAMESPACE, 'create', 'secret', 'generic', 'proxy-webhook', `--from-literal=token=${TOKEN}`]);
    const objects = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: label } },
      {
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'GitRepository',
        metadata: { name: 'app', namespace: ns },
        spec: { url: `${git.baseURL}/${project}.git`, interval: '1h', ref: { branch: 'main' } },
      },
      {
        apiVersion: 'fluxlink.dev/v1alpha1',
        kind: 'GitLabFluxLink',
        metadata: { name: linkName },
        spec: {
          gitlab: { url: git.instanceURL },
          receiver: { endpoint: ENDPOINT },
          trust: {
            namespaceSelector: { matchLabels: label },
            projects: ['proxy/**'],
            serviceProxies: [{ namespace: FLUX_NAMESPACE, name: 'webhook-receiver' }],
          },
          webhook: { secretRef: { namespace: OPERATOR_NAMESPACE, name: 'proxy-webhook' } },
        },
      },
    ];
    await kubectl(['apply', '--server-side', '-f', '-'], objects.map((o) => JSON.stringify(o)).join('\n'));
    await until('the first artifact', async () => (await revision()) === `main@sha1:${first.sha}`, 120_000);
    await until(
      `link ${linkName} Ready with its Receiver`,
      async () => {
        const l = JSON.parse(await kubectl(['get', 'gitlabfluxlink', linkName, '-o', 'json'])) as {
          status?: { readyReceivers?: number; conditions?: { type: string; status: string }[] };
        };
        return l.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' && l.status.readyReceivers === 1;
      },
      120_000,
    );
    git.setWebhook({ url: `http://${relay!.address}/hooks/${linkName}`, token: TOKEN }, project);

    const proxiedBefore = await proxiedRequests();
    const started = Date.now();
    const { sha } = await pushCommit(git, project, { files: { 'v.txt': 'proxied' } });
    await until('the artifact of the pushed commit', async () => (await revision()) === `main@sha1:${sha}`, 60_000).catch((err: Error) => {
      const d = git.deliveries.filter((x) => x.project === project).pop();
      throw new Error(`${err.message}; the last webhook: ${d ? `${d.status} ${d.error ?? ''}` : 'none sent'}`);
    });
    console.log(`      push → artifact through the service proxy: ${((Date.now() - started) / 1000).toFixed(2)} s`);
    await git.idle();
    expect(git.deliveries.filter((d) => d.project === project).pop()?.status).to.equal(202);
    const trigger = await until(
      'status.lastTrigger',
      async () => {
        const l = JSON.parse(await kubectl(['get', 'gitlabfluxlink', linkName, '-o', 'json'])) as {
          status?: { lastTrigger?: { gitRepository: string; result: string } };
        };
        return l.status?.lastTrigger?.gitRepository === `${ns}/app` ? l.status.lastTrigger : undefined;
      },
      30_000,
    );
    expect(trigger.result).to.equal('delivered');
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
