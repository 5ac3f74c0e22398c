import net from 'node:net';
import { expect } from 'chai';
import { KubeConfig } from '@kubernetes/client-node';
import { HttpKubeClient } from './client.js';
import { SECRETS } from './resources.js';

/**
 * The bytes HttpKubeClient puts on the wire, read by a raw TCP server that answers every request it can
 * frame with 200 on the same keep-alive socket, as the API server does.
 */
async function rawServer(): Promise<{ port: number; requests: string[]; close(): void }> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let buffered = '';
    socket.on('data', (d) => {
      buffered += d.toString('latin1');
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffered.slice(0, end);
        const length = Number(head.match(/\r\ncontent-length: *(\d+)/i)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        requests.push(buffered.slice(0, end + 4 + length));
        buffered = buffered.slice(end + 4 + length);
        socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, requests, close: () => {
    server.close();
    sockets.forEach((s) => s.destroy()); // the client's keep-alive sockets must not keep mocha running
  } };
}

describe('HttpKubeClient on the wire', () => {
  it('sends a DELETE with its DeleteOptions framed by Content-Length, so the next request on the socket is intact', async () => {
    const server = await rawServer();
    try {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'c', server: `http://127.0.0.1:${server.port}`, skipTLSVerify: true }],
        users: [{ name: 'u', token: 't' }],
        contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
        currentContext: 'c',
      });
      const client = new HttpKubeClient({ kubeConfig: kc });
      await client.delete(SECRETS, 'apps', 'gfl-app', { resourceVersion: '42' });
      await client.get(SECRETS, 'apps', 'gfl-other');

      expect(server.requests).to.have.length(2);
      const [del, get] = server.requests;
      const body = del.slice(del.indexOf('\r\n\r\n') + 4);
      expect(del).to.match(/^DELETE \/api\/v1\/namespaces\/apps\/secrets\/gfl-app HTTP\/1\.1\r\n/);
      expect(del).to.match(new RegExp(`\\r\\nContent-Length: ${Buffer.byteLength(body)}\\r\\n`, 'i'));
      expect(JSON.parse(body)).to.deep.include({ kind: 'DeleteOptions', propagationPolicy: 'Background', preconditions: { resourceVersion: '42' } });
      expect(get).to.match(/^GET \/api\/v1\/namespaces\/apps\/secrets\/gfl-other HTTP\/1\.1\r\n/);
    } finally {
      server.close();
    }
  });
});
