import http from 'node:http';
import type { Metrics } from '../observability/metrics.js';

/**
 * The operator's HTTP server: /healthz (the process serves), /readyz (caches synced, controllers running),
 * /metrics (Prometheus). Webhook routes are added by the push module. Limits are set so a slow or
 * malicious client cannot hold a connection: header and request timeouts, keep-alive bounded.
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
   * sockets and their buffers (each holds up to maxHeaderBytes before a request is routed). Probes share the
   * port, so the cap is far above what GitLab and the kubelet use (a connection per hook in flight, one per
   * probe) and a full house lasts at most headersTimeout/requestTimeout per connection.
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

export interface HttpServerOptions {
  host: string;
  port: number;
  metrics: Metrics;
  ready: () => boolean;
  routes?: Route[];
  limits?: Partial<HttpServerLimits>;
}

export async function startHttpServer(opts: HttpServerOptions): Promise<{ server: http.Server; port: number; close(): Promise<void> }> {
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
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && path === '/healthz') return text(res, 200, 'ok');
      if (req.method === 'GET' && path === '/readyz') return opts.ready() ? text(res, 200, 'ok') : text(res, 503, 'caches not synced');
      if (req.method === 'GET' && path === '/metrics') {
        res.setHeader('Content-Type', opts.metrics.registry.contentType);
        return res.end(await opts.metrics.registry.metrics());
      }
      for (const route of opts.routes ?? []) {
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

export function text(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
