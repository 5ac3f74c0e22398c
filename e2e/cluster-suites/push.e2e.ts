import { expect } from 'chai';

import { FLUX_NAMESPACE, installFlux } from '../cluster/flux.js';
import { type GitServerForPods, startGitServerForPods } from '../cluster/git-for-pods.js';
import { hostState, hostStateDiff, type HostState } from '../cluster/host-state.js';
import { type LoopbackRelay, loopbackRelay } from '../cluster/loopback-relay.js';
import { clusterProvider, type StartedCluster } from '../cluster/index.js';
import { type InstalledOperator, installOperator, OPERATOR_NAMESPACE } from '../cluster/operator.js';
import { pushCommit } from '../gitlab/git-server.js';
import { sleep } from '../testenv/probe.js';

/** The value below which `q` of the sorted samples fall (nearest rank). */
function percentile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * The push path in the users' topology, every part a Pod on the real node except GitLab: a real `git push` to
 * the git server → its GitLab-shaped Push Hook to the operator's webhook Service (a NodePort on the node) → the
 * operator Pod → the link's default endpoint http://webhook-receiver.flux-system.svc.cluster.local (CoreDNS,
 * kube-proxy) → notification-controller's Pod → source-controller's Pod → a new artifact of the pushed commit.
 * The GitRepository's interval is 1h: only the push can explain a new artifact.
 */
describe('cluster tier: a git push reconciles through the operator and Flux running as Pods', function () {
  const TOKEN = 'cluster-push-webhook-token-0123456789abcdef';
  const PUSHES = 10;
  const label = { 'e2e.fluxlink.dev/cluster-push': 'yes' };
  const ns = 'cluster-push';
  const project = 'push/cluster/app';
  const linkName = 'cluster-push';
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
      const pods = await Promise.all(
        [
          ['-n', FLUX_NAMESPACE, '-l', 'app in (notification-controller,source-controller)'],
          ['-n', OPERATOR_NAMESPACE, '-l', 'app.kubernetes.io/name=gitlab-flux-link'],
        ].map((sel) => cluster!.kubectl(['logs', '--all-containers', '--tail=30', '--prefix', ...sel]).catch((e: Error) => e.message)),
      );
      process.stderr.write(`\n${await cluster.logs(30).catch((e: Error) => e.message)}\n${pods.join('\n')}\n`);
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
  const apply = (objects: object[]) => kubectl(['apply', '--server-side', '-f', '-'], objects.map((o) => JSON.stringify(o)).join('\n'));
  const revision = async () =>
    (await kubectl(['-n', ns, 'get', 'gitrepository', 'app', '-o', 'jsonpath={.status.artifact.revision}']).catch(() => '')).trim();
  const until = async <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 250): Promise<T> => {
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
      await sleep(everyMs);
    }
    throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; last: ${JSON.stringify(last)}`);
  };

  it(`delivers ${PUSHES} pushes, each to a new artifact of the pushed commit (push → artifact p50/p90)`, async function () {
    this.timeout(600_000);
    expect(operator, 'the operator was not installed').to.not.equal(undefined);
    const git = server!.git;
    await git.createProject(project);
    const first = await pushCommit(git, project, { files: { 'v.txt': '0' } });
    await kubectl(['-n', OPERATOR_NAMESPACE, 'create', 'secret', 'generic', 'push-webhook', `--from-literal=token=${TOKEN}`]);
    await apply([
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
        // No receiver: the default endpoint, Flux's webhook-receiver Service by its cluster DNS name.
        spec: {
          gitlab: { url: git.instanceURL },
          trust: { namespaceSelector: { matchLabels: label }, projects: ['push/**'] },
          webhook: { secretRef: { namespace: OPERATOR_NAMESPACE, name: 'push-webhook' } },
        },
      },
    ]);
    const endpoint = (await kubectl(['get', 'gitlabfluxlink', linkName, '-o', 'jsonpath={.spec.receiver.endpoint}'])).trim();
    expect(endpoint).to.equal('http://webhook-receiver.flux-system.svc.cluster.local');
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

    const seconds: number[] = [];
    for (let i = 1; i <= PUSHES; i++) {
      const started = Date.now();
      const { sha } = await pushCommit(git, project, { files: { 'v.txt': String(i) } });
      await until(`the artifact of push ${i} (${sha})`, async () => (await revision()) === `main@sha1:${sha}`, 60_000, 100).catch(
        (err: Error) => {
          const d = git.deliveries.filter((x) => x.project === project).pop();
          throw new Error(`${err.message}; the last webhook: ${d ? `${d.status} ${d.error ?? ''}` : 'none sent'}`);
        },
      );
      seconds.push((Date.now() - started) / 1000);
      await git.idle();
      const delivery = git.deliveries.filter((d) => d.project === project).pop();
      expect(delivery?.status, `push ${i}: the operator's answer to the webhook`).to.equal(202);
    }
    expect(git.deliveries.filter((d) => d.project === project)).to.have.length(PUSHES);
    const p50 = percentile(seconds, 0.5);
    const p90 = percentile(seconds, 0.9);
    console.log(
      `      push → artifact over ${PUSHES} pushes: p50 ${p50.toFixed(2)} s, p90 ${p90.toFixed(2)} s (all: ${seconds.map((s) => s.toFixed(2)).join(' ')})`,
    );
    // The trigger is what made each artifact: source-controller's own interval (1h) would not have.
    expect(p90).to.be.lessThan(30);
    // The operator's status names the trigger it sent to the Receiver.
    const status = await until(
      'status.lastTrigger of the last push',
      async () => {
        const l = JSON.parse(await kubectl(['get', 'gitlabfluxlink', linkName, '-o', 'json'])) as {
          status?: { lastTrigger?: { gitRepository: string; result: string } };
        };
        return l.status?.lastTrigger?.gitRepository === `${ns}/app` ? l.status.lastTrigger : undefined;
      },
      30_000,
    );
    expect(status.result).to.equal('delivered');
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
