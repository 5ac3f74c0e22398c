import http from 'node:http';
import type { Metrics } from '../observability/metrics.js';

/**
 * The operator's two HTTP listeners (docs/adr/0015-webhooks-on-their-own-port.md):
 * - the webhook listener serves GitLab's webhooks (the push module's route, POST /hooks/<link>) and nothing
 *   else; it is the one exposed to GitLab, through an Ingress or straight, and carries the limits of
 *   docs/adr/0012-webhook-limits.md;
 * - the metrics listener serves /metrics (Prometheus), /healthz (the process serves) and /readyz (caches
 *   synced, controllers running); only the kubelet and Prometheus reach it.
 * Any other path is 404 on either. Limits are set so a slow or malicious client cannot hold a connection:
 * header and request timeouts, keep-alive bounded, connections counted.
 */
export type Route = (req: http.IncomingMessage, res: http.ServerResponse) => boolean | Promise<boolean>;

/** Connection limits. The defaults are production's; tests shorten the timeouts to see them act quickly. */
export interface HttpServerLimits {
  /** Time to receive the request line and headers (slowloris). */
  headersTimeoutMs: number;
  /** Time to receive the whole request, body included (slow body drip). */
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderBytes: number;
  /**
   * How often node checks the two timeouts above. Node's default is 30 s, which lets a slowloris client hold
   * a connection about 35 s instead of 5; once a second costs nothing measurable.
   */
  connectionsCheckingIntervalMs?: number;
  /**
   * Open connections at most; node closes any further one at accept, before reading a byte. It bounds
   * sockets and their buffers (each holds up to maxHeaderBytes before a request is routed). On the webhook
   * listener the cap is far above what GitLab uses (a connection per hook in flight), and a full house lasts
   * at most headersTimeout/requestTimeout per connection; the probes, on the other listener, never wait for it.
   */
  maxConnections?: number;
}

export const DEFAULT_HTTP_LIMITS: Readonly<HttpServerLimits> = {
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 15_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderBytes: 16 * 1024,
  connectionsCheckingIntervalMs: 1_000,
  maxConnections: 1_024,
};

/**
 * The metrics listener's: the kubelet opens a connection per probe and Prometheus one per scrape, so 64 is
 * many times what they use while keeping a stray client from holding more than a few megabytes.
 */
export const METRICS_LISTENER_LIMITS: Readonly<Partial<HttpServerLimits>> = { maxConnections: 64 };

export interface HttpServerOptions {
  host: string;
  port: number;
  /** Tried in order; the first that answers (returns true) wins; none: 404. */
  routes: Route[];
  limits?: Partial<HttpServerLimits>;
}

export interface HttpServer {
  server: http.Server;
  port: number;
  close(): Promise<void>;
}

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const limits = { ...DEFAULT_HTTP_LIMITS, ...opts.limits };
  const serverOptions: http.ServerOptions = {
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxHeaderSize: limits.maxHeaderBytes,
  };
  if (limits.connectionsCheckingIntervalMs !== undefined) serverOptions.connectionsCheckingInterval = limits.connectionsCheckingIntervalMs;
  const server = http.createServer(serverOptions, async (req, res) => {
    try {
      for (const route of opts.routes) {
        if (await route(req, res)) return;
      }
      text(res, 404, 'not found');
    } catch {
      if (!res.headersSent) text(res, 500, 'internal error');
      else res.destroy();
    }
  });
  server.maxRequestsPerSocket = 1000;
  if (limits.maxConnections !== undefined) server.maxConnections = limits.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/** GET /metrics, /healthz and /readyz: the metrics listener's route. */
export function metricsAndProbesRoute(metrics: Metrics, ready: () => boolean): Route {
  return async (req, res) => {
    if (req.method !== 'GET') return false;
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') text(res, 200, 'ok');
    else if (path === '/readyz' && ready()) text(res, 200, 'ok');
    else if (path === '/readyz') text(res, 503, 'caches not synced');
    else if (path === '/metrics') {
      res.setHeader('Content-Type', metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
    } else return false;
    return true;
  };
}

export interface OperatorListenersOptions {
  host: string;
  /** GitLab's webhooks only. */
  webhookPort: number;
  /** /metrics and the probes only. */
  metricsPort: number;
  webhookRoute: Route;
  metrics: Metrics;
  ready: () => boolean;
  /** The webhook listener's (docs/adr/0012-webhook-limits.md); the defaults are production's. */
  webhookLimits?: Partial<HttpServerLimits>;
}

/** Both listeners, each serving only its own paths (a path of the other listener is 404). */
export async function startOperatorListeners(
  opts: OperatorListenersOptions,
): Promise<{ webhooks: HttpServer; metrics: HttpServer; close(): Promise<void> }> {
  const webhooks = await startHttpServer({
    host: opts.host,
    port: opts.webhookPort,
    routes: [opts.webhookRoute],
    limits: opts.webhookLimits,
  });
  let metrics: HttpServer;
  try {
    metrics = await startHttpServer({
      host: opts.host,
      port: opts.metricsPort,
      routes: [metricsAndProbesRoute(opts.metrics, opts.ready)],
      limits: METRICS_LISTENER_LIMITS,
    });
  } catch (error) {
    await webhooks.close();
    throw error;
  }
  return { webhooks, metrics, close: async () => void (await Promise.all([webhooks.close(), metrics.close()])) };
}

export function text(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
