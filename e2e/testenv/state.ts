import fs from 'node:fs';
import path from 'node:path';
import { connectExistingCluster } from './existing-cluster.js';
import { repoRoot } from './paths.js';
import type { Cluster } from './types.js';

/**
 * The background test ground of `make testenv-up` (e2e/testenv/cli.ts) as other programs find it: its state
 * file, and a Cluster handle on it for programs that drive it from outside (`make demo`).
 */
export const stateDir = path.join(repoRoot, '.testenv');
export const stateFile = path.join(stateDir, 'state.json');

export interface TestEnvState {
  pid: number;
  kubeconfig: string;
  /** The CA certificate file of the API server (for kubeconfigs of ServiceAccounts). */
  caCert?: string;
  server: string;
  gitURL: string;
  receiverURL: string;
  logDir: string;
  startedAt: string;
}

export function readState(): TestEnvState | undefined {
  try {
    return JSON.parse(fs.readFileSync(stateFile, 'utf8')) as TestEnvState;
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The running background test ground, if there is one. */
export function runningGround(): TestEnvState | undefined {
  const state = readState();
  return state && alive(state.pid) ? state : undefined;
}

/**
 * A Cluster on the running background test ground, for starting operators and applying objects. Its
 * components belong to the daemon: this handle cannot stop or start them, and stop() only removes its own
 * work folder.
 */
export async function attachToGround(state: TestEnvState, logDir: string): Promise<Cluster> {
  if (!state.caCert)
    throw new Error('the running test ground predates this program (no caCert in .testenv/state.json): make testenv-down, then try again');
  const cluster = await connectExistingCluster(state.kubeconfig, logDir);
  return { ...cluster, caCert: state.caCert, receiverURL: state.receiverURL };
}
