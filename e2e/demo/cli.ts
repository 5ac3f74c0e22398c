import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type GitServer, startGitServer } from '../gitlab/git-server.js';
import { startTestEnv } from '../testenv/index.js';
import { defaultLogDir } from '../testenv/paths.js';
import { attachToGround, runningGround } from '../testenv/state.js';
import type { Cluster } from '../testenv/types.js';
import { runDemo } from './demo.js';

/**
 * `make demo`: the push story of e2e/demo/demo.ts on the embedded test ground, in one command. A test ground
 * already running in the background (`make testenv-up`, `make run`) is used and left running; otherwise one
 * is started in this process and stopped at the end. Never $KUBECONFIG's cluster.
 */
const t0 = Date.now();
const print = (line: string) => console.log(`[demo ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${line}`);

async function main(): Promise<void> {
  if (process.env.KUBECONFIG) print(`KUBECONFIG is ignored: the demo runs on the embedded test ground only`);
  const logDir = defaultLogDir();
  const running = runningGround();
  let ground: { cluster: Cluster; git: GitServer };
  let stop: () => Promise<void>;
  if (running) {
    // The daemon's git server lives in the daemon's process and cannot be driven from here: the demo brings
    // its own, on loopback like the daemon's, for as long as it runs.
    const cluster = await attachToGround(running, logDir);
    const gitRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'gfl-demo-git-'));
    const git = await startGitServer({ root: gitRoot });
    ground = { cluster, git };
    stop = async () => {
      await git.stop();
      await cluster.stop();
      fs.rmSync(gitRoot, { recursive: true, force: true });
    };
    print(`test ground: already running (pid ${running.pid}, API server ${running.server}); left running at the end`);
  } else {
    print(
      'test ground: none running; starting one in this process (etcd, kube-apiserver, kube-controller-manager, source- and notification-controller, a git server); stopped at the end',
    );
    const env = await startTestEnv({ logDir });
    ground = env;
    stop = () => env.stop();
    print(`test ground ready: API server ${env.cluster.server}, logs in ${logDir}`);
  }
  try {
    await runDemo(ground, print);
  } finally {
    await stop();
    print(running ? 'done; the test ground is still running (make testenv-down stops it)' : 'done; test ground stopped');
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`[demo] FAILED: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
