import net from 'node:net';

/**
 * A loopback TCP proxy in front of the API server that can drop its connections silently, as a NAT or load
 * balancer that forgets a flow: after blackhole(), the connections open at that moment stay open on both
 * sides but carry nothing more in either direction (no FIN, no RST); connections opened later are forwarded
 * as before.
 */
export interface TcpProxy {
  port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  blackhole(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket; dead: boolean }>();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(target.port, target.host);
    const pair = { client, upstream, dead: false };
    pairs.add(pair);
    client.on('data', (d) => pair.dead || upstream.write(d));
    upstream.on('data', (d) => pair.dead || client.write(d));
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    // A blackholed flow tells neither side anything, not even that the other side went away.
    client.on('close', () => pair.dead || end());
    upstream.on('close', () => pair.dead || end());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return accepted;
    },
    blackhole() {
      for (const p of pairs) p.dead = true;
    },
    close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      pairs.clear();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
