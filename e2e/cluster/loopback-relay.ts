import net from 'node:net';

export interface LoopbackRelay {
  /** `127.0.0.1:<port>`: connections here are piped to the target. */
  address: string;
  stop(): Promise<void>;
}

/**
 * A TCP relay on this machine's loopback to `target` (host:port). The git server sends webhooks to loopback
 * addresses only (e2e/gitlab/webhook.ts refuses any other, so that the test ground sends nothing off this
 * machine); the operator's webhook Service is reached at the node's address on the engine's bridge, hence
 * this relay in between: bytes are piped untouched, so what the operator's Service receives is GitLab's request.
 */
export async function loopbackRelay(target: string): Promise<LoopbackRelay> {
  const at = target.lastIndexOf(':');
  const host = target.slice(0, at);
  const port = Number(target.slice(at + 1));
  if (!/^10\.231\.\d+\.\d+$/.test(host) || !Number.isInteger(port))
    throw new Error(`relay target ${target} is not host:port in 10.231.0.0/16`);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
