import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findBinaries } from './binaries.js';
import { kubectlFor } from './kubectl.js';
import type { Cluster } from './types.js';

/**
 * An existing cluster that already runs Flux (E2E_KUBECONFIG). The receiver is reached through the API
 * server's service proxy unless E2E_RECEIVER_URL says otherwise, and source-controller must be able to reach
 * the git server (set E2E_GIT_HOST to an address of this machine the cluster can reach). Components cannot
 * be stopped here, so outage suites fail on this provider with a message saying so.
 */
export async function connectExistingCluster(kubeconfig: string, logDir: string): Promise<Cluster> {
  if (!fs.existsSync(kubeconfig)) throw new Error(`E2E_KUBECONFIG=${kubeconfig}: no such file`);
  const kubectlBin = process.env.E2E_KUBECTL ?? findBinaries().path('kubectl');
  const kubectl = kubectlFor(kubectlBin, kubeconfig);
  const server = (await kubectl(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}'])).trim();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gfl-existing-'));
  const unsupported = async () => {
    throw new Error('the existing-cluster provider (E2E_KUBECONFIG) cannot stop or start components');
  };
  return {
    provider: 'existing',
    kubeconfig: path.resolve(kubeconfig),
    server,
    logDir,
    workDir,
    receiverURL: process.env.E2E_RECEIVER_URL ?? `${server}/api/v1/namespaces/flux-system/services/webhook-receiver:80/proxy`,
    kubectl,
    stopComponent: unsupported,
    startComponent: unsupported,
    processes: () => [],
    installFlux: unsupported,
    async stop() {
      fs.rmSync(workDir, { recursive: true, force: true });
    },
  };
}
