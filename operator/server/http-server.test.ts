import { expect } from 'chai';
import { Metrics } from '../observability/metrics.js';
import { DEFAULT_HTTP_LIMITS, startHttpServer } from './http-server.js';

describe('http-server: limits', () => {
  const metrics = new Metrics();

  it('production limits by default: headers 5 s, request 15 s, keep-alive 5 s, 16 KiB of headers, 1,024 connections', async () => {
    const s = await startHttpServer({ host: '127.0.0.1', port: 0, metrics, ready: () => true });
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
      metrics,
      ready: () => true,
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
