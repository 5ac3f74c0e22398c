import { expect } from 'chai';
import { Metrics } from '../observability/metrics.js';
import { DEFAULT_HTTP_LIMITS, METRICS_LISTENER_LIMITS, startHttpServer, startOperatorListeners } from './http-server.js';

describe('http-server: limits', () => {
  it('production limits by default: headers 5 s, request 15 s, keep-alive 5 s, 16 KiB of headers, 1,024 connections', async () => {
    const s = await startHttpServer({ host: '127.0.0.1', port: 0, routes: [] });
    try {
      expect(DEFAULT_HTTP_LIMITS).to.deep.equal({
        headersTimeoutMs: 5_000,
        requestTimeoutMs: 15_000,
        keepAliveTimeoutMs: 5_000,
        maxHeaderBytes: 16 * 1024,
        connectionsCheckingIntervalMs: 1_000,
        maxConnections: 1_024,
      });
      expect(s.server.maxConnections).to.equal(1_024);
      // (the header size limit is seen at work in the hostile-webhooks suite: 431 for heads over 16 KiB, hostile-webhooks/requests.ts)
      expect({ headers: s.server.headersTimeout, request: s.server.requestTimeout, keepAlive: s.server.keepAliveTimeout }).to.deep.equal({
        headers: 5_000,
        request: 15_000,
        keepAlive: 5_000,
      });
    } finally {
      await s.close();
    }
  });

  it('takes shorter limits (tests), keeping the defaults for the rest', async () => {
    const s = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      routes: [],
      limits: { headersTimeoutMs: 300, requestTimeoutMs: 600 },
    });
    try {
      expect({ headers: s.server.headersTimeout, request: s.server.requestTimeout, keepAlive: s.server.keepAliveTimeout }).to.deep.equal({
        headers: 300,
        request: 600,
        keepAlive: 5_000,
      });
    } finally {
      await s.close();
    }
  });
});

describe('http-server: the webhook listener and the metrics listener each serve only their own paths', () => {
  const metrics = new Metrics();
  let ready = true;
  let listeners: Awaited<ReturnType<typeof startOperatorListeners>>;
  const hooks: string[] = [];

  before(async () => {
    listeners = await startOperatorListeners({
      host: '127.0.0.1',
      webhookPort: 0,
      metricsPort: 0,
      // Stands in for the push module's route, which takes exactly the paths under /hooks/.
      webhookRoute: (req, res) => {
        if (!(req.url ?? '').startsWith('/hooks/')) return false;
        hooks.push(`${req.method} ${req.url}`);
        res.writeHead(202).end('accepted');
        return true;
      },
      metrics,
      ready: () => ready,
      webhookLimits: { maxConnections: 10 },
    });
  });
  after(() => listeners.close());

  const call = async (port: number, method: string, path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
    return `${res.status} ${await res.text()}`.slice(0, 40);
  };

  it('webhook listener: /hooks/ only; /metrics, /healthz, /readyz are 404 there', async () => {
    const port = listeners.webhooks.port;
    expect(await call(port, 'POST', '/hooks/gitlab')).to.equal('202 accepted');
    for (const path of ['/metrics', '/healthz', '/readyz', '/metrics?x=1', '/'])
      expect(await call(port, 'GET', path), path).to.equal('404 not found');
    expect(hooks).to.deep.equal(['POST /hooks/gitlab']);
  });

  it('metrics listener: /metrics and the probes only; /hooks/ is 404 there and never reaches the webhook route', async () => {
    const port = listeners.metrics.port;
    expect(await call(port, 'GET', '/healthz')).to.equal('200 ok');
    expect(await call(port, 'GET', '/readyz')).to.equal('200 ok');
    ready = false;
    expect(await call(port, 'GET', '/readyz')).to.equal('503 caches not synced');
    ready = true;
    expect(await call(port, 'GET', '/metrics')).to.match(/^200 # HELP /);
    for (const [method, path] of [
      ['POST', '/hooks/gitlab'],
      ['GET', '/hooks/gitlab'],
      ['POST', '/metrics'],
      ['GET', '/'],
    ])
      expect(await call(port, method!, path!), `${method} ${path}`).to.equal('404 not found');
    expect(hooks).to.have.length(1);
  });

  it('connection caps: the webhook listener takes its own (HTTP_MAX_CONNECTIONS), the metrics listener a small fixed one', () => {
    expect(listeners.webhooks.server.maxConnections).to.equal(10);
    expect(listeners.metrics.server.maxConnections).to.equal(METRICS_LISTENER_LIMITS.maxConnections).and.to.equal(64);
  });
});
