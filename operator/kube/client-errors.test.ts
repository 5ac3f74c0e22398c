import { KubeConfig } from '@kubernetes/client-node';
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpKubeClient } from './client.js';

describe('HttpKubeClient errors', () => {
  it('a service-proxy request that times out names the service, never the path after /proxy (a webhook path)', async () => {
    const server = http.createServer(() => undefined); // never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
        users: [{ name: 'u' }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      const hook = '/hook/' + '5e'.repeat(32);
      const error = await new HttpKubeClient({ kubeConfig: kc })
        .request('POST', `/api/v1/namespaces/flux-system/services/webhook-receiver/proxy${hook}`, Buffer.from('{}'), {}, 100)
        .then(
          () => undefined,
          (e: Error) => e,
        );
      expect(error?.message).to.equal(
        'request timed out after 100 ms: POST /api/v1/namespaces/flux-system/services/webhook-receiver/proxy/[redacted]',
      );
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
