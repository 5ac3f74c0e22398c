import http from 'node:http';
import path from 'node:path';
import { OPERATOR_NAMESPACE, type OperatorProcess, serviceAccountKubeconfig, startOperator } from '../e2e/support/operator.js';
import { parseSamples, type Sample } from '../e2e/support/prometheus.js';
import { startTestEnv, type TestEnv } from '../e2e/testenv/index.js';
import { LINKS } from '../operator/api/v1alpha1/types.js';
import { mapLimit } from '../operator/controllers/concurrency.js';
import { HttpKubeClient, isAlreadyExists, loadKubeConfig, type RequestObserver } from '../operator/kube/client.js';
import type { KubeObject } from '../operator/meta/object.js';
import { NAMESPACES, SECRETS } from '../operator/meta/resource.js';
import { processStartedAtMs, type ProcStats, readProcStats } from './proc.js';

/**
 * The benchmarks' test ground: the e2e one (real etcd, kube-apiserver, kcm, source- and
 * notification-controller, git server), with the Flux controllers' client rate limits raised so their
 * defaults (50 qps, burst 300) are not what gets measured; an admin client for setting up and watching;
 * the operator as its ServiceAccount, exactly as the e2e suites run it.
 */
export const FLUX_CLIENT_ARGS = ['--kube-api-qps=1000', '--kube-api-burst=2000'];

export const WEBHOOK_SECRET = 'bench-webhook';
export const WEBHOOK_TOKEN = 'bench-webhook-token-0123456789abcdef';

export interface Ground {
  env: TestEnv;
  admin: HttpKubeClient;
  startedInMs: number;
  stop(): Promise<void>;
}

export async function startGround(logDir: string): Promise<Ground> {
  const started = Date.now();
  const env = await startTestEnv({
    logDir,
    extraArgs: { 'source-controller': FLUX_CLIENT_ARGS, 'notification-controller': FLUX_CLIENT_ARGS },
  });
  const admin = new HttpKubeClient({ kubeConfig: loadKubeConfig(env.cluster.kubeconfig), userAgent: 'gfl-bench-admin' });
  return { env, admin, startedInMs: Date.now() - started, stop: () => env.stop() };
}

/** Extra environment for every operator a run starts (`--operator-env K=V`), e.g. NODE_OPTIONS for tuning experiments. */
export const operatorEnvOverrides: Record<string, string> = {};

export interface BenchOperator {
  op: OperatorProcess;
  pid: number;
  /** Where GitLab's webhooks go (the webhook listener); scrape() reads the metrics listener. */
  hooksURL: string;
  /** When the process started (from /proc, 10 ms resolution), and when /readyz first answered 200. */
  spawnedAt: number;
  readyAt: number;
  scrape(): Promise<Sample[]>;
  proc(): ProcStats;
  stop(): Promise<void>;
}

/**
 * The operator as the e2e runs it (its ServiceAccount, the shipped RBAC), at the production log level and
 * defaults (WRITE_CONCURRENCY 16, WORKERS 4), with a short shutdown bound so a profile is always written.
 */
export async function startBenchOperator(
  ground: Ground,
  opts: { nodeArgs?: string[]; env?: Record<string, string> } = {},
): Promise<BenchOperator> {
  const op = await startOperator(
    ground.env.cluster,
    {
      LOG_LEVEL: 'info',
      WRITE_CONCURRENCY: '16',
      SHUTDOWN_TIMEOUT_SECONDS: '5',
      ...operatorEnvOverrides,
      ...opts.env,
    },
    { nodeArgs: opts.nodeArgs },
  );
  const readyAt = Date.now();
  const pid = op.proc.pid;
  const spawnedAt = processStartedAtMs(pid);
  await ensureWebhookSecret(ground);
  return {
    op,
    pid,
    hooksURL: op.hooksURL,
    spawnedAt,
    readyAt,
    scrape: async () => parseSamples(await getText(`${op.metricsURL}/metrics`)),
    proc: () => readProcStats(pid),
    stop: () => op.stop(),
  };
}

async function ensureWebhookSecret(ground: Ground): Promise<void> {
  try {
    await ground.admin.create(SECRETS, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: WEBHOOK_SECRET, namespace: OPERATOR_NAMESPACE },
      data: { token: Buffer.from(WEBHOOK_TOKEN).toString('base64') },
    });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

/** GET with a generous timeout; anything but 200 is an error (a failed scrape must never read as zeros). */
export function getText(url: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error(`GET ${url}: HTTP ${res.statusCode}`)),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/**
 * A client with the operator's own ServiceAccount credentials (the baseline writes with them, so both go
 * through the same API priority and fairness).
 */
export async function serviceAccountClient(ground: Ground, observe?: RequestObserver): Promise<HttpKubeClient> {
  const file = await serviceAccountKubeconfig(
    ground.env.cluster,
    path.join(ground.env.cluster.workDir, `bench-sa-${process.pid}.kubeconfig`),
  );
  return new HttpKubeClient({ kubeConfig: loadKubeConfig(file), observe, userAgent: 'gfl-bench-baseline' });
}

export function linkObject(ground: Ground, name: string, selector: Record<string, string>): KubeObject {
  return {
    apiVersion: 'fluxlink.dev/v1alpha1',
    kind: 'GitLabFluxLink',
    metadata: { name },
    spec: {
      gitlab: { url: ground.env.git.instanceURL },
      receiver: { endpoint: ground.env.cluster.receiverURL },
      trust: { namespaceSelector: { matchLabels: selector } },
      webhook: { secretRef: { namespace: OPERATOR_NAMESPACE, name: WEBHOOK_SECRET } },
    },
  };
}

/** The Secret holding a link's GitLab API token (spec.gitlab.api.tokenSecretRef), in the operator's namespace. */
export const API_TOKEN_SECRET = 'bench-gitlab-api';

export async function createApiTokenSecret(ground: Ground, token: string): Promise<void> {
  await ground.admin.create(SECRETS, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: API_TOKEN_SECRET, namespace: OPERATOR_NAMESPACE },
    data: { token: Buffer.from(token).toString('base64') },
  });
}

/**
 * A link with GitLab API access and no spec.webhook.url: the operator registers no hook (outbound-only), so every
 * GitLab request it makes is the catch-up's, and a push reaches it only through a hook made by hand, or the sweep.
 */
export function apiLinkObject(
  ground: Ground,
  name: string,
  selector: Record<string, string>,
  api: { requestsPerMinute: number; sweepInterval?: string },
): KubeObject {
  const link = linkObject(ground, name, selector) as KubeObject & { spec: { gitlab: Record<string, unknown> } };
  link.spec.gitlab.api = { tokenSecretRef: { namespace: OPERATOR_NAMESPACE, name: API_TOKEN_SECRET }, ...api };
  return link;
}

export async function createLink(ground: Ground, link: KubeObject): Promise<void> {
  await ground.admin.create(LINKS, link);
}

export async function createNamespaces(ground: Ground, names: string[], labels: Record<string, string>): Promise<void> {
  await mapLimit(names, 32, async (name) => {
    try {
      await ground.admin.create(NAMESPACES, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  });
}

/** GitRepository objects for the admin client; `suspend` keeps source-controller from cloning thousands of them. */
export function gitRepository(
  namespace: string,
  name: string,
  url: string,
  opts: { interval?: string; suspend?: boolean } = {},
): KubeObject {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name, namespace },
    spec: { url, interval: opts.interval ?? '1h', ref: { branch: 'main' }, ...(opts.suspend ? { suspend: true } : {}) },
  };
}
