import { KubeConfig } from '@kubernetes/client-node';
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SECRETS } from '../meta/resource.js';
import { HttpKubeClient } from './client.js';

/** A plain-HTTP stand-in for the API server that records what it parsed, request by request. */
async function recordingServer() {
  const seen: Array<{ method: string; url: string; body: string; socket: number }> = [];
  const sockets = new WeakMap<object, number>();
  let nextSocket = 0;
  const server = http.createServer((req, res) => {
    if (!sockets.has(req.socket)) sockets.set(req.socket, ++nextSocket);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body, socket: sockets.get(req.socket)! });
      res.setHeader('Content-Type', 'application/json');
      res.end(req.method === 'DELETE' ? '{"kind":"Status","status":"Success"}' : '{"metadata":{"name":"x","namespace":"ns"}}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return { seen, kc, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('HttpKubeClient', () => {
  it('sends a DELETE body with its length, so the next request on the kept-alive socket is intact', async () => {
    const s = await recordingServer();
    try {
      const client = new HttpKubeClient({ kubeConfig: s.kc });
      expect(await client.delete(SECRETS, 'ns', 'gfl-a', { uid: 'u-1', resourceVersion: '42' })).to.equal(true);
      await client.get(SECRETS, 'ns', 'gfl-b');
      expect(s.seen.map((r) => `${r.method} ${r.url}`)).to.deep.equal([
        'DELETE /api/v1/namespaces/ns/secrets/gfl-a',
        'GET /api/v1/namespaces/ns/secrets/gfl-b',
      ]);
      expect(JSON.parse(s.seen[0]!.body)).to.deep.include({ kind: 'DeleteOptions', preconditions: { uid: 'u-1', resourceVersion: '42' } });
      expect(s.seen[1]!.socket).to.equal(s.seen[0]!.socket, 'the same kept-alive connection');
    } finally {
      await s.close();
    }
  });

  it('measures a multi-byte body in bytes, not characters', async () => {
    const s = await recordingServer();
    try {
      const client = new HttpKubeClient({ kubeConfig: s.kc });
      const message = 'ready → 3 receivers … ✓';
      await client.patch(SECRETS, 'ns', 'gfl-a', { metadata: { annotations: { note: message } } }, 'merge');
      await client.get(SECRETS, 'ns', 'gfl-a');
      expect(JSON.parse(s.seen[0]!.body).metadata.annotations.note).to.equal(message);
      expect(s.seen).to.have.length(2);
    } finally {
      await s.close();
    }
  });
});
