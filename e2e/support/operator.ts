import fs from 'node:fs';
import path from 'node:path';
import { kubeconfigYaml } from '../testenv/certs.js';
import { repoRoot } from '../testenv/paths.js';
import { freePort } from '../testenv/ports.js';
import { getStatus, waitFor } from '../testenv/probe.js';
import { startProcess, type ManagedProcess } from '../testenv/processes.js';
import type { Cluster } from '../testenv/types.js';

export const OPERATOR_NAMESPACE = 'gitlab-flux-link-system';
export const OPERATOR_SA = 'gitlab-flux-link';

/** The CRD and the shipped RBAC (config/rbac), applied with the real kubectl; idempotent. */
export async function installOperatorManifests(cluster: Cluster): Promise<void> {
  await cluster.kubectl(['apply', '--server-side', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NAMESPACE } }));
  await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-k', path.join(repoRoot, 'crds')]);
  await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-k', path.join(repoRoot, 'config/rbac')]);
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/gitlabfluxlinks.fluxlink.dev']);
}

/**
 * A kubeconfig for the operator's ServiceAccount with a token from the TokenRequest API: the operator runs
 * with exactly the shipped ClusterRole, never as admin, so the e2e proves the RBAC is enough.
 */
export async function serviceAccountKubeconfig(cluster: Cluster, file: string): Promise<string> {
  const token = (await cluster.kubectl(['create', 'token', OPERATOR_SA, '-n', OPERATOR_NAMESPACE, '--duration=6h'])).trim();
  if (!cluster.caCert) throw new Error('the cluster provider gave no CA certificate');
  fs.writeFileSync(file, kubeconfigYaml({ server: cluster.server, caCert: cluster.caCert, user: OPERATOR_SA, token }), { mode: 0o600 });
  return file;
}

export interface OperatorProcess {
  proc: ManagedProcess;
  url: string;
  logFile: string;
  metrics(): Promise<string>;
  stop(): Promise<void>;
  kill(): void;
}

let instances = 0;

export interface StartOperatorOptions {
  /** Flags for node before the script, e.g. `--cpu-prof --cpu-prof-dir=...` (the benchmarks profile with it). */
  nodeArgs?: string[];
}

/** Starts `node dist/operator/main.js` as the ServiceAccount and waits for /readyz. */
export async function startOperator(cluster: Cluster, env: Record<string, string> = {}, opts: StartOperatorOptions = {}): Promise<OperatorProcess> {
  await installOperatorManifests(cluster);
  const kubeconfig = await serviceAccountKubeconfig(cluster, path.join(cluster.workDir, `operator-${process.pid}.kubeconfig`));
  const port = await freePort();
  const name = `operator-${++instances}`;
  const proc = startProcess({
    name,
    command: process.execPath,
    args: [...(opts.nodeArgs ?? []), path.join(repoRoot, 'dist/operator/main.js')],
    logDir: cluster.logDir,
    pidFile: path.join(cluster.logDir, 'pids'),
    env: { ...process.env, KUBECONFIG: kubeconfig, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), LOG_LEVEL: 'debug', RESYNC_SECONDS: '600', ...env },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${name} /readyz`, async () => (await getStatus(`${url}/readyz`)).status === 200, {
    timeoutMs: 60_000,
    aborted: () => (proc.child.exitCode !== null ? `exited with code ${proc.child.exitCode}; see ${proc.logFile}` : undefined),
  });
  return {
    proc,
    url,
    logFile: proc.logFile,
    metrics: async () => (await getStatus(`${url}/metrics`)).body,
    stop: () => proc.stop(),
    kill: () => proc.child.kill('SIGKILL'),
  };
}

/** Sum of a Prometheus counter over the label sets that match `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string | RegExp> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const labelText = line.slice(name.length).match(/^\{(.*)\}/)?.[1] ?? '';
    const set = Object.fromEntries([...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const ok = Object.entries(labels).every(([k, v]) => (v instanceof RegExp ? v.test(set[k] ?? '') : set[k] === v));
    if (ok) sum += Number(line.split(' ').pop());
  }
  return sum;
}
