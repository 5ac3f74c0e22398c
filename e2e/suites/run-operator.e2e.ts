import { expect } from 'chai';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { testEnv } from '../hooks.js';
import { installOperatorManifests } from '../support/operator.js';
import { repoRoot } from '../testenv/paths.js';

const run = promisify(execFile);

/** hack/run-operator.sh (`make run`) against a cluster that lacks what the operator needs: told once, no retry loop. */
describe('make run: hack/run-operator.sh names what the cluster lacks', function () {
  this.timeout(60_000);

  it('a missing Lease namespace: one clear message with the fix, exit 1, no operator started', async () => {
    const env = await testEnv();
    await installOperatorManifests(env.cluster); // the CRD is there: only the namespace is missing
    const started = Date.now();
    const result = await run(path.join(repoRoot, 'hack/run-operator.sh'), [], {
      env: {
        ...process.env,
        KUBECONFIG: env.cluster.kubeconfig,
        LEASE_NAMESPACE: 'no-such-namespace',
        WEBHOOK_PORT: '0',
        METRICS_PORT: '0',
      },
      timeout: 30_000,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code?: number; stderr?: string }) => ({ code: e.code, stderr: e.stderr ?? '' }),
    );
    expect(result.code).to.equal(1);
    expect(result.stderr).to.include('namespace no-such-namespace');
    expect(result.stderr).to.include('kubectl create namespace no-such-namespace');
    expect(result.stderr).to.not.include('operator exited');
    expect(result.stderr).to.not.include('the GitLabFluxLink CRD'); // only what is missing is named
    expect(Date.now() - started).to.be.lessThan(20_000);
  });
});
