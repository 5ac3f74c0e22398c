import yaml from 'js-yaml';
import fs from 'node:fs';
import path from 'node:path';
import { kubeconfigYaml } from '../testenv/certs.js';
import { repoRoot } from '../testenv/paths.js';
import { freePort } from '../testenv/ports.js';
import { getStatus, waitFor } from '../testenv/probe.js';
import { type ManagedProcess, startProcess } from '../testenv/processes.js';
import type { Cluster } from '../testenv/types.js';
import { dockerCli, dockerRunArgs, operatorImage, prepareContainerRun, removeContainer, trackContainer } from './operator-container.js';
import { parseSamples, sum } from './prometheus.js';

export const OPERATOR_NAMESPACE = 'gitlab-flux-link-system';
export const OPERATOR_SA = 'gitlab-flux-link';

/** The CRD and the shipped RBAC (config/rbac), applied with the real kubectl; idempotent. */
export async function installOperatorManifests(cluster: Cluster): Promise<void> {
  await cluster.kubectl(
    ['apply', '--server-side', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NAMESPACE } }),
  );
  await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-k', path.join(repoRoot, 'crds')]);
  await cluster.kubectl(['apply', '--server-side', '--force-conflicts', '-k', path.join(repoRoot, 'config/rbac')]);
  await cluster.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/gitlabfluxlinks.fluxlink.dev']);
}

/**
 * A kubeconfig for the operator's ServiceAccount with a token from the TokenRequest API: the operator runs
 * with exactly the shipped ClusterRole, never as admin, so the e2e proves the RBAC is enough.
 */
export async function serviceAccountKubeconfig(cluster: Cluster, file: string, serviceAccount = OPERATOR_SA): Promise<string> {
  const token = (await cluster.kubectl(['create', 'token', serviceAccount, '-n', OPERATOR_NAMESPACE, '--duration=6h'])).trim();
  if (!cluster.caCert) throw new Error('the cluster provider gave no CA certificate');
  fs.writeFileSync(file, kubeconfigYaml({ server: cluster.server, caCert: cluster.caCert, user: serviceAccount, token }), { mode: 0o600 });
  return file;
}

export interface OperatorProcess {
  proc: ManagedProcess;
  /** The webhook listener (POST /hooks/<link>), as GitLab reaches it. */
  hooksURL: string;
  /** The metrics listener (/metrics, /healthz, /readyz), as the kubelet and Prometheus reach it. */
  metricsURL: string;
  logFile: string;
  /** The container's name when the operator runs from its image (E2E_OPERATOR_IMAGE). */
  container?: string;
  metrics(): Promise<string>;
  stop(): Promise<void>;
  kill(): void;
}

let instances = 0;

export interface StartOptions {
  /** Another ServiceAccount of the operator's namespace (a test that withholds a permission). */
  serviceAccount?: string;
  /** false: return once the process serves HTTP (/healthz), ready or not (and leading or not). */
  waitReady?: boolean;
  /** Wait until this process leads (holds the Lease) — the default: suites expect it to reconcile at once. */
  awaitLeadership?: boolean;
  /** Extra arguments for node, before the script (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
}

/** The prefix of the names of the operator containers this test run starts (E2E_OPERATOR_IMAGE). */
export const containerPrefix = () => `gitlab-flux-link-e2e-${process.pid}-`;

/**
 * The operator's entry point: this tree's build, or `E2E_OPERATOR_MAIN` (the `dist/operator/main.js` of
 * another build, e.g. an earlier commit's, to show that a suite fails on the code before a fix). The
 * manifests (CRD, RBAC) are always this tree's.
 */
export function operatorMain(): string {
  const main = process.env.E2E_OPERATOR_MAIN ? path.resolve(process.env.E2E_OPERATOR_MAIN) : path.join(repoRoot, 'dist/operator/main.js');
  if (!fs.existsSync(main)) throw new Error(`the operator's entry point ${main} does not exist (E2E_OPERATOR_MAIN, or make build)`);
  return main;
}

/**
 * NODE_OPTIONS of the shipped Deployment (config/manager/manager.yaml): every operator the e2e and the bench
 * start runs with the heap settings it ships with, so their memory figures are those of production.
 */
export function shippedNodeOptions(): string {
  const deployment = yaml.load(fs.readFileSync(path.join(repoRoot, 'config/manager/manager.yaml'), 'utf8')) as {
    spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } } };
  };
  const value = deployment.spec.template.spec.containers[0]?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
  if (!value) throw new Error('config/manager/manager.yaml sets no NODE_OPTIONS for the operator container');
  return value;
}

