import { expect } from 'chai';
import fs from 'node:fs';
import net from 'node:net';
import { pushCommit } from '../gitlab/git-server.js';
import { testEnv } from '../hooks.js';
import { apply, condition, eventually, freshNamespace, getJson } from '../support/kube.js';
import { webhookSecretManifest } from '../support/manifests.js';
import { metricSum, OPERATOR_NAMESPACE, type OperatorProcess, startOperator } from '../support/operator.js';
import { serviceProxyTarget } from '../support/service-proxy.js';
import type { TestEnv } from '../testenv/index.js';
import { startTestHost, type TestHost } from '../testenv/test-host.js';

/** A Receiver's webhook path, or anything after a service proxy's `/proxy` other than the redaction marker. */
const HOOK_PATH = /\/hook\/[0-9a-f]{64}/i;
const AFTER_PROXY = /\/proxy\/(?!\[redacted\])[^\s"]/;

/**
 * A trigger through the Kubernetes API service proxy to a Service whose backend accepts connections and never
 * answers: kube-apiserver treats proxy requests as long-running and waits, so the operator's own request
 * timeout ends each attempt, and that error names the request path — the service-proxy endpoint followed by
 * the Receiver's webhook path. What reaches the operator's log, the link's status and the Events must show
 * the failure with the path redacted, never the path.
 */
describe('service-proxy paths: a proxied trigger that times out shows no webhook path in logs, status or Events', function () {
  this.timeout(300_000);
  const TOKEN = 'proxy-paths-e2e-webhook-token-0123456789';
  let env: TestEnv;
  let op: OperatorProcess;
  let host: TestHost | undefined;
  let silent: net.Server | undefined;
  const connections = new Set<net.Socket>();
  let accepted = 0;

  before(async () => {
    env = await testEnv();
    if (env.cluster.provider !== 'local') throw new Error('this suite needs the local provider (it creates a test host)');
    op = await startOperator(env.cluster);
    await apply(env.cluster, [webhookSecretManifest('proxy-paths-webhook', TOKEN)]);
    // The backend: accepts, reads, never answers.
    silent = net.createServer((socket) => {
      accepted++;
      connections.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => connections.delete(socket));
      socket.resume();
    });
    await new Promise<void>((r) => silent!.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    await op?.stop();
    await host?.stop();
    for (const s of connections) s.destroy();
    await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()));
  });

  it('a real push: the trigger fails on the timeout, shown with /proxy/[redacted], and no path anywhere', async () => {
    host = await startTestHost({ logDir: env.logDir, index: 1 });
    await host.forward(9393, (silent!.address() as net.AddressInfo).port);
    const target = await serviceProxyTarget(env, host, 9393, 'silent-proxy');

    const id = `pp${process.pid}`;
    const label = { 'e2e.fluxlink.dev/proxy-paths': id };
    const ns = await freshNamespace(env.cluster, 'proxy-paths', label);
    const project = `proxy-paths/${id}/app`;
    await env.git.createProject(project);
    await pushCommit(env.git, project, { branch: 'main', files: { 'v.txt': '1' } });
    const linkName = `proxy-paths-${id}`;
    await apply(env.cluster, [
      {
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'GitRepository',
        metadata: { name: 'app', namespace: ns },
        spec: { url: `${env.git.baseURL}/${project}.git`, interval: '1h', ref: { branch: 'main' } },
      },
      {
        apiVersion: 'fluxlink.dev/v1alpha1',
        kind: 'GitLabFluxLink',
        metadata: { name: linkName },
        spec: {
          gitlab: { url: env.git.instanceURL },
          receiver: { endpoint: target.endpoint },
          trust: {
            namespaceSelector: { matchLabels: label },
            projects: ['proxy-paths/**'],
            serviceProxies: [{ namespace: target.namespace, name: target.service }],
          },
          webhook: { secretRef: { namespace: OPERATOR_NAMESPACE, name: 'proxy-paths-webhook' } },
        },
      },
    ]);
    await eventually(
      `link ${linkName} Ready`,
      async () => {
        const l = await getJson(env.cluster, 'gitlabfluxlink', linkName);
        return condition(l, 'Ready')?.status === 'True' && l.status.readyReceivers === 1;
      },
      90_000,
    );
    env.git.setWebhook({ url: `${op.hooksURL}/hooks/${linkName}`, token: TOKEN }, project);
    const failed = async () => metricSum(await op.metrics(), 'fluxlink_triggers_total', { result: 'failed' });
    const failedBefore = await failed();
    const acceptedBefore = accepted; // the forwarder's readiness probe reached the backend too
    await pushCommit(env.git, project, { branch: 'main', files: { 'v.txt': '2' } });
    await env.git.idle();
    expect(env.git.deliveries.filter((d) => d.project === project).pop()?.status, 'answer to the webhook').to.equal(202);

    // Every attempt times out (10 s each) until the trigger's 120 s budget is spent; then lastTrigger is written.
    const lastTrigger = await eventually(
      'status.lastTrigger shows the failed trigger',
      async () => {
        const t = (await getJson(env.cluster, 'gitlabfluxlink', linkName))?.status?.lastTrigger;
        return t?.gitRepository === `${ns}/app` && /^failed: /.test(t.result) ? (t as { result: string }) : undefined;
      },
      200_000,
      1_000,
    );
    const status = JSON.stringify((await getJson(env.cluster, 'gitlabfluxlink', linkName))?.status);
    const logLines = fs
      .readFileSync(op.logFile, 'utf8')
      .split('\n')
      .filter((l) => l !== '');
    const events = JSON.stringify(
      ((await getJson(env.cluster, 'events', '-A'))?.items ?? []).filter(
        (e: { involvedObject?: { name?: string } }) => e.involvedObject?.name === linkName,
      ),
    );

    // Nothing after /proxy and no webhook path: in the status, the log, the Events.
    expect(lastTrigger.result, 'status.lastTrigger.result').not.to.match(AFTER_PROXY);
    expect(lastTrigger.result, 'status.lastTrigger.result').not.to.match(HOOK_PATH);
    expect(status, 'the link status (lastTrigger, entries)').not.to.match(AFTER_PROXY);
    expect(status, 'the link status (lastTrigger, entries)').not.to.match(HOOK_PATH);
    for (const line of logLines) {
      expect(line, 'operator log line').not.to.match(AFTER_PROXY);
      expect(line, 'operator log line').not.to.match(HOOK_PATH);
    }
    expect(events, "the link's Events").not.to.match(AFTER_PROXY);
    expect(events, "the link's Events").not.to.match(HOOK_PATH);

    // ...while the failure path was really taken: the backend was reached through the API server and the
    // operator's timeout ended the attempts, reported with the path redacted.
    console.log(`      status.lastTrigger.result: ${lastTrigger.result}`);
    const timedOut = new RegExp(
      `^failed: connection error: request timed out after \\d+ ms: POST /api/v1/namespaces/${target.namespace}/services/${target.service}:80/proxy/\\[redacted\\]$`,
    );
    expect(lastTrigger.result).to.match(timedOut);
    const logged = logLines
      .filter((l) => l.includes('receiver not triggered') && l.includes(`"link":"${linkName}"`))
      .map((l) => JSON.parse(l) as { result: string; detail: string });
    expect(
      logged.map((l) => `${l.result}: ${l.detail}`),
      'the warn log',
    ).to.have.lengthOf(1);
    expect(`${logged[0]!.result}: ${logged[0]!.detail}`).to.match(timedOut);
    expect((await failed()) - failedBefore, 'fluxlink_triggers_total{result="failed"}').to.equal(1);
    expect(accepted - acceptedBefore, 'connections the API server made to the silent backend').to.be.greaterThan(0);
    expect(events, "the link's Events (the scan above covered some)").not.to.equal('[]');
  });
});
