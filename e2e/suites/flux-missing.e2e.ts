import { expect } from 'chai';
import path from 'node:path';
import { testEnv } from '../hooks.js';
import { apply, condition, eventually, getJson } from '../support/kube.js';
import { OPERATOR_NAMESPACE, type OperatorProcess, startOperator } from '../support/operator.js';
import { startLocalCluster } from '../testenv/local-cluster.js';
import type { Cluster } from '../testenv/types.js';

/**
 * A cluster without Flux: the link says so in a condition, and recovers without an operator restart once
 * Flux's CRDs and controllers appear. It needs a control plane of its own (the shared one has Flux).
 */
describe('Flux not installed yet', function () {
  this.timeout(240_000);
  let cluster: Cluster | undefined;
  let op: OperatorProcess | undefined;

  after(async () => {
    await op?.stop();
    await cluster?.stop();
  });

  it('reports FluxNotInstalled, then links the repositories once Flux appears, without a restart', async () => {
    const env = await testEnv();
    if (env.cluster.provider !== 'local') throw new Error('this case starts a second control plane: it needs the local provider');
    cluster = await startLocalCluster({ logDir: path.join(env.logDir, 'no-flux'), flux: false });
    op = await startOperator(cluster);
    await cluster.kubectl([
      'create',
      'secret',
      'generic',
      'gitlab-webhook',
      '-n',
      OPERATOR_NAMESPACE,
      '--from-literal=token=flux-missing-token-0123456789',
    ]);
    const link = {
      apiVersion: 'fluxlink.dev/v1alpha1',
      kind: 'GitLabFluxLink',
      metadata: { name: 'early' },
      spec: { gitlab: { url: env.git.instanceURL }, webhook: { secretRef: { namespace: OPERATOR_NAMESPACE, name: 'gitlab-webhook' } } },
    };
    await apply(cluster, [link]);
    const waiting = await eventually(
      'FluxNotInstalled',
      async () => {
        const l = await getJson(cluster!, 'gitlabfluxlink', 'early');
        return condition(l, 'Ready')?.reason === 'FluxNotInstalled' ? l : undefined;
      },
      60_000,
    );
    expect(condition(waiting, 'Ready')?.status).to.equal('False');
    expect(condition(waiting, 'Ready')?.message).to.match(/Flux is not installed/);

    const pid = op.proc.pid;
    await cluster.installFlux();
    await apply(cluster, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'apps' } }]);
    await apply(cluster, [
      {
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'GitRepository',
        metadata: { name: 'app', namespace: 'apps' },
        spec: { url: `${env.git.instanceURL}/team/app.git`, interval: '1h' },
      },
    ]);
    await eventually(
      'link Ready with the repository after Flux appeared',
      async () => {
        const l = await getJson(cluster!, 'gitlabfluxlink', 'early');
        return condition(l, 'Ready')?.status === 'True' && l.status.repositories === 1;
      },
      120_000,
      500,
    );
    expect(op.proc.child.exitCode, 'the operator did not restart').to.equal(null);
    expect(op.proc.pid).to.equal(pid);
  });
});