/**
 * Starts `node <operatorMain()>` as the ServiceAccount, with the shipped NODE_OPTIONS (unless `env`
 * sets its own), and waits for /readyz (and leadership). With `E2E_OPERATOR_IMAGE`, the operator is that
 * image run as a container (./operator-container.ts), with the same settings, ports and log file.
 */
export async function startOperator(cluster: Cluster, env: Record<string, string> = {}, opts: StartOptions = {}): Promise<OperatorProcess> {
  await installOperatorManifests(cluster);
  const sa = opts.serviceAccount ?? OPERATOR_SA;
  const kubeconfig = await serviceAccountKubeconfig(cluster, path.join(cluster.workDir, `operator-${process.pid}-${sa}.kubeconfig`), sa);
  const [webhookPort, metricsPort] = [await freePort(), await freePort()];
  const name = `operator-${++instances}`;
  const operatorEnv: Record<string, string> = {
    HTTP_HOST: '127.0.0.1',
    WEBHOOK_PORT: String(webhookPort),
    METRICS_PORT: String(metricsPort),
    LOG_LEVEL: 'debug',
    RESYNC_SECONDS: '600',
    // Over whatever the test runner itself was started with.
    NODE_OPTIONS: shippedNodeOptions(),
    ...env,
  };
  const image = operatorImage();
  const container = `${containerPrefix()}${instances}`;
  if (image) prepareContainerRun(image, kubeconfig);
  const proc = startProcess({
    name,
    logDir: cluster.logDir,
    pidFile: path.join(cluster.logDir, 'pids'),
    ...(image
      ? {
          command: dockerCli(),
          args: dockerRunArgs({ image, name: container, kubeconfig, env: operatorEnv, nodeArgs: opts.nodeArgs }),
        }
      : {
          command: process.execPath,
          args: [...(opts.nodeArgs ?? []), operatorMain()],
          env: { ...process.env, KUBECONFIG: kubeconfig, ...operatorEnv },
        }),
  });
  if (image) trackContainer(container, proc.exited);
  const hooksURL = `http://127.0.0.1:${webhookPort}`;
  const metricsURL = `http://127.0.0.1:${metricsPort}`;
  const aborted = () => (proc.child.exitCode !== null ? `exited with code ${proc.child.exitCode}; see ${proc.logFile}` : undefined);
  const probe = opts.waitReady === false ? '/healthz' : '/readyz';
  await waitFor(`${name} ${probe}`, async () => (await getStatus(`${metricsURL}${probe}`)).status === 200, { timeoutMs: 60_000, aborted });
  if (opts.waitReady !== false && (opts.awaitLeadership ?? true) && env.LEADER_ELECT !== 'false') {
    // A predecessor killed without releasing the Lease holds it for up to its duration (15 s).
    await waitFor(`${name} leading`, async () => isLeader((await getStatus(`${metricsURL}/metrics`)).body), { timeoutMs: 30_000, aborted });
  }
  return {
    proc,
    hooksURL,
    metricsURL,
    logFile: proc.logFile,
    container: image ? container : undefined,
    metrics: async () => (await getStatus(`${metricsURL}/metrics`)).body,
    stop: () => proc.stop(),
    // From an image: the operator itself is killed (`docker rm --force`), not only the client that runs it.
    kill: () => (image ? removeContainer(container) : proc.child.kill('SIGKILL')),
  };
}

/** Sum of a Prometheus counter over the label sets that match `labels`, from a /metrics document. */
export function metricSum(text: string, name: string, labels: Record<string, string | RegExp> = {}): number {
  return sum(parseSamples(text), name, labels);
}

/** Whether the metrics document says this replica holds the leader Lease. */
export const isLeader = (metricsText: string) => metricSum(metricsText, 'leader_election_master_status') === 1;

/**
 * Writes the operator made to the API (creates, updates, patches, deletes), from its own metrics; Lease
 * renewals are left out: they are leader election's heartbeat (every 2 s), not a change of state.
 */
export const apiWrites = (metricsText: string) =>
  metricSum(metricsText, 'rest_client_requests_total', {
    verb: /^(create|update|update-status|patch|patch-status|delete)$/,
    resource: /^(?!leases\.)/,
  });
