import fs from 'node:fs';
import path from 'node:path';
import { type GitServer, startGitServer } from '../gitlab/git-server.js';
import { connectExistingCluster } from './existing-cluster.js';
import { type LocalClusterOptions, startLocalCluster } from './local-cluster.js';
import { defaultLogDir } from './paths.js';
import { onExitSync } from './processes.js';
import type { Cluster } from './types.js';

export type { Cluster } from './types.js';

/**
 * The test ground: a cluster with Flux (built and run locally, or an existing one named by E2E_KUBECONFIG)
 * and a git server that sends GitLab's webhooks on real pushes. One entry point for suites, benchmarks and
 * `make testenv-up`.
 */
export interface TestEnv {
  cluster: Cluster;
  git: GitServer;
  logDir: string;
  stop(): Promise<void>;
}

export interface TestEnvOptions {
  logDir?: string;
  extraArgs?: LocalClusterOptions['extraArgs'];
  kustomizeController?: boolean;
  /** false: kube-apiserver writes no audit log (see LocalClusterOptions.audit). */
  audit?: boolean;
}

export async function startTestEnv(opts: TestEnvOptions = {}): Promise<TestEnv> {
  const logDir = opts.logDir ?? defaultLogDir();
  fs.mkdirSync(logDir, { recursive: true });
  const started = Date.now();
  const cluster = process.env.E2E_KUBECONFIG
    ? await connectExistingCluster(process.env.E2E_KUBECONFIG, logDir)
    : await startLocalCluster({ logDir, extraArgs: opts.extraArgs, kustomizeController: opts.kustomizeController, audit: opts.audit });
  let git: GitServer;
  try {
    const gitRoot = path.join(cluster.workDir, 'git');
    onExitSync(() => fs.rmSync(gitRoot, { recursive: true, force: true }));
    // Host: the git server must be reachable from source-controller; on the local provider that is loopback.
    git = await startGitServer({ root: gitRoot, host: process.env.E2E_GIT_HOST ?? '127.0.0.1' });
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  process.stderr.write(
    `[testenv] ${cluster.provider} test ground ready in ${((Date.now() - started) / 1000).toFixed(1)} s; logs in ${logDir}\n`,
  );
  return {
    cluster,
    git,
    logDir,
    async stop() {
      const started = Date.now();
      // The git server first, bounded: a hung webhook delivery must never keep the control plane alive.
      await Promise.race([git.stop(), new Promise((r) => setTimeout(r, 15_000).unref())]);
      await cluster.stop();
      process.stderr.write(`[testenv] stopped in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    },
  };
}
