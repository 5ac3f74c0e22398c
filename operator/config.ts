/** Settings from the environment, typed, with defaults. Flags are not used: a Deployment sets env. */
export interface Config {
  /** kubeconfig file; unset = $KUBECONFIG, ~/.kube/config or the in-cluster service account. */
  kubeconfig?: string;
  logLevel: string;
  /** Address of the HTTP server (webhooks, /metrics, /healthz, /readyz). */
  httpHost: string;
  httpPort: number;
  workers: number;
  writeConcurrency: number;
  /** Every link is re-reconciled this often even without events (a safety net, like Flux's interval). */
  resyncSeconds: number;
  shutdownTimeoutSeconds: number;
  /** Receiver calls in flight at once. */
  triggerConcurrency: number;
  /** Receivers that may wait for a trigger; beyond it new triggers are dropped (see push/trigger-queue.ts). */
  triggerQueueSize: number;
}

function int(name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    kubeconfig: env.KUBECONFIG || undefined,
    logLevel: env.LOG_LEVEL ?? 'info',
    httpHost: env.HTTP_HOST ?? '0.0.0.0',
    httpPort: int('HTTP_PORT', 8080, env),
    workers: int('WORKERS', 4, env),
    writeConcurrency: int('WRITE_CONCURRENCY', 16, env),
    resyncSeconds: int('RESYNC_SECONDS', 600, env),
    shutdownTimeoutSeconds: int('SHUTDOWN_TIMEOUT_SECONDS', 20, env),
    triggerConcurrency: int('TRIGGER_CONCURRENCY', 16, env),
    triggerQueueSize: int('TRIGGER_QUEUE_SIZE', 10_000, env),
  };
}
