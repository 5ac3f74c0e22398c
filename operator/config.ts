import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type { LeaderElectionSettings } from './leader/leader-elector.js';

/** Settings from the environment, typed, with defaults. Flags are not used: a Deployment sets env. */
export interface Config {
  /** kubeconfig file; unset = $KUBECONFIG, ~/.kube/config or the in-cluster service account. */
  kubeconfig?: string;
  logLevel: string;
  /** Address both HTTP listeners bind to. */
  httpHost: string;
  /** GitLab's webhooks (POST /hooks/<link>) and nothing else (docs/adr/0015-webhooks-on-their-own-port.md). */
  webhookPort: number;
  /** /metrics, /healthz and /readyz, and nothing else. */
  metricsPort: number;
  workers: number;
  writeConcurrency: number;
  /** Every link is re-reconciled this often even without events (a safety net, like Flux's interval). */
  resyncSeconds: number;
  /** A link's GitLab hooks are looked at again this often (hooks edited or deleted by hand, a rotated webhook Secret). */
  gitlabHooksResyncSeconds: number;
  /**
   * Every link's catch-up sweep interval instead of its spec.gitlab.api.sweepInterval (whose minimum is 1m): for the
   * test ground only, so that a test of the sweep takes seconds. Unset in production.
   */
  gitlabSweepIntervalSeconds: number | undefined;
  shutdownTimeoutSeconds: number;
  /** Receiver calls in flight at once. */
  triggerConcurrency: number;
  /** Receivers that may wait for a trigger; beyond it new triggers are dropped (see push/trigger-queue.ts). */
  triggerQueueSize: number;
  /**
   * While the API server is away, how long a webhook Secret value last read still authenticates webhooks;
   * past it they are refused with 503 (kube/secret-reader.ts, docs/security.md).
   */
  webhookSecretMaxStaleSeconds: number;
  /** Open connections to the webhook listener at most (keep it well above the deliveries GitLab has in flight). */
  httpMaxConnections: number;
  /** Large webhook bodies (over 64 KiB, or chunked) read and parsed at once; beyond it 503 with Retry-After. */
  webhookMaxBodyReads: number;
  /** Accepted webhook deliveries remembered (10 minutes each) so that replays are not acted on again. */
  webhookDeliveriesRemembered: number;
  /** Leader election: only the replica holding the Lease reconciles; every replica answers webhooks. */
  leaderElection: LeaderElectionConfig | undefined;
}

export type LeaderElectionConfig = LeaderElectionSettings;

const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function bool(name: string, fallback: boolean, env: NodeJS.ProcessEnv): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new Error(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

/** Defaults are controller-runtime's (15 s / 10 s / 2 s): a dead leader is replaced within 15 s. */
function leaderElection(env: NodeJS.ProcessEnv): LeaderElectionConfig | undefined {
  if (!bool('LEADER_ELECT', true, env)) return undefined;
  const inCluster = () => (fs.existsSync(SA_NAMESPACE_FILE) ? fs.readFileSync(SA_NAMESPACE_FILE, 'utf8').trim() : undefined);
  const settings = {
    namespace: env.LEASE_NAMESPACE || env.POD_NAMESPACE || inCluster() || 'gitlab-flux-link-system',
    name: env.LEASE_NAME || 'gitlab-flux-link-leader',
    // Unique per process: a restarted pod must not pass for the old one's still-valid lease.
    identity: `${env.POD_NAME || os.hostname()}_${randomBytes(4).toString('hex')}`,
    leaseDurationSeconds: int('LEASE_DURATION_SECONDS', 15, env),
    renewDeadlineSeconds: int('LEASE_RENEW_DEADLINE_SECONDS', 10, env),
    retryPeriodSeconds: int('LEASE_RETRY_PERIOD_SECONDS', 2, env),
  };
  if (settings.renewDeadlineSeconds >= settings.leaseDurationSeconds)
    throw new Error('LEASE_RENEW_DEADLINE_SECONDS must be less than LEASE_DURATION_SECONDS');
  if (settings.retryPeriodSeconds < 1 || settings.retryPeriodSeconds >= settings.renewDeadlineSeconds)
    throw new Error('LEASE_RETRY_PERIOD_SECONDS must be at least 1 and less than LEASE_RENEW_DEADLINE_SECONDS');
  return settings;
}

function int(name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * The webhook port: WEBHOOK_PORT, or HTTP_PORT, its name from when one listener served everything (kept so
 * that a Deployment or script setting it still moves the port GitLab calls). Both set and different: an error.
 */
function webhookPort(env: NodeJS.ProcessEnv): number {
  const port = int('WEBHOOK_PORT', int('HTTP_PORT', 8080, env), env);
  if (env.WEBHOOK_PORT && env.HTTP_PORT && port !== int('HTTP_PORT', 8080, env))
    throw new Error(`WEBHOOK_PORT (${env.WEBHOOK_PORT}) and HTTP_PORT (${env.HTTP_PORT}, its former name) disagree: set WEBHOOK_PORT only`);
  return port;
}

function positive(name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const n = int(name, fallback, env);
  if (n < 1) throw new Error(`${name} must be at least 1, got ${JSON.stringify(env[name])}`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const config: Config = {
    kubeconfig: env.KUBECONFIG || undefined,
    logLevel: env.LOG_LEVEL ?? 'info',
    httpHost: env.HTTP_HOST ?? '0.0.0.0',
    webhookPort: webhookPort(env),
    metricsPort: int('METRICS_PORT', 8081, env),
    workers: int('WORKERS', 4, env),
    writeConcurrency: int('WRITE_CONCURRENCY', 16, env),
    resyncSeconds: int('RESYNC_SECONDS', 600, env),
    gitlabHooksResyncSeconds: positive('GITLAB_HOOKS_RESYNC_SECONDS', 300, env),
    gitlabSweepIntervalSeconds: env.GITLAB_SWEEP_INTERVAL_SECONDS ? positive('GITLAB_SWEEP_INTERVAL_SECONDS', 0, env) : undefined,
    shutdownTimeoutSeconds: int('SHUTDOWN_TIMEOUT_SECONDS', 20, env),
    triggerConcurrency: int('TRIGGER_CONCURRENCY', 16, env),
    triggerQueueSize: int('TRIGGER_QUEUE_SIZE', 10_000, env),
    webhookSecretMaxStaleSeconds: int('WEBHOOK_SECRET_MAX_STALE_SECONDS', 600, env),
    httpMaxConnections: positive('HTTP_MAX_CONNECTIONS', 1_024, env),
    webhookMaxBodyReads: positive('WEBHOOK_MAX_BODY_READS', 16, env),
    webhookDeliveriesRemembered: positive('WEBHOOK_DELIVERIES_REMEMBERED', 100_000, env),
    leaderElection: leaderElection(env),
  };
  if (config.webhookPort !== 0 && config.webhookPort === config.metricsPort)
    throw new Error(
      `WEBHOOK_PORT and METRICS_PORT must differ (both ${config.webhookPort}): /metrics and the probes are not served where webhooks are`,
    );
  return config;
}
