import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { type GitServer, startGitServer } from '../gitlab/git-server.js';
import { onExitSync } from '../testenv/processes.js';
import { type HostLink, linkHostToNode } from './host-link.js';
import type { StartedCluster } from './provider.js';

export interface GitServerForPods {
  /** The fast tier's git server (GitLab-shaped webhooks after each push), listening on the link's host side. */
  git: GitServer;
  link: HostLink;
  stop(): Promise<void>;
}

/**
 * The fast tier's git server (e2e/gitlab/git-server.ts), reachable from the cluster's Pods: it listens on this
 * machine's side of a link into the node's network namespace (host-link.ts) instead of the loopback, which Pods
 * cannot reach. Its clone URLs (`git.baseURL`) are then the same for this process and for source-controller.
 */
export async function startGitServerForPods(cluster: StartedCluster): Promise<GitServerForPods> {
  const link = await linkHostToNode(cluster);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gfl-cluster-git-'));
  const removeRoot = () => fs.rmSync(root, { recursive: true, force: true });
  onExitSync(removeRoot);
  let git: GitServer;
  try {
    git = await startGitServer({ root, host: link.hostAddress });
  } catch (err) {
    await link.stop();
    removeRoot();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    git,
    link,
    stop: () =>
      (stopped ??= (async () => {
        await git.stop();
        await link.stop();
        removeRoot();
      })()),
  };
}
